package cli

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sockstate/sockstate/internal/testnet"
)

// watchProc is `sockstate watch` running inside a test's namespace, its
// output read line by line.
type watchProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	stderr bytes.Buffer
	lines  chan string
	got    []string
	// wantStderr is what stop requires on stderr: nothing unless set.
	wantStderr string
}

// startWatch runs sockstate with args (watch and its flags) inside ns, or
// in the host's namespace when ns is nil.
func startWatch(t *testing.T, ns *testnet.NS, args ...string) *watchProc {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	w := &watchProc{t: t, lines: make(chan string, 100)}
	if ns != nil {
		w.cmd = exec.Command("ip", append([]string{"netns", "exec", ns.Name, self}, args...)...)
	} else {
		w.cmd = exec.Command(self, args...)
	}
	w.cmd.Env = childEnv()
	w.cmd.Stderr = &w.stderr
	pipe, err := w.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if w.cmd.ProcessState == nil {
			w.cmd.Process.Kill()
			w.cmd.Wait()
		}
	})
	go func() {
		defer close(w.lines)
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			w.lines <- sc.Text()
		}
	}()
	return w
}

// waitFor reads lines until one holds every one of parts, at most five
// seconds, and fails the test if none does.
func (w *watchProc) waitFor(parts ...string) {
	w.t.Helper()
	has := func(l string) bool {
		for _, p := range parts {
			if !strings.Contains(l, p) {
				return false
			}
		}
		return true
	}
	deadline := time.After(5 * time.Second)
	for !slices.ContainsFunc(w.got, has) {
		select {
		case l, ok := <-w.lines:
			if !ok {
				w.t.Fatalf("watch ended before a line with %q; stderr %q; lines:\n%s", parts, w.stderr.String(), strings.Join(w.got, "\n"))
			}
			w.got = append(w.got, l)
		case <-deadline:
			w.t.Fatalf("no line with %q in 5s; lines:\n%s", parts, strings.Join(w.got, "\n"))
		}
	}
}

// stop interrupts watch as a terminal's ^C does, requires exit 0 and
// wantStderr on stderr, and returns every line it wrote.
func (w *watchProc) stop() string {
	w.t.Helper()
	if err := w.cmd.Process.Signal(syscall.SIGINT); err != nil {
		w.t.Fatal(err)
	}
	for l := range w.lines {
		w.got = append(w.got, l)
	}
	if err := w.cmd.Wait(); err != nil {
		w.t.Fatalf("watch after SIGINT: %v, stderr %q", err, w.stderr.String())
	}
	if w.stderr.String() != w.wantStderr {
		w.t.Errorf("stderr %q, want %q", w.stderr.String(), w.wantStderr)
	}
	return strings.Join(w.got, "\n") + "\n"
}
