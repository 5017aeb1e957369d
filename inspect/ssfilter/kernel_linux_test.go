package ssfilter

import (
	"context"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/sockstate/sockstate/inspect"

	"golang.org/x/sys/unix"

	"github.com/sockstate/sockstate/internal/testnet"
	"github.com/sockstate/sockstate/netlinkdiag"
)

// This file holds what the filter tests share: a test namespace with a
// sock_diag connection into it, that dumps with the kernel running a
// filter's bytecode, and ss run inside it.

// filterNS is a test namespace with a sock_diag connection opened into it.
type filterNS struct {
	*testnet.NS
	diag *netlinkdiag.Conn
}

// newFilterNS makes a namespace removed when t ends.
func newFilterNS(t *testing.T) *filterNS {
	t.Helper()
	ns := testnet.New(t)
	c, err := netlinkdiag.Dial(&netlinkdiag.Config{NetNS: ns.FD()})
	if err != nil {
		t.Fatalf("sock_diag in %s: %v", ns.Name, err)
	}
	t.Cleanup(func() { c.Close() })
	return &filterNS{NS: ns, diag: c}
}

// ss runs ss -Htan with the filter words in the namespace and returns the
// sockets it prints, in tupleSet's form.
func (ns *filterNS) ss(t *testing.T, words []string) []string {
	t.Helper()
	return testnet.ParseTable(t, ns.Run(t, "ss", append([]string{"-Htan"}, words...)...), testnet.SSStates, testnet.Columns{Netid: "tcp"})
}

// dump lists the namespace's TCP sockets of family, in every state, that the
// kernel keeps when it runs bc (nil: keep all). It sends the bytecode as is,
// so a program too long for the kernel fails instead of falling back to
// Match as sockdiag.Source does.
func (ns *filterNS) dump(fam inspect.Family, bc []byte) ([]inspect.Socket, error) {
	var socks []inspect.Socket
	req := netlinkdiag.Request{Family: uint8(fam), Protocol: unix.IPPROTO_TCP, States: uint32(inspect.AllStates), Bytecode: bc}
	err := ns.diag.Dump(context.Background(), req, func(m *netlinkdiag.Msg) error {
		f := inspect.INet
		if m.Family == unix.AF_INET6 {
			f = inspect.INet6
		}
		socks = append(socks, inspect.Socket{Protocol: inspect.TCP, Family: f, State: inspect.State(m.State), Local: m.Src, Peer: m.Dst, Inode: uint64(m.Inode), Cookie: m.Cookie})
		return nil
	})
	return socks, err
}

// sockets opens TCP sockets inside a namespace and keeps them open until the
// test ends.
type sockets struct {
	t  *testing.T
	ns *filterNS
}

func (ns *filterNS) sockets(t *testing.T) *sockets { return &sockets{t: t, ns: ns} }

// listen opens a listener on addr, as in "127.0.0.1:80" or "[::]:22" (a
// wildcard IPv6 listener also takes IPv4 connections).
func (so *sockets) listen(addr string) *net.TCPListener {
	var l net.Listener
	so.ns.Do(so.t, func() (err error) {
		l, err = net.Listen("tcp", addr)
		return err
	})
	so.t.Cleanup(func() { l.Close() })
	return l.(*net.TCPListener)
}

// connect connects from local to the listener l at remote and returns both
// ends.
func (so *sockets) connect(l *net.TCPListener, local, remote string) (client, server *net.TCPConn) {
	so.ns.Do(so.t, func() error {
		la, err := net.ResolveTCPAddr("tcp", local)
		if err != nil {
			return err
		}
		d := net.Dialer{LocalAddr: la, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", remote)
		if err != nil {
			return err
		}
		client = c.(*net.TCPConn)
		if err := l.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
			return err
		}
		server, err = l.AcceptTCP()
		return err
	})
	so.t.Cleanup(func() {
		client.Close()
		server.Close()
	})
	return client, server
}

// settle waits until the namespace holds n TCP sockets, none in a state that
// a timer or a packet in flight is about to change, and returns them.
func (ns *filterNS) settle(t *testing.T, n int) []inspect.Socket {
	t.Helper()
	transient := inspect.StatesOf(inspect.SynSent, inspect.SynRecv, inspect.FinWait1, inspect.LastAck, inspect.Closing, inspect.NewSynRecv)
	var all []inspect.Socket
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		all = ns.dumpAll(t, nil)
		if len(all) == n && !slices.ContainsFunc(all, func(s inspect.Socket) bool { return transient.Has(s.State) }) {
			return all
		}
	}
	t.Fatalf("sockets did not settle to %d: %v", n, tupleSet(all))
	return nil
}

// dumpAll dumps both families, filtered by f (nil: unfiltered), with the
// bytecode f compiles for each.
func (ns *filterNS) dumpAll(t *testing.T, f *Filter) []inspect.Socket {
	t.Helper()
	var all []inspect.Socket
	for _, fam := range []inspect.Family{inspect.INet, inspect.INet6} {
		bc, err := f.Bytecode(fam)
		if err != nil {
			t.Fatalf("Bytecode(%v) of %q: %v", fam, f, err)
		}
		socks, err := ns.dump(fam, bc)
		if err != nil {
			t.Fatalf("dump %v with the bytecode of %q (% x): %v", fam, f, bc, err)
		}
		all = append(all, socks...)
	}
	return all
}

// tupleSet returns the TCP sockets as sorted "tcp STATE local peer"
// strings, the identity ss's output gives (testnet.Want).
func tupleSet(socks []inspect.Socket) []string {
	out := make([]string, 0, len(socks))
	for _, s := range socks {
		out = append(out, testnet.Want{Netid: "tcp", State: s.State.String(), Local: s.Local, Peer: s.Peer}.String())
	}
	slices.Sort(out)
	return out
}

func matching(f *Filter, socks []inspect.Socket) []inspect.Socket {
	var out []inspect.Socket
	for i := range socks {
		if f.Match(&socks[i]) {
			out = append(out, socks[i])
		}
	}
	return out
}
