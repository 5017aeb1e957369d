package cli

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockstate/sockstate/internal/testnet"
)

// cancelOn is a writer that cancels when what it was given holds want.
type cancelOn struct {
	mu     sync.Mutex
	b      bytes.Buffer
	want   string
	cancel context.CancelFunc
}

func (c *cancelOn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, err := c.b.Write(p)
	if strings.Contains(c.b.String(), c.want) {
		c.cancel()
	}
	return n, err
}

// TestWatchNetNS requires watch -N and --netns to watch the namespace
// named, from every polling source: its listener is reported new, and the
// caller's own sockets are not.
func TestWatchNetNS(t *testing.T) {
	ns := testnet.New(t)
	ln := ns.Listen(t, "tcp", "127.0.0.1:0")
	port := netip.MustParseAddrPort(ln.Addr().String()).Port()
	want := fmt.Sprintf("127.0.0.1:%d", port)
	for _, source := range []string{"auto", "netlink", "proc"} {
		for _, flag := range [][]string{{"-N", ns.Name}, {"--netns", ns.Path}} {
			t.Run(source+" "+flag[0], func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				out := &cancelOn{want: want, cancel: cancel}
				var stderr bytes.Buffer
				args := append([]string{"watch", "-t", "--interval", "10ms", "--source", source}, flag...)
				if code := Run(ctx, args, out, &stderr); code != 0 {
					t.Fatalf("exit %d: %s", code, stderr.String())
				}
				out.mu.Lock()
				defer out.mu.Unlock()
				lines := strings.Split(strings.TrimSuffix(out.b.String(), "\n"), "\n")
				if len(lines) != 1 || !strings.Contains(lines[0], want) || !strings.Contains(lines[0], "new         -> LISTEN") {
					t.Errorf("watch %s printed %q, want the namespace's listener %s only", strings.Join(args, " "), out.b.String(), want)
				}
			})
		}
	}
}

// TestWatchNetNSUsage holds watch's usage errors for the namespace flags.
func TestWatchNetNSUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"watch", "-N", "a", "--netns", "/proc/self/ns/net"}, "sockstate: watch: -N and --netns both name a namespace; give one\n"},
		{[]string{"watch", "-N", "sockstate-no-such-ns"}, "sockstate: watch: netns \"sockstate-no-such-ns\": no such namespace under /run/netns (see 'ip netns list')\n"},
	} {
		var stdout, stderr bytes.Buffer
		if code := Run(context.Background(), tt.args, &stdout, &stderr); code != 2 || stderr.String() != tt.want {
			t.Errorf("%v: exit %d, stderr %q; want 2, %q", tt.args, code, stderr.String(), tt.want)
		}
	}
}
