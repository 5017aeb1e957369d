package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/internal/testnet"
)

// TestServePrometheus has a real Prometheus server scrape sockstate serve
// every second, serving a namespace of the test's own with a socket in
// each state over IPv4 and IPv6 and unix sockets of every kind, and reads
// the samples back through Prometheus's query API once it has scraped
// twice: the counts by protocol, family and state, and by listening port
// and state, are those ss counts in the namespace; then, with --transitions, that two connections
// reset move sockstate_connections_failed_total by exactly their four
// ends. Prometheus and serve run outside the test's
// namespace (serve -N), so that their connections are not among those
// counted.
func TestServePrometheus(t *testing.T) {
	prom, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skipf("prometheus is not installed (apt-get install prometheus; .ci/run does): %v", err)
	}
	ns, _ := settledNS(t)
	sockets, ports := ssCounts(t, ns)
	ns.Zoo(t)
	for _, line := range strings.Split(strings.TrimSpace(ns.Run(t, "ss", "-xaH")), "\n") {
		state := strings.Fields(line)[1]
		if state == "ESTAB" {
			state = "ESTABLISHED"
		}
		sockets[fmt.Sprintf(`sockstate_sockets{family="unix",instance="",job="sockstate",protocol="unix",state=%q}`, state)]++
	}

	target := startServe(t, "-N", ns.Name, "--transitions")
	api := startPrometheus(t, prom, target)

	for i := 0; ; i++ {
		up := promQuery(t, api, `count_over_time(up{job="sockstate"}[5m]) >= 2 and up{job="sockstate"} == 1`)
		if len(up) == 1 {
			break
		}
		if i == 120 {
			t.Fatalf("Prometheus did not scrape sockstate twice in 60 s: %v", up)
		}
		time.Sleep(500 * time.Millisecond)
	}
	got := promQuery(t, api, `sockstate_sockets != 0`)
	if diff := cmp.Diff(sockets, got); diff != "" {
		t.Errorf("sockstate_sockets (-ss +prometheus)\n%s", diff)
	}
	got = promQuery(t, api, `sockstate_port_sockets`)
	if diff := cmp.Diff(ports, got); diff != "" {
		t.Errorf("sockstate_port_sockets (-ss +prometheus)\n%s", diff)
	}
	if got := promQuery(t, api, `sockstate_collection_errors_total != 0 or sockstate_collection_success != 1`); len(got) != 0 {
		t.Errorf("collections failed: %v", got)
	}

	// Two connections made and reset in the namespace (each end's
	// ESTABLISHED -> CLOSE), one refused and one timed out (SYNs to a
	// down veth's peer, one retry), and nothing else failed.
	resetPairs(t, ns, 2)
	ns.Blackhole(t)
	ns.End(t, testnet.Refused, 9)
	ns.End(t, testnet.TimedOut, 9)
	want := map[string]float64{
		`sockstate_connections_failed_total{cause="refused",instance="",job="sockstate"}`: 1,
		`sockstate_connections_failed_total{cause="timeout",instance="",job="sockstate"}`: 1,
		`sockstate_connections_failed_total{cause="reset",instance="",job="sockstate"}`:   4,
	}
	for i := 0; ; i++ {
		got = promQuery(t, api, `sockstate_connections_failed_total`)
		if cmp.Equal(want, got) {
			break
		}
		if i == 60 {
			t.Fatalf("sockstate_connections_failed_total after 2 resets, 1 refused, 1 timed out (-want +got)\n%s", cmp.Diff(want, got))
		}
		time.Sleep(500 * time.Millisecond)
	}
	_, body := get(t, "GET", "http://"+target+"/metrics")
	promtoolCheck(t, body)
}

// resetPairs makes n connections in ns to a listener of their own and
// resets each from the client's end (SO_LINGER 0).
func resetPairs(t *testing.T, ns *testnet.NS, n int) {
	t.Helper()
	ln := ns.Listen(t, "tcp", "127.0.0.1:0")
	ns.Do(t, func() error {
		for range n {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				return err
			}
			s, err := ln.Accept()
			if err != nil {
				return err
			}
			defer s.Close()
			if err := c.(*net.TCPConn).SetLinger(0); err != nil {
				return err
			}
			c.Close()
		}
		return nil
	})
}

// ssCounts counts what ss lists in ns: the sockets by family, protocol
// and state, and the TCP connections of listening ports by port and state,
// as Prometheus names the series.
func ssCounts(t *testing.T, ns *testnet.NS) (sockets, ports map[string]float64) {
	t.Helper()
	sockets, ports = map[string]float64{}, map[string]float64{}
	var listening []string
	lines := ns.SS(t, "-tuanH")
	for _, line := range lines {
		f := strings.Fields(line)
		family := "inet"
		if strings.HasPrefix(f[2], "[") {
			family = "inet6"
		}
		sockets[fmt.Sprintf(`sockstate_sockets{family=%q,instance=%q,job="sockstate",protocol=%q,state=%q}`, family, "", f[0], f[1])]++
		if f[1] == "LISTEN" {
			listening = append(listening, f[2][strings.LastIndexByte(f[2], ':')+1:])
		}
	}
	for _, line := range lines {
		f := strings.Fields(line)
		port := f[2][strings.LastIndexByte(f[2], ':')+1:]
		if f[0] == "tcp" && f[1] != "LISTEN" && slices.Contains(listening, port) {
			ports[fmt.Sprintf(`sockstate_port_sockets{instance=%q,job="sockstate",port=%q,state=%q}`, "", port, f[1])]++
		}
	}
	return sockets, ports
}

// startPrometheus starts Prometheus scraping target every second, with its
// data in a temporary directory, and returns the address of its API. It is
// stopped when the test ends.
func startPrometheus(t *testing.T, prom, target string) string {
	t.Helper()
	dir := t.TempDir()
	config := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: sockstate
    static_configs:
      - targets: [%q]
`, target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	// A port free a moment ago; Prometheus fails to start, and the test
	// with it, in the rare case another took it since.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var out bytes.Buffer
	cmd := exec.Command(prom,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--log.level=warn")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("prometheus said: %s", out.String())
		}
	})
	return addr
}

// promQuery runs an instant query and returns its vector as series names
// with their values; the instance label is left empty, as the address
// differs from run to run.
func promQuery(t *testing.T, api, query string) map[string]float64 {
	t.Helper()
	var resp *httpResult
	for range 40 {
		var err error
		resp, err = getJSON("http://" + api + "/api/v1/query?query=" + url.QueryEscape(query))
		if err == nil {
			break
		}
		// Prometheus is still starting.
		time.Sleep(250 * time.Millisecond)
	}
	if resp == nil {
		t.Fatalf("Prometheus's API at %s did not answer in 10 s", api)
	}
	if resp.Status != "success" || resp.Data.ResultType != "vector" {
		t.Fatalf("query %s: %+v", query, resp)
	}
	out := map[string]float64{}
	for _, r := range resp.Data.Result {
		name := r.Metric["__name__"]
		delete(r.Metric, "__name__")
		r.Metric["instance"] = ""
		var labels []string
		for k, v := range r.Metric {
			labels = append(labels, fmt.Sprintf("%s=%q", k, v))
		}
		slices.Sort(labels)
		v, err := strconv.ParseFloat(r.Value[1].(string), 64)
		if err != nil {
			t.Fatal(err)
		}
		out[name+"{"+strings.Join(labels, ",")+"}"] = v
	}
	return out
}

// httpResult is the part of a query API answer the tests read.
type httpResult struct {
	Status string
	Data   struct {
		ResultType string
		Result     []struct {
			Metric map[string]string
			Value  []any
		}
	}
}

func getJSON(u string) (*httpResult, error) {
	client := http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r httpResult
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", u, resp.Status, err)
	}
	return &r, nil
}
