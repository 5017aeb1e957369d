package trace

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/internal/testnet"
)

// TestUnprivileged runs Open in the test binary under setpriv: as nobody,
// and as root without CAP_PERFMON (and CAP_SYS_ADMIN, which covers it).
// Each must fail with one line that names what is missing.
func TestUnprivileged(t *testing.T) {
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Fatalf("setpriv (util-linux) is needed: %v", err)
	}
	// A copy of the test binary that nobody may run: go test's build
	// directory is root's alone.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "sockstate-trace-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "trace.test")
	src, err := os.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		setpriv []string
		want    string
	}{
		{
			name:    "nobody",
			setpriv: []string{"--reuid=65534", "--regid=65534", "--clear-groups"},
			want:    "trace: loading the eBPF program needs CAP_BPF and CAP_PERFMON (run as root): operation not permitted",
		},
		{
			name:    "root without CAP_PERFMON",
			setpriv: []string{"--bounding-set=-perfmon,-sys_admin", "--inh-caps=-perfmon,-sys_admin"},
			want:    "trace: loading the eBPF program needs CAP_PERFMON (run as root): operation not permitted",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command("setpriv", append(tt.setpriv, bin, "-test.run=^$")...)
			cmd.Env = append(os.Environ(), helperEnv+"=open")
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("setpriv %s: %v: %s", strings.Join(tt.setpriv, " "), err, out)
			}
			if got := strings.TrimSpace(string(out)); got != tt.want {
				t.Errorf("Open: %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestLoss overflows a one-page ring buffer while nobody reads it, then
// requires that every transition is either read or counted as lost, and
// that the Tracer goes on after the loss.
func TestLoss(t *testing.T) {
	ns := testnet.New(t)
	tr := open(t, ns, Options{RingSize: os.Getpagesize()})
	// Tracepoint transitions of a conversation: listener 2, client 5,
	// server 5.
	const burst, perConversation = 20, 12
	ns.Do(t, func() error {
		for range burst {
			if _, err := converse("127.0.0.1", 0, serverFirst); err != nil {
				return err
			}
		}
		return nil
	})
	r := startReader(t, tr)

	// What fitted, then the loss report: the idle check finds the drops
	// within a quarter of a second.
	read, reports := 0, 0
	var reported uint64
	deadline := time.After(5 * time.Second)
	for reports == 0 {
		select {
		case x := <-r.items:
			switch {
			case errors.Is(x.err, ErrLost):
				le, ok := errors.AsType[*LostError](x.err)
				if !ok {
					t.Fatalf("Read: %v, want a *LostError", x.err)
				}
				reports++
				reported = le.N
			case x.err != nil:
				t.Fatalf("Read: %v", x.err)
			case !x.tr.TimeWait:
				read++
			}
		case <-deadline:
			t.Fatalf("no loss reported after %d transitions", read)
		}
	}
	lost := tr.Lost()
	t.Logf("%d read, %d lost", read, lost)
	if lost == 0 || uint64(read)+lost != burst*perConversation {
		t.Errorf("%d read + %d lost, want %d in all", read, lost, burst*perConversation)
	}
	if reported != lost {
		t.Errorf("the loss report counted %d, Lost() %d", reported, lost)
	}
	// One more conversation arrives whole, with no new loss. The burst's
	// time-wait confirmations may come before and among its transitions,
	// however late; nothing else may.
	var cv conversation
	ns.Do(t, func() (err error) {
		cv, err = converse("127.0.0.1", 0, serverFirst)
		return err
	})
	want := textbook(cv, serverFirst)
	port := cv.listener.Port()
	var got []Transition
	deadline = time.After(5 * time.Second)
	for n := countLines(want); len(got) < n; {
		select {
		case x := <-r.items:
			switch {
			case x.err != nil:
				t.Fatalf("after the loss report: %v", x.err)
			case x.tr.Local.Port() == port || x.tr.Peer.Port() == port:
				got = append(got, x.tr)
			case !x.tr.TimeWait:
				t.Fatalf("after the loss report: %s", line(&x.tr))
			}
		case <-deadline:
			t.Fatalf("%d of %d transitions after the loss report:\n%s", len(got), n, lines(got))
		}
	}
	if diff := cmp.Diff(want, sequences(got)); diff != "" {
		t.Errorf("after the loss (-want +got):\n%s", diff)
	}
	if n := tr.Lost(); n != lost {
		t.Errorf("Lost() grew from %d to %d", lost, n)
	}
}

// TestClose closes a Tracer while Read waits, and reads after Close.
func TestClose(t *testing.T) {
	ns := testnet.New(t)
	tr, err := Open(&Options{NetNS: ns.FD()})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	done := make(chan error)
	go func() {
		_, err := tr.Read()
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if err := tr.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrClosed) {
			t.Errorf("Read during Close: %v, want os.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Read still waiting 5 s after Close")
	}
	if _, err := tr.Read(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Read after Close: %v, want os.ErrClosed", err)
	}
	if err := tr.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
