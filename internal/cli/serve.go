package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/exporter"
	"github.com/sockstate/sockstate/inspect/sockdiag"
	"github.com/sockstate/sockstate/inspect/trace"
)

const serveUsage = `usage: sockstate serve [FLAGS]

Serve the sockets' states to Prometheus over HTTP: /metrics (Prometheus's
text format, or OpenMetrics when the scraper asks for it), /healthz, and /
linking both. Read-only. One collection runs at a time; scrapes that come
while it runs share its result.

      --listen ADDR    host:port to listen on (default 127.0.0.1:9474); an
                       address other than loopback shows the host's
                       connections to whoever can reach it
      --source S       auto (sock_diag, falling back to /proc), netlink or proc
  -N, --net NAME       the sockets of the network namespace NAME (under
                       /run/netns) rather than the server's own
      --netns PATH     the sockets of the network namespace at PATH, such as
                       /proc/PID/ns/net
      --ports LIST     listening ports that may have series of their own in
                       sockstate_port_sockets, such as 80,443 (default: all)
      --max-series N   at most N listening ports have series of their own,
                       the lowest first; the others are counted under
                       port="other" (default 64)
      --top N          destinations reported in sockstate_ephemeral_ports_used,
                       those holding the most local ports (default 10)
      --all-netns      the sockets of every network namespace of the host;
                       the listen counters summed over the namespaces, each
                       socket's ephemeral ports by its namespace's port
                       range, the smallest range as the ports available
      --by KIND        split sockstate_sockets by netns (with --all-netns;
                       the listen counters and ports available too),
                       cgroup or container: --max-series of them at most,
                       the largest first, the rest summed under "other"
      --transitions    count every TCP state change from the kernel's
                       tracepoint: sockstate_transitions_total{from,to,cause},
                       sockstate_connections_failed_total{cause} (refused,
                       timeout, reset), sockstate_state_duration_seconds;
                       needs CAP_BPF and CAP_PERFMON (root). Without them,
                       the failed connections only, from the kernel's
                       reports of freed sockets and Tcp EstabResets; with
                       --all-netns, traced in every namespace (no fallback)
      --color WHEN     auto, always or never (serve prints no colours;
                       accepted as every command takes it)
  -h, --help           this text

Exit status: 0 when stopped by a signal, 2 for a mistake in the command
line, 1 when the address cannot be listened on.
`

// Server timeouts: a slow or stalled client holds a connection this long at
// most. A collection ends within collectTimeout, well inside writeTimeout.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 60 * time.Second
	collectTimeout    = 20 * time.Second
	// maxScrapes bounds the scrapes served at once; more get 503.
	maxScrapes = 16
)

type serveOptions struct {
	listen    string
	source    string
	ns        netnsFlags
	ports     []uint16
	maxSeries int
	top       int
	trace     bool
	allNetNS  bool
	by        string
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	opts := serveOptions{listen: "127.0.0.1:9474", source: "auto", maxSeries: 64, top: 10}
	help := false
	display := newDisplay()
	specs := append(opts.ns.specs(), []flagSpec{
		{long: "listen", hasValue: true, set: func(v string) error { opts.listen = v; return nil }},
		{long: "source", hasValue: true, set: func(v string) error { opts.source = v; return nil }},
		{long: "ports", hasValue: true, set: opts.setPorts},
		{long: "max-series", hasValue: true, set: countFlag("max-series", &opts.maxSeries, 1)},
		{long: "top", hasValue: true, set: countFlag("top", &opts.top, 0)},
		{long: "transitions", set: boolFlag(&opts.trace)},
		{long: "all-netns", set: boolFlag(&opts.allNetNS)},
		{long: "by", hasValue: true, set: func(v string) error { opts.by = v; return nil }},
		// serve writes no colours; it takes --color as every command does.
		display.colorSpec("serve"),
		// The metrics' state labels are a schema that dashboards and
		// alerts match, as node_exporter's are: one spelling.
		{long: "ss-names", set: func(string) error {
			return usagef("serve: --ss-names: the metrics' state labels keep one spelling, the kernel's, for dashboards and alerts; ss's spellings are for ls, watch and demo")
		}},
		{short: 'h', long: "help", set: boolFlag(&help)},
	}...)
	words, err := parseFlags("serve", args, specs)
	if err != nil {
		return err
	}
	if help {
		fmt.Fprint(stdout, serveUsage)
		return errHelp
	}
	if len(words) > 0 {
		return usagef("serve: unexpected %q: serve takes flags only; see 'sockstate serve -h'", words[0])
	}
	if err := checkListen(opts.listen); err != nil {
		return err
	}
	if err := opts.ns.check("serve"); err != nil {
		return err
	}
	if opts.allNetNS && (opts.ns.name != "" || opts.ns.path != "") {
		return usagef("serve: --all-netns lists every namespace: give it or -N/--netns, not both")
	}
	nsFD, closeNS, err := opts.ns.openFD("serve")
	if err != nil {
		return err
	}
	defer closeNS()
	// Each of ls's sources streams (a Streamer, found through wrappers),
	// so that a collection counts as it decodes.
	src, err := newSource(opts.source, stderr, nsFD)
	if ue, ok := errors.AsType[*usageError](err); ok {
		return usagef("serve: %s", ue.msg)
	} else if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	var all *serveAllNetNS
	if opts.allNetNS {
		all = newServeAllNetNS(opts.source, stderr)
		src = all
	}
	by, err := serveGrouping(opts.by, all, opts.source)
	if err != nil {
		return err
	}
	cfg := exporter.Config{
		Source: src, NetNS: nsFD, Ports: opts.ports, MaxSeries: opts.maxSeries, Top: opts.top,
		Timeout: collectTimeout, OnError: onceEach(stderr), By: by,
	}
	if all != nil {
		cfg.EachNetNS = all.eachNetNS
	}
	col, err := exporter.New(cfg)
	if err != nil {
		return err
	}
	collectors := []prometheus.Collector{col}
	if opts.trace {
		start := startTransitions
		if opts.allNetNS {
			start = startAllTransitions
		}
		tt, stop, err := start(ctx, nsFD, stderr)
		if err != nil {
			return err
		}
		defer stop()
		collectors = append(collectors, tt)
	}
	ln, err := net.Listen("tcp", opts.listen)
	if err != nil {
		return listenError(opts.listen, err)
	}
	srv := newServer(stderr, collectors...)
	fmt.Fprintf(stderr, "sockstate: serving http://%s/metrics\n", ln.Addr())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		srv.Close()
	}
	<-done
	return nil
}

// startTransitions loads the tracer on the namespace open at nsFD (0: the
// caller's) and counts its transitions until ctx ends or stop is called.
// Where the tracer cannot load, it counts the failed connections from the
// kernel's destroy reports and EstabResets instead (exporter.Ends). Its
// first line on stderr says which. Without privilege for either, the
// error names both reasons.
func startTransitions(ctx context.Context, nsFD int, stderr io.Writer) (prometheus.Collector, func(), error) {
	tr, traceErr := trace.Open(&trace.Options{NetNS: nsFD})
	if traceErr == nil {
		fmt.Fprintln(stderr, "sockstate: serve: --transitions: from the kernel's tracepoints (eBPF): every TCP state change, with its cause")
		tt := exporter.NewTransitions()
		stop := runCounter(ctx, stderr, func(ctx context.Context) error {
			return tt.Run(ctx, &trace.Events{Tracer: tr, Source: &sockdiag.Source{NetNS: nsFD},
				Query: inspect.Query{Protocols: []inspect.Protocol{inspect.TCP}, States: inspect.AllStates}})
		})
		return tt, stop, nil
	}
	d, err := sockdiag.SubscribeDestroyed(nsFD, inspect.Query{Protocols: []inspect.Protocol{inspect.TCP}})
	if err != nil {
		return nil, nil, fmt.Errorf("serve: --transitions: %w; nor the kernel's reports of freed sockets: %w", traceErr, err)
	}
	ends, err := exporter.NewEnds(nsFD)
	if err != nil {
		d.Close()
		return nil, nil, fmt.Errorf("serve: --transitions: %w; nor Tcp EstabResets: %w", traceErr, err)
	}
	fmt.Fprintf(stderr, "sockstate: serve: --transitions: no tracing (%v): sockstate_connections_failed_total from the kernel's reports of freed sockets (refused, timeout) and Tcp EstabResets (reset); no sockstate_transitions_total or state durations\n", traceErr)
	stop := runCounter(ctx, stderr, func(ctx context.Context) error { return ends.Run(ctx, d) })
	return ends, func() { stop(); d.Close() }, nil
}

// startAllTransitions is startTransitions for --all-netns: the tracer of
// every namespace, without the fallback, whose destroy reports and
// counters are per namespace.
func startAllTransitions(ctx context.Context, _ int, stderr io.Writer) (prometheus.Collector, func(), error) {
	q := inspect.Query{Protocols: []inspect.Protocol{inspect.TCP}, States: inspect.AllStates}
	ev, _, err := traceAllNetNS("serve", q, 0, stderr)
	if err != nil {
		return nil, nil, fmt.Errorf("serve: --transitions --all-netns needs the tracer: %w", err)
	}
	fmt.Fprintln(stderr, "sockstate: serve: --transitions: from the kernel's tracepoints (eBPF) in every namespace: every TCP state change, with its cause")
	tt := exporter.NewTransitions()
	return tt, runCounter(ctx, stderr, func(ctx context.Context) error { return tt.Run(ctx, ev) }), nil
}

// runCounter runs count until ctx ends or the function returned is
// called; an error before that is said on stderr.
func runCounter(ctx context.Context, stderr io.Writer, count func(context.Context) error) func() {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := count(ctx); err != nil && ctx.Err() == nil {
			fmt.Fprintf(stderr, "sockstate: serve: --transitions: %v; the transition counters stop here\n", err)
		}
	}()
	return func() { cancel(); <-done }
}

// newServer returns the HTTP server of the collectors' metrics, with the Go
// runtime's and the process's.
func newServer(stderr io.Writer, cs ...prometheus.Collector) *http.Server {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(cs...)
	errLog := log.New(stderr, "sockstate: ", 0)
	metrics := promhttp.InstrumentMetricHandler(reg, promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:            errLog,
		ErrorHandling:       promhttp.ContinueOnError,
		EnableOpenMetrics:   true,
		MaxRequestsInFlight: maxScrapes,
		Timeout:             writeTimeout - 5*time.Second,
	}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", metrics)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, indexPage)
	})
	return &http.Server{
		Handler:           readOnly(mux),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          errLog,
	}
}

const indexPage = `<!doctype html>
<html><head><title>sockstate</title></head>
<body><h1>sockstate</h1>
<p>Socket states, for Prometheus.</p>
<ul><li><a href="/metrics">/metrics</a></li><li><a href="/healthz">/healthz</a></li></ul>
</body></html>
`

// readOnly answers every method but GET and HEAD with 405.
func readOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "sockstate serve is read-only: use GET", http.StatusMethodNotAllowed)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// onceEach returns an OnError that says the first error of each stage on
// stderr; the metrics count them all.
func onceEach(stderr io.Writer) func(stage string, err error) {
	var mu sync.Mutex
	said := map[string]bool{}
	return func(stage string, err error) {
		mu.Lock()
		defer mu.Unlock()
		if !said[stage] {
			said[stage] = true
			fmt.Fprintf(stderr, "sockstate: collection, %s: %v (further errors are counted in sockstate_collection_errors_total{stage=%q})\n", stage, err, stage)
		}
	}
}

// checkListen rejects a --listen that is not host:port with a numeric port
// and an IP address, localhost, or nothing (every address) for host.
func checkListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	bad := func(why string) error {
		return usagef("serve: --listen %q: %s; give an address and port such as 127.0.0.1:9474", addr, why)
	}
	if err != nil {
		return bad("not host:port")
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || (n == 0 && port != "0") {
		return bad(fmt.Sprintf("port %q is not a number from 0 to 65535", port))
	}
	if host != "" && host != "localhost" {
		if _, err := netip.ParseAddr(host); err != nil {
			return bad(fmt.Sprintf("%q is not an IP address", host))
		}
	}
	return nil
}

// listenError explains why the address could not be listened on.
func listenError(addr string, err error) error {
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("serve: --listen %s: address already in use; stop what listens there or choose another --listen", addr)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return fmt.Errorf("serve: --listen %s: no interface has that address; see 'ip addr'", addr)
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("serve: --listen %s: permission denied; ports below 1024 need CAP_NET_BIND_SERVICE", addr)
	}
	return fmt.Errorf("serve: --listen %s: %w", addr, err)
}

// setPorts parses --ports: a comma-separated list of ports from 1 to 65535.
func (o *serveOptions) setPorts(v string) error {
	o.ports = o.ports[:0]
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.ParseUint(strings.TrimSpace(f), 10, 16)
		if err != nil || n == 0 {
			return usagef("serve: --ports %q: %q is not a port from 1 to 65535; give a list such as 80,443", v, f)
		}
		o.ports = append(o.ports, uint16(n))
	}
	return nil
}

// countFlag returns a setter that parses a whole number of at least min
// into *p.
func countFlag(name string, p *int, min int) func(string) error {
	return func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < min {
			return usagef("serve: --%s %q: want a whole number of at least %d", name, v, min)
		}
		*p = n
		return nil
	}
}
