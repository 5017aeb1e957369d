package netlinkdiag

import "testing"

func BenchmarkDecodeMsg(b *testing.B) {
	m := testMsg(afINET6, 1)
	m.Attrs = concat(attr(AttrShutdown, []byte{0}), attr(AttrSkV6Only, []byte{0}), attr(AttrCgroupID, make([]byte, 8)))
	msg := encodeMsg(m)
	var got Msg
	b.ReportAllocs()
	for b.Loop() {
		if err := DecodeMsg(msg, &got); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeMsgAttrs(b *testing.B) {
	m := testMsg(afINET, 1)
	m.Attrs = concat(attr(AttrShutdown, []byte{0}), attr(AttrCong, []byte("cubic\x00")), attr(AttrCgroupID, make([]byte, 8)))
	msg := encodeMsg(m)
	var got Msg
	b.ReportAllocs()
	for b.Loop() {
		if err := DecodeMsg(msg, &got); err != nil {
			b.Fatal(err)
		}
		ad := NewAttrDecoder(got.Attrs)
		for ad.Next() {
			switch ad.Type() {
			case AttrShutdown:
				_ = ad.Uint8()
			case AttrCgroupID:
				_ = ad.Uint64()
			}
		}
		if err := ad.Err(); err != nil {
			b.Fatal(err)
		}
	}
}
