package netlinkdiag

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures Dial.
type Config struct {
	// NetNS is a file descriptor of the network namespace to list, as for
	// mdlayher/netlink's Config.NetNS; 0 means the caller's namespace.
	NetNS int
}

// defaultBufferSize is the receive buffer's size. The kernel builds each
// datagram of a dump to fit the largest buffer the reader has offered, up
// to SKB_WITH_OVERHEAD(32768) (netlink_recvmsg in net/netlink/af_netlink.c),
// so 32 KiB holds the largest and a larger buffer gains nothing; see
// BenchmarkDump for the measurement.
const defaultBufferSize = 32 << 10

// maxDumpAttempts bounds how often Dump asks again after a reply carried
// NLM_F_DUMP_INTR.
const maxDumpAttempts = 3

// transport is what a Conn needs from a NETLINK_SOCK_DIAG socket: on Linux a
// netlink socket, in tests a script.
type transport interface {
	// send sends one request to the kernel.
	send(b []byte) error
	// recv receives one datagram from the kernel into b and returns its
	// whole length, which is more than len(b) if it was truncated. If block
	// is false and no datagram is queued it returns errWouldBlock.
	recv(b []byte, block bool) (int, error)
	// setReadDeadline makes a blocked or future recv return
	// os.ErrDeadlineExceeded from t on; the zero Time clears it.
	setReadDeadline(t time.Time) error
	// portID is the socket's netlink port id, the nlmsg_pid of replies.
	portID() uint32
	close() error
}

// errWouldBlock is what a non-blocking transport.recv returns when no
// datagram is queued.
var errWouldBlock = errors.New("no datagram queued")

// Conn is a NETLINK_SOCK_DIAG socket. Its methods may be called from
// several goroutines; requests take turns.
type Conn struct {
	t      transport
	closed atomic.Bool

	mu  sync.Mutex // serializes requests; guards the fields below
	buf []byte     // receive buffer, reused by every request
	req []byte     // request buffer
	seq uint32     // the last request's nlmsg_seq
	m   Msg        // the Msg handed to callbacks
	// pending is set while a reply may still be queued on the socket: a
	// request ended early (its callback failed, ctx ended, a message was
	// malformed). The next request drains it first, because the kernel
	// runs one dump per socket at a time and refuses another with EBUSY.
	pending bool
}

func newConn(t transport) *Conn {
	return &Conn{t: t, buf: make([]byte, defaultBufferSize)}
}

// Close closes the socket. Requests after it, and one in progress in
// another goroutine, return an error wrapping net.ErrClosed.
func (c *Conn) Close() error {
	if c.closed.Swap(true) {
		return fmt.Errorf("netlinkdiag: close: %w", net.ErrClosed)
	}
	if err := c.t.close(); err != nil {
		return fmt.Errorf("netlinkdiag: close: %w", err)
	}
	return nil
}

// Dump sends one SOCK_DIAG_BY_FAMILY dump request and calls fn for every
// reply message, decoded into a reused Msg: fn must copy what it keeps, and
// Msg.Attrs is valid only until fn returns.
//
// If a reply message carries NLM_F_DUMP_INTR (the kernel saw the socket
// table change during the dump), Dump asks again, up to 3 times in all.
// Nothing is buffered: fn sees the messages of every attempt as they
// arrive, so after a retry it sees sockets again that it saw in the
// interrupted attempt. If the last attempt is interrupted too, fn has seen
// all of its messages and Dump returns an error wrapping
// ErrDumpInterrupted. Callers that must tell attempts apart use DumpOnce.
//
// If fn returns an error, Dump stops calling fn and returns that error as
// is. The rest of the reply stays queued and the next request on c
// discards it, so c stays usable; the same holds when ctx ends. A kernel
// refusal (NLMSG_ERROR) is returned wrapping its unix.Errno.
func (c *Conn) Dump(ctx context.Context, req Request, fn func(*Msg) error) error {
	for attempt := 1; ; attempt++ {
		intr, err := c.roundTrip(ctx, sockDiagByFamily, req, SockID{}, nlmFRequest|nlmFDump, fn)
		if err != nil {
			return err
		}
		if !intr {
			return nil
		}
		if attempt == maxDumpAttempts {
			return fmt.Errorf("netlinkdiag: dump of family %d protocol %d, %d attempts: %w", req.Family, req.Protocol, attempt, ErrDumpInterrupted)
		}
	}
}

// DumpOnce is Dump without retries: it sends one dump request, calls fn
// for every reply message, and returns an error wrapping
// ErrDumpInterrupted, after fn has seen every message, if any carried
// NLM_F_DUMP_INTR.
func (c *Conn) DumpOnce(ctx context.Context, req Request, fn func(*Msg) error) error {
	intr, err := c.roundTrip(ctx, sockDiagByFamily, req, SockID{}, nlmFRequest|nlmFDump, fn)
	if err != nil {
		return err
	}
	if intr {
		return fmt.Errorf("netlinkdiag: dump of family %d protocol %d: %w", req.Family, req.Protocol, ErrDumpInterrupted)
	}
	return nil
}

// Lookup asks for the one socket that id names: a SOCK_DIAG_BY_FAMILY
// request without NLM_F_DUMP, as for inet_diag_dump_one_icsk. req gives the
// family, protocol and extensions; its States and Bytecode do not apply.
// fn is called once, as for Dump. The kernel answers ENOENT when no socket
// has the addresses, or when one has but its cookie differs from a
// non-zero id.Cookie; the errno comes back wrapped.
//
// For UDP and UDP-Lite the kernel finds the socket that would receive a
// datagram sent from the remote end to the local one (udp_dump_one in
// net/ipv4/udp_diag.c), and reads the request's source as the remote end,
// unlike TCP and unlike its own replies. Lookup swaps the ends on the wire
// so that id means the same for every protocol. An unconnected UDP socket
// then matches any remote end.
func (c *Conn) Lookup(ctx context.Context, req Request, id SockID, fn func(*Msg) error) error {
	req.States = 0
	req.Bytecode = nil
	if req.Protocol == ipprotoUDP || req.Protocol == ipprotoUDPLite {
		id.Src, id.Dst = id.Dst, id.Src
	}
	_, err := c.roundTrip(ctx, sockDiagByFamily, req, id, nlmFRequest, fn)
	return err
}

// Destroy asks the kernel to close the one socket that id names, with a
// SOCK_DESTROY request: the kernel aborts it as if by an error, so a TCP
// peer receives a reset and the owner's next call fails with ECONNABORTED.
// req gives the family and protocol; its other fields do not apply. A
// non-zero id.Cookie makes the kernel close the socket only if it is still
// the one with that cookie.
//
// The kernel's refusal comes back wrapped: ENOENT when no such socket
// exists (any more), EPERM without CAP_NET_ADMIN in the socket's network
// namespace, EOPNOTSUPP when it was built without
// CONFIG_INET_DIAG_DESTROY or cannot close sockets of this protocol.
func (c *Conn) Destroy(ctx context.Context, req Request, id SockID) error {
	req.States = 0
	req.Ext = 0
	req.Bytecode = nil
	_, err := c.roundTrip(ctx, sockDestroy, req, id, nlmFRequest|nlmFAck, func(*Msg) error { return nil })
	return err
}

// roundTrip sends one inet_diag request of the netlink message type typ
// and hands each message of its reply to fn. It reports whether a message
// carried NLM_F_DUMP_INTR.
func (c *Conn) roundTrip(ctx context.Context, typ uint16, req Request, id SockID, flags uint16, fn func(*Msg) error) (intr bool, err error) {
	build := func(b []byte, seq uint32) ([]byte, error) {
		return appendTypedRequest(b, typ, req, id, flags, seq)
	}
	return c.exchange(ctx, flags&nlmFDump != 0, build, func(payload []byte) error {
		if err := DecodeMsg(payload, &c.m); err != nil {
			return err
		}
		return fn(&c.m)
	})
}

// exchange sends the request that build appends to its buffer, with the
// sequence number given, and hands the payload of each
// SOCK_DIAG_BY_FAMILY message of its reply to handle. dump says whether
// the request carried NLM_F_DUMP. It reports whether a message carried
// NLM_F_DUMP_INTR.
func (c *Conn) exchange(ctx context.Context, dump bool, build func(b []byte, seq uint32) ([]byte, error), handle func(payload []byte) error) (intr bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("netlinkdiag: %w", err)
	}

	release, err := bindContext(ctx, c.t)
	if err != nil {
		return false, c.ioError(ctx, "set deadline", err)
	}
	defer release()

	if c.pending {
		if err := c.drain(); err != nil {
			return false, c.ioError(ctx, "drain earlier reply", err)
		}
	}

	c.seq++
	c.req, err = build(c.req[:0], c.seq)
	if err != nil {
		return false, err
	}
	if err := c.t.send(c.req); err != nil {
		return false, c.ioError(ctx, "send", err)
	}
	c.pending = true

	r := reply{seq: c.seq, pid: c.t.portID(), dump: dump}
	for !r.done {
		// The deadline alone would let queued datagrams through after a
		// cancellation, so look at ctx before each one.
		if err := ctx.Err(); err != nil {
			return false, fmt.Errorf("netlinkdiag: receive: %w", err)
		}
		n, err := c.t.recv(c.buf, true)
		if err != nil {
			return false, c.ioError(ctx, "receive", err)
		}
		if n > len(c.buf) {
			// The datagram is lost; grow so that a new request fits.
			size := len(c.buf)
			c.buf = make([]byte, align4(n))
			return false, fmt.Errorf("netlinkdiag: datagram of %d bytes truncated to the %d-byte buffer: %w", n, size, ErrShort)
		}
		err = r.handle(c.buf[:n], handle)
		if r.done {
			c.pending = false
		}
		if err != nil {
			return false, err
		}
	}
	return r.intr, nil
}

// bindContext makes a blocked or later recv on t end when ctx does, until
// release is called. Every call sets the deadline anew, which also clears
// a past one that an earlier cancellation left behind. Cancellation
// without a deadline wakes a blocked recv through a deadline in the past;
// release waits for that callback if it started, so it cannot strike the
// next call.
func bindContext(ctx context.Context, t transport) (release func(), err error) {
	deadline, _ := ctx.Deadline()
	if err := t.setReadDeadline(deadline); err != nil {
		return nil, err
	}
	if ctx.Done() == nil {
		return func() {}, nil
	}
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(fired)
		_ = t.setReadDeadline(time.Unix(1, 0))
	})
	return func() {
		if !stop() {
			<-fired
		}
	}, nil
}

// drain discards whatever is left of an earlier reply. The kernel queues
// the next datagram of a dump while the previous one is being received, so
// a socket with nothing queued has no dump running.
func (c *Conn) drain() error {
	for {
		_, err := c.t.recv(c.buf, false)
		switch {
		case errors.Is(err, errWouldBlock):
			c.pending = false
			return nil
		case err != nil:
			return err
		}
	}
}

// ioError wraps an error of the socket. Once c is closed it becomes
// net.ErrClosed, which the os package's own errors do not match; a
// deadline that ctx set becomes ctx's error.
func (c *Conn) ioError(ctx context.Context, what string, err error) error {
	return ioError(ctx, c.closed.Load(), what, err)
}

// ioError wraps err, an error of a socket that is closed or not.
// The poller may report a deadline that ctx set a moment before ctx
// itself ends, so a deadline past ctx's is ctx's too.
func ioError(ctx context.Context, closed bool, what string, err error) error {
	deadline, hasDeadline := ctx.Deadline()
	switch {
	case !errors.Is(err, os.ErrDeadlineExceeded):
		if closed {
			err = net.ErrClosed
		}
	case ctx.Err() != nil:
		err = ctx.Err()
	case hasDeadline && !time.Now().Before(deadline):
		err = context.DeadlineExceeded
	case closed:
		err = net.ErrClosed
	}
	return fmt.Errorf("netlinkdiag: %s: %w", what, err)
}
