package inspect

import (
	"bytes"
	"fmt"

	"github.com/sockstate/sockstate/netlinkdiag"
)

// extDecoder decodes the sock_diag extensions a Query asks for into the
// model. It allocates the model's records in slabs, because a listing of
// 100,000 sockets would otherwise make as many small allocations, and it
// reuses the congestion control's name while it stays the same.
type extDecoder struct {
	mask uint8 // the idiag_ext bits to ask for

	info netlinkdiag.TCPInfo
	mem  netlinkdiag.SkMemInfo
	bbr  netlinkdiag.BBRInfo

	infos []TCPInfo
	mems  []Memory
	bbrs  []BBRInfo
	cong  string // the last congestion control and ULP names, reused
	ulp   string
}

// slabSize is how many records each slab holds.
const slabSize = 512

func newExtDecoder(q Query) *extDecoder {
	d := &extDecoder{}
	if q.Info {
		// The kernel sends a congestion control's own record, such as
		// BBR's, when asked for INET_DIAG_VEGASINFO.
		d.mask |= netlinkdiag.ExtInfo | netlinkdiag.ExtCong | netlinkdiag.ExtVegasInfo
	}
	if q.Memory {
		d.mask |= netlinkdiag.ExtSkMemInfo
	}
	return d
}

// decode fills s.Info and s.Memory from the attributes of s's message, for
// the extensions asked for. A malformed attribute is an error.
func (d *extDecoder) decode(attrs []byte, s *Socket) error {
	var cong, ulp []byte
	haveInfo, haveBBR := false, false
	ad := netlinkdiag.NewAttrDecoder(attrs)
	for ad.Next() {
		var err error
		switch ad.Type() {
		case netlinkdiag.AttrInfo:
			if d.mask&netlinkdiag.ExtInfo != 0 && s.Protocol == TCP {
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

// next returns a pointer to a new zero record from the slab *slab,
// starting a new slab when it is full. Records stay where they are: a full
// slab is left to the records that point into it.
func next[T any](slab *[]T) *T {
	if len(*slab) == cap(*slab) {
		*slab = make([]T, 0, slabSize)
	}
	*slab = (*slab)[:len(*slab)+1]
	return &(*slab)[len(*slab)-1]
}

// extPipeline decodes extensions on a goroutine of its own. The receiving
// goroutine copies each socket and its attributes into a chunk and hands
// full chunks over; the decoder fills in the extensions and appends the
// sockets in the order they came. Chunks go back to the receiver to be
// reused, and at most pipelineDepth wait, so memory stays bounded when the
// decoder falls behind.
type extPipeline struct {
	cur  *extChunk
	full chan *extChunk
	free chan *extChunk
	done chan struct{}

	// Written by the decoder, read after done is closed.
	out []Socket
	err error
}

// extChunk is a run of sockets whose attributes are in attrs, socket i's
// ending at ends[i].
type extChunk struct {
	socks []Socket
	attrs []byte
	ends  []int32
}

const (
	chunkSockets  = 256
	pipelineDepth = 8
)

// startExtPipeline starts the decoder, with room for hint sockets.
func startExtPipeline(ext *extDecoder, hint int) *extPipeline {
	p := &extPipeline{
		cur:  &extChunk{},
		full: make(chan *extChunk, pipelineDepth),
		free: make(chan *extChunk, pipelineDepth+1),
		done: make(chan struct{}),
		out:  make([]Socket, 0, hint),
	}
	go func() {
		defer close(p.done)
		for c := range p.full {
			start := int32(0)
			for i := range c.socks {
				if p.err == nil {
					if err := ext.decode(c.attrs[start:c.ends[i]], &c.socks[i]); err != nil {
						p.err = err
					}
				}
				start = c.ends[i]
			}
			p.out = append(p.out, c.socks...)
			c.socks, c.attrs, c.ends = c.socks[:0], c.attrs[:0], c.ends[:0]
			// The receiver makes a new chunk whenever none is free, so
			// more can come back than free holds, and after the last
			// one it takes none: a chunk with no room is dropped.
			select {
			case p.free <- c:
			default:
			}
		}
	}()
	return p
}

// add queues s, with its message's attributes, which it copies.
func (p *extPipeline) add(s *Socket, attrs []byte) {
	c := p.cur
	c.socks = append(c.socks, *s)
	c.attrs = append(c.attrs, attrs...)
	c.ends = append(c.ends, int32(len(c.attrs)))
	if len(c.socks) < chunkSockets {
		return
	}
	p.full <- c
	select {
	case p.cur = <-p.free:
	default:
		p.cur = &extChunk{}
	}
}

// finish hands over what is queued, waits for the decoder, and returns
// every socket added, in order, and the first decoding error.
func (p *extPipeline) finish() ([]Socket, error) {
	if len(p.cur.socks) > 0 {
		p.full <- p.cur
	}
	close(p.full)
	<-p.done
	return p.out, p.err
}
