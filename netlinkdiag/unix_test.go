package netlinkdiag

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// unixMsg encodes a unix_diag_msg and its attributes.
func unixMsg(typ, state uint8, inode uint32, cookie uint64, attrs ...[]byte) []byte {
	b := make([]byte, sizeofUnixDiagMsg)
	b[0] = afUNIX
	b[1] = typ
	b[2] = state
	ne := binary.NativeEndian
	ne.PutUint32(b[4:], inode)
	ne.PutUint32(b[8:], uint32(cookie))
	ne.PutUint32(b[12:], uint32(cookie>>32))
	return append(b, concat(attrs...)...)
}

func u32s(vs ...uint32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.NativeEndian.AppendUint32(b, v)
	}
	return b
}

func TestDecodeUnixMsg(t *testing.T) {
	b := unixMsg(5, 10, 0x01020304, 0x1112131415161718, attr(UnixAttrName, []byte("/run/x.sock")))
	var m UnixMsg
	if err := DecodeUnixMsg(b, &m); err != nil {
		t.Fatal(err)
	}
	want := UnixMsg{Type: 5, State: 10, Inode: 0x01020304, Cookie: 0x1112131415161718, Attrs: b[sizeofUnixDiagMsg:]}
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}

	for _, tt := range []struct {
		name string
		b    []byte
		want error
	}{
		{"short", b[:sizeofUnixDiagMsg-1], ErrShort},
		{"inet family", append([]byte{afINET}, b[1:]...), ErrMalformed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := UnixMsg{Type: 9}
			err := DecodeUnixMsg(tt.b, &m)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
			if m.Type != 9 || m.Attrs != nil {
				t.Errorf("a failed decode wrote %+v", m)
			}
		})
	}
}

func TestDecodeUnixAttrs(t *testing.T) {
	for _, tt := range []struct {
		name string
		b    []byte
		want UnixName
	}{
		{"path", []byte("/run/x.sock"), UnixName{Name: "/run/x.sock"}},
		{"path with its NUL", []byte("/run/x.sock\x00"), UnixName{Name: "/run/x.sock"}},
		{"abstract", []byte("\x00name\x00with NUL"), UnixName{Name: "name\x00with NUL", Abstract: true}},
		{"empty abstract", []byte{0}, UnixName{Abstract: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, DecodeUnixName(tt.b)); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}

	vfs, err := DecodeUnixVFS(u32s(77, 0x00f00003))
	if err != nil || vfs != (UnixVFS{Ino: 77, Dev: 0x00f00003}) {
		t.Errorf("DecodeUnixVFS = %+v, %v", vfs, err)
	}
	rq, err := DecodeUnixRQLen(u32s(3, 128))
	if err != nil || rq != (UnixRQLen{RQueue: 3, WQueue: 128}) {
		t.Errorf("DecodeUnixRQLen = %+v, %v", rq, err)
	}
	icons, err := AppendUnixIcons(nil, u32s(5, 6, 7))
	if err != nil || !cmp.Equal(icons, []uint32{5, 6, 7}) {
		t.Errorf("AppendUnixIcons = %v, %v", icons, err)
	}

	for _, tt := range []struct {
		name string
		err  error
		want error
	}{
		{"vfs short", second(DecodeUnixVFS(u32s(1))), ErrShort},
		{"vfs long", second(DecodeUnixVFS(u32s(1, 2, 3))), ErrMalformed},
		{"rqlen short", second(DecodeUnixRQLen(make([]byte, 7))), ErrShort},
		{"icons ragged", second(AppendUnixIcons(nil, make([]byte, 6))), ErrMalformed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if !errors.Is(tt.err, tt.want) {
				t.Errorf("err %v, want %v", tt.err, tt.want)
			}
		})
	}
}

func second[T any](_ T, err error) error { return err }

func TestAppendUnixRequest(t *testing.T) {
	b := appendUnixRequest(nil, UnixRequest{States: 1<<1 | 1<<10, Show: UnixShowName | UnixShowPeer}, 7)
	ne := binary.NativeEndian
	if len(b) != sizeofNlMsghdr+sizeofUnixDiagReq || ne.Uint32(b) != uint32(len(b)) {
		t.Fatalf("request of %d bytes, nlmsg_len %d", len(b), ne.Uint32(b))
	}
	if typ, flags, seq := ne.Uint16(b[4:]), ne.Uint16(b[6:]), ne.Uint32(b[8:]); typ != sockDiagByFamily || flags != nlmFRequest|nlmFDump || seq != 7 {
		t.Errorf("header type %d flags %#x seq %d", typ, flags, seq)
	}
	r := b[sizeofNlMsghdr:]
	want := append([]byte{afUNIX, 0, 0, 0}, u32s(1<<1|1<<10, 0, UnixShowName|UnixShowPeer, 0, 0)...)
	if diff := cmp.Diff(want, r); diff != "" {
		t.Errorf("unix_diag_req (-want +got)\n%s", diff)
	}
}

func FuzzDecodeUnixMsg(f *testing.F) {
	f.Add(unixMsg(1, 10, 5, 9, attr(UnixAttrName, []byte("/x")), attr(UnixAttrRQLen, u32s(1, 2)), attr(UnixAttrIcons, u32s(8, 9))))
	f.Add(unixMsg(2, 1, 5, 9, attr(UnixAttrName, []byte("\x00abs")), attr(UnixAttrPeer, u32s(4)), attr(UnixAttrVFS, u32s(1, 2))))
	f.Add(unixMsg(5, 7, 5, 9, attr(UnixAttrMemInfo, make([]byte, 36)), attr(UnixAttrShutdown, []byte{3}), attr(UnixAttrUID, u32s(1000))))
	f.Add(unixMsg(1, 1, 1, 1)[:15])
	f.Fuzz(func(t *testing.T, b []byte) {
		var m UnixMsg
		if err := DecodeUnixMsg(b, &m); err != nil {
			if !errors.Is(err, ErrShort) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("DecodeUnixMsg: %v wraps neither ErrShort nor ErrMalformed", err)
			}
			if m.Type != 0 || m.State != 0 || m.Inode != 0 || m.Cookie != 0 || m.Attrs != nil {
				t.Fatalf("DecodeUnixMsg failed but filled %+v", m)
			}
			return
		}
		if b[0] != afUNIX || len(m.Attrs) != len(b)-sizeofUnixDiagMsg {
			t.Fatalf("family %d, %d attribute bytes of a %d-byte message", b[0], len(m.Attrs), len(b))
		}
		ad := NewAttrDecoder(m.Attrs)
		for ad.Next() {
			var err error
			switch p := ad.Bytes(); ad.Type() {
			case UnixAttrName:
				n := DecodeUnixName(p)
				if len(n.Name) > len(p) || n.Abstract != (len(p) > 0 && p[0] == 0) {
					t.Fatalf("name %+v from %q", n, p)
				}
			case UnixAttrVFS:
				_, err = DecodeUnixVFS(p)
			case UnixAttrRQLen:
				_, err = DecodeUnixRQLen(p)
			case UnixAttrIcons:
				var icons []uint32
				icons, err = AppendUnixIcons(nil, p)
				if err == nil && len(icons)*4 != len(p) {
					t.Fatalf("%d icons from %d bytes", len(icons), len(p))
				}
			case UnixAttrMemInfo:
				var mem SkMemInfo
				err = DecodeSkMemInfo(p, &mem)
			case UnixAttrPeer, UnixAttrUID:
				_ = ad.Uint32()
			case UnixAttrShutdown:
				_ = ad.Uint8()
			}
			if err != nil && !errors.Is(err, ErrShort) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("attribute %d: %v wraps neither ErrShort nor ErrMalformed", ad.Type(), err)
			}
		}
		if err := ad.Err(); err != nil && !errors.Is(err, ErrShort) && !errors.Is(err, ErrMalformed) {
			t.Fatalf("attributes: %v wraps neither ErrShort nor ErrMalformed", err)
		}
	})
}

// TestRequestProtocolAttr requires a protocol past sdiag_protocol's u8,
// IPPROTO_MPTCP, to go as an INET_DIAG_REQ_PROTOCOL attribute after the
// bytecode, with nlmsg_len grown to hold it.
func TestRequestProtocolAttr(t *testing.T) {
	bc := []byte{1, 2, 3, 4}
	b, err := appendRequest(nil, Request{Family: afINET, Protocol: 262, States: 1, Bytecode: bc}, SockID{}, nlmFRequest|nlmFDump, 1)
	if err != nil {
		t.Fatal(err)
	}
	ne := binary.NativeEndian
	if int(ne.Uint32(b)) != len(b) || len(b) != sizeofNlMsghdr+sizeofInetDiagReqV2+8+8 {
		t.Fatalf("nlmsg_len %d of a %d-byte request", ne.Uint32(b), len(b))
	}
	want := concat(attr(inetDiagReqBytecode, bc), attr(inetDiagReqProtocol, u32s(262)))
	if diff := cmp.Diff(want, b[sizeofNlMsghdr+sizeofInetDiagReqV2:]); diff != "" {
		t.Errorf("attributes (-want +got)\n%s", diff)
	}
	if b[sizeofNlMsghdr+1] != 262&0xff {
		t.Errorf("sdiag_protocol %d", b[sizeofNlMsghdr+1])
	}
	b, err = appendRequest(nil, Request{Family: afINET, Protocol: ipprotoTCP}, SockID{}, nlmFRequest|nlmFDump, 1)
	if err != nil || len(b) != sizeofNlMsghdr+sizeofInetDiagReqV2 {
		t.Errorf("TCP request of %d bytes (%v), want no attribute", len(b), err)
	}
}
