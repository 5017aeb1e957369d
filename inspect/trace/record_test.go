package trace

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/sockstate/sockstate/inspect"
)

// rawRecord is a record as the program writes it, for encode.
type rawRecord struct {
	time, sk, cookie, drops uint64
	saddr4, daddr4          [4]byte
	saddr6, daddr6          [16]byte
	sport, dport            uint16 // host order here; encode swaps them
	family, protocol        uint16
	from, to                uint32
	err, kind               uint32
	flags                   uint64
	netns                   uint32
}

// encode lays r out as the program does: ports and addresses in network
// order, the rest native.
func (r rawRecord) encode() []byte {
	b := make([]byte, recordSize)
	ne := binary.NativeEndian
	ne.PutUint64(b[recTime:], r.time)
	ne.PutUint64(b[recSK:], r.sk)
	ne.PutUint64(b[recCookie:], r.cookie)
	ne.PutUint64(b[recDrops:], r.drops)
	copy(b[recSaddr4:], r.saddr4[:])
	copy(b[recDaddr4:], r.daddr4[:])
	copy(b[recSaddr6:], r.saddr6[:])
	copy(b[recDaddr6:], r.daddr6[:])
	binary.BigEndian.PutUint16(b[recSport:], r.sport)
	binary.BigEndian.PutUint16(b[recDport:], r.dport)
	ne.PutUint16(b[recFamily:], r.family)
	ne.PutUint16(b[recProtocol:], r.protocol)
	ne.PutUint32(b[recOld:], r.from)
	ne.PutUint32(b[recNew:], r.to)
	ne.PutUint32(b[recErr:], r.err)
	ne.PutUint32(b[recKind:], r.kind)
	ne.PutUint64(b[recFlags:], r.flags)
	ne.PutUint32(b[recNetNS:], r.netns)
	return b
}

var (
	lo4 = [4]byte{127, 0, 0, 1}
	lo6 = netip.IPv6Loopback().As16()
	// What an AF_INET socket keeps in its in6 fields: the v4-mapped form.
	mapped = netip.AddrFrom16(netip.AddrFrom4(lo4).As16()).As16()
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name      string
		rec       rawRecord
		want      Transition
		wantDrops uint64
	}{
		{
			name: "inet last ack",
			rec: rawRecord{
				time: 1500, sk: 0xffff888100000000, cookie: 42, drops: 3,
				saddr4: lo4, daddr4: lo4, saddr6: mapped, daddr6: mapped,
				sport: 43886, dport: 42953, family: afINET, protocol: ipprotoTCP,
				from: uint32(inspect.LastAck), to: uint32(inspect.Close), err: errEPIPE,
				netns: 4026532000,
			},
			want: Transition{
				Mono: 1500 * time.Nanosecond, SK: 0xffff888100000000, Cookie: 42,
				Protocol: inspect.TCP, Family: inspect.INet,
				Local: netip.MustParseAddrPort("127.0.0.1:43886"),
				Peer:  netip.MustParseAddrPort("127.0.0.1:42953"),
				From:  inspect.LastAck, To: inspect.Close, Err: errEPIPE,
				NetNS: 4026532000,
			},
			wantDrops: 3,
		},
		{
			name: "inet6 listen, the v4 fields ignored",
			rec: rawRecord{
				time: 7, sk: 1, cookie: 2,
				saddr4: [4]byte{127, 0, 0, 6}, saddr6: lo6,
				sport: 80, family: afINET6, protocol: ipprotoTCP,
				from: uint32(inspect.Close), to: uint32(inspect.Listen),
			},
			want: Transition{
				Mono: 7, SK: 1, Cookie: 2, Protocol: inspect.TCP, Family: inspect.INet6,
				Local: netip.MustParseAddrPort("[::1]:80"),
				Peer:  netip.MustParseAddrPort("[::]:0"),
				From:  inspect.Close, To: inspect.Listen,
			},
		},
		{
			name: "inet6 v4-mapped addresses stay mapped",
			rec: rawRecord{
				saddr6: mapped, daddr6: mapped, sport: 1, dport: 2,
				family: afINET6, protocol: ipprotoTCP, from: 2, to: 1,
			},
			want: Transition{
				Protocol: inspect.TCP, Family: inspect.INet6,
				Local: netip.MustParseAddrPort("[::ffff:127.0.0.1]:1"),
				Peer:  netip.MustParseAddrPort("[::ffff:127.0.0.1]:2"),
				From:  inspect.SynSent, To: inspect.Established,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Transition
			drops, err := decode(tt.rec.encode(), &got)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, equateAddrs); diff != "" {
				t.Errorf("decode (-want +got):\n%s", diff)
			}
			if drops != tt.wantDrops {
				t.Errorf("drops %d, want %d", drops, tt.wantDrops)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	good := rawRecord{family: afINET, protocol: ipprotoTCP, from: 7, to: 10}
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"one byte short", good.encode()[:recordSize-1]},
		{"family 0", rawRecord{protocol: ipprotoTCP, from: 7, to: 10}.encode()},
		{"family AF_UNIX", rawRecord{family: 1, protocol: ipprotoTCP}.encode()},
		{"protocol past a byte", rawRecord{family: afINET, protocol: 262}.encode()},
		{"old state past a byte", rawRecord{family: afINET, protocol: ipprotoTCP, from: 256}.encode()},
		{"new state past a byte", rawRecord{family: afINET6, protocol: ipprotoTCP, to: 1 << 31}.encode()},
		{"unknown kind", rawRecord{family: afINET, protocol: ipprotoTCP, from: 7, to: 7, kind: 3}.encode()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sentinel := Transition{SK: 99}
			got := sentinel
			_, err := decode(tt.b, &got)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("decode: %v, want ErrMalformed", err)
			}
			if got != sentinel {
				t.Errorf("decode changed the transition on error: %+v", got)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(rawRecord{family: afINET, protocol: ipprotoTCP, from: 7, to: 10, sport: 80}.encode())
	f.Add(rawRecord{family: afINET6, protocol: ipprotoTCP, saddr6: lo6, from: 9, to: 7}.encode())
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var tr Transition
		_, err := decode(b, &tr)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			if tr != (Transition{}) {
				t.Fatalf("partial result %+v with error %v", tr, err)
			}
			return
		}
		switch tr.Family {
		case inspect.INet:
			if !tr.Local.Addr().Is4() || !tr.Peer.Addr().Is4() {
				t.Fatalf("inet transition with addresses %s %s", tr.Local, tr.Peer)
			}
		case inspect.INet6:
			if !tr.Local.Addr().Is6() || !tr.Peer.Addr().Is6() {
				t.Fatalf("inet6 transition with addresses %s %s", tr.Local, tr.Peer)
			}
		default:
			t.Fatalf("family %d decoded", tr.Family)
		}
		if tr.TimeWait || !tr.Time.IsZero() {
			t.Fatalf("decode set what only the Tracer sets: %+v", tr)
		}
	})
}

// equateAddrs compares netip values with ==, as their fields are hidden.
var equateAddrs = cmpopts.EquateComparable(netip.AddrPort{})

// TestRecordFINIn: a record says the peer's FIN came by sk_flags's
// SOCK_DONE alone, whatever the other flags (SOCK_DEAD for an orphan).
func TestRecordFINIn(t *testing.T) {
	for _, tt := range []struct {
		flags uint64
		want  bool
	}{
		{0, false},
		{1 << 0, false}, // SOCK_DEAD
		{1 << sockDone, true},
		{1<<0 | 1<<sockDone | 1<<10, true},
	} {
		if got := recordFINIn(rawRecord{family: afINET, flags: tt.flags}.encode()); got != tt.want {
			t.Errorf("flags %#x: FIN in %v, want %v", tt.flags, got, tt.want)
		}
	}
}
