package sockdiag

import (
	"bytes"
	"fmt"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/netlinkdiag"
)

// extDecoder decodes the sock_diag extensions a Query asks for into the
// model. It allocates the model's records in slabs, because a listing of
// 100,000 sockets would otherwise make as many small allocations, and it
// reuses the congestion control's name while it stays the same.
type extDecoder struct {
	mask uint8 // the idiag_ext bits to ask for
	// cgroup decodes INET_DIAG_CGROUP_ID, which the kernel (5.7 on) sends
	// for every full socket unasked: ss asks for no idiag_ext bit either.
	cgroup bool

	info netlinkdiag.TCPInfo
	mem  netlinkdiag.SkMemInfo
	bbr  netlinkdiag.BBRInfo

	infos []inspect.TCPInfo
	mems  []inspect.Memory
	bbrs  []inspect.BBRInfo
	cong  string // the last congestion control and ULP names, reused
	ulp   string
}

// slabSize is how many records each slab holds: a batch's worth.
const slabSize = BatchSize

func newExtDecoder(q inspect.Query) *extDecoder {
	d := &extDecoder{}
	if q.Info {
		// The kernel sends a congestion control's own record, such as
		// BBR's, when asked for INET_DIAG_VEGASINFO.
		d.mask |= netlinkdiag.ExtInfo | netlinkdiag.ExtCong | netlinkdiag.ExtVegasInfo
	}
	if q.Memory {
		d.mask |= netlinkdiag.ExtSkMemInfo
	}
	d.cgroup = q.Cgroup
	return d
}

// needed reports whether the replies' attributes are to be decoded.
func (d *extDecoder) needed() bool { return d.mask != 0 || d.cgroup }

// decode fills s.Info and s.Memory from the attributes of s's message, for
// the extensions asked for. A malformed attribute is an error.
func (d *extDecoder) decode(attrs []byte, s *inspect.Socket) error {
	var cong, ulp []byte
	haveInfo, haveBBR := false, false
	ad := netlinkdiag.NewAttrDecoder(attrs)
	for ad.Next() {
		var err error
		switch ad.Type() {
		case netlinkdiag.AttrInfo:
			if d.mask&netlinkdiag.ExtInfo != 0 && s.Protocol == inspect.TCP {
				err = netlinkdiag.DecodeTCPInfo(ad.Bytes(), &d.info)
				haveInfo = err == nil
			}
		case netlinkdiag.AttrCong:
			cong = trimNUL(ad.Bytes())
		case netlinkdiag.AttrULPInfo:
			nested := netlinkdiag.NewAttrDecoder(ad.Bytes())
			for nested.Next() {
				if nested.Type() == netlinkdiag.ULPInfoName {
					ulp = trimNUL(nested.Bytes())
				}
			}
			err = nested.Err()
		case netlinkdiag.AttrBBRInfo:
			err = netlinkdiag.DecodeBBRInfo(ad.Bytes(), &d.bbr)
			haveBBR = err == nil
		case netlinkdiag.AttrCgroupID:
			if d.cgroup {
				s.CgroupID, err = netlinkdiag.DecodeCgroupID(ad.Bytes())
			}
		case netlinkdiag.AttrSkMemInfo:
			if d.mask&netlinkdiag.ExtSkMemInfo != 0 {
				if err = netlinkdiag.DecodeSkMemInfo(ad.Bytes(), &d.mem); err == nil {
					s.Memory = next(&d.mems)
					*s.Memory = memoryFrom(&d.mem)
				}
			}
		}
		if err != nil {
			return fmt.Errorf("inspect: socket %v %v: %w", s.Local, s.Peer, err)
		}
	}
	if err := ad.Err(); err != nil {
		return fmt.Errorf("inspect: socket %v %v: %w", s.Local, s.Peer, err)
	}
	if !haveInfo {
		return nil
	}
	s.Info = next(&d.infos)
	tcpInfoFrom(&d.info, s.Info)
	if string(cong) != d.cong {
		d.cong = string(cong)
	}
	s.Info.Congestion = d.cong
	if string(ulp) != d.ulp {
		d.ulp = string(ulp)
	}
	s.Info.ULP = d.ulp
	if haveBBR {
		s.Info.BBR = next(&d.bbrs)
		*s.Info.BBR = bbrFrom(&d.bbr)
	}
	return nil
}

// trimNUL returns b up to its first NUL byte.
func trimNUL(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}

// next returns a pointer to the next record of the slab *slab, starting a
// new slab when it is full; the caller overwrites the whole record, which
// may hold a recycled one. Records stay where they are: a full slab is
// left to the records that point into it.
func next[T any](slab *[]T) *T {
	if len(*slab) == cap(*slab) {
		*slab = make([]T, 0, slabSize)
	}
	*slab = (*slab)[:len(*slab)+1]
	return &(*slab)[len(*slab)-1]
}

// recycle lets the next records reuse the current slabs from the start:
// for a listing whose batches are handed out and dropped one by one. A
// slab holds as many records as a batch has sockets, so a batch never
// reaches past it; records of sockets held back are copies.
func (d *extDecoder) recycle() {
	d.infos, d.mems, d.bbrs = d.infos[:0], d.mems[:0], d.bbrs[:0]
}
