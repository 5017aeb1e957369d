package sockdiag

import (
	"errors"
	"sync"
	"sync/atomic"

	"github.com/sockstate/sockstate/inspect"
)

// BatchSize is the most sockets Each hands over at a time.
const BatchSize = 4096

// The marks of a listing's stream, which come between its sockets.
const (
	// markTable starts a table's dump.
	markTable = iota + 1
	// markRetry starts another attempt at the table, whose last was
	// interrupted.
	markRetry
	// markHold starts a dump of both families: IPv6 sockets are held
	// until markRelease, which hands them over after the IPv4 ones.
	markHold
	markRelease
)

// sink takes a listing's sockets, decoding their extensions first: into
// out for Sockets, or in batches to fn for Each.
type sink struct {
	ext *extDecoder

	// Sockets: every socket kept, and where the current table's start.
	out        []inspect.Socket
	tableStart int

	// Each: batches handed to fn and then reused, with the records
	// their sockets point to; seen keeps every socket handed over, so
	// that none is handed over twice.
	fn    func([]inspect.Socket) error
	batch []inspect.Socket
	seen  *inspect.Sightings
	bufs  *eachBuffers
	// callerErr is fn's error, returned as it is.
	callerErr error

	held    []inspect.Socket // the IPv6 sockets of a dump of both families
	holding bool
}

// newSink returns a sink for Sockets, when fn is nil, or for Each, whose
// Sightings it makes room for n sockets up front: grown from 4,096 as a
// listing of 100,000 comes in, they would be rehashed six times.
func newSink(q inspect.Query, fn func([]inspect.Socket) error, n int) *sink {
	k := &sink{ext: newExtDecoder(q), fn: fn}
	if fn != nil {
		k.bufs = eachPool.Get().(*eachBuffers)
		k.batch, k.seen = k.bufs.batch[:0], &k.bufs.seen
		k.seen.Reset(max(n, BatchSize))
	}
	return k
}

// eachBuffers are what a listing by Each needs whatever its size: the
// batch and the table of the sockets handed over. They are kept from one
// listing to the next, as an exporter lists every few seconds: fresh, they
// were most of the 3.5 MB of new memory of each of its collections of
// 18,000 sockets.
type eachBuffers struct {
	batch []inspect.Socket
	seen  inspect.Sightings
}

var eachPool = sync.Pool{New: func() any {
	return &eachBuffers{batch: make([]inspect.Socket, 0, BatchSize)}
}}

// release gives an Each sink's buffers back once its listing is over.
func (k *sink) release() {
	if k.bufs != nil {
		k.bufs.batch = k.batch[:0]
		eachPool.Put(k.bufs)
		k.bufs, k.batch, k.seen = nil, nil, nil
	}
}

// decodePut fills in s's extensions from its message's attributes and
// puts it.
func (k *sink) decodePut(s *inspect.Socket, attrs []byte) error {
	if k.ext.needed() {
		if err := k.ext.decode(attrs, s); err != nil {
			return err
		}
	}
	return k.put(s)
}

// put keeps s, or holds it back, or adds it to the batch, handing a full
// batch over.
func (k *sink) put(s *inspect.Socket) error {
	if k.holding && s.Family == inspect.INet6 {
		h := *s
		if k.fn != nil {
			// The records s points to are reused with the batch; a
			// held socket needs its own.
			h.Info, h.Memory = cloneInfo(s.Info), clonePtr(s.Memory)
		}
		k.held = append(k.held, h)
		return nil
	}
	if k.fn == nil {
		k.out = append(k.out, *s)
		return nil
	}
	if k.seen.Repeat(s) {
		return nil
	}
	k.batch = append(k.batch, *s)
	if len(k.batch) < BatchSize {
		return nil
	}
	return k.flush()
}

// flush hands the batch over.
func (k *sink) flush() error {
	if len(k.batch) == 0 {
		return nil
	}
	err := k.fn(k.batch)
	k.batch = k.batch[:0]
	k.ext.recycle()
	if err != nil {
		k.callerErr = err
	}
	return err
}

// mark acts on a mark between the sockets.
func (k *sink) mark(m int) error {
	switch m {
	case markTable:
		k.tableStart = len(k.out)
	case markRetry:
		// Sockets drops the interrupted attempt's sockets; Each has
		// handed them over, and seen drops those the next one repeats.
		if k.fn == nil {
			k.out = k.out[:k.tableStart]
			k.held = k.held[:0]
		}
	case markHold:
		k.holding = true
	case markRelease:
		k.holding = false
		held := k.held
		k.held = nil
		for i := range held {
			if err := k.put(&held[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// end hands the last batch over; it returns the caller's error if it
// stopped the listing.
func (k *sink) end() error {
	if k.callerErr != nil {
		return k.callerErr
	}
	if err := k.mark(markRelease); err != nil {
		return err
	}
	if k.fn == nil {
		return nil
	}
	return k.flush()
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	c := *p
	return &c
}

func cloneInfo(in *inspect.TCPInfo) *inspect.TCPInfo {
	c := clonePtr(in)
	if c != nil {
		c.BBR = clonePtr(c.BBR)
	}
	return c
}

// pipeline runs a sink on a goroutine of its own. The receiving goroutine
// copies each socket and its attributes into a chunk and hands full chunks
// over; the sink's goroutine decodes them, in the order they came, and
// hands batches to the caller. Chunks go back to the receiver to be reused,
// and at most pipelineDepth wait, so memory stays bounded when the sink
// falls behind.
type pipeline struct {
	cur    *chunk
	full   chan *chunk
	free   chan *chunk
	done   chan struct{}
	failed atomic.Bool // the sink's goroutine stopped at an error

	// Written by the sink's goroutine, read after done is closed.
	err error
}

// chunk is a run of sockets whose attributes are in attrs, socket i's
// ending at ends[i], then a mark, if mark is not 0.
type chunk struct {
	socks []inspect.Socket
	attrs []byte
	ends  []int32
	mark  int
}

const (
	chunkSockets  = 256
	pipelineDepth = 8
)

// errPipelineStopped is what the receiver's callback returns to end a dump
// once the sink's goroutine has stopped; finish returns the real error.
var errPipelineStopped = errors.New("listing stopped")

func startPipeline(k *sink) *pipeline {
	p := &pipeline{
		cur:  &chunk{},
		full: make(chan *chunk, pipelineDepth),
		free: make(chan *chunk, pipelineDepth+1),
		done: make(chan struct{}),
	}
	go func() {
		defer close(p.done)
		for c := range p.full {
			if p.err == nil {
				p.err = p.drain(k, c)
				if p.err != nil {
					p.failed.Store(true)
				}
			}
			c.socks, c.attrs, c.ends, c.mark = c.socks[:0], c.attrs[:0], c.ends[:0], 0
			// The receiver makes a new chunk whenever none is free, so
			// more can come back than free holds, and after the last
			// one it takes none: a chunk with no room is dropped.
			select {
			case p.free <- c:
			default:
			}
		}
		if p.err == nil {
			p.err = k.end()
		} else if k.callerErr != nil {
			p.err = k.callerErr
		}
	}()
	return p
}

// drain puts the sockets of c into the sink, then its mark.
func (p *pipeline) drain(k *sink, c *chunk) error {
	start := int32(0)
	for i := range c.socks {
		if err := k.decodePut(&c.socks[i], c.attrs[start:c.ends[i]]); err != nil {
			return err
		}
		start = c.ends[i]
	}
	return k.mark(c.mark)
}

// add queues s, with its message's attributes, which it copies. It
// returns an error once the sink's goroutine has stopped, to end the dump.
func (p *pipeline) add(s *inspect.Socket, attrs []byte) error {
	if p.failed.Load() {
		return errPipelineStopped
	}
	c := p.cur
	c.socks = append(c.socks, *s)
	c.attrs = append(c.attrs, attrs...)
	c.ends = append(c.ends, int32(len(c.attrs)))
	if len(c.socks) >= chunkSockets {
		p.send()
	}
	return nil
}

// mark queues a mark after the sockets queued so far.
func (p *pipeline) mark(m int) {
	p.cur.mark = m
	p.send()
}

// send hands the current chunk over and takes another.
func (p *pipeline) send() {
	p.full <- p.cur
	select {
	case p.cur = <-p.free:
	default:
		p.cur = &chunk{}
	}
}

// finish hands over what is queued, waits for the sink's goroutine, and
// returns its first error: the caller's as it is, or a decoding error.
func (p *pipeline) finish() error {
	if len(p.cur.socks) > 0 {
		p.full <- p.cur
	}
	close(p.full)
	<-p.done
	return p.err
}
