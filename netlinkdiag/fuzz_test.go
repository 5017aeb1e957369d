package netlinkdiag

import (
	"errors"
	"syscall"
	"testing"
)

func FuzzDecodeMsg(f *testing.F) {
	withAttrs := testMsg(afINET6, 3)
	withAttrs.Attrs = concat(attr(AttrShutdown, []byte{1}), attr(AttrCong, []byte("cubic\x00")), attr(0x8000|AttrULPInfo, attr(1, nil)))
	f.Add(encodeMsg(testMsg(afINET, 1)))
	f.Add(encodeMsg(withAttrs))
	f.Add(encodeMsg(testMsg(afINET, 1))[:71])
	f.Add(append(encodeMsg(testMsg(afINET, 1)), 9, 0, 4, 0, 1))
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Msg
		if err := DecodeMsg(b, &m); err != nil {
			if !errors.Is(err, ErrShort) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("DecodeMsg: %v wraps neither ErrShort nor ErrMalformed", err)
			}
			if m.Family != 0 || m.Src.IsValid() || m.Attrs != nil {
				t.Fatalf("DecodeMsg failed but filled %+v", m)
			}
			return
		}
		checkMsg(t, &m)
		if len(m.Attrs) != len(b)-sizeofInetDiagMsg {
			t.Fatalf("%d attribute bytes of a %d-byte message", len(m.Attrs), len(b))
		}

		ad := NewAttrDecoder(m.Attrs)
		consumed := 0
		for ad.Next() {
			consumed += sizeofNlAttr + len(ad.Bytes())
			if ad.Type() > attrTypeMask {
				t.Fatalf("type %#x keeps its flags", ad.Type())
			}
			_ = ad.String()
			switch len(ad.Bytes()) {
			case 1:
				_ = ad.Uint8()
			case 4:
				_ = ad.Uint32()
			case 8:
				_ = ad.Uint64()
			}
			if err := ad.Err(); err != nil {
				t.Fatalf("accessor of the right size failed: %v", err)
			}
		}
		if err := ad.Err(); err != nil {
			if !errors.Is(err, ErrShort) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("attributes: %v wraps neither ErrShort nor ErrMalformed", err)
			}
		} else if consumed > len(m.Attrs) {
			t.Fatalf("attributes of %d bytes in all from %d bytes", consumed, len(m.Attrs))
		}
	})
}

// checkMsg requires a decoded Msg to be consistent: its family matches the
// width of its addresses.
func checkMsg(t *testing.T, m *Msg) {
	t.Helper()
	switch m.Family {
	case afINET:
		if !m.Src.Addr().Is4() || !m.Dst.Addr().Is4() {
			t.Fatalf("AF_INET message with addresses %v and %v", m.Src, m.Dst)
		}
	case afINET6:
		if !m.Src.Addr().Is6() || !m.Dst.Addr().Is6() {
			t.Fatalf("AF_INET6 message with addresses %v and %v", m.Src, m.Dst)
		}
	default:
		t.Fatalf("decoded a message of family %d", m.Family)
	}
}

func FuzzReplyParse(f *testing.F) {
	f.Add(concat(diag(1, 0), diag(2, nlmFDumpIntr), done(0)), true)
	f.Add(concat(nlmsg(sockDiagByFamily, 0, testSeq, testPID, encodeMsg(testMsg(afINET6, 3))), diag(4, 0)), false)
	f.Add(nlmsg(nlmsgError, 0, testSeq, testPID, errCode(-13)), true)
	f.Add(concat(diag(1, 0), make([]byte, 15)), true)
	f.Add(concat(nlmsg(nlmsgNoop, 0, testSeq, testPID, nil), nlmsg(nlmsgDone, nlmFMulti, testSeq, testPID, nil)), true)
	f.Fuzz(func(t *testing.T, b []byte, dump bool) {
		r := reply{seq: testSeq, pid: testPID, dump: dump}
		var m Msg
		calls := 0
		err := r.parse(b, &m, func(m *Msg) error {
			calls++
			checkMsg(t, m)
			return nil
		})
		if err != nil {
			var errno syscall.Errno
			if !errors.Is(err, ErrShort) && !errors.Is(err, ErrMalformed) && !errors.As(err, &errno) {
				t.Fatalf("parse: %v wraps no sentinel and no errno", err)
			}
			if errno != 0 && !r.done {
				t.Fatalf("parse: kernel error %v but the reply is not done", err)
			}
		}
		// Every delivered message took at least a header and an
		// inet_diag_msg from the datagram.
		if calls*(sizeofNlMsghdr+sizeofInetDiagMsg) > len(b) {
			t.Fatalf("%d messages from %d bytes", calls, len(b))
		}
	})
}
