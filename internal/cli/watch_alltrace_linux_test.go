package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/internal/testnet"
)

// allTracePort is the port every namespace of TestWatchAllNetnsTrace
// listens on: the namespaces are apart, so one port serves them all, and
// one filter keeps other tests' sockets out. It lies below the ephemeral
// range.
const allTracePort = 29417

// TestWatchAllNetnsTrace watches every namespace with the tracer while a
// connection goes through the textbook states in each of three
// namespaces made by the test (two named, one held only by a process):
// every transition of each end is reported exactly, in order, the move to
// TIME_WAIT found by a lookup in the socket's own namespace, and each
// event is labelled with its namespace's inode and name.
func TestWatchAllNetnsTrace(t *testing.T) {
	nss := []*testnet.NS{testnet.New(t), testnet.New(t), testnet.NewUnnamed(t)}
	lns := make([]net.Listener, len(nss))
	for i, ns := range nss {
		lns[i] = ns.Listen(t, "tcp", fmt.Sprintf("127.0.0.1:%d", allTracePort))
	}
	w := startAllNetnsWatch(t, "--source", "trace")
	// The first report lists the listeners, in any order.
	listeners := map[uint64]string{}
	for _, ns := range nss {
		listeners[nsInode(t, ns)] = ns.Name
	}
	for len(listeners) > 0 {
		l := w.await(t, func(l *netnsWatchLine) bool {
			return l.Event == "new" && l.Local.Port == allTracePort && l.NetNS != nil
		})
		name, ok := listeners[l.NetNS.Inode]
		if !ok {
			continue
		}
		if l.NetNS.Name != name {
			t.Errorf("listener of net:[%d] named %q, want %q", l.NetNS.Inode, l.NetNS.Name, name)
		}
		delete(listeners, l.NetNS.Inode)
	}

	ports := make([]int, len(nss))
	for i, ns := range nss {
		ports[i] = textbookClose(t, ns, lns[i])
	}
	// Each namespace's two ends, by the namespace's label (inode and
	// name) and their local and peer ports: namespaces apart may pick one
	// port.
	type end struct {
		ino         uint64
		name        string
		local, peer int
	}
	want := map[end][]string{}
	for i, p := range ports {
		ino, name := nsInode(t, nss[i]), nss[i].Name
		want[end{ino, name, p, allTracePort}] = []string{"change CLOSE->SYN_SENT", "change SYN_SENT->ESTABLISHED", "change ESTABLISHED->FIN_WAIT1", "change FIN_WAIT1->FIN_WAIT2", "change FIN_WAIT2->TIME_WAIT"}
		want[end{ino, name, allTracePort, p}] = []string{"change LISTEN->SYN_RECV", "change SYN_RECV->ESTABLISHED", "change ESTABLISHED->CLOSE_WAIT", "change CLOSE_WAIT->LAST_ACK", "change LAST_ACK->CLOSE", "gone CLOSE->"}
	}
	got := map[end][]string{}
	done := func() bool {
		for e, w := range want {
			if len(got[e]) < len(w) {
				return false
			}
		}
		return true
	}
	for !done() {
		l := w.await(t, func(l *netnsWatchLine) bool { return l.Local != nil && l.Peer != nil && l.Peer.Port != 0 })
		if l.NetNS == nil {
			t.Fatalf("line %+v has no netns", l)
		}
		e := end{l.NetNS.Inode, l.NetNS.Name, int(l.Local.Port), int(l.Peer.Port)}
		if e.local != allTracePort && e.peer != allTracePort {
			continue
		}
		from, to := "", ""
		if l.From != nil {
			from = *l.From
		}
		if l.To != nil {
			to = *l.To
		}
		got[e] = append(got[e], l.Event+" "+from+"->"+to)
		if len(got) > len(want) {
			t.Fatalf("events of sockets not made, or labelled with another namespace (want %v): %v", want, got)
		}
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(end{})); diff != "" {
		t.Errorf("transitions (-want +got):\n%s", diff)
	}
	if stderr := w.stop(t); stderr != "" {
		t.Errorf("stderr %q, want none", stderr)
	}
}

// textbookClose connects to ln from inside ns and closes the connection
// the textbook way, the client first, neither end orphaned: the client
// shuts its side, the server reads the end and closes, the client reads
// the server's end and closes, in TIME_WAIT. It returns the client's
// port.
func textbookClose(t *testing.T, ns *testnet.NS, ln net.Listener) int {
	t.Helper()
	var c net.Conn
	ns.Do(t, func() error {
		var err error
		c, err = net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
		return err
	})
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	deadline := time.Now().Add(10 * time.Second)
	c.SetDeadline(deadline)
	s.SetDeadline(deadline)
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(s); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := io.ReadAll(c); err != nil {
		t.Fatal(err)
	}
	return c.LocalAddr().(*net.TCPAddr).Port
}

// allNetnsWatch is a running watch -tj --all-netns over the sockets of
// allTracePort.
type allNetnsWatch struct {
	cmd    *exec.Cmd
	lines  chan netnsWatchLine
	stderr strings.Builder
}

func startAllNetnsWatch(t *testing.T, args ...string) *allNetnsWatch {
	t.Helper()
	args = append([]string{"watch", "-tj", "--all-netns", "--duration", "60s"}, args...)
	args = append(args, fmt.Sprintf("sport = :%d or dport = :%d", allTracePort, allTracePort))
	w := &allNetnsWatch{cmd: exec.Command(executable(t), args...), lines: make(chan netnsWatchLine, 1024)}
	w.cmd.Env = childEnv()
	w.cmd.Stderr = &w.stderr
	out, err := w.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		w.cmd.Process.Kill()
		w.cmd.Wait()
	})
	go func() {
		defer close(w.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var l netnsWatchLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				t.Errorf("line %q: %v", sc.Text(), err)
				return
			}
			w.lines <- l
		}
	}()
	return w
}

// await returns the next line match accepts, reading past the others,
// for at most 20 s.
func (w *allNetnsWatch) await(t *testing.T, match func(*netnsWatchLine) bool) *netnsWatchLine {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case l, ok := <-w.lines:
			if !ok {
				t.Fatalf("watch ended early; stderr %q", w.stderr.String())
			}
			if l.Local != nil && match(&l) {
				return &l
			}
		case <-timeout:
			t.Fatalf("no line awaited came in 20 s; stderr %q", w.stderr.String())
		}
	}
}

// stop interrupts the watch, requires exit 0 and returns its stderr.
func (w *allNetnsWatch) stop(t *testing.T) string {
	t.Helper()
	if err := w.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	for range w.lines {
	}
	if err := w.cmd.Wait(); err != nil {
		t.Errorf("watch --all-netns: %v; stderr %q", err, w.stderr.String())
	}
	return w.stderr.String()
}

// TestWatchAllNetnsAuto: with --source auto, watch --all-netns -t takes
// TCP from the tracer where it may load it, and says so: a listener made
// in a namespace made after the start is CLOSE -> LISTEN, as only the
// tracer tells, labelled with its namespace.
func TestWatchAllNetnsAuto(t *testing.T) {
	w := startAllNetnsWatch(t)
	// The first report, of every namespace, says the watch is under way.
	ready := testnet.New(t)
	readyLn := ready.Listen(t, "tcp", fmt.Sprintf("127.0.0.1:%d", allTracePort))
	w.await(t, func(l *netnsWatchLine) bool { return l.Local.addrPort().String() == readyLn.Addr().String() })
	ns := testnet.New(t)
	ln := ns.Listen(t, "tcp", fmt.Sprintf("127.0.0.1:%d", allTracePort))
	l := w.await(t, func(l *netnsWatchLine) bool {
		return l.NetNS != nil && l.NetNS.Inode == nsInode(t, ns) && l.Local.addrPort().String() == ln.Addr().String()
	})
	if l.Event != "change" || l.From == nil || *l.From != "CLOSE" || l.To == nil || *l.To != "LISTEN" || l.NetNS.Name != ns.Name {
		t.Errorf("listener of %s: %s %v -> %v labelled %+v, want change CLOSE -> LISTEN labelled %s", ns.Name, l.Event, l.From, l.To, l.NetNS, ns.Name)
	}
	want := "sockstate: watch: TCP from the kernel's tracepoints (eBPF) in every namespace, with causes\n"
	if stderr := w.stop(t); stderr != want {
		t.Errorf("stderr %q, want %q", stderr, want)
	}
}
