package cli

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/sockdiag"
	"github.com/sockstate/sockstate/internal/testnet"
	"github.com/sockstate/sockstate/netlinkdiag"
)

// countingConn is a real sock_diag connection that calls onDump before
// each dump and, after its after-th message, hold.
type countingConn struct {
	*netlinkdiag.Conn
	onDump func()
	after  int
	hold   func()
	handed int
}

func (c *countingConn) DumpOnce(ctx context.Context, req netlinkdiag.Request, fn func(*netlinkdiag.Msg) error) error {
	if c.onDump != nil {
		c.onDump()
	}
	return c.Conn.DumpOnce(ctx, req, func(m *netlinkdiag.Msg) error {
		if c.handed++; c.handed == c.after && c.hold != nil {
			c.hold()
		}
		return fn(m)
	})
}

// withNetlinkDial makes newSource's sources, in ns, open their sock_diag
// sockets with dial, for the rest of the test.
func withNetlinkDial(t *testing.T, ns *testnet.NS, dial func(*netlinkdiag.Config) (sockdiag.DiagConn, error)) {
	orig := newSource
	t.Cleanup(func() { newSource = orig })
	newSource = func(name string, stderr io.Writer, _ int) (inspect.Source, error) {
		src, err := orig(name, stderr, ns.FD())
		if err != nil {
			return nil, err
		}
		nl, ok := inspect.Find[*sockdiag.Source](src)
		if !ok {
			t.Fatalf("--source %s: no sockdiag.Source found in %T", name, src)
		}
		nl.Dial = dial
		return src, nil
	}
}

// rowWriter records whether anything was written before the dump ended.
type rowWriter struct {
	bytes.Buffer
	once    sync.Once
	written chan struct{}
}

func (w *rowWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.written) })
	return w.Buffer.Write(p)
}

// TestLsNetlinkStreams requires ls --source netlink to write rows while
// the kernel is still listing: its dump holds after the first batch and
// a few chunks until stdout has been written to. Buffering the whole
// listing, as ls did when the CLI's wrapper hid the source's Each, never
// writes before the dump ends.
func TestLsNetlinkStreams(t *testing.T) {
	ns := testnet.New(t)
	n := sockdiag.BatchSize + 1000
	openUDP(t, ns, n)
	out := &rowWriter{written: make(chan struct{})}
	var before atomic.Bool
	withNetlinkDial(t, ns, func(cfg *netlinkdiag.Config) (sockdiag.DiagConn, error) {
		c, err := netlinkdiag.Dial(cfg)
		if err != nil {
			return nil, err
		}
		return &countingConn{Conn: c, after: sockdiag.BatchSize + 600, hold: func() {
			select {
			case <-out.written:
				before.Store(true)
			case <-time.After(10 * time.Second):
			}
		}}, nil
	})
	var stderr bytes.Buffer
	if code := Run(context.Background(), []string{"ls", "--source", "netlink", "-uaH4"}, out, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !before.Load() {
		t.Error("no row was written before the dump ended")
	}
	if got := strings.Count(out.String(), "\n"); got != n {
		t.Errorf("%d rows, want %d", got, n)
	}
}

// TestWatchNetlinkOneSocket requires watch --source netlink to keep one
// sock_diag socket from poll to poll: it counts the dials over ten polls
// of one table each.
func TestWatchNetlinkOneSocket(t *testing.T) {
	ns := testnet.New(t)
	openUDP(t, ns, 3)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const polls = 10
	var dials, dumps atomic.Int64
	withNetlinkDial(t, ns, func(cfg *netlinkdiag.Config) (sockdiag.DiagConn, error) {
		dials.Add(1)
		c, err := netlinkdiag.Dial(cfg)
		if err != nil {
			return nil, err
		}
		return &countingConn{Conn: c, onDump: func() {
			if dumps.Add(1) == polls {
				cancel()
			}
		}}, nil
	})
	var stdout, stderr bytes.Buffer
	var code int
	ns.Do(t, func() error {
		code = Run(ctx, []string{"watch", "--source", "netlink", "-u4", "--interval", "1ms"}, &stdout, &stderr)
		return nil
	})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if got := dumps.Load(); got != polls {
		t.Fatalf("%d polls, want %d", got, polls)
	}
	if got := dials.Load(); got != 1 {
		t.Errorf("%d sock_diag sockets opened over %d polls, want 1", got, polls)
	}
	if got := strings.Count(stdout.String(), "UNCONN"); got != 3 {
		t.Errorf("%d sockets reported new, want 3:\n%s", got, stdout.String())
	}
}
