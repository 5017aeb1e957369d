//go:build linux

package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/internal/testnet"
	"github.com/sockstate/sockstate/internal/tunlink"
	"github.com/sockstate/sockstate/netns"
)

// rttCause names what must come before a state in the ladder of demo
// --rtt: "step ACTOR TEXT" for a state the socket enters by a call, or a
// packet as wantLadder writes it, sender, flags and relative numbers, for
// one it enters on receiving it (a server state: the packet as it left
// the client, whose device is captured).
type rttCause struct{ state, cause string }

// rttCauses returns, for closer, each state of the connection's ends that
// the textbook prescribes, with its cause, in the order the sockets enter
// them; three drops FIN_WAIT2, which a three-packet close passes through
// in no time.
func rttCauses(closer string, three bool) []rttCause {
	a, p := "server conn", "client" // the active and passive closers' sockets
	as, ps := "server", "client"    // and their packets' senders
	aSeq, pSeq := "12", "22"
	if closer == "client" {
		a, p, as, ps = p, a, ps, as
		aSeq, pSeq = pSeq, aSeq
	}
	inc := map[string]string{"12": "13", "22": "23"}
	cs := []rttCause{
		{"client SYN_SENT", "step client connect(10.77.0.1:7788)"},
		{"server conn SYN_RECV", "client SYN 0 0 0"},
		{"client ESTABLISHED", "server SYN,ACK 0 1 0"},
		{"server conn ESTABLISHED", "client ACK 1 1 0"},
		{a + " FIN_WAIT1", "step " + as + " close()"},
		{p + " CLOSE_WAIT", as + " FIN,ACK " + aSeq + " " + pSeq + " 0"},
		{a + " FIN_WAIT2", ps + " ACK " + pSeq + " " + inc[aSeq] + " 0"},
		{p + " LAST_ACK", "step " + ps + " close()"},
		{a + " TIME_WAIT", ps + " FIN,ACK " + pSeq + " " + inc[aSeq] + " 0"},
		{p + " gone", as + " ACK " + inc[aSeq] + " " + inc[pSeq] + " 0"},
	}
	if three {
		cs = slices.DeleteFunc(cs, func(c rttCause) bool { return strings.HasSuffix(c.state, "FIN_WAIT2") })
	}
	return cs
}

// TestDemoRTT runs demo --rtt 40ms polling sock_diag, for each closer,
// and requires every state of the textbook observed, none passed
// through, even those that last a round trip (SYN_SENT, SYN_RECV,
// FIN_WAIT1, LAST_ACK); the textbook's packets exactly; each state after
// its cause in the ladder; the pcapng as tshark reads it; and nothing
// left behind.
func TestDemoRTT(t *testing.T) {
	testnet.Need(t, "root")
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Fatalf("tshark (apt-get install tshark): %v", err)
	}
	for _, closer := range []string{"server", "client"} {
		t.Run(closer, func(t *testing.T) {
			before := namedNetNS(t)
			file := filepath.Join(t.TempDir(), "rtt.pcapng")
			out, stderr, code := rttDemo(t, "demo", "-j", "--rtt", "40ms", "--step", "100ms", "--source", "netlink", "--closer", closer, "--pcap", file)
			if code != 0 || stderr != "" {
				t.Fatalf("exit %d, stderr %q, stdout:\n%s", code, stderr, out)
			}
			lines := decodeLines[ladderLine](t, out)
			if !strings.Contains(lines[1].Text, "across a link with a round trip of 40ms: the server at 10.77.0.1 and the client at 10.77.0.2") {
				t.Errorf("second line %+v, want the link", lines[1])
			}
			var packets []pkt
			var states []string
			at := map[string]int{} // the first line of each cause, and of each state
			for i, l := range lines {
				var key string
				switch l.Type {
				case "packet":
					packets = append(packets, pkt{l.seg(), causedString(l.Caused)})
					key = l.seg()
				case "step":
					key = "step " + l.Actor + " " + l.Text
				case "state":
					if l.Observed == nil || !*l.Observed {
						t.Errorf("line %d: %s %s passed through, not observed", i, l.Socket, l.State)
					}
					key = l.Socket + " " + l.State
					if l.Socket != "listener" {
						states = append(states, key)
					}
				}
				if _, ok := at[key]; !ok && key != "" {
					at[key] = i
				}
			}
			three := len(packets) == 10
			want := wantLadder(closer, three)
			for i := range want {
				want[i].Caused = ""
			}
			if diff := cmp.Diff(want, packets); diff != "" {
				t.Errorf("packets (-want +got):\n%s", diff)
			}
			causes := rttCauses(closer, three)
			var wantStates []string
			for _, c := range causes {
				wantStates = append(wantStates, c.state)
			}
			// Each socket's states in its own order: the two sockets'
			// interleave as the polls saw them.
			for _, sock := range []string{"client ", "server conn "} {
				own := func(s string) bool { return !strings.HasPrefix(s, sock) }
				w, g := slices.DeleteFunc(slices.Clone(wantStates), own), slices.DeleteFunc(slices.Clone(states), own)
				if diff := cmp.Diff(w, g); diff != "" {
					t.Errorf("%sstates (-want +got):\n%s", sock, diff)
				}
			}
			for _, c := range causes {
				cause, ok := at[c.cause]
				if !ok {
					t.Errorf("no %q, the cause of %s", c.cause, c.state)
					continue
				}
				if state, ok := at[c.state]; ok && state < cause {
					t.Errorf("%s at line %d, before its cause %q at line %d", c.state, state, c.cause, cause)
				}
			}
			checkTshark(t, tshark, file, want)
			if after := namedNetNS(t); !slices.Equal(before, after) {
				t.Errorf("named namespaces %v before, %v after", before, after)
			}
		})
	}
}

// rttDemo runs the demo with args in a new namespace each attempt, up to
// three times while it fails naming states it did not observe: a state
// that lasts a round trip of 40 ms is missed when no poll runs in that
// time, which a machine loaded far beyond its cores (the whole suite
// beside other work) can do. Every other failure, and three misses in a
// row, is returned as it is.
func rttDemo(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		stdout, stderr, code = sockstate(t, testnet.New(t), args...)
		if code == 0 || attempt == 3 || !strings.HasPrefix(stderr, "sockstate: demo: not observed: ") {
			return stdout, stderr, code
		}
		t.Logf("attempt %d: %s", attempt, strings.TrimSpace(stderr))
	}
}

// namedNetNS lists /run/netns but for the test namespaces of testnet,
// which tests running beside this one make and remove.
func namedNetNS(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir("/run/netns")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "sockstate-test-") {
			names = append(names, e.Name())
		}
	}
	return names
}

// TestDemoRTTBadInput: --rtt's usage errors are one line and exit 2, and
// as nobody --rtt is refused in one line, exit 1, before anything is made.
func TestDemoRTTBadInput(t *testing.T) {
	testnet.Need(t, "root")
	ns := testnet.New(t)
	for _, c := range []struct{ value, want string }{
		{"-5ms", "sockstate: demo: --rtt -5ms: want at least 1ms\n"},
		{"0", "sockstate: demo: --rtt 0: want at least 1ms\n"},
		{"abc", "sockstate: demo: --rtt \"abc\": not a duration such as 100ms or 2s\n"},
	} {
		out, stderr, code := sockstate(t, ns, "demo", "--rtt", c.value)
		if code != 2 || out != "" || stderr != c.want {
			t.Errorf("--rtt %s: exit %d, stdout %q, stderr %q; want 2 and %q", c.value, code, out, stderr, c.want)
		}
	}
	out, stderr, code := sockstate(t, ns, "demo", "--rtt", "40ms", "--source", "trace")
	if want := "sockstate: demo: --rtt polls the two namespaces: use --source netlink or proc, not trace\n"; code != 2 || out != "" || stderr != want {
		t.Errorf("--rtt with trace: exit %d, stdout %q, stderr %q; want 2 and %q", code, out, stderr, want)
	}

	bin := testnet.CopyForAll(t)
	cmd := cliCommand(t, ns, bin, []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"}, "demo", "--rtt", "40ms")
	cmd.Dir = filepath.Dir(bin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	const refused = "sockstate: demo: --rtt makes two network namespaces, which needs root: run as root (tunlink: making a network namespace: unshare: operation not permitted)\n"
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || o.String() != "" || e.String() != refused {
		t.Errorf("--rtt as nobody: %v, stdout %q, stderr %q; want exit 1 and %q", err, o.String(), e.String(), refused)
	}
}

// TestDemoRTTInterrupted interrupts demo --rtt once its namespaces exist:
// it ends with one line, exit 1, and its namespaces are gone: no process
// is in one and no descriptor or mount holds one.
func TestDemoRTTInterrupted(t *testing.T) {
	testnet.Need(t, "root")
	ns := testnet.New(t)
	cmd := cliCommand(t, ns, executable(t), nil, "demo", "--rtt", "40ms", "--step", "2s", "--source", "netlink")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The heading comes once the link is made and the demo runs.
	if _, err := bufio.NewReader(stdout).ReadString('\n'); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("no heading: %v, stderr %q", err, stderr.String())
	}
	held := netNSHeld(t, cmd.Process.Pid)
	if len(held) != 2 {
		t.Errorf("the demo holds namespaces %v, want its two", held)
	}
	// The demo alone holds its namespaces, so they end with it.
	requireOnlyHolder(t, cmd.Process.Pid, held)
	// The client's namespace, held past the demo's end, shows its device
	// removed with the descriptor.
	client := openHeld(t, cmd.Process.Pid, tunlink.ClientDev)
	defer client.Close()
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || stderr.String() != "sockstate: demo: interrupted\n" {
		t.Errorf("interrupted demo: %v, stderr %q; want exit 1 and the one line", err, stderr.String())
	}
	if err := netns.Do(int(client.Fd()), func() error {
		_, err := net.InterfaceByName(tunlink.ClientDev)
		return err
	}); err == nil {
		t.Errorf("%s still there after the demo ended", tunlink.ClientDev)
	}
}

// openHeld opens the namespace of pid's descriptors that holds device
// dev.
func openHeld(t *testing.T, pid int, dev string) *os.File {
	t.Helper()
	dir := filepath.Join("/proc", strconv.Itoa(pid), "fd")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		link, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil || !strings.HasPrefix(link, "net:[") {
			continue
		}
		f, err := netns.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		if netns.Do(int(f.Fd()), func() error {
			_, err := net.InterfaceByName(dev)
			return err
		}) == nil {
			return f
		}
		f.Close()
	}
	t.Fatalf("no namespace of process %d holds %s", pid, dev)
	return nil
}

// TestDemoRTTLeavesNothing runs demo --rtt in this process, once to the
// end and once with a --pcap that cannot be written, an error after the
// link is made (exit 1, one line): after each, every namespace descriptor
// the link opened is closed, so its namespaces are gone.
func TestDemoRTTLeavesNothing(t *testing.T) {
	testnet.Need(t, "root")
	before := netNSHeld(t, os.Getpid())
	var out, errb bytes.Buffer
	if code := Run(context.Background(), []string{"demo", "--rtt", "10ms", "--step", "30ms", "--source", "netlink", "--no-capture"}, &out, &errb); code != 0 && !strings.HasPrefix(errb.String(), "sockstate: demo: not observed: ") {
		t.Errorf("exit %d, stderr %q", code, errb.String())
	}
	if !strings.Contains(out.String(), "across a link with a round trip of 10ms") {
		t.Errorf("no link in the timeline:\n%s", out.String())
	}
	if after := netNSHeld(t, os.Getpid()); !slices.Equal(before, after) {
		t.Errorf("after a run, namespace descriptors %v, %v before", after, before)
	}
	out.Reset()
	errb.Reset()
	code := Run(context.Background(), []string{"demo", "--rtt", "40ms", "--source", "netlink", "--pcap", filepath.Join(t.TempDir(), "missing", "x.pcapng")}, &out, &errb)
	if code != 1 || out.String() != "" || !strings.HasPrefix(errb.String(), "sockstate: demo: --pcap ") || strings.Count(errb.String(), "\n") != 1 {
		t.Errorf("exit %d, stdout %q, stderr %q; want 1 and one line about --pcap", code, out.String(), errb.String())
	}
	if after := netNSHeld(t, os.Getpid()); !slices.Equal(before, after) {
		t.Errorf("namespace descriptors %v before, %v after", before, after)
	}
}

// netNSHeld lists the network namespaces (net:[INODE]) that pid holds
// descriptors of, but for the one it is in.
func netNSHeld(t *testing.T, pid int) []string {
	t.Helper()
	own, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "ns", "net"))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("/proc", strconv.Itoa(pid), "fd")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var held []string
	for _, e := range entries {
		link, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue // closed since the listing
		}
		if strings.HasPrefix(link, "net:[") && link != own {
			held = append(held, link)
		}
	}
	slices.Sort(held)
	return slices.Compact(held)
}

// requireOnlyHolder fails t if a process of this machine other than pid
// is in, or holds a descriptor of, one of the live namespaces named
// (net:[INODE]), or a mount (ip netns's /run/netns) holds one.
func requireOnlyHolder(t *testing.T, pid int, names []string) {
	t.Helper()
	procs, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range procs {
		if p.Name()[0] < '0' || p.Name()[0] > '9' || p.Name() == strconv.Itoa(pid) {
			continue
		}
		links := []string{filepath.Join("/proc", p.Name(), "ns", "net")}
		fds, _ := os.ReadDir(filepath.Join("/proc", p.Name(), "fd"))
		for _, fd := range fds {
			links = append(links, filepath.Join("/proc", p.Name(), "fd", fd.Name()))
		}
		for _, l := range links {
			if target, err := os.Readlink(l); err == nil && slices.Contains(names, target) {
				t.Errorf("%s is %s, the demo's too", l, target)
			}
		}
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(mounts), "\n") {
		for _, n := range names {
			if strings.Contains(line, n) {
				t.Errorf("a mount holds %s, the demo's: %s", n, line)
			}
		}
	}
}
