package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/internal/testnet"
)

// runCLI runs the test binary as sockstate with args: inside ns with ip
// netns exec, or in the test's own namespace when ns is nil, with env added
// to its environment. It returns stdout, stderr and the exit code.
func runCLI(t *testing.T, ns *testnet.NS, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, args...)
	if ns != nil {
		cmd = exec.Command("ip", append([]string{"netns", "exec", ns.Name, self}, args...)...)
	}
	cmd.Env = childEnv(env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out.String(), errb.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), 0
}

// mustRun is runCLI for a command line that must succeed. The one line -p
// prints about processes it could not read is allowed: this machine's init
// process is closed even to root.
func mustRun(t *testing.T, ns *testnet.NS, args ...string) string {
	t.Helper()
	out, stderr, code := runCLI(t, ns, nil, args...)
	if code != 0 || (stderr != "" && !skippedRE.MatchString(stderr)) {
		t.Fatalf("sockstate %s: exit %d, stderr %q", strings.Join(args, " "), code, stderr)
	}
	return out
}

var skippedRE = regexp.MustCompile(`^sockstate: [1-9][0-9]* process(es)? on this host could not be read, so the sockets they hold show no users \((run as root to see them|the kernel denies them even to root)\)\n$`)

// conn is a TCP connection opened in a test namespace, both ends.
type conn struct {
	client, server *net.TCPConn
}

// ends returns the client's local and remote address as ss prints them.
func (c conn) clientKey() string {
	return c.client.LocalAddr().String() + " " + c.client.RemoteAddr().String()
}

func (c conn) serverKey() string {
	return c.server.LocalAddr().String() + " " + c.server.RemoteAddr().String()
}

// listen opens a TCP listener in ns on addr, closed when the test ends.
func listen(t *testing.T, ns *testnet.NS, addr string) *net.TCPListener {
	t.Helper()
	return ns.Listen(t, "tcp", addr).(*net.TCPListener)
}

// dial connects to ln from ns and returns both ends, closed when the test
// ends.
func dial(t *testing.T, ns *testnet.NS, ln *net.TCPListener) conn {
	t.Helper()
	var c conn
	ns.Do(t, func() error {
		cl, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return err
		}
		sv, err := ln.AcceptTCP()
		if err != nil {
			cl.Close()
			return err
		}
		c = conn{cl.(*net.TCPConn), sv}
		return nil
	})
	t.Cleanup(func() {
		c.client.Close()
		c.server.Close()
	})
	return c
}

// send writes n bytes from w and reads them all at r.
func send(t *testing.T, w, r *net.TCPConn, n int) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		_, err := w.Write(make([]byte, n))
		errc <- err
	}()
	if _, err := io.ReadFull(r, make([]byte, n)); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// detail is one socket of a table with details (-o -p -i -m): the words
// after its addresses, and the words of its second line.
type detail struct {
	Tail, Second []string
}

// parseDetails reads a header-less, one-protocol table (State Recv-Q
// Send-Q Local Peer, then free words) whose rows may be followed by a
// tab-indented second line, into details keyed by "local peer".
func parseDetails(t *testing.T, text string) map[string]detail {
	t.Helper()
	out := map[string]detail{}
	key := ""
	for line := range strings.Lines(text) {
		line = strings.TrimRight(line, "\n")
		if strings.HasPrefix(line, "\t") {
			if key == "" {
				t.Fatalf("second line %q before any row", line)
			}
			d := out[key]
			d.Second = strings.Fields(line)
			out[key] = d
			continue
		}
		f := strings.Fields(line)
		if len(f) < 5 {
			t.Fatalf("row %q: too few fields", line)
		}
		key = normAddr(t, f[3]) + " " + normAddr(t, f[4])
		if _, dup := out[key]; dup {
			t.Fatalf("row %q: %s listed twice", line, key)
		}
		out[key] = detail{Tail: f[5:]}
	}
	return out
}

// normAddr turns a table's address into netip's form: * is port 0, and
// ss's * address is [::].
func normAddr(t *testing.T, s string) string {
	t.Helper()
	if strings.HasPrefix(s, "*:") {
		s = "[::]" + s[1:]
	}
	ap, err := netip.ParseAddrPort(strings.Replace(s, ":*", ":0", 1))
	if err != nil {
		t.Fatalf("address %q: %v", s, err)
	}
	return ap.String()
}

// varying are the -i keys whose values move while a connection is idle:
// the times since the last send, receive and ACK.
var varyingRE = regexp.MustCompile(`^(lastsnd|lastrcv|lastack):[0-9]+$`)

// timerRE matches -o's timer:(NAME,EXPIRES,RETRANSMITS).
var timerRE = regexp.MustCompile(`^timer:\(([a-z]+),([0-9a-z.]*),([0-9]+)\)$`)

// steady drops what moves on an idle socket: the values of lastsnd, lastrcv
// and lastack, and a timer's remaining time.
func steady(details map[string]detail) map[string]detail {
	out := map[string]detail{}
	for k, d := range details {
		var s detail
		for _, w := range d.Tail {
			if m := timerRE.FindStringSubmatch(w); m != nil {
				w = "timer:(" + m[1] + ",_," + m[3] + ")"
			}
			s.Tail = append(s.Tail, w)
		}
		for _, w := range d.Second {
			if varyingRE.MatchString(w) {
				w = w[:strings.IndexByte(w, ':')] + ":_"
			}
			s.Second = append(s.Second, w)
		}
		out[k] = s
	}
	return out
}

// agreeWithSS runs ss and ls with the same flags until ls's output, with
// what moves on idle sockets dropped, equals that of an ss run just before
// or after it, and fails with the last difference if that never happens.
// It returns the ls details.
func agreeWithSS(t *testing.T, ns *testnet.NS, flags string, words ...string) map[string]detail {
	t.Helper()
	var diff string
	var got map[string]detail
	for range 20 {
		before := parseDetails(t, ns.Run(t, "ss", append([]string{flags}, words...)...))
		got = parseDetails(t, mustRun(t, ns, append([]string{"ls", flags}, words...)...))
		after := parseDetails(t, ns.Run(t, "ss", append([]string{flags}, words...)...))
		if diff = cmp.Diff(steady(before), steady(got)); diff == "" {
			return got
		}
		if cmp.Equal(steady(after), steady(got)) {
			return got
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("ls %s never matched ss (-ss +ls):\n%s", flags, diff)
	return nil
}

// idleConns opens in ns a listener and two connections, sends data both
// ways and waits until everything sent is acknowledged.
func idleConns(t *testing.T, ns *testnet.NS, loopback string) (*net.TCPListener, conn, conn) {
	t.Helper()
	ln := listen(t, ns, net.JoinHostPort(loopback, "0"))
	a, b := dial(t, ns, ln), dial(t, ns, ln)
	send(t, a.client, a.server, 100000)
	send(t, a.server, a.client, 5000)
	send(t, b.client, b.server, 1)
	return ln, a, b
}

// TestLsInfoMatchesSS opens connections that have carried data and
// requires ls -i's second line to equal ss -i's, word for word, for every
// socket, the values of lastsnd, lastrcv and lastack aside; with -o, the
// option names and timers too. It also checks values it can predict.
func TestLsInfoMatchesSS(t *testing.T) {
	ns := testnet.New(t)
	_, a, _ := idleConns(t, ns, "127.0.0.1")
	_, c, _ := idleConns(t, ns, "::1")
	for _, flags := range []string{"-tniH", "-tnioH", "-tanioH"} {
		t.Run(flags, func(t *testing.T) {
			got := agreeWithSS(t, ns, flags)
			if flags != "-tanioH" && len(got) != 8 {
				t.Errorf("%d sockets, want 8 connected ends", len(got))
			}
			for _, key := range []string{a.clientKey(), c.clientKey()} {
				second := strings.Join(got[key].Second, " ")
				// bytes_sent counts retransmitted bytes too: a loaded
				// machine can delay an ACK past the RTO on loopback.
				var retrans int
				if i := strings.Index(second, " bytes_retrans:"); i >= 0 {
					fmt.Sscanf(second[i:], " bytes_retrans:%d", &retrans)
				}
				for _, want := range []string{fmt.Sprintf(" bytes_sent:%d ", 100000+retrans), " bytes_acked:100001 ", " bytes_received:5000 ", " mss:", " cwnd:", " wscale:"} {
					if !strings.Contains(" "+second+" ", want) {
						t.Errorf("%s: %q lacks %q", key, second, want)
					}
				}
			}
		})
	}
	// The congestion control is the namespace's.
	var cong []byte
	ns.Do(t, func() (err error) {
		cong, err = os.ReadFile("/proc/sys/net/ipv4/tcp_congestion_control")
		return err
	})
	got := parseDetails(t, mustRun(t, ns, "ls", "-tniH"))
	if d := got[a.serverKey()]; !slices.Contains(d.Second, strings.TrimSpace(string(cong))) {
		t.Errorf("server end %v: no congestion control %q", d.Second, strings.TrimSpace(string(cong)))
	}
}

// TestLsMemoryMatchesSS requires -m's skmem to equal ss's for quiescent
// TCP and UDP sockets, and the JSON memory object to carry the same values.
func TestLsMemoryMatchesSS(t *testing.T) {
	ns := testnet.New(t)
	idleConns(t, ns, "127.0.0.1")
	ns.Textbook(t, "::1")
	got := agreeWithSS(t, ns, "-tanmH")
	agreeWithSS(t, ns, "-uanmH")
	if len(got) < 10 {
		t.Fatalf("%d TCP sockets, want at least 10", len(got))
	}
	// TIME_WAIT and the orphaned FIN_WAIT2 have an empty second line, as in ss.
	empty := 0
	for _, d := range got {
		if len(d.Second) == 0 {
			empty++
		}
	}
	if empty != 2 {
		t.Errorf("%d sockets without skmem, want 2 (TIME_WAIT and the orphaned FIN_WAIT2)", empty)
	}

	var socks []struct {
		Local  jsonEnd `json:"local"`
		Peer   jsonEnd `json:"peer"`
		Memory *struct {
			RcvBuf uint32 `json:"rcvbuf"`
			SndBuf uint32 `json:"sndbuf"`
		} `json:"memory"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, ns, "ls", "-tanm", "-j")), &socks); err != nil {
		t.Fatal(err)
	}
	for _, s := range socks {
		key := normAddr(t, net.JoinHostPort(s.Local.Addr, fmt.Sprint(s.Local.Port))) + " " + normAddr(t, net.JoinHostPort(s.Peer.Addr, fmt.Sprint(s.Peer.Port)))
		second := got[key].Second
		if s.Memory == nil {
			if len(second) != 0 {
				t.Errorf("%s: no JSON memory, table %v", key, second)
			}
			continue
		}
		if len(second) != 1 || !strings.Contains(second[0], fmt.Sprintf(",rb%d,", s.Memory.RcvBuf)) || !strings.Contains(second[0], fmt.Sprintf(",tb%d,", s.Memory.SndBuf)) {
			t.Errorf("%s: JSON rcvbuf %d sndbuf %d, table %v", key, s.Memory.RcvBuf, s.Memory.SndBuf, second)
		}
	}
}

// TestLsTimersMatchSS requires -o's timers to match ss's by name and count
// (keepalive on Go's connections, timewait on TIME_WAIT, none on a
// listener), and the JSON timer object to name the same timer.
func TestLsTimersMatchSS(t *testing.T) {
	ns := testnet.New(t)
	ln, a, _ := idleConns(t, ns, "127.0.0.1")
	ns.Textbook(t, "127.0.0.1")
	got := agreeWithSS(t, ns, "-tanoH")
	names := map[string]int{}
	for _, d := range got {
		for _, w := range d.Tail {
			if m := timerRE.FindStringSubmatch(w); m != nil {
				names[m[1]]++
			}
		}
	}
	if names["keepalive"] < 4 || names["timewait"] != 2 {
		t.Errorf("timers %v, want keepalive on the 4 idle connection ends and timewait on the 2 TIME_WAIT minisockets", names)
	}
	if tail := got[normAddr(t, ln.Addr().String())+" 0.0.0.0:0"].Tail; len(tail) != 0 {
		t.Errorf("listener: %v, want no timer", tail)
	}

	var socks []struct {
		Local jsonEnd `json:"local"`
		Peer  jsonEnd `json:"peer"`
		Timer *struct {
			Name      string `json:"name"`
			ExpiresMS int64  `json:"expires_ms"`
		} `json:"timer"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, ns, "ls", "-tano", "-j")), &socks); err != nil {
		t.Fatal(err)
	}
	client := a.client.LocalAddr().(*net.TCPAddr)
	for _, s := range socks {
		if s.Local.Port == client.Port && s.Peer.Port == ln.Addr().(*net.TCPAddr).Port {
			if s.Timer == nil || s.Timer.Name != "keepalive" || s.Timer.ExpiresMS <= 0 || s.Timer.ExpiresMS > 15000 {
				t.Errorf("client's JSON timer %+v, want keepalive within Go's 15 s", s.Timer)
			}
			return
		}
	}
	t.Errorf("client %v not in the JSON", client)
}

// TestLsProcesses gives a listener made in a test namespace to a child
// process as its descriptor 3 and requires -p to name the child, its pid
// and that descriptor, as ss -p does, in the table and in JSON.
func TestLsProcesses(t *testing.T) {
	ns := testnet.New(t)
	child := testnet.GiveAway(t, listen(t, ns, "127.0.0.1:0"))
	want := fmt.Sprintf(`users:(("sleep",pid=%d,fd=3))`, child.Process.Pid)

	got := agreeWithSS(t, ns, "-tlnpH")
	if len(got) != 1 {
		t.Fatalf("%d sockets, want the one listener: %v", len(got), got)
	}
	for _, d := range got {
		if !slices.Equal(d.Tail, []string{want}) {
			t.Errorf("process column %q, want %q", d.Tail, want)
		}
	}

	var socks []struct {
		Process []struct {
			PID  int    `json:"pid"`
			Comm string `json:"comm"`
			FD   int    `json:"fd"`
		} `json:"process"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, ns, "ls", "-tlnp", "-j")), &socks); err != nil {
		t.Fatal(err)
	}
	if len(socks) != 1 || len(socks[0].Process) != 1 || socks[0].Process[0].PID != child.Process.Pid ||
		socks[0].Process[0].Comm != "sleep" || socks[0].Process[0].FD != 3 {
		t.Errorf("JSON %+v, want one socket held by sleep, pid %d, fd 3", socks, child.Process.Pid)
	}
}

// TestLsProcessesUnreadable runs ls -p as nobody, who may not read root's
// descriptors, and requires the listing and one line that says how many
// processes were skipped.
func TestLsProcessesUnreadable(t *testing.T) {
	ns := testnet.New(t)
	ln := listen(t, ns, "127.0.0.1:0")
	out, stderr, code := runCLI(t, ns, []string{"SOCKSTATE_AS_UID=65534"}, "ls", "-tlnpH")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if !regexp.MustCompile(`^sockstate: [1-9][0-9]* process(es)? on this host could not be read, so the sockets they hold show no users \(run as root to see them\)\n$`).MatchString(stderr) {
		t.Errorf("stderr %q, want one line counting the processes skipped", stderr)
	}
	if !strings.Contains(out, ln.Addr().String()) || strings.Contains(out, "users:") {
		t.Errorf("stdout %q, want the listener without its (unreadable) owner", out)
	}
}

// nsInodes returns the network namespace of every thread of the test
// process, as the inode of /proc/self/task/*/ns/net.
func nsInodes(t *testing.T) map[uint64]int {
	t.Helper()
	tasks, err := filepath.Glob("/proc/self/task/*/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	inodes := map[uint64]int{}
	for _, p := range tasks {
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // the thread exited
			}
			t.Fatal(err)
		}
		inodes[st.Ino]++
	}
	return inodes
}

// TestLsNetNS lists a test namespace from the test's own with -N and
// --netns, from both sources, and requires exactly what ss run inside it
// lists; -p from outside names the child holding a listener inside.
func TestLsNetNS(t *testing.T) {
	ns, want := settledNS(t)
	ssOut := testnet.ParseTable(t, ns.Run(t, "ss", "-tuanH"), testnet.SSStates, testnet.Columns{})
	if diff := cmp.Diff(want, ssOut); diff != "" {
		t.Fatalf("ss in the namespace (-want +got):\n%s", diff)
	}
	for _, args := range [][]string{
		{"-N", ns.Name}, {"--net", ns.Name}, {"-N" + ns.Name}, {"--netns", ns.Path}, {"--netns=" + ns.Path},
	} {
		for _, source := range []string{"netlink", "proc", "auto"} {
			t.Run(strings.Join(args, " ")+"/"+source, func(t *testing.T) {
				out := mustRun(t, nil, append([]string{"ls", "-tuanH", "--source", source}, args...)...)
				if diff := cmp.Diff(ssOut, testnet.ParseTable(t, out, nil, testnet.Columns{})); diff != "" {
					t.Errorf("ls from outside (-ss +ls):\n%s", diff)
				}
			})
		}
	}

	child := testnet.GiveAway(t, listen(t, ns, "127.0.0.1:0"))
	got := parseDetails(t, mustRun(t, nil, "ls", "-tlnpH", "-N", ns.Name))
	wantUsers := fmt.Sprintf(`users:(("sleep",pid=%d,fd=3))`, child.Process.Pid)
	found := false
	for _, d := range got {
		found = found || slices.Contains(d.Tail, wantUsers)
	}
	if !found {
		t.Errorf("-p from outside: %v, want a listener held by %s", got, wantUsers)
	}
}

// TestLsNetNSLeavesCallerNamespace runs ls in the test process itself
// against another namespace, every way it enters one, and requires every
// thread of the process to be in its own namespace afterwards.
func TestLsNetNSLeavesCallerNamespace(t *testing.T) {
	ns, _ := settledNS(t)
	before := nsInodes(t)
	if len(before) != 1 {
		t.Fatalf("threads in %d namespaces before the test: %v", len(before), before)
	}
	for _, args := range [][]string{
		{"ls", "-tuan", "-N", ns.Name},
		{"ls", "-tuan", "--source", "proc", "--netns", ns.Path},
		{"ls", "-tuanpiem", "-N", ns.Name},
		{"ls", "-s", "-N", ns.Name},
		{"ls", "-s", "--source", "proc", "-N", ns.Name},
	} {
		var stdout, stderr bytes.Buffer
		if code := Run(context.Background(), args, &stdout, &stderr); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr.String())
		}
		if stdout.Len() == 0 {
			t.Errorf("%v printed nothing", args)
		}
		if after := nsInodes(t); !cmp.Equal(slices.Collect(mapKeys(before)), slices.Collect(mapKeys(after))) {
			t.Fatalf("after %v the threads are in %v, before in %v", args, after, before)
		}
	}
}

func mapKeys(m map[uint64]int) func(func(uint64) bool) {
	return func(yield func(uint64) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestLsKill opens two connections and closes one with -K and a filter on
// its client port: ls prints exactly that socket, the peer's read fails
// with ECONNRESET, the other connection still carries data, and ss lists
// neither end of the closed one.
func TestLsKill(t *testing.T) {
	ns := testnet.New(t)
	ln := listen(t, ns, "127.0.0.1:0")
	victim, bystander := dial(t, ns, ln), dial(t, ns, ln)
	port := victim.client.LocalAddr().(*net.TCPAddr).Port

	out := mustRun(t, ns, "ls", "-K", "-tnH", "sport", "=", fmt.Sprintf(":%d", port))
	want := []string{testnet.Want{Netid: "tcp", State: "ESTABLISHED",
		Local: victim.client.LocalAddr().(*net.TCPAddr).AddrPort(), Peer: victim.client.RemoteAddr().(*net.TCPAddr).AddrPort()}.String()}
	if diff := cmp.Diff(want, testnet.ParseTable(t, out, nil, testnet.Columns{Netid: "tcp"})); diff != "" {
		t.Errorf("ls -K printed (-want +got):\n%s", diff)
	}

	if err := victim.server.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := victim.server.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("the peer of the closed socket read %v, want ECONNRESET", err)
	}
	send(t, bystander.client, bystander.server, 1000)
	send(t, bystander.server, bystander.client, 1000)
	left := ns.SS(t, "-tuanH")
	for _, w := range left {
		if strings.Contains(w, fmt.Sprintf(":%d ", port)) || strings.HasSuffix(w, fmt.Sprintf(":%d", port)) {
			t.Errorf("ss still lists %s", w)
		}
	}
	if len(left) != 3 {
		t.Errorf("ss lists %v, want the listener and the other connection's two ends", left)
	}
}

// TestLsKillAll closes every TCP socket of a namespace with --all and no
// expression, and leaves the UDP sockets alone. Go's listener is an MPTCP
// one, which the kernel refuses to close (EINVAL, as ss -K reports too):
// the other sockets are closed all the same, and ls exits 1 with one line
// about the refusal.
func TestLsKillAll(t *testing.T) {
	ns := testnet.New(t)
	ln := listen(t, ns, "127.0.0.1:0")
	c := dial(t, ns, ln)
	var plain net.Listener
	var u net.PacketConn
	ns.Do(t, func() (err error) {
		var lc net.ListenConfig
		lc.SetMultipathTCP(false)
		if plain, err = lc.Listen(context.Background(), "tcp", "127.0.0.1:0"); err != nil {
			return err
		}
		u, err = net.ListenPacket("udp", "127.0.0.1:0")
		return err
	})
	defer plain.Close()
	defer u.Close()
	out, stderr, code := runCLI(t, ns, nil, "ls", "-K", "--all", "-tnH")
	if code != 1 {
		t.Errorf("exit %d, want 1 for the refused MPTCP listener", code)
	}
	wantErr := fmt.Sprintf("sockstate: ls: -K: inspect: destroy: the kernel refused 1 of 4 sockets, the first tcp %v 0.0.0.0:0: netlinkdiag: kernel replied: invalid argument\n", ln.Addr())
	if stderr != wantErr {
		t.Errorf("stderr %q, want %q", stderr, wantErr)
	}
	// Closing one end of the connection resets the other, which is gone
	// (ENOENT) by the time its turn comes: one end is printed.
	closed := testnet.ParseTable(t, out, nil, testnet.Columns{Netid: "tcp"})
	plainWant := "tcp LISTEN " + plain.Addr().String() + " 0.0.0.0:0"
	clientWant := "tcp ESTABLISHED " + c.clientKey()
	serverWant := "tcp ESTABLISHED " + c.serverKey()
	if len(closed) != 2 || !slices.Contains(closed, plainWant) || !slices.Contains(closed, clientWant) && !slices.Contains(closed, serverWant) {
		t.Errorf("ls -K --all -t closed %v, want %q and one end of the connection", closed, plainWant)
	}
	left := ns.SS(t, "-tuanH")
	if len(left) != 2 || !strings.HasPrefix(left[0], "tcp LISTEN "+ln.Addr().String()) || !strings.HasPrefix(left[1], "udp UNCONN") {
		t.Errorf("left %v, want the MPTCP listener and the UDP socket", left)
	}
	if _, err := c.client.Write([]byte("x")); err == nil {
		t.Error("a closed connection's owner could still write")
	}
}

// TestLsKillNeedsCapNetAdmin runs -K as nobody: ls fails at run time with
// one line naming CAP_NET_ADMIN, and the connection lives on.
func TestLsKillNeedsCapNetAdmin(t *testing.T) {
	ns := testnet.New(t)
	ln := listen(t, ns, "127.0.0.1:0")
	c := dial(t, ns, ln)
	port := c.client.LocalAddr().(*net.TCPAddr).Port
	out, stderr, code := runCLI(t, ns, []string{"SOCKSTATE_AS_UID=65534"}, "ls", "-K", "-tnH", fmt.Sprintf("sport = :%d", port))
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if !strings.HasPrefix(stderr, "sockstate: ls: -K: closing sockets needs CAP_NET_ADMIN") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("stderr %q, want one line naming CAP_NET_ADMIN", stderr)
	}
	if out != "" {
		t.Errorf("stdout %q, want nothing closed", out)
	}
	send(t, c.client, c.server, 100)
}

// summaryRE reads ss -s's first two lines.
var summaryRE = regexp.MustCompile(`^Total: (\d+)\nTCP:   (\d+) \(estab (\d+), closed (\d+), orphaned (\d+), timewait (\d+)\)\n`)

// TestLsSummary requires ls -s to print what ss -s prints in the same
// namespace, byte for byte. Some counts move with no change in the
// namespace: TCP's total, closed and orphaned counts are host-wide, and a
// closed socket leaves the "sockets: used" count (Total) only after an RCU
// grace period. So the two run in turn until they agree, a little apart;
// the namespace's established and TIME_WAIT counts must be exact on every
// run.
func TestLsSummary(t *testing.T) {
	ns := testnet.New(t)
	idleConns(t, ns, "127.0.0.1")
	ns.Textbook(t, "127.0.0.1")
	ns.Textbook(t, "::1")

	var last string
	for range 30 {
		time.Sleep(100 * time.Millisecond)
		want := ns.Run(t, "ss", "-s")
		got := mustRun(t, ns, "ls", "-s")
		m := summaryRE.FindStringSubmatch(got)
		if m == nil {
			t.Fatalf("not a summary: %q", got)
		}
		// ESTABLISHED and CLOSE_WAIT: 4 ends of idleConns' connections,
		// and per textbook an established pair and a CLOSE_WAIT. Each
		// textbook has a TIME_WAIT and an orphaned FIN_WAIT2, which the
		// kernel keeps as a timewait socket too.
		if m[3] != "10" || m[6] != "4" {
			t.Fatalf("estab %s timewait %s, want 10 and 4:\n%s", m[3], m[6], got)
		}
		if got == want {
			return
		}
		last = cmp.Diff(want, got)
	}
	t.Fatalf("ls -s never matched ss -s (-ss +ls):\n%s", last)
}
