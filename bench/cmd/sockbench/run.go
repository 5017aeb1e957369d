package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

// The roles a re-executed sockbench takes, named by roleEnv.
const (
	roleInner  = "inner"
	roleHelper = "helper"
)

// run runs the role the environment named: the benchmark itself when role is
// empty. It returns the process's exit code.
func run(ctx context.Context, role string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var err error
	switch role {
	case "":
		return runMain(ctx, args, stdout, stderr)
	case roleInner:
		// The error also goes back in the result, which the outer
		// harness prints.
		err = runInner(ctx, stdin, stderr, os.NewFile(3, "sockbench-result"))
		if err != nil {
			return 1
		}
		return 0
	case roleHelper:
		err = runHelper(ctx, args, stdin, stdout)
	case roleUnixHelper:
		err = runUnixHelper(ctx, args, stdin, stdout)
	default:
		err = fmt.Errorf("unknown %s %q", roleEnv, role)
	}
	if err != nil {
		fmt.Fprintf(stderr, "sockbench %s: %v\n", role, err)
		return 1
	}
	return 0
}

// options are the benchmark's flags.
type options struct {
	n       int
	twFrac  float64
	ports   int
	fds     int
	runs    int
	warmup  int
	timeout time.Duration
	only    []string
	unix    int
	repo    string
	json    bool
	// scrapes and soak, when above 0, compare the exporters (scrape_linux.go).
	scrapes int
	soak    time.Duration
	// netns, when above 0, first spreads -n sockets over that many
	// namespaces (netns.go).
	netns int
	// childHash sizes each -netns namespace's own hash tables (0: the
	// host's).
	childHash int
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("sockbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: sockbench [flags]\n\n"+
			"Times sockstate against ss, netstat and gopsutil on N loopback TCP sockets in a\n"+
			"fresh network namespace, and prints a markdown table. Needs root.\n\n")
		fs.PrintDefaults()
	}
	var o options
	var only string
	fs.IntVar(&o.n, "n", 1000, "TCP `sockets` to set up: listeners, ESTABLISHED pairs and TIME-WAIT")
	fs.Float64Var(&o.twFrac, "tw", 0.2, "`fraction` of -n in TIME-WAIT")
	fs.IntVar(&o.ports, "ports", 8, "listening ports per helper process")
	fs.IntVar(&o.unix, "unix", 0, "unix `sockets` to set up as stream socketpairs held by several helpers, and time the unix groups (ls -xa, ls -xap); 0: none")
	fs.IntVar(&o.fds, "fds", 20000, "descriptors per helper process, at most RLIMIT_NOFILE's hard limit")
	fs.IntVar(&o.runs, "runs", 10, "timed runs of each command")
	fs.IntVar(&o.warmup, "warmup", 1, "untimed warm-up runs of each command, which measure peak RSS and output lines")
	fs.DurationVar(&o.timeout, "timeout", 2*time.Minute, "limit for each command run and each setup step")
	fs.StringVar(&only, "only", "", "comma-separated `tools` to measure, of sockstate,ss,netstat,gopsutil (default all)")
	fs.StringVar(&o.repo, "repo", "", "sockstate module `root` (default: the directory of go env GOMOD)")
	fs.BoolVar(&o.json, "json", false, "print JSON instead of markdown")
	fs.IntVar(&o.scrapes, "scrapes", 0, "scrapes of sockstate serve and node_exporter's tcpstat collector to compare (0: none; needs sockstate in -only and prometheus-node-exporter)")
	fs.DurationVar(&o.soak, "soak", 0, "after the scrapes, scrape sockstate serve once a second for this long, sampling its RSS (needs -scrapes)")
	fs.IntVar(&o.netns, "netns", 0, "first spread -n sockets over this many `namespaces` and time ls --all-netns against ss in each; then the same number in one namespace, without TIME-WAIT (0: not)")
	fs.IntVar(&o.childHash, "child-hash", 0, "with -netns, give each namespace its own TCP established and UDP hash tables of this many `buckets` (net.ipv4.tcp_child_ehash_entries, udp_child_hash_entries: a power of two, 128 to 65536 for UDP); 0: the host's tables")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	var err error
	switch {
	case fs.NArg() > 0:
		err = fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case o.n < 100 || o.n > 1_000_000:
		err = fmt.Errorf("-n %d: want 100 to 1000000", o.n)
	case o.twFrac < 0 || o.twFrac > 0.9:
		err = fmt.Errorf("-tw %g: want 0 to 0.9", o.twFrac)
	case o.unix < 0 || o.unix > 1_000_000:
		err = fmt.Errorf("-unix %d: want 0 to 1000000", o.unix)
	case o.ports < 1 || o.ports > 64:
		err = fmt.Errorf("-ports %d: want 1 to 64", o.ports)
	case o.runs < 1:
		err = fmt.Errorf("-runs %d: want at least 1", o.runs)
	case o.warmup < 1:
		err = fmt.Errorf("-warmup %d: want at least 1, the run that measures peak RSS", o.warmup)
	case o.timeout <= 0:
		err = fmt.Errorf("-timeout %v: want more than 0", o.timeout)
	case o.netns < 0 || o.netns > 1000 || (o.netns > 0 && o.scrapes > 0):
		err = fmt.Errorf("-netns %d: want 0 to 1000, without -scrapes", o.netns)
	case o.childHash != 0 && (o.netns == 0 || o.childHash < 128 || o.childHash > 65536 || o.childHash&(o.childHash-1) != 0):
		err = fmt.Errorf("-child-hash %d: want a power of two from 128 to 65536, with -netns", o.childHash)
	case o.scrapes < 0 || (o.soak > 0 && o.scrapes == 0):
		err = fmt.Errorf("-scrapes %d -soak %v: -soak needs -scrapes of at least 1", o.scrapes, o.soak)
	default:
		o.only, err = parseOnly(only)
	}
	if err != nil {
		fmt.Fprintf(stderr, "sockbench: %v\n", err)
		fs.Usage()
	}
	return o, err
}

func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseOptions(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	rep, err := benchmark(ctx, o, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "sockbench: %v\n", err)
		if ctx.Err() != nil {
			return 130
		}
		return 1
	}
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	} else {
		err = writeMarkdown(stdout, rep)
	}
	if err != nil {
		fmt.Fprintf(stderr, "sockbench: %v\n", err)
		return 1
	}
	return 0
}
