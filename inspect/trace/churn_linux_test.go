package trace

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/internal/testnet"
	"github.com/sockstate/sockstate/netlinkdiag"
	"github.com/sockstate/sockstate/netns"
)

// The test binary doubles as a helper process: with helperEnv set it runs
// the helper named there instead of the tests.
const helperEnv = "SOCKSTATE_TRACE_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "open":
		helperOpen()
	case "churn":
		helperChurn()
	default:
		fmt.Fprintf(os.Stderr, "unknown helper %q\n", os.Getenv(helperEnv))
		os.Exit(2)
	}
}

// helperOpen opens a Tracer and prints the error, or "opened".
func helperOpen() {
	tr, err := Open(nil)
	if err != nil {
		fmt.Println(err)
		os.Exit(0)
	}
	tr.Close()
	fmt.Println("opened")
}

// helperChurn churns for the duration its argument gives, in the namespace
// it was started in, and prints the number of connections.
func helperChurn() {
	d, err := time.ParseDuration(os.Getenv("SOCKSTATE_TRACE_CHURN"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	n, err := churn(func(fn func() error) error { return fn() }, "127.0.0.1", d)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(n)
}

// Churn settings: each worker has a listener of its own so that no
// address tuple comes back within a run (the server's end of each
// connection stays in TIME_WAIT), and maxConns bounds a run whatever the
// machine's speed.
const (
	churnWorkers = 4
	maxConns     = 200000
)

// churn opens and closes connections on loopback as fast as it can for d:
// the server closes each as it accepts it, the client reads the EOF and
// closes. It returns how many connections it made; listeners are closed
// when it returns. Every socket is opened inside in, which runs its
// function on a thread in the namespace to churn in (as NS.Do does), or
// on any thread when the whole process is there.
func churn(in func(func() error) error, loopback string, d time.Duration) (int, error) {
	var (
		conns   atomic.Int64
		wg      sync.WaitGroup
		errMu   sync.Mutex
		firstEr error
	)
	fail := func(err error) {
		errMu.Lock()
		defer errMu.Unlock()
		if firstEr == nil {
			firstEr = err
		}
	}
	deadline := time.Now().Add(d)
	for range churnWorkers {
		var ln net.Listener
		err := in(func() (err error) {
			ln, err = net.Listen("tcp", net.JoinHostPort(loopback, "0"))
			return err
		})
		if err != nil {
			return 0, err
		}
		wg.Add(2)
		go func() {
			defer wg.Done()
			for {
				s, err := ln.Accept()
				if err != nil {
					return
				}
				s.Close()
			}
		}()
		go func() {
			defer wg.Done()
			defer ln.Close()
			buf := make([]byte, 1)
			err := in(func() error {
				for time.Now().Before(deadline) && conns.Load() < maxConns {
					c, err := net.Dial("tcp", ln.Addr().String())
					if err != nil {
						return err
					}
					if _, err := c.Read(buf); !errors.Is(err, io.EOF) {
						c.Close()
						return fmt.Errorf("read after the server closed: %v, want EOF", err)
					}
					c.Close()
					conns.Add(1)
				}
				return nil
			})
			if err != nil {
				fail(err)
			}
		}()
	}
	wg.Wait()
	return int(conns.Load()), firstEr
}

// The sequences churn makes, by socket.
var (
	churnListener = []string{"CLOSE>LISTEN", "LISTEN>CLOSE"}
	churnClient   = []string{"CLOSE>SYN_SENT", "SYN_SENT>ESTABLISHED", "ESTABLISHED>CLOSE_WAIT", "CLOSE_WAIT>LAST_ACK", "LAST_ACK>CLOSE"}
	churnServer   = []string{"LISTEN>SYN_RECV", "SYN_RECV>ESTABLISHED", "ESTABLISHED>FIN_WAIT1", "FIN_WAIT1>FIN_WAIT2", "FIN_WAIT2>CLOSE", "CLOSE>TIME_WAIT"}
)

// churnTally reads a Tracer during a churn: each socket's states, and
// the losses Read reported.
type churnTally struct {
	done chan struct{}

	mu        sync.Mutex
	seqs      map[uint64][]string
	closes    map[uint64]Transition // FIN_WAIT2 -> CLOSE with no TIME_WAIT yet
	traced    int                   // transitions from the tracepoint
	timeWaits int                   // TIME_WAIT transitions
	finCloses int                   // FIN_WAIT2 -> CLOSE transitions
	lostErrs  int                   // Read's errors wrapping ErrLost
	err       error
}

func startTally(tr *Tracer) *churnTally {
	c := &churnTally{done: make(chan struct{}), seqs: map[uint64][]string{}, closes: map[uint64]Transition{}}
	go func() {
		defer close(c.done)
		for {
			x, err := tr.Read()
			c.mu.Lock()
			switch {
			case errors.Is(err, os.ErrClosed):
				c.mu.Unlock()
				return
			case errors.Is(err, ErrLost):
				c.lostErrs++
			case err != nil:
				c.err = err
				c.mu.Unlock()
				return
			case x.TimeWait:
				c.timeWaits++
				delete(c.closes, x.Cookie)
			default:
				c.traced++
				if x.From == inspect.FinWait2 && x.To == inspect.Close {
					c.finCloses++
					c.closes[x.Cookie] = x
				}
			}
			if err == nil {
				c.seqs[x.Cookie] = append(c.seqs[x.Cookie], x.From.String()+">"+x.To.String())
			}
			c.mu.Unlock()
		}
	}()
	return c
}

// wait waits, up to ten seconds, until the tally holds total transitions
// less those lost, and a TIME_WAIT for every FIN_WAIT2 -> CLOSE: a reader
// under -race on two busy cores can trail the churn by seconds.
func (c *churnTally) wait(tr *Tracer, total int) {
	for range 200 {
		c.mu.Lock()
		complete := uint64(c.traced)+tr.Lost() >= uint64(total) && c.timeWaits >= c.finCloses
		c.mu.Unlock()
		if complete {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestChurn churns for three seconds at the rate one process reaches and
// requires every transition to be read once or counted as lost: each
// socket's transitions in order with none twice, and as many missing from
// the sequences as Lost counts, exactly.
func TestChurn(t *testing.T) {
	ns := testnet.New(t)
	ns.Run(t, "sysctl", "-q", "-w", "net.ipv4.ip_local_port_range=1024 65535")
	tr := open(t, ns, Options{})
	c := startTally(tr)

	start := time.Now()
	conns, err := churn(func(fn func() error) error { return netns.Do(ns.FD(), fn) }, "127.0.0.1", 3*time.Second)
	if err != nil {
		t.Fatalf("churn: %v", err)
	}
	elapsed := time.Since(start)
	// The time-wait socket's TIME_WAIT is not a tracepoint transition.
	total := churnWorkers*len(churnListener) + conns*(len(churnClient)+len(churnServer)-1)
	c.wait(tr, total)
	for i, p := range tr.progs {
		if s, err := p.Stats(); err == nil {
			t.Logf("copy %d of the program skipped %d events, the kernel running it already", i, s.RecursionMisses)
		}
	}
	drops, misses, err := tr.readLosses()
	if err != nil {
		t.Fatal(err)
	}
	lost := tr.Lost()
	// The Tracer reports TIME_WAIT only for a time-wait socket it finds:
	// an RST kills one (RFC 1337 is off by default), so does a new SYN
	// on the same addresses. So every FIN_WAIT2 -> CLOSE left without a
	// TIME_WAIT must have none to find now.
	diag, err := netlinkdiag.Dial(&netlinkdiag.Config{NetNS: ns.FD()})
	if err != nil {
		t.Fatal(err)
	}
	defer diag.Close()
	c.mu.Lock()
	for _, x := range c.closes {
		m, err := lookupSocket(diag, &x)
		if !errors.Is(err, unix.ENOENT) {
			t.Errorf("%s %s: FIN_WAIT2 -> CLOSE with no TIME_WAIT reported, but the lookup finds %s (timer %d): %v", x.Local, x.Peer, inspect.State(m.State), m.Timer, err)
		}
	}
	unconfirmed := len(c.closes)
	c.mu.Unlock()
	tr.Close()
	<-c.done
	if c.err != nil {
		t.Fatalf("Read: %v", c.err)
	}
	t.Logf("%d connections in %v (%.0f/s), %d transitions traced, %d lost (%d ring drops, %d missed by both copies, %d found by lookups; %d loss reports), %d TIME_WAIT confirmed",
		conns, elapsed.Round(time.Millisecond), float64(conns)/elapsed.Seconds(), c.traced, lost, drops, misses, tr.gapLost.Load(), c.lostErrs, c.timeWaits)
	if c.traced+int(lost) != total {
		t.Errorf("%d traced + %d lost = %d transitions, want %d for %d connections", c.traced, lost, c.traced+int(lost), total, conns)
	}
	if (lost > 0) != (c.lostErrs > 0) {
		t.Errorf("%d lost but %d loss reports from Read", lost, c.lostErrs)
	}
	if c.timeWaits+unconfirmed != c.finCloses {
		t.Errorf("%d TIME_WAIT confirmed and %d time-wait sockets gone for %d FIN_WAIT2 -> CLOSE", c.timeWaits, unconfirmed, c.finCloses)
	}
	if unconfirmed > 0 {
		t.Logf("%d time-wait sockets gone before their lookup (%d RSTs sent)", unconfirmed, tcpCounter(t, ns, "OutRsts"))
	}
	// Each socket's transitions are its role's, in order, each once: a
	// transition read twice, or out of order, fails here.
	roles := map[string][]string{"listener": churnListener, "client": churnClient, "server": churnServer[:len(churnServer)-1]}
	roleOf := map[string]string{}
	for role, seq := range roles {
		for _, x := range seq {
			roleOf[x] = role
		}
	}
	sockets := map[string]int{}
	for cookie, seq := range c.seqs {
		var got []string
		for _, x := range seq {
			if x != "CLOSE>TIME_WAIT" {
				got = append(got, x)
			}
		}
		if len(got) == 0 {
			continue
		}
		role := roleOf[got[0]]
		if role == "" || !inOrder(got, roles[role]) {
			t.Errorf("socket %d: %s, want in order and once each of a listener's, a client's or a server's: %s", cookie, strings.Join(seq, " "), strings.Join(roles[role], " "))
			continue
		}
		sockets[role]++
	}
	want := map[string]int{"listener": churnWorkers, "client": conns, "server": conns}
	for role, n := range want {
		if sockets[role] > n {
			t.Errorf("%d %s sockets, want %d", sockets[role], role, n)
		}
	}
}

// inOrder reports whether got is want with some left out, in want's order.
func inOrder(got, want []string) bool {
	i := 0
	for _, x := range got {
		for i < len(want) && want[i] != x {
			i++
		}
		if i == len(want) {
			return false
		}
		i++
	}
	return true
}

// tcpCounter reads a Tcp counter of /proc/net/snmp in ns.
func tcpCounter(t *testing.T, ns *testnet.NS, name string) int {
	t.Helper()
	var names []string
	for _, l := range strings.Split(ns.Run(t, "cat", "/proc/net/snmp"), "\n") {
		f := strings.Fields(l)
		if len(f) == 0 || f[0] != "Tcp:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		for i := range names {
			if names[i] == name && i < len(f) {
				n, err := strconv.Atoi(f[i])
				if err != nil {
					t.Fatalf("/proc/net/snmp Tcp %s %q: %v", name, f[i], err)
				}
				return n
			}
		}
	}
	t.Fatalf("/proc/net/snmp has no Tcp %s", name)
	return 0
}

// BenchmarkChurn measures the Tracer against a churn in a separate process
// (the test binary as a helper, in the namespace), so that the CPU time of
// this process is the Tracer's alone: reading the ring, decoding, and the
// sock_diag lookups that confirm TIME_WAIT. The eBPF program runs in the
// churning process's context; its own cost is measured by the kernel's BPF
// statistics. Run with -benchtime=1x: each iteration churns for three
// seconds.
func BenchmarkChurn(b *testing.B) {
	ns := testnet.New(b)
	ns.Run(b, "sysctl", "-q", "-w", "net.ipv4.ip_local_port_range=1024 65535")
	tr := open(b, ns, Options{})
	stats, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	if err != nil {
		b.Fatalf("enable BPF statistics: %v", err)
	}
	defer stats.Close()
	c := startTally(tr)

	var conns int
	var cpu, wall time.Duration
	for b.Loop() {
		before := rusage(b)
		start := time.Now()
		cmd := exec.Command("ip", "netns", "exec", ns.Name, os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), helperEnv+"=churn", "SOCKSTATE_TRACE_CHURN=3s")
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("churn helper: %v", err)
		}
		n, err := strconv.Atoi(strings.TrimSpace(string(out)))
		if err != nil {
			b.Fatalf("churn helper printed %q", out)
		}
		// Let the Tracer drain what is left, bounded.
		for i := 0; i < 20 && tr.rd.AvailableBytes() > 0; i++ {
			time.Sleep(10 * time.Millisecond)
		}
		wall += time.Since(start)
		cpu += rusage(b) - before
		conns += n
	}
	s, err := tr.progs[0].Stats()
	if err != nil {
		b.Fatalf("program statistics: %v", err)
	}
	lost := tr.Lost()
	drops, _, err := tr.readLosses()
	if err != nil {
		b.Fatal(err)
	}
	tr.Close()
	<-c.done
	if c.err != nil {
		b.Fatalf("Read: %v", c.err)
	}
	transitions := float64(c.traced)
	b.ReportMetric(float64(drops), "ring-drops")
	b.ReportMetric(float64(conns)/wall.Seconds(), "conns/s")
	b.ReportMetric(transitions/wall.Seconds(), "transitions/s")
	b.ReportMetric(float64(lost), "lost")
	// Transitions neither read nor counted as lost: each iteration's
	// listeners, and each connection's client and server.
	want := b.N*churnWorkers*len(churnListener) + conns*(len(churnClient)+len(churnServer)-1)
	b.ReportMetric(float64(want)-transitions-float64(lost), "unaccounted")
	b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "%cpu")
	b.ReportMetric(float64(cpu.Microseconds())/transitions*1000, "cpu-µs/1000transitions")
	if conns > 0 {
		b.ReportMetric(float64(tr.lookups)/float64(conns), "lookups/conn")
	}
	if s.RunCount > 0 {
		b.ReportMetric(float64(s.Runtime.Nanoseconds())/float64(s.RunCount), "bpf-ns/run")
	}
}

// rusage returns the user and system CPU time this process has used.
func rusage(b *testing.B) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
