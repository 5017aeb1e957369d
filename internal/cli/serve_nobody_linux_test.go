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

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/netns"
)

// TestServeAsNobody runs sockstate serve inside a namespace as nobody,
// with no capabilities, as the systemd unit in deploy/ does: sock_diag and
// the counters it reads need none, so it reports root's sockets, their
// connections per listening port as ss counts them (and the test's own
// connection to serve), and no failed stage.
func TestServeAsNobody(t *testing.T) {
	ns, _ := settledNS(t)
	_, ports := ssCounts(t, ns)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", ns.Name, self, "serve", "--listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "SOCKSTATE_AS_CLI=1", "SOCKSTATE_AS_UID=65534")
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
	var addr string
	select {
	case l := <-lines:
		m := servingLine.FindStringSubmatch(l + "\n")
		if m == nil {
			t.Fatalf("serve said %q", l)
		}
		addr = m[1]
	case <-time.After(10 * time.Second):
		t.Fatal("serve said nothing in 10 s")
	}

	// The test's own connection to serve is one more, on serve's port.
	ports[fmt.Sprintf(`sockstate_port_sockets{instance="",job="sockstate",port=%q,state="ESTABLISHED"}`, addr[strings.LastIndexByte(addr, ':')+1:])] = 1
	client := http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
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
		if !ok || !strings.HasPrefix(name, "sockstate_port_sockets{") {
			continue
		}
		var v float64
		fmt.Sscan(value, &v)
		got[strings.Replace(name, "{", `{instance="",job="sockstate",`, 1)] = v
	}
	if diff := cmp.Diff(ports, got); diff != "" {
		t.Errorf("sockstate_port_sockets as nobody (-ss +serve)\n%s", diff)
	}
	for _, want := range []string{
		"\nsockstate_collection_success 1\n",
		"\nsockstate_collection_errors_total{stage=\"netstat\"} 0\n",
		"\nsockstate_collection_errors_total{stage=\"port_range\"} 0\n",
		"\nsockstate_collection_errors_total{stage=\"sockets\"} 0\n",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics as nobody has no %q", want)
		}
	}
}
