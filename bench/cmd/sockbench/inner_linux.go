package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// innerConfig is what the outer harness hands the inner one on its stdin.
type innerConfig struct {
	Plan   plan        `json:"plan"`
	Groups []groupSpec `json:"groups"`
	// Tools maps each tool to its binary.
	Tools   map[string]string `json:"tools"`
	Runs    int               `json:"runs"`
	Warmup  int               `json:"warmup"`
	Timeout time.Duration     `json:"timeout"`
	// Scrapes and Soak say how to compare the exporters; 0 for not.
	Scrapes int           `json:"scrapes"`
	Soak    time.Duration `json:"soak"`
}

// innerResult is what the inner harness hands back on descriptor 3.
type innerResult struct {
	Setup  setup         `json:"setup"`
	Groups []group       `json:"groups"`
	Scrape *scrapeReport `json:"scrape,omitempty"`
	// After is the namespace's count once the helpers had exited.
	After sockstat `json:"after"`
	// Err is why the run failed, if it did.
	Err string `json:"err,omitempty"`
}

// runInner is the inner role, run in a fresh network namespace: it builds
// the socket set, times the groups, takes everything down again and writes
// an innerResult to result.
func runInner(ctx context.Context, stdin io.Reader, stderr, result io.Writer) error {
	// The commands timed should not see the role; helpers get theirs
	// explicitly.
	if err := os.Unsetenv(roleEnv); err != nil {
		return fmt.Errorf("inner: %w", err)
	}
	var cfg innerConfig
	if err := json.NewDecoder(stdin).Decode(&cfg); err != nil {
		return fmt.Errorf("inner: config: %w", err)
	}
	res, err := inner(ctx, cfg, stderr)
	if err != nil {
		res.Err = err.Error()
	}
	if werr := json.NewEncoder(result).Encode(res); werr != nil {
		return errors.Join(err, fmt.Errorf("inner: result: %w", werr))
	}
	return err
}

func inner(ctx context.Context, cfg innerConfig, stderr io.Writer) (innerResult, error) {
	var res innerResult
	if err := loopbackUp(); err != nil {
		return res, err
	}
	base, err := readSockstat()
	if err != nil {
		return res, err
	}
	if base != (sockstat{}) {
		return res, fmt.Errorf("inner: the new namespace already has %d TCP sockets and %d TIME-WAIT", base.InUse, base.TimeWait)
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return res, fmt.Errorf("inner: %w", err)
	}
	defer devnull.Close()

	p := cfg.Plan
	fmt.Fprintf(stderr, "sockbench: setting up %d sockets: %d connections in %d helpers, %d TIME-WAIT\n",
		p.sockets(), p.pairs(), len(p.Pairs), p.TimeWait)
	set, err := setUp(ctx, p, cfg.Timeout, &res.Setup)
	defer set.close()
	if err != nil {
		return res, err
	}
	fmt.Fprintf(stderr, "sockbench: set up in %.1f s\n", res.Setup.Seconds)

	for _, g := range cfg.Groups {
		names := make([]string, len(g.Commands))
		for i, c := range g.Commands {
			names[i] = c.String()
		}
		fmt.Fprintf(stderr, "sockbench: timing %s: %s\n", g.Name, strings.Join(names, " | "))
		r, err := measureGroup(ctx, cfg, g, set.tw, devnull)
		if err != nil {
			return res, err
		}
		res.Groups = append(res.Groups, r)
	}
	if cfg.Scrapes > 0 {
		fmt.Fprintf(stderr, "sockbench: scraping sockstate serve and node_exporter %d times each\n", cfg.Scrapes)
		if res.Scrape, err = measureScrapes(ctx, cfg, set.tw, devnull); err != nil {
			return res, err
		}
	}

	set.close()
	if res.After, err = waitInUse(base.InUse, 5*time.Second); err != nil {
		return res, err
	}
	if res.After.InUse != base.InUse {
		return res, fmt.Errorf("inner: %d TCP sockets still in use after the helpers exited, want %d", res.After.InUse, base.InUse)
	}
	return res, nil
}

// socketSet holds a plan's sockets: the helpers and the TIME_WAIT maker.
type socketSet struct {
	helpers []*helperProc
	tw      *twMaker
}

// close stops the helpers and closes the TIME_WAIT maker's listener. It may
// be called more than once.
func (s *socketSet) close() {
	for _, h := range s.helpers {
		h.stop()
	}
	if s.tw != nil {
		s.tw.Close()
	}
}

// setUp makes p's sockets, checks them against /proc/net/sockstat and fills
// in st. The caller closes the set it returns, even on error.
func setUp(ctx context.Context, p plan, timeout time.Duration, st *setup) (*socketSet, error) {
	set := &socketSet{}
	st.Plan = p
	var err error
	if st.MaxTimeWait, err = readSysctlInt("net/ipv4/tcp_max_tw_buckets"); err != nil {
		return set, err
	}
	if p.TimeWait > st.MaxTimeWait {
		return set, fmt.Errorf("inner: %d TIME-WAIT sockets asked for, but net.ipv4.tcp_max_tw_buckets is %d: lower -tw or -n",
			p.TimeWait, st.MaxTimeWait)
	}
	memBefore, err := readKiB("/proc/meminfo", "MemAvailable")
	if err != nil {
		return set, err
	}
	start := time.Now()
	if set.helpers, err = startHelpers(ctx, p, timeout); err != nil {
		return set, err
	}
	if set.tw, err = newTWMaker(timeout); err != nil {
		return set, err
	}
	if err := set.tw.make(ctx, p.TimeWait); err != nil {
		return set, err
	}
	st.Seconds = time.Since(start).Seconds()
	if err := setUpUnix(ctx, p, set, st); err != nil {
		return set, err
	}

	memAfter, err := readKiB("/proc/meminfo", "MemAvailable")
	if err != nil {
		return set, err
	}
	st.MemMiB = float64(memBefore-memAfter) / 1024
	for _, h := range set.helpers {
		rss, err := readKiB(fmt.Sprintf("/proc/%d/status", h.cmd.Process.Pid), "VmRSS")
		if err != nil {
			return set, fmt.Errorf("inner: helper %d: %w", h.index, err)
		}
		st.HelpersRSSMiB += float64(rss) / 1024
	}
	counts, err := readSockstat()
	if err != nil {
		return set, err
	}
	st.TCPInUse, st.TimeWait = counts.InUse, counts.TimeWait
	if wantInUse := 2*p.pairs() + p.listeners(); counts.InUse != wantInUse || counts.TimeWait != p.TimeWait {
		return set, fmt.Errorf("inner: after setup /proc/net/sockstat says %d TCP in use and %d TIME-WAIT, want %d and %d",
			counts.InUse, counts.TimeWait, wantInUse, p.TimeWait)
	}
	return set, nil
}

// startHelpers starts one helper per entry of p.Pairs and waits until each
// is ready. It returns the helpers started, even on error, for the caller to
// stop.
func startHelpers(ctx context.Context, p plan, timeout time.Duration) ([]*helperProc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("inner: %w", err)
	}
	var helpers []*helperProc
	for k, pairs := range p.Pairs {
		h, err := startHelper(self, k, pairs, p.Ports, timeout)
		if err != nil {
			return helpers, err
		}
		helpers = append(helpers, h)
	}
	return helpers, awaitHelpers(ctx, helpers)
}

// awaitHelpers waits until each helper is ready, killing them all if ctx
// ends first.
func awaitHelpers(ctx context.Context, helpers []*helperProc) error {
	// Each helper gives up by itself after timeout; an interrupt cannot
	// wait for that.
	stop := context.AfterFunc(ctx, func() {
		for _, h := range helpers {
			h.cmd.Process.Kill()
		}
	})
	defer stop()
	for _, h := range helpers {
		if err := h.waitReady(); err != nil {
			return errors.Join(ctx.Err(), err)
		}
	}
	return nil
}

// measureGroup runs each of g's commands cfg.Warmup times under probe, then
// cfg.Runs times timed. Each round runs every command once, starting one
// further along the list each round.
func measureGroup(ctx context.Context, cfg innerConfig, g groupSpec, tw *twMaker, devnull *os.File) (group, error) {
	n := len(g.Commands)
	peaks := make([]int64, n)
	lines := make([]int, n)
	times := make([][]time.Duration, n)
	for range cfg.Warmup {
		for i, c := range g.Commands {
			err := steady(ctx, tw, cfg.Plan.TimeWait, func() error {
				r, err := probe(ctx, cfg.Tools[c.Tool], c, devnull, cfg.Timeout)
				peaks[i] = max(peaks[i], r.peakKiB)
				lines[i] = r.lines
				return err
			})
			if err != nil {
				return group{}, err
			}
		}
	}
	for round := range cfg.Runs {
		for j := range n {
			i := (round + j) % n
			c := g.Commands[i]
			var d time.Duration
			err := steady(ctx, tw, cfg.Plan.TimeWait, func() error {
				var err error
				d, err = timeRun(ctx, cfg.Tools[c.Tool], c, devnull, cfg.Timeout)
				return err
			})
			if err != nil {
				return group{}, err
			}
			times[i] = append(times[i], d)
		}
	}
	res := group{Name: g.Name}
	for i, c := range g.Commands {
		res.Rows = append(res.Rows, newRow(c, times[i], peaks[i], lines[i]))
	}
	res.setRatios()
	return res, nil
}

// steady tops TIME_WAIT up to target and runs f, and does both again if the
// namespace's socket counts changed while f ran, up to three times in all.
// The kernel drops TIME_WAIT sockets 60 s after they were made, and since
// they are made in batches they expire in batches: a run that straddles one
// saw fewer sockets than its neighbours.
func steady(ctx context.Context, tw *twMaker, target int, f func() error) error {
	for attempt := 1; ; attempt++ {
		if err := tw.topUp(ctx, target); err != nil {
			return err
		}
		before, err := readSockstat()
		if err != nil {
			return err
		}
		if err := f(); err != nil {
			return err
		}
		after, err := readSockstat()
		if err != nil || after == before || attempt == 3 {
			return err
		}
	}
}

// waitInUse polls /proc/net/sockstat until TCP in use is back to want, for
// at most limit: the resets of the helpers' sockets are processed
// asynchronously.
func waitInUse(want int, limit time.Duration) (sockstat, error) {
	deadline := time.Now().Add(limit)
	for {
		st, err := readSockstat()
		if err != nil || st.InUse == want || time.Now().After(deadline) {
			return st, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// readSysctlInt reads an integer from /proc/sys.
func readSysctlInt(name string) (int, error) {
	b, err := os.ReadFile("/proc/sys/" + name)
	if err != nil {
		return 0, fmt.Errorf("sysctl: %w", err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("sysctl %s: %q: %w", name, b, errMalformed)
	}
	return n, nil
}

// loopbackUp sets IFF_UP on lo, which a new network namespace has down, with
// the SIOCGIFFLAGS/SIOCSIFFLAGS ioctls of netdevice(7).
func loopbackUp() error {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("inner: lo up: %w", err)
	}
	defer syscall.Close(fd)
	// struct ifreq: the name, then a union whose ifr_flags is a short.
	var ifr struct {
		name  [syscall.IFNAMSIZ]byte
		flags uint16
		_     [22]byte
	}
	copy(ifr.name[:], "lo")
	ioctl := func(req uintptr) error {
		if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), req, uintptr(unsafe.Pointer(&ifr))); errno != 0 {
			return fmt.Errorf("inner: lo up: %w", errno)
		}
		return nil
	}
	if err := ioctl(syscall.SIOCGIFFLAGS); err != nil {
		return err
	}
	ifr.flags |= syscall.IFF_UP
	return ioctl(syscall.SIOCSIFFLAGS)
}
