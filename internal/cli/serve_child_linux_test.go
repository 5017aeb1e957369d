package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sockstate/sockstate/internal/testnet"
	"github.com/sockstate/sockstate/netns"
)

// serveAsNobody starts sockstate serve with args inside ns (ip netns exec)
// as nobody, with no capabilities, and returns a function that waits up
// to 10 s for its next line on stderr. When the test ends it is stopped
// with SIGTERM and must then exit 0 having said nothing more.
func serveAsNobody(t *testing.T, ns *testnet.NS, args ...string) (next func() string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns.Name, self, "serve"}, args...)...)
	cmd.Env = childEnv("SOCKSTATE_AS_UID=65534")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		for l := range lines {
			t.Errorf("serve said: %s", l)
		}
		if err := <-exited; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return func() string {
		select {
		case l := <-lines:
			return l
		case <-time.After(10 * time.Second):
			t.Fatal("serve said nothing in 10 s")
		}
		return ""
	}
}

// servedAt returns the address serve's line says it serves at.
func servedAt(t *testing.T, line string) string {
	t.Helper()
	m := servingLine.FindStringSubmatch(line + "\n")
	if m == nil {
		t.Fatalf("serve said %q, not where it serves", line)
	}
	return m[1]
}

// nsClient is an HTTP client that connects from inside ns.
func nsClient(ns *testnet.NS) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var c net.Conn
			err := netns.Do(ns.FD(), func() error {
				var err error
				c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
				return err
			})
			return c, err
		},
	}}
}

// scrapeMetrics gets addr's /metrics through client and returns the body
// and the values of the series whose names keep selects.
func scrapeMetrics(t *testing.T, client *http.Client, addr string, keep func(name string) bool) (string, map[string]float64) {
	t.Helper()
	resp, err := client.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		name, value, ok := strings.Cut(line, " ")
		if !ok || !keep(name) {
			continue
		}
		var v float64
		fmt.Sscan(value, &v)
		got[name] = v
	}
	return string(body), got
}
