package socktest

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/sockdiag"
	"github.com/sockstate/sockstate/inspect/ssfilter"
)

// DefaultTimeout is how long VerifyNone re-checks sockets still open before
// it fails the test, unless Timeout says otherwise.
const DefaultTimeout = time.Second

// Option changes what VerifyNone and VerifyTestMain check.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	ignoreInodes map[uint64]bool
	ignorePorts  map[uint16]bool
	timeout      time.Duration
	// lookup finds listeners and connected sockets one by one; nil to
	// find every socket in a dump of src.
	lookup *sockdiag.Source
	src    inspect.Source
	// err is an option's failure, which the check reports instead of
	// checking without it.
	err error
}

func newConfig(opts []Option) *config {
	c := &config{
		ignoreInodes: make(map[uint64]bool),
		ignorePorts:  make(map[uint16]bool),
		timeout:      DefaultTimeout,
	}
	for _, o := range opts {
		if o != nil {
			o.apply(c)
		}
	}
	if c.src == nil {
		c.lookup = &sockdiag.Source{}
		c.src = sockdiag.NewAutoSource(nil)
	}
	return c
}

// IgnoreCurrent ignores the sockets the process holds when IgnoreCurrent is
// called, so that
//
//	defer socktest.VerifyNone(t, socktest.IgnoreCurrent())
//
// at the top of a test checks only the sockets the test opens: defer
// evaluates its arguments at once. A socket stays ignored whatever state
// it moves to. If the process's descriptors cannot be read, the check that
// uses the option fails with that error.
func IgnoreCurrent() Option {
	owned, err := ownSockets()
	return optionFunc(func(c *config) {
		if err != nil {
			c.err = err
			return
		}
		for _, s := range owned {
			c.ignoreInodes[s.inode] = true
		}
	})
}

// IgnoreLocalPort ignores the sockets whose local port is port: a listener
// on it and the connections it accepted, or a client bound to it.
func IgnoreLocalPort(port uint16) Option {
	return optionFunc(func(c *config) { c.ignorePorts[port] = true })
}

// Timeout sets how long sockets still open are re-checked, while they
// close, before the check fails: DefaultTimeout (1s) unless set. Zero or
// less checks once.
func Timeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.timeout = max(d, 0) })
}

// withSource finds sockets in dumps of src only, instead of sock_diag
// lookups and dumps with the /proc fallback; the tests use it to check
// each way alone.
func withSource(src inspect.Source) Option {
	return optionFunc(func(c *config) { c.src = src })
}

// VerifyNone fails t, with t.Errorf, when the process still holds TCP
// sockets, in any state, LISTEN included, other than those opts ignore. It
// names each one: its state, its local and peer addresses, and how long
// VerifyNone saw it in that state. Sockets still open are re-checked for up
// to the Timeout, so a connection that a server goroutine is closing does
// not fail the test.
//
// A socket is the process's while the process holds a descriptor of it. A
// TIME_WAIT socket holds none, nor does one the process has closed and the
// kernel is still closing (an orphan in FIN_WAIT1, FIN_WAIT2, CLOSING or
// LAST_ACK): neither is reported. A socket neither bound nor connected is
// in no table the kernel lists, and is not reported either; one bound but
// neither listening nor connected is reported in CLOSE where the kernel
// lists it (Linux 6.8 on, through sock_diag).
func VerifyNone(t testing.TB, opts ...Option) {
	t.Helper()
	if msg := check(opts); msg != "" {
		t.Errorf("%s", msg)
	}
}

// VerifyTestMain runs the tests of m and, if they pass, checks as
// VerifyNone does that they leave no TCP socket open. It prints what it
// finds to standard error and exits with status 1, or with m.Run's status:
//
//	func TestMain(m *testing.M) {
//		socktest.VerifyTestMain(m)
//	}
func VerifyTestMain(m *testing.M, opts ...Option) {
	code := m.Run()
	if code == 0 {
		if msg := check(opts); msg != "" {
			fmt.Fprintln(os.Stderr, msg)
			code = 1
		}
	}
	os.Exit(code)
}

// boundInactive is the kernel's pseudo-state TCP_BOUND_INACTIVE
// (tcp_states.h, Linux 6.8 on): asked for in idiag_states, it lists the
// sockets bound to a port but neither listening nor connected, in state
// CLOSE. Older kernels ignore the bit, and /proc/net/tcp has no such list.
const boundInactive = 13

// heldStates are the states a socket a process holds can be in: TIME_WAIT
// and request (NEW_SYN_RECV) sockets hold no file.
var heldStates = inspect.AllStates&^inspect.StatesOf(inspect.TimeWait, inspect.NewSynRecv) | 1<<boundInactive

// check returns the report of the sockets left open, or of why it cannot
// tell; "" when none is left.
func check(opts []Option) string {
	c := newConfig(opts)
	if c.err != nil {
		return c.err.Error()
	}
	var (
		seen  = make(sightings)
		found []sighted
		err   error
	)
	poll(c.timeout, func(now time.Time) bool {
		var socks []inspect.Socket
		socks, err = c.held(context.Background())
		if err != nil {
			return true
		}
		found = seen.update(socks, now)
		return len(found) == 0
	})
	if err != nil {
		return err.Error()
	}
	if len(found) == 0 {
		return ""
	}
	var b strings.Builder
	noun := "sockets"
	if len(found) == 1 {
		noun = "socket"
	}
	fmt.Fprintf(&b, "socktest: %d TCP %s left open:", len(found), noun)
	for _, f := range found {
		b.WriteString("\n\t")
		b.WriteString(f.String())
	}
	return b.String()
}

// maxLookups bounds the lookups of one poll; the sockets beyond are found
// in the dump. A lookup costs about 50µs; a dump, the kernel's walk of its
// tables, about 11ms beside 10,000 sockets of other processes, so a dump is
// the cheaper beyond a few hundred (BenchmarkVerifyNone).
const maxLookups = 256

// held returns the TCP sockets the process holds and c does not ignore.
//
// The process's own descriptors say where to look, so that the work does
// not grow with the sockets of other processes in the namespace: each
// listener and connected socket is looked up by its addresses through the
// kernel's hash tables, and only the others (connecting, bound only), or
// all when sock_diag cannot look up, are found in a dump of their local
// ports, which makes the kernel walk its tables.
func (c *config) held(ctx context.Context) ([]inspect.Socket, error) {
	owned, err := ownSockets()
	if err != nil {
		return nil, err
	}
	var (
		found    []inspect.Socket
		inodes   = make(map[uint64]bool) // the sockets to keep from the dump
		ports    = make(map[uint16]bool) // their local ports
		families []inspect.Family
		// wide is set when a descriptor changed under us: the dump then
		// asks for every port rather than trust a stale answer.
		wide    bool
		lookups int
	)
	for _, o := range owned {
		if c.ignoreInodes[o.inode] {
			continue
		}
		name, err := nameOf(o)
		if err != nil {
			wide = true
			inodes[o.inode] = true
			continue
		}
		port := name.local.Port()
		if !name.tcp || c.ignorePorts[port] || port == 0 {
			// Port 0: neither bound nor connected, in no table the
			// kernel lists.
			continue
		}
		if c.lookup != nil && lookups < maxLookups && (name.listening || name.peer.IsValid()) {
			lookups++
			s, ok, err := c.lookup.Lookup(ctx, inspect.TCP, name.local, name.peer)
			if err != nil {
				// Leave it to the source, which falls back to /proc.
				c.lookup = nil
			}
			if err == nil && !ok {
				// Gone since, or in another namespace.
				continue
			}
			if err == nil && s.Inode == o.inode {
				found = append(found, s)
				continue
			}
		}
		inodes[o.inode] = true
		ports[port] = true
		if !slices.Contains(families, name.family) {
			families = append(families, name.family)
		}
	}
	if len(inodes) == 0 {
		return found, nil
	}
	q := inspect.Query{Protocols: []inspect.Protocol{inspect.TCP}, States: heldStates}
	if !wide {
		q.Families = families
		if q.Filter, err = localPortFilter(ports); err != nil {
			return nil, err
		}
	}
	socks, err := c.src.Sockets(ctx, q)
	if err != nil {
		return nil, err
	}
	for _, s := range socks {
		// An orphan (closed, still closing) has inode 0.
		if s.Inode != 0 && inodes[s.Inode] && !c.ignorePorts[s.Local.Port()] {
			found = append(found, s)
		}
	}
	return found, nil
}

// localPortFilter returns the filter "sport = :P1 or sport = :P2 ..." of
// ports, in ascending order.
func localPortFilter(ports map[uint16]bool) (*ssfilter.Filter, error) {
	sorted := make([]int, 0, len(ports))
	for p := range ports {
		sorted = append(sorted, int(p))
	}
	slices.Sort(sorted)
	var b strings.Builder
	for i, p := range sorted {
		if i > 0 {
			b.WriteString(" or ")
		}
		b.WriteString("sport = :")
		b.WriteString(strconv.Itoa(p))
	}
	f, err := ssfilter.Parse([]string{b.String()})
	if err != nil {
		return nil, fmt.Errorf("socktest: %w", err)
	}
	return f, nil
}
