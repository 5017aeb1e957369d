package inspect

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// This file is test scaffolding for the filter tests: a network namespace per
// test and a minimal sock_diag dumper that sends filter bytecode. The dumper
// is to be replaced by netlinkdiag.Dump once that package lands.

var filterNSSeq atomic.Int64

// filterNS is a network namespace made for one test, with loopback up.
type filterNS struct {
	name string
	fd   int // open /run/netns/name
	diag int // NETLINK_SOCK_DIAG socket opened inside the namespace
}

// newFilterNS makes a namespace removed when t ends, or skips t when the
// machine conclusively cannot: not root, or no ip(8).
func newFilterNS(t *testing.T) *filterNS {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("making a network namespace needs root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("ip(8) from iproute2 is not installed")
	}
	name := fmt.Sprintf("sockstate-filter-test-%d-%d", os.Getpid(), filterNSSeq.Add(1))
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", name, err, bytes.TrimSpace(out))
	}
	ns := &filterNS{name: name, fd: -1, diag: -1}
	t.Cleanup(func() {
		for _, fd := range []int{ns.fd, ns.diag} {
			if fd >= 0 {
				unix.Close(fd)
			}
		}
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, bytes.TrimSpace(out))
		}
	})
	if out, err := exec.Command("ip", "-n", name, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip -n %s link set lo up: %v: %s", name, err, bytes.TrimSpace(out))
	}
	fd, err := unix.Open("/run/netns/"+name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open namespace %s: %v", name, err)
	}
	ns.fd = fd
	ns.do(t, func() error {
		ns.diag, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
		return err
	})
	return ns
}

// do runs fn on an OS thread switched into the namespace, so the sockets fn
// opens belong to it for their whole life. The thread goes back to its own
// namespace afterwards, or, if that fails, dies with its locked goroutine.
func (ns *filterNS) do(t *testing.T, fn func() error) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(orig)
		if err := unix.Setns(ns.fd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns.name, err)
			return
		}
		err = fn()
		if unix.Setns(orig, unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// ss runs ss -Htan with the filter words in the namespace and returns the
// sockets it prints.
func (ns *filterNS) ss(t *testing.T, words []string) []Socket {
	t.Helper()
	args := append([]string{"netns", "exec", ns.name, "ss", "-Htan"}, words...)
	cmd := exec.Command("ip", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	var socks []Socket
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) < 5 {
			t.Fatalf("ss printed %q", line)
		}
		st, ok := ssStates[f[0]]
		local, err1 := parseSSAddr(f[3])
		peer, err2 := parseSSAddr(f[4])
		if !ok || err1 != nil || err2 != nil {
			t.Fatalf("ss printed %q: %v %v", line, err1, err2)
		}
		socks = append(socks, Socket{Protocol: TCP, State: st, Local: local, Peer: peer})
	}
	return socks
}

// ssStates maps ss's state column (sstate_name in misc/ss.c) to states.
var ssStates = map[string]State{
	"ESTAB": Established, "SYN-SENT": SynSent, "SYN-RECV": SynRecv,
	"FIN-WAIT-1": FinWait1, "FIN-WAIT-2": FinWait2, "TIME-WAIT": TimeWait,
	"UNCONN": Close, "CLOSE-WAIT": CloseWait, "LAST-ACK": LastAck,
	"LISTEN": Listen, "CLOSING": Closing,
}

// parseSSAddr parses ss -n's address column: 127.0.0.1:80, [::1]:80, or
// *:80 for the IPv6 wildcard; * for port 0.
func parseSSAddr(s string) (netip.AddrPort, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return netip.AddrPort{}, fmt.Errorf("no port in %q", s)
	}
	var port uint64
	if s[i+1:] != "*" {
		var err error
		if port, err = strconv.ParseUint(s[i+1:], 10, 16); err != nil {
			return netip.AddrPort{}, err
		}
	}
	a := strings.Trim(s[:i], "[]")
	if a == "*" {
		return netip.AddrPortFrom(netip.IPv6Unspecified(), uint16(port)), nil
	}
	addr, err := netip.ParseAddr(a)
	return netip.AddrPortFrom(addr, uint16(port)), err
}

// Sizes and constants of the sock_diag messages (linux/inet_diag.h).
const (
	sizeofNlmsghdr      = 16
	sizeofInetDiagReqV2 = 56
	sizeofInetDiagMsg   = 72
	inetDiagReqBytecode = 1
)

var diagSeq atomic.Uint32

// dump lists the namespace's TCP sockets of family, in every state, that the
// kernel keeps when it runs bc (none: keep all).
func (ns *filterNS) dump(fam Family, bc []byte) ([]Socket, error) {
	ne := binary.NativeEndian // netlink headers are in native order
	seq := diagSeq.Add(1)
	req := make([]byte, sizeofNlmsghdr+sizeofInetDiagReqV2)
	ne.PutUint16(req[4:], unix.SOCK_DIAG_BY_FAMILY)
	ne.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	ne.PutUint32(req[8:], seq)
	r := req[sizeofNlmsghdr:]
	r[0], r[1] = byte(fam), unix.IPPROTO_TCP
	ne.PutUint32(r[4:], uint32(AllStates)) // idiag_states
	if bc != nil {
		req = ne.AppendUint16(req, uint16(4+len(bc)))
		req = ne.AppendUint16(req, inetDiagReqBytecode)
		req = append(req, bc...)
	}
	ne.PutUint32(req[0:], uint32(len(req)))
	if err := unix.Sendto(ns.diag, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("sock_diag send: %w", err)
	}
	var socks []Socket
	buf := make([]byte, 1<<16)
	for {
		n, _, err := unix.Recvfrom(ns.diag, buf, 0)
		if err != nil {
			return nil, fmt.Errorf("sock_diag receive: %w", err)
		}
		for b := buf[:n]; len(b) >= sizeofNlmsghdr; {
			l, typ := int(ne.Uint32(b[0:])), ne.Uint16(b[4:])
			if l < sizeofNlmsghdr || l > len(b) {
				return nil, fmt.Errorf("sock_diag: message of %d bytes in %d", l, len(b))
			}
			msg, stale := b[sizeofNlmsghdr:l], ne.Uint32(b[8:]) != seq
			b = b[min((l+3)&^3, len(b)):]
			if stale {
				continue
			}
			switch typ {
			case unix.NLMSG_DONE, unix.NLMSG_ERROR:
				// Both carry an int: 0 or a negative errno.
				if len(msg) < 4 {
					return nil, errShortDiag
				}
				if e := int32(ne.Uint32(msg)); e < 0 {
					return nil, fmt.Errorf("sock_diag: %w", syscall.Errno(-e))
				}
				if typ == unix.NLMSG_DONE {
					return socks, nil
				}
			case unix.SOCK_DIAG_BY_FAMILY:
				s, err := decodeDiagMsg(msg)
				if err != nil {
					return nil, err
				}
				socks = append(socks, s)
			}
		}
	}
}

// errShortDiag reports a sock_diag message shorter than its struct.
var errShortDiag = errors.New("sock_diag: short message")

// decodeDiagMsg decodes an inet_diag_msg: ports and addresses in network
// byte order.
func decodeDiagMsg(b []byte) (Socket, error) {
	if len(b) < sizeofInetDiagMsg {
		return Socket{}, errShortDiag
	}
	s := Socket{Protocol: TCP, Family: Family(b[0]), State: State(b[1])}
	sport, dport := binary.BigEndian.Uint16(b[4:]), binary.BigEndian.Uint16(b[6:])
	src, dst := b[8:24], b[24:40]
	var la, pa netip.Addr
	if s.Family == INet {
		la, pa = netip.AddrFrom4([4]byte(src[:4])), netip.AddrFrom4([4]byte(dst[:4]))
	} else {
		la, pa = netip.AddrFrom16([16]byte(src)), netip.AddrFrom16([16]byte(dst))
	}
	s.Local, s.Peer = netip.AddrPortFrom(la, sport), netip.AddrPortFrom(pa, dport)
	return s, nil
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
	so.ns.do(so.t, func() (err error) {
		l, err = net.Listen("tcp", addr)
		return err
	})
	so.t.Cleanup(func() { l.Close() })
	return l.(*net.TCPListener)
}

// connect connects from local to the listener l at remote and returns both
// ends.
func (so *sockets) connect(l *net.TCPListener, local, remote string) (client, server *net.TCPConn) {
	so.ns.do(so.t, func() error {
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
func (ns *filterNS) settle(t *testing.T, n int) []Socket {
	t.Helper()
	transient := StatesOf(SynSent, SynRecv, FinWait1, LastAck, Closing, NewSynRecv)
	var all []Socket
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		all = ns.dumpAll(t, nil)
		if len(all) == n && !slices.ContainsFunc(all, func(s Socket) bool { return transient.Has(s.State) }) {
			return all
		}
	}
	t.Fatalf("sockets did not settle to %d: %v", n, tupleSet(all))
	return nil
}

// dumpAll dumps both families, filtered by f (nil: unfiltered), with the
// bytecode f compiles for each.
func (ns *filterNS) dumpAll(t *testing.T, f *Filter) []Socket {
	t.Helper()
	var all []Socket
	for _, fam := range []Family{INet, INet6} {
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

// tupleSet returns the sockets as sorted "STATE local peer" strings, the
// identity ss's output gives.
func tupleSet(socks []Socket) []string {
	out := make([]string, 0, len(socks))
	for _, s := range socks {
		out = append(out, fmt.Sprintf("%v %v %v", s.State, s.Local, s.Peer))
	}
	slices.Sort(out)
	return out
}

func matching(f *Filter, socks []Socket) []Socket {
	var out []Socket
	for i := range socks {
		if f.Match(&socks[i]) {
			out = append(out, socks[i])
		}
	}
	return out
}
