//go:build linux

package trace

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/netlinkdiag"
)

// nsConns holds the sock_diag sockets of a Tracer of every namespace
// (Options.AllNetNS), one per namespace, by nsfs inode: a sock_diag
// lookup finds only sockets of the namespace its socket was opened in.
// Each is opened when a lookup first needs it, on a thread switched into
// the namespace (netlinkdiag.Config.NetNS).
//
// A socket holds its namespace alive, so one unused for connIdle is
// closed, and a namespace whose processes are gone can go; a later lookup
// opens it again. A namespace that is gone makes a lookup fail with
// ENOENT, as a socket that is gone does; one that may not be entered is
// said once (unreachable) and its lookups find nothing; any other failure
// to open one is the lookup's error.
type nsConns struct {
	own         uint64 // the caller's namespace: dialled without setns
	open        func(inode uint64) (*os.File, error)
	unreachable func(inode uint64, err error)
	dial        func(nsFD int) (*netlinkdiag.Conn, error)

	// mu guards what follows: Read looks up and sweeps, and Close, from
	// any goroutine, closes.
	mu      sync.Mutex
	byInode map[uint64]*nsConn
	denied  map[uint64]bool
	swept   time.Time
	closed  bool
}

type nsConn struct {
	c    *netlinkdiag.Conn
	used time.Time
}

// connIdle is how long a namespace's sock_diag socket is kept unused:
// past the retries of a time-wait socket waiting for its FIN (maxRetry)
// and of a gap's lookups' first few (gapQuiet doubling).
const connIdle = 5 * time.Second

// errUnreachable marks a namespace whose sock_diag socket could not be
// opened: its lookups find nothing, and no loss is inferred from them.
var errUnreachable = errors.New("trace: namespace not entered")

func newNSConns(own uint32, open func(uint64) (*os.File, error), unreachable func(uint64, error)) *nsConns {
	return &nsConns{
		own:         uint64(own),
		open:        open,
		unreachable: unreachable,
		dial: func(nsFD int) (*netlinkdiag.Conn, error) {
			return netlinkdiag.Dial(&netlinkdiag.Config{NetNS: nsFD})
		},
		byInode: map[uint64]*nsConn{},
		denied:  map[uint64]bool{},
	}
}

// conn returns the sock_diag socket of the namespace inode, opening it if
// need be. Its error wraps syscall.ENOENT when the namespace is gone,
// errUnreachable when it may not be entered, and os.ErrClosed after close.
func (n *nsConns) conn(inode uint64, now time.Time) (*netlinkdiag.Conn, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil, fmt.Errorf("trace: lookup: %w", os.ErrClosed)
	}
	if c, ok := n.byInode[inode]; ok {
		c.used = now
		return c.c, nil
	}
	if n.denied[inode] {
		return nil, errUnreachable
	}
	c, err := n.dialNS(inode)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("trace: net:[%d]: %w", inode, syscall.ENOENT)
	}
	if err != nil && !errors.Is(err, fs.ErrPermission) {
		return nil, fmt.Errorf("trace: net:[%d]: %w", inode, err)
	}
	if err != nil {
		n.denied[inode] = true
		if n.unreachable != nil {
			n.unreachable(inode, err)
		}
		return nil, fmt.Errorf("%w: net:[%d]: %w", errUnreachable, inode, err)
	}
	n.byInode[inode] = &nsConn{c: c, used: now}
	return c, nil
}

// dialNS opens a sock_diag socket in the namespace inode: the caller's
// without entering it, which needs CAP_SYS_ADMIN even for one's own.
func (n *nsConns) dialNS(inode uint64) (*netlinkdiag.Conn, error) {
	if inode == n.own {
		return n.dial(0)
	}
	f, err := n.open(inode)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return n.dial(int(f.Fd()))
}

// lookups returns the Tracer's lookups, each through the sock_diag socket
// of its transition's namespace. A namespace not entered finds nothing:
// no TIME_WAIT is reported for its sockets (unreachable said so), and a
// gap lookup says the socket is still where it was, so that no loss is
// counted that no lookup saw.
func (n *nsConns) lookups() (lookupFunc, gapLookupFunc) {
	look := func(tr *Transition) (inspect.State, uint64, error) {
		c, err := n.conn(tr.NetNS, time.Now())
		if errors.Is(err, errUnreachable) {
			return 0, 0, fmt.Errorf("%w: %w", err, syscall.ENOENT)
		}
		if err != nil {
			return 0, 0, err
		}
		m, err := lookupSocket(c, tr)
		return inspect.State(m.State), m.Cookie, err
	}
	gapLook := func(tr *Transition) (inspect.State, bool, error) {
		c, err := n.conn(tr.NetNS, time.Now())
		if errors.Is(err, errUnreachable) {
			return tr.To, false, nil
		}
		if err != nil {
			return 0, false, err
		}
		m, err := lookupSocket(c, tr)
		return inspect.State(m.State), m.Timer == timerTimeWait, err
	}
	return look, gapLook
}

// sweep closes, about once a second, the sockets unused for connIdle.
func (n *nsConns) sweep(now time.Time) {
	if n == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if now.Sub(n.swept) < time.Second {
		return
	}
	n.swept = now
	for inode, c := range n.byInode {
		if now.Sub(c.used) >= connIdle {
			c.c.Close()
			delete(n.byInode, inode)
		}
	}
}

// close closes every socket and returns the first error.
func (n *nsConns) close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.closed = true
	var first error
	for inode, c := range n.byInode {
		if err := c.c.Close(); err != nil && first == nil {
			first = err
		}
		delete(n.byInode, inode)
	}
	return first
}
