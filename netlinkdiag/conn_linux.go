//go:build linux

package netlinkdiag

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
	"unsafe"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Dial opens a NETLINK_SOCK_DIAG socket. cfg may be nil.
func Dial(cfg *Config) (*Conn, error) {
	var nc netlink.Config
	if cfg != nil {
		nc.NetNS = cfg.NetNS
	}
	nl, err := netlink.Dial(unix.NETLINK_SOCK_DIAG, &nc)
	if err != nil {
		return nil, fmt.Errorf("netlinkdiag: dial: %w", err)
	}
	rc, err := nl.SyscallConn()
	if err != nil {
		_ = nl.Close()
		return nil, fmt.Errorf("netlinkdiag: dial: %w", err)
	}
	return newConn(newSockTransport(nl, rc)), nil
}

// sockTransport is the Linux transport. mdlayher/netlink opens, binds and
// closes the socket and puts it on the runtime's poller, which gives
// deadlines; the requests and replies go through its syscall.RawConn
// because netlink.Conn.Receive allocates every message it returns, while
// recvfrom into the Conn's one buffer allocates nothing.
type sockTransport struct {
	nl     *netlink.Conn
	rc     syscall.RawConn
	kernel unix.SockaddrNetlink // the destination of requests

	// The state of the send or recv in progress, with the functions
	// handed to rc, built once so that a recv allocates nothing.
	sendBuf []byte
	sendErr error
	writeFn func(fd uintptr) bool
	recvBuf []byte
	block   bool
	recvN   int
	recvErr error
	from    unix.RawSockaddrNetlink
	fromLen uint32
	readFn  func(fd uintptr) bool
	pid     uint32 // the socket's netlink port id
}

func newSockTransport(nl *netlink.Conn, rc syscall.RawConn) *sockTransport {
	t := &sockTransport{
		nl:     nl,
		rc:     rc,
		kernel: unix.SockaddrNetlink{Family: unix.AF_NETLINK},
		pid:    nl.PID(),
	}
	t.writeFn = t.write
	t.readFn = t.read
	return t
}

func (t *sockTransport) send(b []byte) error {
	t.sendBuf = b
	err := t.rc.Write(t.writeFn)
	t.sendBuf = nil
	if err != nil {
		return err
	}
	return t.sendErr
}

// write is the RawConn.Write function of send: it returns false to wait
// until the socket is writable.
func (t *sockTransport) write(fd uintptr) bool {
	for {
		err := unix.Sendto(int(fd), t.sendBuf, 0, &t.kernel)
		switch err {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		case nil:
			t.sendErr = nil
		default:
			t.sendErr = os.NewSyscallError("sendto", err)
		}
		return true
	}
}

func (t *sockTransport) recv(b []byte, block bool) (int, error) {
	if len(b) == 0 {
		return 0, errors.New("netlinkdiag: receive into an empty buffer")
	}
	t.recvBuf, t.block = b, block
	err := t.rc.Read(t.readFn)
	t.recvBuf = nil
	if err != nil {
		return 0, err
	}
	return t.recvN, t.recvErr
}

// read is the RawConn.Read function of recv: it returns false to wait
// until the socket is readable. It calls recvfrom(2) directly because
// unix.Recvfrom allocates the sender's address. MSG_TRUNC makes recvfrom
// return a datagram's whole length even if the buffer was shorter.
// Datagrams that did not come from the kernel (nl_pid 0) are dropped:
// another process may send to this socket's port id.
func (t *sockTransport) read(fd uintptr) bool {
	for {
		t.fromLen = unix.SizeofSockaddrNetlink
		n, _, errno := unix.Syscall6(unix.SYS_RECVFROM, fd,
			uintptr(unsafe.Pointer(&t.recvBuf[0])), uintptr(len(t.recvBuf)),
			unix.MSG_TRUNC|unix.MSG_DONTWAIT,
			uintptr(unsafe.Pointer(&t.from)), uintptr(unsafe.Pointer(&t.fromLen)))
		switch errno {
		case 0:
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			if t.block {
				return false
			}
			t.recvN, t.recvErr = 0, errWouldBlock
			return true
		default:
			t.recvN, t.recvErr = 0, os.NewSyscallError("recvfrom", errno)
			return true
		}
		if t.from.Pid != 0 {
			continue
		}
		t.recvN, t.recvErr = int(n), nil
		return true
	}
}

func (t *sockTransport) setReadDeadline(d time.Time) error { return t.nl.SetReadDeadline(d) }
func (t *sockTransport) portID() uint32                    { return t.pid }
func (t *sockTransport) close() error                      { return t.nl.Close() }
