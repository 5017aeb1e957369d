package ssfilter

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"github.com/sockstate/sockstate/inspect"
)

// Operation codes of include/uapi/linux/inet_diag.h, for the kernel's
// bytecode auditor and interpreter below.
const (
	kNop = iota
	kJmp
	kSGE
	kSLE
	kDGE
	kDLE
	kAuto
	kSCond
	kDCond
	kDevCond
	kMarkCond
	kSEQ
	kDEQ
	kCgroupCond
)

var errAudit = errors.New("bytecode rejected by audit")

// auditBytecode is net/ipv4/inet_diag.c's inet_diag_bc_audit, which decides
// whether the kernel accepts a program (-EINVAL otherwise), for a caller
// with CAP_NET_ADMIN.
func auditBytecode(bc []byte) error {
	ne := binary.NativeEndian
	if len(bc) < 4 {
		return fmt.Errorf("%w: %d bytes", errAudit, len(bc))
	}
	for off := 0; off < len(bc); {
		op, n := bc[off:], len(bc)-off
		if n < 4 {
			return fmt.Errorf("%w: %d bytes left at %d", errAudit, n, off)
		}
		code, yes, no := op[0], int(op[1]), int(ne.Uint16(op[2:]))
		minLen := 4
		switch code {
		case kSCond, kDCond:
			minLen += 8 // struct inet_diag_hostcond
			if n < minLen {
				return fmt.Errorf("%w: short hostcond at %d", errAudit, off)
			}
			var addrLen int
			switch op[4] {
			case 0: // AF_UNSPEC
			case 2: // AF_INET
				addrLen = 4
			case 10: // AF_INET6
				addrLen = 16
			default:
				return fmt.Errorf("%w: hostcond family %d at %d", errAudit, op[4], off)
			}
			minLen += addrLen
			if n < minLen || int(op[5]) > 8*addrLen {
				return fmt.Errorf("%w: hostcond address at %d", errAudit, off)
			}
		case kDevCond:
			minLen += 4
		case kSEQ, kSGE, kSLE, kDEQ, kDGE, kDLE:
			minLen += 4 // the port rides in a second op
		case kMarkCond:
			minLen += 8
		case kCgroupCond:
			minLen += 8
		case kAuto, kJmp, kNop:
		default:
			return fmt.Errorf("%w: code %d at %d", errAudit, code, off)
		}
		if n < minLen {
			return fmt.Errorf("%w: short op %d at %d", errAudit, code, off)
		}
		if code != kNop {
			if no < minLen || no > n+4 || no&3 != 0 {
				return fmt.Errorf("%w: no=%d at %d (op of %d, %d left)", errAudit, no, off, minLen, n)
			}
			if no < n && !validCC(bc, n-no) {
				return fmt.Errorf("%w: no=%d at %d lands inside an op", errAudit, no, off)
			}
		}
		if yes < minLen || yes > n+4 || yes&3 != 0 {
			return fmt.Errorf("%w: yes=%d at %d", errAudit, yes, off)
		}
		off += yes
		if off > len(bc) {
			return fmt.Errorf("%w: yes runs past the end at %d", errAudit, off-yes)
		}
	}
	return nil
}

// validCC is the kernel's valid_cc: whether the position cc bytes before
// the end of bc is an op boundary, walking from the start by yes.
func validCC(bc []byte, cc int) bool {
	for l := len(bc); l >= 0; {
		if cc > l {
			return false
		}
		if cc == l {
			return true
		}
		yes := int(bc[len(bc)-l+1])
		if yes < 4 || yes&3 != 0 {
			return false
		}
		l -= yes
	}
	return false
}

// diagEntry is the kernel's struct inet_diag_entry: what a program sees of
// a socket.
type diagEntry struct {
	family       uint8
	saddr, daddr [16]byte // network order; IPv4 in the first 4 bytes
	sport, dport uint16
}

func entryOf(s *inspect.Socket) diagEntry {
	e := diagEntry{family: uint8(familyOf(s)), sport: s.Local.Port(), dport: s.Peer.Port()}
	e.saddr, e.daddr = s.Local.Addr().As16(), s.Peer.Addr().As16()
	if e.family == uint8(inspect.INet) {
		copy(e.saddr[:], e.saddr[12:])
		copy(e.daddr[:], e.daddr[12:])
	}
	return e
}

// runBytecode is the kernel's inet_diag_bc_run for the operations
// Bytecode emits, on an audited program.
func runBytecode(bc []byte, e diagEntry) bool {
	ne := binary.NativeEndian
	off := 0
	for off < len(bc) {
		op := bc[off:]
		yes := true
		switch op[0] {
		case kNop:
		case kJmp:
			yes = false
		case kSGE:
			yes = e.sport >= ne.Uint16(op[6:])
		case kSLE:
			yes = e.sport <= ne.Uint16(op[6:])
		case kDGE:
			yes = e.dport >= ne.Uint16(op[6:])
		case kDLE:
			yes = e.dport <= ne.Uint16(op[6:])
		case kSEQ:
			yes = e.sport == ne.Uint16(op[6:])
		case kDEQ:
			yes = e.dport == ne.Uint16(op[6:])
		case kSCond, kDCond:
			family, plen, port := op[4], int(op[5]), int32(ne.Uint32(op[8:]))
			addr, p := e.saddr, e.sport
			if op[0] == kDCond {
				addr, p = e.daddr, e.dport
			}
			cond := op[12:]
			switch {
			case port != -1 && port != int32(p):
				yes = false
			case family != 0 && family != e.family:
				mapped := bytes.Equal(addr[:12], []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff})
				yes = e.family == uint8(inspect.INet6) && family == uint8(inspect.INet) && mapped && bitstringMatch(addr[12:], cond, plen)
			case plen != 0:
				yes = bitstringMatch(addr[:], cond, plen)
			}
		default:
			panic(fmt.Sprintf("runBytecode: op %d", op[0]))
		}
		if yes {
			off += int(op[1])
		} else {
			off += int(ne.Uint16(op[2:]))
		}
	}
	return off == len(bc)
}

// bitstringMatch is the kernel's bitstring_match: the first bits of a and
// b agree.
func bitstringMatch(a, b []byte, bits int) bool {
	for i := 0; bits > 0; i, bits = i+1, bits-8 {
		mask := byte(0xff)
		if bits < 8 {
			mask <<= 8 - bits
		}
		if (a[i]^b[i])&mask != 0 {
			return false
		}
	}
	return true
}

// sampleSockets are sockets of both families, with IPv4-mapped addresses
// and edge ports, to run filters on without a kernel.
func sampleSockets() []inspect.Socket {
	mk := func(fam inspect.Family, st inspect.State, local, peer string) inspect.Socket {
		return inspect.Socket{Protocol: inspect.TCP, Family: fam, State: st, Local: netip.MustParseAddrPort(local), Peer: netip.MustParseAddrPort(peer)}
	}
	return []inspect.Socket{
		mk(inspect.INet, inspect.Listen, "127.0.0.1:80", "0.0.0.0:0"),
		mk(inspect.INet, inspect.Established, "127.0.0.1:80", "127.0.0.1:40000"),
		mk(inspect.INet, inspect.Established, "10.1.2.3:65535", "192.168.0.1:22"),
		mk(inspect.INet, inspect.TimeWait, "0.0.0.0:1024", "1.2.3.4:1023"),
		mk(inspect.INet, inspect.Established, "255.255.255.255:1", "128.0.0.1:443"),
		mk(inspect.INet6, inspect.Listen, "[::]:22", "[::]:0"),
		mk(inspect.INet6, inspect.Established, "[::1]:8080", "[::1]:1023"),
		mk(inspect.INet6, inspect.Established, "[::ffff:127.0.0.1]:22", "[::ffff:10.0.0.1]:50000"),
		mk(inspect.INet6, inspect.Established, "[2001:db8::1]:443", "[fe80::1]:80"),
		mk(inspect.INet6, inspect.CloseWait, "[::7f00:1]:80", "[ffff::]:0"),
		// A source may hand over an IPv6 socket's mapped address unmapped.
		mk(inspect.INet6, inspect.Established, "127.0.0.1:443", "10.0.0.1:80"),
		// Family unset: taken from the local address.
		mk(0, inspect.Established, "127.0.0.2:80", "127.0.0.1:1"),
		mk(0, inspect.Established, "[::1]:80", "[::1]:1"),
	}
}

// checkBytecode requires that f's bytecode for each family passes the
// kernel's audit and that running it keeps the sample sockets Match keeps.
func checkBytecode(t *testing.T, f *Filter) {
	t.Helper()
	socks := sampleSockets()
	for _, fam := range []inspect.Family{inspect.INet, inspect.INet6} {
		bc, err := f.Bytecode(fam)
		if err != nil {
			t.Fatalf("Bytecode(%v) of %q: %v", fam, f, err)
		}
		if bc != nil {
			if err := auditBytecode(bc); err != nil {
				t.Fatalf("Bytecode(%v) of %q = % x: %v", fam, f, bc, err)
			}
		}
		for i := range socks {
			s := &socks[i]
			if familyOf(s) != fam {
				continue
			}
			if got, want := bc == nil || runBytecode(bc, entryOf(s)), f.Match(s); got != want {
				t.Errorf("%q on %v %v %v: bytecode % x keeps it %v, Match %v", f, fam, s.Local, s.Peer, bc, got, want)
			}
		}
	}
}

func TestFilterBytecode(t *testing.T) {
	for _, s := range []string{
		"", "sport = :80", "sport != :80", "sport < :1024", "sport > :1024", "sport <= :1023", "sport >= :1024",
		"dport < :1", "dport > :65534", "sport < :0", "sport > :65535", "sport >= :0", "sport <= :65535",
		"sport = *", "sport != *", "src *", "dst *:*",
		"src 127.0.0.1", "src 127.0.0.0/8", "dst 10.0.0.0/8:80", "src 0.0.0.0/0", "dst 0.0.0.0/1",
		"src [::1]", "src [::]", "src [::/0]", "dst [::ffff:10.0.0.1]", "src [::ffff:0:0/96]", "dst [fe80::/10]:80",
		"src :22 or dst :22", "not src 127.0.0.0/8", "not src [::1]", "not ( sport = :80 or dport = :80 )",
		"src [::1] or src 127.0.0.1", "src [::1] and src 127.0.0.1", "not not not dst [2001:db8::/32]",
		"sport = :80 or sport = :443 and not dst 127.0.0.0/8 or ( src [::ffff:127.0.0.1] dport >= :1024 )",
	} {
		f, err := Parse([]string{s})
		if err != nil {
			t.Fatal(err)
		}
		checkBytecode(t, f)
	}
}

func TestFilterBytecodeLayout(t *testing.T) {
	tests := []struct {
		expr string
		fam  inspect.Family
		want []byte // nil: no program, the filter keeps every socket
	}{
		{"", inspect.INet, nil},
		{"sport = *", inspect.INet6, nil},
		{"src [::1]", inspect.INet, []byte{kJmp, 4, 8, 0}}, // always reject
		{"not src [::1]", inspect.INet, nil},
		{"sport >= :1024", inspect.INet, []byte{kSGE, 8, 12, 0, 0, 0, 0x00, 0x04}},
		{"sport > :1024", inspect.INet, []byte{kSGE, 8, 12, 0, 0, 0, 0x01, 0x04}},
		{"dport < :1024", inspect.INet, []byte{kDLE, 8, 12, 0, 0, 0, 0xff, 0x03}},
		{"sport = :80", inspect.INet, []byte{kSCond, 12, 16, 0, 0, 0, 0, 0, 80, 0, 0, 0}},
		{"dst 10.0.0.0/8:80", inspect.INet6, []byte{kDCond, 16, 20, 0, 2, 8, 0, 0, 80, 0, 0, 0, 10, 0, 0, 0}},
		{"src [::1]", inspect.INet6, []byte{
			kSCond, 28, 32, 0, 10, 128, 0, 0, 0xff, 0xff, 0xff, 0xff,
			0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
		}},
		// not: the condition holding falls into a jump to reject.
		{"sport != :80", inspect.INet, []byte{
			kSCond, 12, 16, 0, 0, 0, 0, 0, 80, 0, 0, 0,
			kJmp, 4, 8, 0,
		}},
		// or: the first condition holding jumps over the second.
		{"sport = :1 or dport = :2", inspect.INet, []byte{
			kSCond, 12, 16, 0, 0, 0, 0, 0, 1, 0, 0, 0,
			kJmp, 4, 16, 0,
			kDCond, 12, 16, 0, 0, 0, 0, 0, 2, 0, 0, 0,
		}},
	}
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("the expected programs are written little-endian")
	}
	for _, tc := range tests {
		f, err := Parse([]string{tc.expr})
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.Bytecode(tc.fam)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, tc.want) {
			t.Errorf("Bytecode(%v) of %q\n got % x\nwant % x", tc.fam, tc.expr, got, tc.want)
		}
	}
}

func TestFilterBytecodeFamily(t *testing.T) {
	f, err := Parse([]string{"sport = :1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, fam := range []inspect.Family{0, 1, 17} {
		if bc, err := f.Bytecode(fam); err == nil {
			t.Errorf("Bytecode(%v) = % x, want an error", fam, bc)
		}
	}
}

func TestFilterNil(t *testing.T) {
	var f *Filter
	s := sampleSockets()[0]
	if !f.Match(&s) || f.String() != "" {
		t.Errorf("nil Filter: Match %v, String %q; want true, \"\"", f.Match(&s), f.String())
	}
	if bc, err := f.Bytecode(inspect.INet); bc != nil || err != nil {
		t.Errorf("nil Filter: Bytecode = % x, %v; want nil, nil", bc, err)
	}
}

// TestAuditBytecode checks the auditor the fuzzer trusts: it must reject
// what the kernel rejects.
func TestAuditBytecode(t *testing.T) {
	for _, tc := range []struct {
		name string
		bc   []byte
		ok   bool
	}{
		{"jump to reject", []byte{kJmp, 4, 8, 0}, true},
		{"jump to accept", []byte{kJmp, 4, 4, 0}, true},
		{"empty", nil, false},
		{"jump past reject", []byte{kJmp, 4, 12, 0}, false},
		{"jump into itself", []byte{kJmp, 4, 0, 0}, false},
		{"unaligned jump", []byte{kJmp, 4, 6, 0}, false},
		{"unknown code", []byte{99, 4, 8, 0}, false},
		{"jump into an op", []byte{kJmp, 4, 8, 0, kSGE, 8, 12, 0, 0, 0, 80, 0}, false},
		{"jump onto an op", []byte{kJmp, 4, 4, 0, kSGE, 8, 12, 0, 0, 0, 80, 0}, true},
		{"short comparison", []byte{kSGE, 4, 8, 0}, false},
		{"prefix too long", []byte{kSCond, 16, 20, 0, 2, 33, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}, false},
		{"bad family", []byte{kSCond, 16, 20, 0, 3, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}, false},
		{"unspec with prefix", []byte{kSCond, 12, 16, 0, 0, 8, 0, 0, 0, 0, 0, 0}, false},
		{"yes short of the op", []byte{kSCond, 12, 20, 0, 2, 8, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}, false},
	} {
		if err := auditBytecode(tc.bc); (err == nil) != tc.ok {
			t.Errorf("%s: auditBytecode(% x) = %v, want ok %v", tc.name, tc.bc, err, tc.ok)
		}
	}
}
