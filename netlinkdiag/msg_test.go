package netlinkdiag

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// cmpAddrPort compares netip.AddrPort values, whose fields are unexported.
var cmpAddrPort = cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })

func TestDecodeMsg(t *testing.T) {
	v4 := testMsg(afINET, 0x0000000100000002)
	v6 := testMsg(afINET6, 0xfffffffe00000001)
	mapped := testMsg(afINET6, 7)
	mapped.Src = netip.MustParseAddrPort("[::ffff:192.0.2.1]:80")
	withAttrs := testMsg(afINET, 9)
	withAttrs.Attrs = concat(attr(AttrShutdown, []byte{2}), attr(AttrCong, []byte("cubic\x00")))
	full := encodeMsg(v4)

	tests := []struct {
		name string
		b    []byte
		want Msg
		err  error
	}{
		{name: "IPv4", b: encodeMsg(v4), want: v4},
		{name: "IPv6", b: encodeMsg(v6), want: v6},
		{name: "IPv4-mapped IPv6", b: encodeMsg(mapped), want: mapped},
		{name: "attributes", b: encodeMsg(withAttrs), want: withAttrs},
		{name: "empty", b: nil, err: ErrShort},
		{name: "one byte", b: full[:1], err: ErrShort},
		{name: "one byte short", b: full[:71], err: ErrShort},
		{name: "family 0", b: append([]byte{0}, full[1:]...), err: ErrMalformed},
		{name: "family AF_UNIX", b: append([]byte{1}, full[1:]...), err: ErrMalformed},
		{name: "family 255", b: append([]byte{255}, full[1:]...), err: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Start from a filled Msg: success must overwrite every field,
			// failure none.
			prev := testMsg(afINET6, 0xdead)
			prev.Attrs = []byte{0xee}
			m := prev
			err := DecodeMsg(tt.b, &m)
			if !errors.Is(err, tt.err) {
				t.Fatalf("DecodeMsg: %v, want %v", err, tt.err)
			}
			want := tt.want
			if tt.err != nil {
				want = prev
			}
			if diff := cmp.Diff(want, m, cmpAddrPort); diff != "" {
				t.Errorf("Msg (-want +got):\n%s", diff)
			}
		})
	}
}

type attrSeen struct {
	Type   uint16
	Nested bool
	Data   []byte
}

func TestAttrDecoder(t *testing.T) {
	unpadded := attr(AttrShutdown, []byte{1})[:5]
	lenBelowHeader := []byte{2, 0, 1, 0}
	binary.NativeEndian.PutUint16(lenBelowHeader, 2)
	lenPastEnd := attr(AttrCong, []byte("bbr\x00"))
	binary.NativeEndian.PutUint16(lenPastEnd, 9)

	tests := []struct {
		name string
		b    []byte
		want []attrSeen
		err  error
	}{
		{name: "none", b: nil},
		{
			name: "padded",
			b:    concat(attr(AttrShutdown, []byte{3}), attr(AttrCong, []byte("cubic\x00")), attr(AttrMark, []byte{1, 2, 3, 4})),
			want: []attrSeen{
				{Type: AttrShutdown, Data: []byte{3}},
				{Type: AttrCong, Data: []byte("cubic\x00")},
				{Type: AttrMark, Data: []byte{1, 2, 3, 4}},
			},
		},
		{
			name: "last without padding",
			b:    concat(attr(AttrTOS, []byte{0x10}), unpadded),
			want: []attrSeen{{Type: AttrTOS, Data: []byte{0x10}}, {Type: AttrShutdown, Data: []byte{1}}},
		},
		{
			name: "empty payload",
			b:    attr(AttrPad, nil),
			want: []attrSeen{{Type: AttrPad, Data: []byte{}}},
		},
		{
			name: "flags masked",
			b:    concat(attr(0x8000|AttrULPInfo, attr(1, []byte("tls\x00"))), attr(0x4000|AttrMark, []byte{0, 0, 0, 1})),
			want: []attrSeen{
				{Type: AttrULPInfo, Nested: true, Data: attr(1, []byte("tls\x00"))},
				{Type: AttrMark, Data: []byte{0, 0, 0, 1}},
			},
		},
		{name: "header cut", b: []byte{8, 0, 4}, err: ErrShort},
		{name: "length below header", b: lenBelowHeader, err: ErrMalformed},
		{name: "length zero", b: []byte{0, 0, 0, 0}, err: ErrMalformed},
		{name: "length past end", b: lenPastEnd, err: ErrShort},
		{
			name: "garbage after a good one",
			b:    concat(attr(AttrTOS, []byte{7}), []byte{1, 2}),
			want: []attrSeen{{Type: AttrTOS, Data: []byte{7}}},
			err:  ErrShort,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []attrSeen
			ad := NewAttrDecoder(tt.b)
			for ad.Next() {
				got = append(got, attrSeen{Type: ad.Type(), Nested: ad.Nested(), Data: ad.Bytes()})
			}
			if err := ad.Err(); !errors.Is(err, tt.err) {
				t.Fatalf("Err: %v, want %v", err, tt.err)
			}
			if ad.Next() {
				t.Error("Next after the end returned true")
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("attributes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAttrDecoderValues(t *testing.T) {
	u64 := binary.NativeEndian.AppendUint64(nil, 0x0102030405060708)
	u32 := binary.NativeEndian.AppendUint32(nil, 0x01020304)
	tests := []struct {
		name string
		b    []byte
		get  func(*AttrDecoder) any
		want any
		err  error
	}{
		{name: "u8", b: attr(AttrShutdown, []byte{3}), get: func(d *AttrDecoder) any { return d.Uint8() }, want: uint8(3)},
		{name: "u32", b: attr(AttrMark, u32), get: func(d *AttrDecoder) any { return d.Uint32() }, want: uint32(0x01020304)},
		{name: "u64", b: attr(AttrCgroupID, u64), get: func(d *AttrDecoder) any { return d.Uint64() }, want: uint64(0x0102030405060708)},
		{name: "string with NUL", b: attr(AttrCong, []byte("bbr\x00")), get: func(d *AttrDecoder) any { return d.String() }, want: "bbr"},
		{name: "string without NUL", b: attr(AttrCong, []byte("reno")), get: func(d *AttrDecoder) any { return d.String() }, want: "reno"},
		{name: "u8 too long", b: attr(AttrShutdown, []byte{3, 0}), get: func(d *AttrDecoder) any { return d.Uint8() }, want: uint8(0), err: ErrMalformed},
		{name: "u8 empty", b: attr(AttrShutdown, nil), get: func(d *AttrDecoder) any { return d.Uint8() }, want: uint8(0), err: ErrShort},
		{name: "u32 short", b: attr(AttrMark, []byte{1, 2}), get: func(d *AttrDecoder) any { return d.Uint32() }, want: uint32(0), err: ErrShort},
		{name: "u64 short", b: attr(AttrCgroupID, u32), get: func(d *AttrDecoder) any { return d.Uint64() }, want: uint64(0), err: ErrShort},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ad := NewAttrDecoder(tt.b)
			if !ad.Next() {
				t.Fatalf("no attribute: %v", ad.Err())
			}
			if got := tt.get(&ad); got != tt.want {
				t.Errorf("value %v, want %v", got, tt.want)
			}
			if ad.Next() {
				t.Error("a second attribute")
			}
			if err := ad.Err(); !errors.Is(err, tt.err) {
				t.Errorf("Err: %v, want %v", err, tt.err)
			}
		})
	}
}

func TestAppendRequest(t *testing.T) {
	// header builds the nlmsghdr and inet_diag_req_v2 head that every case
	// shares, up to and without the inet_diag_sockid.
	header := func(length uint32, flags uint16, seq uint32, family, proto, ext uint8, states uint32) []byte {
		b := binary.NativeEndian.AppendUint32(nil, length)
		b = binary.NativeEndian.AppendUint16(b, 20)
		b = binary.NativeEndian.AppendUint16(b, flags)
		b = binary.NativeEndian.AppendUint32(b, seq)
		b = binary.NativeEndian.AppendUint32(b, 0)
		b = append(b, family, proto, ext, 0)
		return binary.NativeEndian.AppendUint32(b, states)
	}
	noCookie := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	dumpID := concat(make([]byte, 40), noCookie)
	bytecodeAttr := concat(binary.NativeEndian.AppendUint16(nil, 10), binary.NativeEndian.AppendUint16(nil, 1), []byte{11, 8, 12, 0, 0, 0}, []byte{0, 0})
	v6ID := concat(
		[]byte{0x01, 0xbb, 0xc3, 0x50}, // ports 443 and 50000, big endian
		netip.MustParseAddr("2001:db8::1").AsSlice(),
		netip.MustParseAddr("2001:db8::2").AsSlice(),
		binary.NativeEndian.AppendUint32(nil, 3),
		binary.NativeEndian.AppendUint32(nil, 0x55667788),
		binary.NativeEndian.AppendUint32(nil, 0x11223344),
	)
	v4ID := concat(
		[]byte{0x00, 0x50, 0x00, 0x00},
		[]byte{127, 0, 0, 1}, make([]byte, 12),
		[]byte{127, 0, 0, 2}, make([]byte, 12),
		make([]byte, 4), noCookie,
	)
	rawLookup := concat(header(72, 0x1, 42, afINET, 255, 0, 0), v4ID)
	rawLookup[19] = 1 // sdiag_raw_protocol: ICMP

	tests := []struct {
		name  string
		req   Request
		id    SockID
		flags uint16
		want  []byte
	}{
		{
			name:  "dump",
			req:   Request{Family: afINET, Protocol: 6, States: 1<<10 | 1<<1, Ext: ExtInfo | ExtCong},
			flags: nlmFRequest | nlmFDump,
			want:  concat(header(72, 0x301, 42, afINET, 6, 0x0a, 0x402), dumpID),
		},
		{
			name:  "dump with bytecode padded",
			req:   Request{Family: afINET6, Protocol: 17, States: 1 << 7, Bytecode: []byte{11, 8, 12, 0, 0, 0}},
			flags: nlmFRequest | nlmFDump,
			want:  concat(header(84, 0x301, 42, afINET6, 17, 0, 0x80), dumpID, bytecodeAttr),
		},
		{
			name: "lookup IPv6 with cookie",
			req:  Request{Family: afINET6, Protocol: 6},
			id: SockID{
				Src:     netip.MustParseAddrPort("[2001:db8::1]:443"),
				Dst:     netip.MustParseAddrPort("[2001:db8::2]:50000"),
				IfIndex: 3,
				Cookie:  0x1122334455667788,
			},
			flags: nlmFRequest,
			want:  concat(header(72, 0x1, 42, afINET6, 6, 0, 0), v6ID),
		},
		{
			name: "lookup IPv4 given as mapped",
			req:  Request{Family: afINET, Protocol: 6},
			id: SockID{
				Src: netip.MustParseAddrPort("[::ffff:127.0.0.1]:80"),
				Dst: netip.MustParseAddrPort("127.0.0.2:0"),
			},
			flags: nlmFRequest,
			want:  concat(header(72, 0x1, 42, afINET, 6, 0, 0), v4ID),
		},
		{
			name: "raw lookup with its protocol",
			req:  Request{Family: afINET, Protocol: 255, RawProtocol: 1},
			id: SockID{
				Src: netip.MustParseAddrPort("127.0.0.1:80"),
				Dst: netip.MustParseAddrPort("127.0.0.2:0"),
			},
			flags: nlmFRequest,
			want:  rawLookup,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := []byte{9, 9}
			got, err := appendRequest(prefix, tt.req, tt.id, tt.flags, 42)
			if err != nil {
				t.Fatalf("appendRequest: %v", err)
			}
			if diff := cmp.Diff(concat(prefix, tt.want), got); diff != "" {
				t.Errorf("request bytes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAppendRequestErrors(t *testing.T) {
	tests := []struct {
		name string
		req  Request
		id   SockID
		err  string
	}{
		{name: "family AF_UNIX", req: Request{Family: 1, Protocol: 6}, err: "netlinkdiag: request for address family 1, want AF_INET or AF_INET6"},
		{name: "family 0 lookup", req: Request{Protocol: 6}, err: "netlinkdiag: address family 0 (both) is for TCP dumps only"},
		{name: "IPv6 source in AF_INET", req: Request{Family: afINET, Protocol: 6}, id: SockID{Src: netip.MustParseAddrPort("[::1]:1")}, err: "netlinkdiag: IPv6 address ::1 in an AF_INET request"},
		{name: "IPv6 destination in AF_INET", req: Request{Family: afINET, Protocol: 6}, id: SockID{Dst: netip.MustParseAddrPort("[2001:db8::1]:1")}, err: "netlinkdiag: IPv6 address 2001:db8::1 in an AF_INET request"},
		{name: "bytecode too long", req: Request{Family: afINET, Protocol: 6, Bytecode: make([]byte, maxBytecode+1)}, err: "netlinkdiag: bytecode of 65532 bytes, at most 65531 fit an attribute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := []byte{1, 2, 3}
			got, err := appendRequest(prefix, tt.req, tt.id, nlmFRequest, 1)
			if err == nil || err.Error() != tt.err {
				t.Fatalf("appendRequest: %v, want %q", err, tt.err)
			}
			if diff := cmp.Diff(prefix, got); diff != "" {
				t.Errorf("buffer after a failure (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAppendCompatDump checks the TCPDIAG_GETSOCK dump that Family 0 sends:
// struct inet_diag_req with the extensions and states, then the bytecode.
func TestAppendCompatDump(t *testing.T) {
	bc := []byte{1, 2, 3, 4}
	got, err := appendRequest(nil, Request{Protocol: 6, States: 0xfff, Ext: ExtInfo, Bytecode: bc}, SockID{}, nlmFRequest|nlmFDump, 7)
	if err != nil {
		t.Fatal(err)
	}
	ne := binary.NativeEndian
	want := make([]byte, sizeofNlMsghdr+sizeofInetDiagReq)
	ne.PutUint32(want[0:], uint32(len(want)+8))
	ne.PutUint16(want[4:], tcpdiagGetSock)
	ne.PutUint16(want[6:], nlmFRequest|nlmFDump)
	ne.PutUint32(want[8:], 7)
	want[sizeofNlMsghdr+3] = ExtInfo
	ne.PutUint32(want[sizeofNlMsghdr+52:], 0xfff)
	want = ne.AppendUint16(want, 8)
	want = ne.AppendUint16(want, inetDiagReqBytecode)
	want = append(want, bc...)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := appendRequest(nil, Request{Protocol: 17}, SockID{}, nlmFRequest|nlmFDump, 1); err == nil {
		t.Error("a UDP dump of family 0 was encoded")
	}
}
