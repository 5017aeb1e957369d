package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/sockstate/sockstate/internal/testnet"
)

// hangGuard is how long a command the tests below expect to end at once
// may run before it is interrupted, and then how long it has to end after
// SIGINT before it is killed and the test fails: a guard against a hang,
// not a measure of speed (a race-built trace watch spends seconds loading
// its program on a loaded machine).
const hangGuard = 5 * time.Second

// result is how a run of the CLI ended.
type result struct {
	stdout, stderr string
	code           int
	// hung is set when the run outlived hangGuard, then ignored SIGINT
	// for as long again, and was killed.
	hung bool
}

// runIn runs the test binary as sockstate inside ns, with stdout to out
// when out is not nil: interrupted (SIGINT) if it outlives hangGuard, and
// killed if it outlives it again after that. The race detector's second
// of sleep at exit is turned off: it would only slow the runs.
func runIn(t *testing.T, ns *testnet.NS, out *os.File, args ...string) result {
	t.Helper()
	// ip netns exec execs sockstate in its own place, so the signal
	// reaches it.
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns.Name, executable(t)}, args...)...)
	cmd.Env = childEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if out != nil {
		cmd.Stdout = out
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	hung := false
	select {
	case err = <-done:
	case <-time.After(hangGuard):
		cmd.Process.Signal(syscall.SIGINT)
		select {
		case err = <-done:
		case <-time.After(hangGuard):
			hung = true
			cmd.Process.Kill()
			err = <-done
		}
	}
	r := result{stdout: stdout.String(), stderr: stderr.String(), hung: hung}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil && !hung:
		t.Fatal(err)
	}
	return r
}

// fixture is a namespace's live sockets, on fixed ports of the test's own
// namespace: a listener on 127.0.0.1:7001 (plain TCP: the kernel refuses
// to destroy Go's default MPTCP listener), two connections to it from
// ports 7101 and 7102,
// a UDP socket bound to 127.0.0.1:7000 and a UDP socket connected to it.
type fixture struct {
	ln      *net.TCPListener
	closers []io.Closer
}

func openFixture(t *testing.T, ns *testnet.NS) *fixture {
	t.Helper()
	f := &fixture{}
	ns.Do(t, func() error {
		var lc net.ListenConfig
		lc.SetMultipathTCP(false)
		l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:7001")
		if err != nil {
			return err
		}
		f.ln = l.(*net.TCPListener)
		f.closers = append(f.closers, l)
		for i := range 2 {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 7101 + i}}
			c, err := d.Dial("tcp", l.Addr().String())
			if err != nil {
				return err
			}
			f.closers = append(f.closers, c)
			s, err := l.Accept()
			if err != nil {
				return err
			}
			f.closers = append(f.closers, s)
		}
		// A port named, not chosen by the kernel: a UDP socket the kernel
		// aborts keeps only a port it was bound to by name.
		u, err := net.ListenPacket("udp", "127.0.0.1:7000")
		if err != nil {
			return err
		}
		f.closers = append(f.closers, u)
		uc, err := net.Dial("udp", u.LocalAddr().String())
		if err != nil {
			return err
		}
		f.closers = append(f.closers, uc)
		return nil
	})
	t.Cleanup(f.close)
	return f
}

// close closes the fixture's sockets, the connections with a reset, so
// that no TIME_WAIT stays behind and the ports may be bound again at once.
func (f *fixture) close() {
	for _, c := range f.closers {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		c.Close()
	}
	f.closers = nil
}

// oneLine reports whether s is exactly one line from sockstate.
func oneLine(s string) bool {
	return strings.Count(s, "\n") == 1 && strings.HasSuffix(s, "\n") && strings.HasPrefix(s, "sockstate: ")
}

// TestKillEmptyForms gives -K, in a namespace with live connections, every
// empty and blank form of what would name its target: an empty or blank
// expression, and an empty namespace flag beside --all. Each is a usage
// error, exit 2 with one line, and ss shows every socket still there.
func TestKillEmptyForms(t *testing.T) {
	ns := testnet.New(t)
	f := openFixture(t, ns)
	before := ns.SS(t, "-tuanH")
	if len(before) != 7 {
		t.Fatalf("ss lists %v, want the fixture's 7 sockets", before)
	}
	refusal := "sockstate: ls: -K closes every socket listed; give a filter expression such as 'dport = :8080' to choose them, or --all to close them all\n"
	for _, tt := range []struct {
		name string
		args []string
		want string // the line on stderr; "" for any one line
	}{
		{"empty expression", []string{"ls", "-K", ""}, refusal},
		{"blank expression", []string{"ls", "-K", " "}, refusal},
		{"tab expression", []string{"ls", "-K", "\t"}, refusal},
		{"blank words", []string{"ls", "-K", "-tu", "", " ", "\t  "}, refusal},
		{"state and a blank", []string{"ls", "-K", "state", "established", " "}, refusal},
		{"no expression", []string{"ls", "-K"}, refusal},
		{"--netns=", []string{"ls", "-K", "--all", "--netns="}, "sockstate: ls: flag --netns has an empty value; give one\n"},
		{"--netns ''", []string{"ls", "-K", "--all", "--netns", ""}, "sockstate: ls: flag --netns has an empty value; give one\n"},
		{"--netns ' '", []string{"ls", "-K", "--all", "--netns", " "}, "sockstate: ls: flag --netns has an empty value; give one\n"},
		{"-N ''", []string{"ls", "-K", "--all", "-N", ""}, "sockstate: ls: flag -N has an empty value; give one\n"},
		{"-N '\\t'", []string{"ls", "-K", "--all", "-N", "\t"}, "sockstate: ls: flag -N has an empty value; give one\n"},
		{"--net=", []string{"ls", "-K", "--all", "--net="}, "sockstate: ls: flag --net has an empty value; give one\n"},
		{"--net ''", []string{"ls", "--all", "-K", "--net", ""}, "sockstate: ls: flag --net has an empty value; give one\n"},
		{"-KN ''", []string{"ls", "--all", "-tuKN", ""}, "sockstate: ls: flag -N has an empty value; give one\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := runIn(t, ns, nil, tt.args...)
			if r.hung || r.code != 2 {
				t.Errorf("exit %d (hung %v), want 2", r.code, r.hung)
			}
			if r.stderr != tt.want {
				t.Errorf("stderr %q, want %q", r.stderr, tt.want)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing", r.stdout)
			}
			if diff := cmp.Diff(before, ns.SS(t, "-tuanH")); diff != "" {
				t.Fatalf("sockets changed (-before +after):\n%s", diff)
			}
		})
	}
	// Blank words beside an expression naming the listener close it and
	// nothing else: the refusals above are not a -K that never works.
	lnAddr := f.ln.Addr().(*net.TCPAddr)
	r := runIn(t, ns, nil, "ls", "-K", "-l", "-tH", "", fmt.Sprintf("sport = :%d", lnAddr.Port), " ")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("ls -K with an expression: exit %d, stderr %q", r.code, r.stderr)
	}
	want := slices.DeleteFunc(slices.Clone(before), func(s string) bool { return s == "tcp LISTEN "+lnAddr.String()+" 0.0.0.0:0" })
	if len(want) != len(before)-1 {
		t.Fatalf("ss never listed the listener %v: %v", lnAddr, before)
	}
	if diff := cmp.Diff(want, ns.SS(t, "-tuanH")); diff != "" {
		t.Errorf("after ls -K sport = :%d (-want +got):\n%s", lnAddr.Port, diff)
	}
}

// TestEmptyNamespaceValues requires exit 2 for an empty namespace value
// without -K too, and for every subcommand: an empty value is no value.
func TestEmptyNamespaceValues(t *testing.T) {
	ns := testnet.New(t)
	for _, args := range [][]string{
		{"ls", "-N", ""}, {"ls", "--net="}, {"ls", "--net", " "}, {"ls", "--netns="}, {"ls", "--netns", ""},
		{"ls", "-tanN", ""}, {"ls", "--source="}, {"watch", "--source", ""}, {"watch", "--interval="},
		{"demo", "--addr", ""}, {"demo", "--closer="},
	} {
		r := runIn(t, ns, nil, args...)
		if r.hung || r.code != 2 || !oneLine(r.stderr) || !strings.Contains(r.stderr, "has an empty value") {
			t.Errorf("%q: exit %d (hung %v), stderr %q; want 2 and one line about the empty value", args, r.code, r.hung, r.stderr)
		}
	}
}

// TestNetNSNotANamespace points --netns at files that are not namespaces,
// among them those whose open(2) blocks or has effects when opened for
// reading: each is refused at once, exit 2 with one line. So is a name
// too long for a file name.
func TestNetNSNotANamespace(t *testing.T) {
	ns := testnet.New(t)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"FIFO", []string{"ls", "-tan", "--netns", fifo}},
		{"FIFO with -K --all", []string{"ls", "-K", "--all", "--netns", fifo}},
		{"socket file", []string{"ls", "-tan", "--netns", sock}},
		{"directory", []string{"ls", "-tan", "--netns", dir}},
		{"/dev/zero", []string{"ls", "-tan", "--netns", "/dev/zero"}},
		{"a user namespace", []string{"ls", "-tan", "--netns", "/proc/self/ns/user"}},
		{"a 300-byte name", []string{"ls", "-tan", "-N", strings.Repeat("n", 300)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := runIn(t, ns, nil, tt.args...)
			if r.hung || r.code != 2 || !oneLine(r.stderr) || len(r.stderr) > 200 {
				t.Errorf("exit %d (hung %v), stderr %q; want 2 and one short line", r.code, r.hung, r.stderr)
			}
		})
	}
}

// TestNetNSNeedsSysAdmin runs ls -N NAME as nobody: one line saying that
// entering a namespace needs CAP_SYS_ADMIN, exit 1.
func TestNetNSNeedsSysAdmin(t *testing.T) {
	ns := testnet.New(t)
	_, stderr, code := runCLI(t, nil, []string{"SOCKSTATE_AS_UID=65534"}, "ls", "-tan", "-N", ns.Name)
	want := fmt.Sprintf("sockstate: ls: netns %q: entering a network namespace needs CAP_SYS_ADMIN (run as root)\n", ns.Name)
	if code != 1 || stderr != want {
		t.Errorf("exit %d, stderr %q; want 1 and %q", code, stderr, want)
	}
}

// TestKillUDPSaysAborted closes UDP sockets with -K: ls says they were
// aborted, not closed, and the bound one is still there, as ss shows.
func TestKillUDPSaysAborted(t *testing.T) {
	ns := testnet.New(t)
	f := openFixture(t, ns)
	r := runIn(t, ns, nil, "ls", "-K", "--all", "-uH")
	want := "sockstate: ls: -K: 2 UDP sockets were aborted, not closed: their owners' next calls fail with ECONNABORTED, and one bound to a port it named stays bound until its owner closes it\n"
	if r.code != 0 || r.stderr != want {
		t.Errorf("exit %d, stderr %q; want 0 and %q", r.code, r.stderr, want)
	}
	var bound []string
	for _, s := range ns.SS(t, "-tuanH") {
		if strings.HasPrefix(s, "udp ") {
			bound = append(bound, s)
		}
	}
	u := f.closers[len(f.closers)-2].(net.PacketConn)
	if want := []string{"udp UNCONN " + u.LocalAddr().String() + " 0.0.0.0:0"}; !slices.Equal(bound, want) {
		t.Errorf("ss lists UDP %v, want %v", bound, want)
	}
}

// fullFile returns a file for writing on a small tmpfs the test mounts and
// fills, so that every write to it fails with ENOSPC; the tmpfs is
// unmounted when the test ends.
func fullFile(t *testing.T) *os.File {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=64k"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	fill, err := os.Create(filepath.Join(dir, "fill"))
	if err != nil {
		t.Fatal(err)
	}
	block := make([]byte, 4096)
	for i := 0; ; i++ {
		if i > 64 {
			t.Fatal("a 64 KiB tmpfs took more than 64 blocks of 4 KiB")
		}
		if _, err = fill.Write(block); err != nil {
			break
		}
	}
	fill.Close()
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("filling the tmpfs: %v, want ENOSPC", err)
	}
	out, err := os.Create(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close() })
	return out
}

// TestDemoWriteFails runs the demo, with each source, as text and as JSON,
// into /dev/full and into a full tmpfs: each ends with exit 1 and one line
// saying the timeline could not be written, never hangs.
func TestDemoWriteFails(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer full.Close()
	tmpfs := fullFile(t)
	for _, out := range []struct {
		name string
		f    *os.File
	}{{"/dev/full", full}, {"full tmpfs", tmpfs}} {
		for _, source := range []string{"auto", "trace", "netlink", "proc"} {
			for _, format := range [][]string{nil, {"-j"}} {
				name := fmt.Sprintf("%s/%s/%q", out.name, source, format)
				t.Run(name, func(t *testing.T) {
					ns := testnet.New(t)
					args := append([]string{"demo", "--step", "10ms", "--source", source}, format...)
					r := runIn(t, ns, out.f, args...)
					if r.hung || r.code != 1 {
						t.Errorf("exit %d (hung %v), want 1", r.code, r.hung)
					}
					if !oneLine(r.stderr) || !strings.Contains(r.stderr, "demo: writing the timeline: ") || !strings.Contains(r.stderr, "no space left on device") {
						t.Errorf("stderr %q, want one line saying the timeline could not be written", r.stderr)
					}
				})
			}
		}
	}
}

// TestDemoSignals interrupts the demo mid-run with SIGINT and SIGTERM. Its
// steps are 10 s apart, so that a run that ends before hangGuard ended
// because of the signal: exit 1 with one line saying it was interrupted.
func TestDemoSignals(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			ns := testnet.New(t)
			ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
			defer cancel()
			cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns.Name, executable(t), "demo", "--step", "10s", "--source", "netlink")
			cmd.Env = childEnv()
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// The first line is written once the demo has begun.
			if _, err := io.ReadFull(stdout, make([]byte, 1)); err != nil {
				t.Fatalf("demo wrote nothing: %v", err)
			}
			// ip netns exec execs the program: the pid is the demo's.
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			go io.Copy(io.Discard, stdout)
			err = cmd.Wait()
			if ctx.Err() != nil {
				t.Fatalf("the demo outlived %v after %v", hangGuard, sig)
			}
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Errorf("ended with %v, want exit 1", err)
			}
			if want := "sockstate: demo: interrupted\n"; stderr.String() != want {
				t.Errorf("stderr %q, want %q", stderr.String(), want)
			}
		})
	}
}

// TestClosedStdoutExitsZero is `ls -tan -j | head -1`, `watch -j | head
// -1` and `demo | head -1`: each ends with exit 0 and nothing on stderr
// but the line where watch names its source (not killed by SIGPIPE).
func TestClosedStdoutExitsZero(t *testing.T) {
	ns := testnet.New(t)
	// 2,000 sockets make a listing of more than a pipe holds, so ls is
	// still writing when head goes.
	openUDP(t, ns, 2000)
	self := executable(t)
	for _, line := range []string{
		"ls -uan -j", "ls -tan -j", "watch -j --interval 10ms", "demo --step 10ms",
	} {
		t.Run(line, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*hangGuard)
			defer cancel()
			script := fmt.Sprintf(`ip netns exec %s %s %s | head -1 >/dev/null; s=("${PIPESTATUS[@]}"); echo "${s[0]} ${s[1]}"`, ns.Name, self, line)
			cmd := exec.CommandContext(ctx, "bash", "-c", script)
			cmd.Env = childEnv()
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if ctx.Err() != nil {
				t.Fatalf("%s | head -1 outlived %v", line, 2*hangGuard)
			}
			if err != nil {
				t.Fatalf("bash: %v: %s", err, stderr.String())
			}
			if got := strings.TrimSpace(string(out)); got != "0 0" {
				t.Errorf("exit statuses %q, want \"0 0\" (141 is death by SIGPIPE)", got)
			}
			if rest := withoutSourceLine(stderr.String()); rest != "" {
				t.Errorf("stderr %q, want nothing but watch's source line", stderr.String())
			}
		})
	}
}
