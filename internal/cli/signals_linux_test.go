package cli

import (
	"bufio"
	"errors"
	"io"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sockstate/sockstate/internal/testnet"
)

// readyBound bounds the wait for a command to reach the stage a case
// signals it at: a race-built child on a loaded machine starts slowly.
const readyBound = 60 * time.Second

// signalCase is a command signalled once a line of its output holds
// ready.
type signalCase struct {
	name  string
	args  []string
	ready string
	// stall stops reading stdout from the ready line until the command
	// has ended, so that it is blocked writing when the signal comes and
	// must end while its reader stays stalled.
	stall bool
	need  string // testnet.Need's what, if any
	code  int
	// stderr, if not "", is the last line wanted on stderr.
	stderr string
}

// TestSignalsEndEveryCommand sends SIGINT and SIGTERM to each subcommand
// at work (ls in a large listing, watch from each source and
// across namespaces, serve, demo at each of its stages) and requires it
// to end with its exit status before the hang guard: watch and serve end
// with 0, having flushed what they saw; an interrupted ls or demo with 1
// and one line saying so.
func TestSignalsEndEveryCommand(t *testing.T) {
	ns := testnet.New(t)
	// 8,000 sockets make a listing of about 800 KiB, far more than a
	// pipe holds: a stalled reader stops ls in the middle.
	openUDP(t, ns, 8000)
	ns.Listen(t, "tcp4", "127.0.0.1:7000")
	cases := []signalCase{
		{name: "ls -uan", args: []string{"ls", "-uan"}, ready: "UNCONN", stall: true, code: 1, stderr: "sockstate: ls: interrupted"},
		{name: "ls -uan -j", args: []string{"ls", "-uan", "-j"}, ready: "udp", stall: true, code: 1, stderr: "sockstate: ls: interrupted"},
		{name: "watch netlink", args: []string{"watch", "-u", "--interval", "10ms", "--source", "netlink"}, ready: "UNCONN", code: 0},
		{name: "watch proc", args: []string{"watch", "-u", "--interval", "10ms", "--source", "proc"}, ready: "UNCONN", code: 0},
		{name: "watch trace", args: []string{"watch", "-t", "--interval", "10ms", "--source", "trace"}, ready: "LISTEN", need: "tracefs", code: 0},
		{name: "watch --all-netns", args: []string{"watch", "-u", "--interval", "10ms", "--all-netns"}, ready: "UNCONN", code: 0},
		{name: "serve", args: []string{"serve", "--listen", "127.0.0.1:0"}, ready: "serving http://", code: 0},
		{name: "serve --transitions", args: []string{"serve", "--listen", "127.0.0.1:0", "--transitions"}, ready: "serving http://", need: "tracefs", code: 0},
	}
	// The demo at each of its stages: after its heading, after each step
	// (in the pause or the call that follows it).
	for _, stage := range []string{"states from", "listen(5)", "bind(127.0.0.1:0)", "connect(", "accept()", `send("hello`, `recv(1024) = "hello`, `send("thank`, `recv(1024) = "thank`, "close()"} {
		cases = append(cases, signalCase{name: "demo " + stage, args: []string{"demo", "--step", "200ms", "--source", "netlink"}, ready: stage, code: 1, stderr: "sockstate: demo: interrupted"})
	}
	self := executable(t)
	for _, c := range cases {
		for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
			t.Run(c.name+"/"+sig.String(), func(t *testing.T) {
				if c.need != "" {
					testnet.Need(t, c.need)
				}
				signalOnce(t, cliCommand(t, ns, self, nil, c.args...), c, sig)
			})
		}
	}
}

// signalOnce starts cmd, sends it sig once c.ready shows on stdout or
// stderr ("" is any byte of stdout), and checks how it ends.
func signalOnce(t *testing.T, cmd *exec.Cmd, c signalCase, sig syscall.Signal) {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderrPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	seen := func(line string) bool {
		if strings.Contains(line, c.ready) {
			once.Do(func() { close(ready) })
			return true
		}
		return false
	}
	var mu sync.Mutex
	var stderr strings.Builder
	var wg sync.WaitGroup
	stderrDone := make(chan struct{})
	wg.Add(2)
	go func() {
		defer wg.Done()
		r := bufio.NewReader(stdout)
		for {
			line, err := r.ReadString('\n')
			if seen(line) && c.stall {
				<-release
			}
			if err != nil {
				io.Copy(io.Discard, r)
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		defer close(stderrDone)
		r := bufio.NewReader(stderrPipe)
		for {
			line, err := r.ReadString('\n')
			mu.Lock()
			stderr.WriteString(line)
			mu.Unlock()
			if c.ready != "" {
				seen(line)
			}
			if err != nil {
				return
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(readyBound):
		cmd.Process.Kill()
		close(release)
		wg.Wait()
		cmd.Wait()
		t.Fatalf("%q never showed in %v; stderr %q", c.ready, readyBound, stderr.String())
	}
	// ip netns exec execs the program: the pid is sockstate's.
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	guard := time.AfterFunc(hangGuard, func() { cmd.Process.Kill() })
	if c.stall {
		// Its stderr closes when it ends. Released earlier, the reader
		// would let a command that has not yet seen the signal finish
		// its output and end with 0.
		<-stderrDone
	}
	close(release)
	wg.Wait()
	err = cmd.Wait()
	if !guard.Stop() {
		t.Fatalf("%v did not end it within %v", sig, hangGuard)
	}
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if code != c.code {
		t.Errorf("exit %d (%v), want %d; stderr %q", code, err, c.code, stderr.String())
	}
	lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
	if c.stderr != "" && lines[len(lines)-1] != c.stderr {
		t.Errorf("stderr %q, want it to end with %q", stderr.String(), c.stderr)
	}
}
