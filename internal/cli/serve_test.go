package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestServeBadInput(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--max-series", "0"}, 2, `sockstate: serve: --max-series "0": want a whole number of at least 1`},
		{[]string{"--top", "-1"}, 2, `sockstate: serve: --top "-1": want a whole number of at least 0`},
		{[]string{"--listen", "9474"}, 2, `sockstate: serve: --listen "9474": not host:port; give an address and port such as 127.0.0.1:9474`},
		{[]string{"--listen", "127.0.0.1:http"}, 2, `sockstate: serve: --listen "127.0.0.1:http": port "http" is not a number from 0 to 65535; give an address and port such as 127.0.0.1:9474`},
		{[]string{"--listen", "example.com:9474"}, 2, `sockstate: serve: --listen "example.com:9474": "example.com" is not an IP address; give an address and port such as 127.0.0.1:9474`},
		{[]string{"--ports", "80,x"}, 2, `sockstate: serve: --ports "80,x": "x" is not a port from 1 to 65535; give a list such as 80,443`},
		{[]string{"--source", "trace"}, 2, `sockstate: serve: --source "trace": use auto, netlink or proc`},
		{[]string{"-N", "sockstate-no-such-ns"}, 2, `sockstate: serve: netns "sockstate-no-such-ns": no such namespace under /run/netns (see 'ip netns list')`},
		{[]string{"--netns", "/dev/null"}, 2, `sockstate: serve: --netns "/dev/null": /dev/null is not a network namespace`},
		{[]string{"-N", "a", "--netns", "/proc/self/ns/net"}, 2, `sockstate: serve: -N and --netns both name a namespace; give one`},
		{[]string{"-N", ""}, 2, `sockstate: serve: flag -N has an empty value; give one`},
		{[]string{"--by", "netns"}, 2, `sockstate: serve: --by netns needs --all-netns: without it every socket is of one namespace`},
		{[]string{"--by", "pod"}, 2, `sockstate: serve: --by "pod": use netns, cgroup or container`},
		{[]string{"--by", "cgroup", "--source", "proc"}, 2, `sockstate: serve: --by cgroup: /proc/net has no cgroups; use --source netlink`},
		{[]string{"--all-netns", "--netns", "/proc/self/ns/net"}, 2, `sockstate: serve: --all-netns lists every namespace: give it or -N/--netns, not both`},
		{[]string{"extra"}, 2, `sockstate: serve: unexpected "extra": serve takes flags only; see 'sockstate serve -h'`},
		{[]string{"--listen", taken.Addr().String()}, 1, fmt.Sprintf("sockstate: serve: --listen %s: address already in use; stop what listens there or choose another --listen", taken.Addr())},
		{[]string{"--listen", "192.0.2.1:9474"}, 1, "sockstate: serve: --listen 192.0.2.1:9474: no interface has that address; see 'ip addr'"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Run(context.Background(), append([]string{"serve"}, tt.args...), &stdout, &stderr)
			if code != tt.code || stderr.String() != tt.want+"\n" || stdout.Len() != 0 {
				t.Errorf("exit %d, stderr %q, stdout %q; want exit %d, stderr %q", code, stderr.String(), stdout.String(), tt.code, tt.want+"\n")
			}
		})
	}
}

// servingLine is what serve says on stderr once it listens.
var servingLine = regexp.MustCompile(`sockstate: serving http://([^/]+)/metrics\n`)

// lineWriter is serve's stderr in a test: it hands over the address from
// the serving line and keeps the rest.
type lineWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	addr chan string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if m := servingLine.FindSubmatch(p); m != nil {
		w.addr <- string(m[1])
	}
	return len(p), nil
}

func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// tracingLine is what serve --transitions says first on stderr when it
// loads the tracer.
var tracingLine = regexp.MustCompile(`^sockstate: serve: --transitions: from the kernel's tracepoints \(eBPF\)( in every namespace)?: every TCP state change, with its cause\n`)

// startServe runs sockstate serve with args until the test ends, when it
// must exit 0 having said nothing but its serving line (after, with
// --transitions, the line that says it traces), and returns the
// address it serves on.
func startServe(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &lineWriter{addr: make(chan string, 1)}
	code := make(chan int, 1)
	go func() {
		code <- Run(ctx, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...), io.Discard, stderr)
	}()
	t.Cleanup(func() {
		cancel()
		if c := <-code; c != 0 {
			t.Errorf("serve exited %d: %s", c, stderr)
		}
		if out := tracingLine.ReplaceAllString(servingLine.ReplaceAllString(stderr.String(), ""), ""); out != "" {
			t.Errorf("serve said on stderr: %s", out)
		}
	})
	select {
	case addr := <-stderr.addr:
		return addr
	case c := <-code:
		t.Fatalf("serve exited %d: %s", c, stderr)
	case <-time.After(10 * time.Second):
		t.Fatalf("serve said nothing in 10 s: %s", stderr)
	}
	return ""
}

func get(t *testing.T, method, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

// TestServeHTTP asks serve for each of its pages: the text format by
// default, OpenMetrics when asked, both clean by promtool when it is
// installed; /healthz; / linking both; and no method but GET and HEAD.
func TestServeHTTP(t *testing.T) {
	addr := startServe(t, "--source", "netlink")
	base := "http://" + addr

	resp, body := get(t, "GET", base+"/metrics")
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("/metrics: %s, %s", resp.Status, ct)
	}
	for _, want := range []string{"\nsockstate_sockets{family=\"inet\",protocol=\"tcp\",state=\"LISTEN\"} ", "\nsockstate_collection_success 1\n", "\nprocess_resident_memory_bytes "} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics has no %q", want)
		}
	}
	text := body

	resp, body = get(t, "GET", base+"/metrics", "Accept", "application/openmetrics-text; version=1.0.0; charset=utf-8")
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/openmetrics-text; version=1.0.0") || !strings.HasSuffix(body, "# EOF\n") {
		t.Errorf("/metrics asked for OpenMetrics: %s, ending %q", ct, body[max(0, len(body)-20):])
	}
	if !strings.Contains(body, "\n# TYPE sockstate_listen_overflows counter\nsockstate_listen_overflows_total ") {
		t.Errorf("OpenMetrics names the counter's family without _total: %s", body)
	}

	if resp, body := get(t, "GET", base+"/healthz"); resp.StatusCode != 200 || body != "ok\n" {
		t.Errorf("/healthz: %s %q", resp.Status, body)
	}
	if resp, body := get(t, "GET", base+"/"); resp.StatusCode != 200 || !strings.Contains(body, `<a href="/metrics">`) || !strings.Contains(body, `<a href="/healthz">`) {
		t.Errorf("/: %s %q", resp.Status, body)
	}
	if resp, _ := get(t, "GET", base+"/nothing"); resp.StatusCode != 404 {
		t.Errorf("/nothing: %s", resp.Status)
	}
	for _, method := range []string{"POST", "PUT", "DELETE"} {
		if resp, _ := get(t, method, base+"/metrics"); resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s /metrics: %s, Allow %q", method, resp.Status, resp.Header.Get("Allow"))
		}
	}
	promtoolCheck(t, text)
}

// promtoolCheck runs promtool check metrics (which reads the text format,
// not OpenMetrics) over an exposition; without promtool the test skips.
func promtoolCheck(t *testing.T, exposition string) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Skipf("promtool is not installed (apt-get install prometheus; .ci/run does): %v", err)
	}
	cmd := exec.Command(path, "check", "metrics")
	cmd.Stdin = strings.NewReader(exposition)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v: %s", err, out)
	}
}
