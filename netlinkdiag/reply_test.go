package netlinkdiag

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const (
	testSeq = 7
	testPID = 99
)

// diag builds a SOCK_DIAG_BY_FAMILY reply message of a dump for testSeq
// and testPID, for the socket with the cookie given.
func diag(cookie uint64, flags uint16) []byte {
	return nlmsg(sockDiagByFamily, nlmFMulti|flags, testSeq, testPID, encodeMsg(testMsg(afINET, cookie)))
}

func done(flags uint16) []byte {
	return nlmsg(nlmsgDone, nlmFMulti|flags, testSeq, testPID, errCode(0))
}

func TestReplyParse(t *testing.T) {
	lenZero := diag(1, 0)
	binary.NativeEndian.PutUint32(lenZero, 0)
	lenBelowHeader := diag(1, 0)
	binary.NativeEndian.PutUint32(lenBelowHeader, 15)
	lenPastEnd := diag(1, 0)
	binary.NativeEndian.PutUint32(lenPastEnd, uint32(len(lenPastEnd)+4))
	lenHuge := diag(1, 0)
	binary.NativeEndian.PutUint32(lenHuge, 0xffffffff)
	shortPayload := nlmsg(sockDiagByFamily, nlmFMulti, testSeq, testPID, encodeMsg(testMsg(afINET, 1))[:71])
	badFamily := encodeMsg(testMsg(afINET, 1))
	badFamily[0] = 1
	unpaddedLast := nlmsg(nlmsgDone, nlmFMulti, testSeq, testPID, []byte{0, 0, 0, 0, 1})[:21]
	binary.NativeEndian.PutUint32(unpaddedLast, 21)

	tests := []struct {
		name    string
		dump    bool
		b       []byte
		cookies []uint64 // delivered to fn
		done    bool
		intr    bool
		err     error
	}{
		{name: "messages and done", dump: true, b: concat(diag(1, 0), diag(2, 0), done(0)), cookies: []uint64{1, 2}, done: true},
		{name: "messages only", dump: true, b: concat(diag(1, 0), diag(2, 0)), cookies: []uint64{1, 2}},
		{name: "done only", dump: true, b: done(0), done: true},
		{name: "done without payload", dump: true, b: nlmsg(nlmsgDone, nlmFMulti, testSeq, testPID, nil), done: true},
		{name: "nothing after done", dump: true, b: concat(done(0), diag(1, 0)), done: true},
		{
			name:    "other sequence skipped",
			dump:    true,
			b:       concat(nlmsg(sockDiagByFamily, nlmFMulti, testSeq-1, testPID, encodeMsg(testMsg(afINET, 5))), nlmsg(nlmsgDone, nlmFMulti, testSeq-1, testPID, errCode(0)), diag(1, 0)),
			cookies: []uint64{1},
		},
		{
			name:    "other port id skipped",
			dump:    true,
			b:       concat(nlmsg(sockDiagByFamily, nlmFMulti, testSeq, testPID+1, encodeMsg(testMsg(afINET, 5))), diag(1, 0)),
			cookies: []uint64{1},
		},
		{name: "noop skipped", dump: true, b: concat(nlmsg(nlmsgNoop, 0, testSeq, testPID, nil), diag(1, 0)), cookies: []uint64{1}},
		{name: "interrupted message", dump: true, b: concat(diag(1, 0), diag(2, nlmFDumpIntr), done(0)), cookies: []uint64{1, 2}, done: true, intr: true},
		{name: "interrupted done", dump: true, b: concat(diag(1, 0), done(nlmFDumpIntr)), cookies: []uint64{1}, done: true, intr: true},
		{name: "ack", dump: true, b: nlmsg(nlmsgError, 0, testSeq, testPID, errCode(0)), done: true},
		{name: "error", dump: true, b: nlmsg(nlmsgError, 0, testSeq, testPID, errCode(-int32(syscall.EACCES))), done: true, err: syscall.EACCES},
		{name: "error after messages", dump: true, b: concat(diag(1, 0), nlmsg(nlmsgError, 0, testSeq, testPID, errCode(-int32(syscall.ENOMEM)))), cookies: []uint64{1}, done: true, err: syscall.ENOMEM},
		{name: "done with error", dump: true, b: concat(diag(1, 0), nlmsg(nlmsgDone, nlmFMulti, testSeq, testPID, errCode(-int32(syscall.EINTR)))), cookies: []uint64{1}, done: true, err: syscall.EINTR},
		{name: "error without code", dump: true, b: nlmsg(nlmsgError, 0, testSeq, testPID, []byte{1, 2}), done: true, err: ErrShort},
		{name: "error positive", dump: true, b: nlmsg(nlmsgError, 0, testSeq, testPID, errCode(5)), done: true, err: ErrMalformed},
		{name: "error most negative", dump: true, b: nlmsg(nlmsgError, 0, testSeq, testPID, errCode(-1<<31)), done: true, err: syscall.Errno(1 << 31)},
		{name: "lookup reply", b: concat(nlmsg(sockDiagByFamily, 0, testSeq, testPID, encodeMsg(testMsg(afINET, 3))), diag(4, 0)), cookies: []uint64{3}, done: true},
		{name: "lookup multi-part", b: concat(diag(3, 0), done(0)), cookies: []uint64{3}, done: true},
		{name: "dump ignores a single message's missing multi flag", dump: true, b: nlmsg(sockDiagByFamily, 0, testSeq, testPID, encodeMsg(testMsg(afINET, 3))), cookies: []uint64{3}},
		{name: "unpadded last message", dump: true, b: concat(diag(1, 0), unpaddedLast), cookies: []uint64{1}, done: true},
		{name: "header cut", dump: true, b: concat(diag(1, 0), make([]byte, 15)), cookies: []uint64{1}, err: ErrShort},
		{name: "length zero", dump: true, b: lenZero, err: ErrMalformed},
		{name: "length below header", dump: true, b: lenBelowHeader, err: ErrMalformed},
		{name: "length past end", dump: true, b: lenPastEnd, err: ErrShort},
		{name: "length huge", dump: true, b: lenHuge, err: ErrShort},
		{name: "payload short", dump: true, b: concat(diag(1, 0), shortPayload, diag(2, 0)), cookies: []uint64{1}, err: ErrShort},
		{name: "payload family unknown", dump: true, b: nlmsg(sockDiagByFamily, nlmFMulti, testSeq, testPID, badFamily), err: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := reply{seq: testSeq, pid: testPID, dump: tt.dump}
			var cookies []uint64
			var m Msg
			err := r.parse(tt.b, &m, func(m *Msg) error {
				cookies = append(cookies, m.Cookie)
				return nil
			})
			if !errors.Is(err, tt.err) || (err == nil) != (tt.err == nil) {
				t.Errorf("parse: %v, want %v", err, tt.err)
			}
			if diff := cmp.Diff(tt.cookies, cookies); diff != "" {
				t.Errorf("delivered cookies (-want +got):\n%s", diff)
			}
			if r.done != tt.done || r.intr != tt.intr {
				t.Errorf("done %v intr %v, want %v %v", r.done, r.intr, tt.done, tt.intr)
			}
		})
	}
}

// TestReplyParseErrno requires a kernel refusal to keep its errno and to
// match the os package's errors.
func TestReplyParseErrno(t *testing.T) {
	r := reply{seq: testSeq, pid: testPID, dump: true}
	err := r.parse(nlmsg(nlmsgError, 0, testSeq, testPID, errCode(-int32(syscall.EPERM))), new(Msg), func(*Msg) error { return nil })
	var errno syscall.Errno
	if !errors.As(err, &errno) || errno != syscall.EPERM {
		t.Errorf("parse: %v, want a wrapped EPERM", err)
	}
	if !errors.Is(err, os.ErrPermission) {
		t.Errorf("parse: %v, want errors.Is os.ErrPermission", err)
	}
}

func TestReplyParseCallbackError(t *testing.T) {
	errStop := errors.New("stop")
	r := reply{seq: testSeq, pid: testPID, dump: true}
	calls := 0
	err := r.parse(concat(diag(1, 0), diag(2, 0), done(0)), new(Msg), func(*Msg) error {
		calls++
		return errStop
	})
	if err != errStop || calls != 1 || r.done {
		t.Errorf("parse: %v after %d calls, done %v; want errStop after 1, not done", err, calls, r.done)
	}
}

// fakeTransport answers requests from a script, one datagram per recv.
type fakeTransport struct {
	// respond returns the datagrams that answer the n-th request (from 0),
	// whose nlmsg_seq is seq.
	respond  func(n int, seq uint32) [][]byte
	requests [][]byte
	queue    [][]byte
}

func (f *fakeTransport) send(b []byte) error {
	f.requests = append(f.requests, slices.Clone(b))
	f.queue = append(f.queue, f.respond(len(f.requests)-1, binary.NativeEndian.Uint32(b[8:12]))...)
	return nil
}

func (f *fakeTransport) recv(b []byte, block bool) (int, error) {
	if len(f.queue) == 0 {
		if block {
			return 0, os.ErrDeadlineExceeded
		}
		return 0, errWouldBlock
	}
	d := f.queue[0]
	f.queue = f.queue[1:]
	copy(b, d)
	return len(d), nil
}

func (f *fakeTransport) setReadDeadline(time.Time) error { return nil }
func (f *fakeTransport) portID() uint32                  { return testPID }
func (f *fakeTransport) close() error                    { return nil }

// dumpReply returns a dump's reply in two datagrams: cookies base+1 and
// base+2, then base+3 and NLMSG_DONE; intr puts NLM_F_DUMP_INTR on the
// second datagram's messages, as the kernel does once it sees a change.
func dumpReply(seq uint32, base uint64, intr bool) [][]byte {
	var flags uint16 = nlmFMulti
	if intr {
		flags |= nlmFDumpIntr
	}
	msg := func(cookie uint64, flags uint16) []byte {
		return nlmsg(sockDiagByFamily, flags, seq, testPID, encodeMsg(testMsg(afINET, cookie)))
	}
	return [][]byte{
		concat(msg(base+1, nlmFMulti), msg(base+2, nlmFMulti)),
		concat(msg(base+3, flags), nlmsg(nlmsgDone, flags, seq, testPID, errCode(0))),
	}
}

var testReq = Request{Family: afINET, Protocol: 6, States: 1 << 1}

// collect returns a callback that appends cookies to *dst.
func collect(dst *[]uint64) func(*Msg) error {
	return func(m *Msg) error {
		*dst = append(*dst, m.Cookie)
		return nil
	}
}

func TestDumpInterrupted(t *testing.T) {
	tests := []struct {
		name     string
		intr     []bool // per attempt
		once     bool   // DumpOnce instead of Dump
		requests int
		cookies  []uint64
		err      error
	}{
		{name: "clean", intr: []bool{false}, requests: 1, cookies: []uint64{1, 2, 3}},
		{name: "retried once", intr: []bool{true, false}, requests: 2, cookies: []uint64{1, 2, 3, 11, 12, 13}},
		{name: "retried twice", intr: []bool{true, true, false}, requests: 3, cookies: []uint64{1, 2, 3, 11, 12, 13, 21, 22, 23}},
		{name: "persists", intr: []bool{true, true, true, false}, requests: 3, cookies: []uint64{1, 2, 3, 11, 12, 13, 21, 22, 23}, err: ErrDumpInterrupted},
		{name: "once clean", intr: []bool{false}, once: true, requests: 1, cookies: []uint64{1, 2, 3}},
		{name: "once interrupted", intr: []bool{true, false}, once: true, requests: 1, cookies: []uint64{1, 2, 3}, err: ErrDumpInterrupted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ft := &fakeTransport{respond: func(n int, seq uint32) [][]byte {
				return dumpReply(seq, uint64(10*n), tt.intr[n])
			}}
			c := newConn(ft)
			var cookies []uint64
			dump := c.Dump
			if tt.once {
				dump = c.DumpOnce
			}
			err := dump(context.Background(), testReq, collect(&cookies))
			if !errors.Is(err, tt.err) || (err == nil) != (tt.err == nil) {
				t.Errorf("dump: %v, want %v", err, tt.err)
			}
			if len(ft.requests) != tt.requests {
				t.Errorf("%d requests, want %d", len(ft.requests), tt.requests)
			}
			if diff := cmp.Diff(tt.cookies, cookies); diff != "" {
				t.Errorf("delivered cookies (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDumpDrainsStoppedReply stops a dump in its first datagram and
// requires the next request to find the rest drained, not delivered.
func TestDumpDrainsStoppedReply(t *testing.T) {
	ft := &fakeTransport{respond: func(n int, seq uint32) [][]byte {
		return dumpReply(seq, uint64(10*n), false)
	}}
	c := newConn(ft)
	errStop := errors.New("stop")
	if err := c.Dump(context.Background(), testReq, func(*Msg) error { return errStop }); err != errStop {
		t.Fatalf("Dump: %v, want errStop", err)
	}
	if len(ft.queue) != 1 {
		t.Fatalf("%d datagrams queued after the stop, want 1", len(ft.queue))
	}
	var cookies []uint64
	if err := c.Dump(context.Background(), testReq, collect(&cookies)); err != nil {
		t.Fatalf("second Dump: %v", err)
	}
	if diff := cmp.Diff([]uint64{11, 12, 13}, cookies); diff != "" {
		t.Errorf("second dump's cookies (-want +got):\n%s", diff)
	}
	seq := func(i int) uint32 { return binary.NativeEndian.Uint32(ft.requests[i][8:12]) }
	if seq(0) == seq(1) {
		t.Errorf("both requests have sequence number %d", seq(0))
	}
}

// TestDumpTruncatedDatagram gives a datagram larger than the buffer: the
// dump fails with ErrShort, the buffer grows, and the next dump works.
func TestDumpTruncatedDatagram(t *testing.T) {
	ft := &fakeTransport{respond: func(n int, seq uint32) [][]byte {
		return dumpReply(seq, uint64(10*n), false)
	}}
	c := newConn(ft)
	c.buf = make([]byte, 64)
	err := c.Dump(context.Background(), testReq, func(*Msg) error { return nil })
	if !errors.Is(err, ErrShort) {
		t.Fatalf("Dump into 64 bytes: %v, want ErrShort", err)
	}
	if len(c.buf) < len(dumpReply(1, 0, false)[0]) {
		t.Errorf("buffer of %d bytes after a truncation, want room for the datagram", len(c.buf))
	}
	var cookies []uint64
	if err := c.Dump(context.Background(), testReq, collect(&cookies)); err != nil {
		t.Fatalf("second Dump: %v", err)
	}
	if diff := cmp.Diff([]uint64{11, 12, 13}, cookies); diff != "" {
		t.Errorf("second dump's cookies (-want +got):\n%s", diff)
	}
}

// TestRequestFlags checks the netlink flags on the wire: a dump carries
// NLM_F_DUMP, a lookup does not and sends the sockid.
func TestRequestFlags(t *testing.T) {
	ft := &fakeTransport{respond: func(n int, seq uint32) [][]byte {
		return [][]byte{nlmsg(nlmsgError, 0, seq, testPID, errCode(-int32(syscall.ENOENT)))}
	}}
	c := newConn(ft)
	err := c.Dump(context.Background(), testReq, func(*Msg) error { return nil })
	if !errors.Is(err, syscall.ENOENT) {
		t.Errorf("Dump: %v, want ENOENT", err)
	}
	id := SockID{Src: testMsg(afINET, 0).Src, Dst: testMsg(afINET, 0).Dst, Cookie: 5}
	err = c.Lookup(context.Background(), Request{Family: afINET, Protocol: 6, States: 3, Bytecode: []byte{1, 2, 3, 4}}, id, func(*Msg) error { return nil })
	if !errors.Is(err, syscall.ENOENT) {
		t.Errorf("Lookup: %v, want ENOENT", err)
	}
	want0, err := appendRequest(nil, testReq, SockID{}, nlmFRequest|nlmFDump, 1)
	if err != nil {
		t.Fatal(err)
	}
	want1, err := appendRequest(nil, Request{Family: afINET, Protocol: 6}, id, nlmFRequest, 2)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([][]byte{want0, want1}, ft.requests); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}
