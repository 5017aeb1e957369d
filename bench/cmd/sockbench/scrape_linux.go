package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The exporters' addresses in the benchmark's namespace, apart from the
// plan's (127.0.1.0 and up).
const (
	sockstateAddr = "127.0.0.1:9474"
	nodeAddr      = "127.0.0.1:9100"
)

// exporter is a running exporter process.
type exporter struct {
	name, command, addr string
	cmd                 *exec.Cmd
	parse               func(body string) map[string]int64
}

func startExporter(ctx context.Context, name, path, addr string, args []string, devnull *os.File, parse func(string) map[string]int64) (*exporter, error) {
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("scrape: %s: %w", name, err)
	}
	e := &exporter{name: name, command: filepath.Base(path) + " " + strings.Join(args, " "), addr: addr, cmd: cmd, parse: parse}
	for range 100 {
		if resp, err := http.Get("http://" + addr + "/"); err == nil {
			resp.Body.Close()
			return e, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.stop()
	return nil, fmt.Errorf("scrape: %s did not answer on %s in 5 s", name, addr)
}

func (e *exporter) stop() {
	e.cmd.Process.Signal(syscall.SIGTERM)
	e.cmd.Wait()
}

// scrape gets /metrics once and returns the body, the request's wall time
// and the exporter's CPU time, from before the request to 100 ms after the
// response, which covers work the scrape left running (a collection, GC).
func (e *exporter) scrape() (body string, wall, cpu time.Duration, err error) {
	before, err := cpuTime(e.cmd.Process.Pid)
	if err != nil {
		return "", 0, 0, err
	}
	start := time.Now()
	resp, err := http.Get("http://" + e.addr + "/metrics")
	if err != nil {
		return "", 0, 0, fmt.Errorf("scrape: %s: %w", e.name, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	wall = time.Since(start)
	if err != nil || resp.StatusCode != 200 {
		return "", 0, 0, fmt.Errorf("scrape: %s: %s: %v", e.name, resp.Status, err)
	}
	time.Sleep(100 * time.Millisecond)
	after, err := cpuTime(e.cmd.Process.Pid)
	return string(b), wall, after - before, err
}

// cpuTime is the time every thread of pid has run on a CPU: the first
// field of each /proc/PID/task/TID/schedstat, in ns.
func cpuTime(pid int) (time.Duration, error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(tasks) == 0 {
		return 0, fmt.Errorf("scrape: no tasks of %d: %v", pid, err)
	}
	var total time.Duration
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue // the thread exited
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			return 0, fmt.Errorf("scrape: %s: %q: %w", t, b, errMalformed)
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("scrape: %s: %q: %w", t, b, errMalformed)
		}
		total += time.Duration(ns)
	}
	return total, nil
}

// sockstateStates sums sockstate_sockets{protocol="tcp"} over the families.
func sockstateStates(body string) map[string]int64 {
	return states(body, "sockstate_sockets{", `protocol="tcp"`)
}

// nodeStates reads node_tcp_connection_states, naming states as the
// kernel, without the queues' bytes that node_exporter puts among them
// (state="rx_queued_bytes", "tx_queued_bytes").
func nodeStates(body string) map[string]int64 {
	m := states(body, "node_tcp_connection_states{", "")
	maps.DeleteFunc(m, func(state string, _ int64) bool { return strings.HasSuffix(state, "_QUEUED_BYTES") })
	return m
}

// states sums the nonzero samples of the series that start with prefix and
// hold must, by their state label, in upper case.
func states(body, prefix, must string) map[string]int64 {
	out := map[string]int64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, prefix) || !strings.Contains(line, must) {
			continue
		}
		_, rest, _ := strings.Cut(line, `state="`)
		state, rest, _ := strings.Cut(rest, `"`)
		_, value, _ := strings.Cut(rest, "} ")
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err == nil && v != 0 {
			out[strings.ToUpper(state)] += int64(v)
		}
	}
	return out
}

// measureScrapes starts sockstate serve and node_exporter's tcpstat in the
// namespace, scrapes each cfg.Scrapes times after two untimed scrapes, in
// rounds that rotate which goes first, and then, with cfg.Soak, scrapes
// sockstate once a second for that long.
func measureScrapes(ctx context.Context, cfg innerConfig, tw *twMaker, devnull *os.File) (*scrapeReport, error) {
	ss, err := startExporter(ctx, "sockstate", cfg.Tools["sockstate"], sockstateAddr,
		[]string{"serve", "--listen", sockstateAddr, "--source", "netlink"}, devnull, sockstateStates)
	if err != nil {
		return nil, err
	}
	defer ss.stop()
	ne, err := startExporter(ctx, "node_exporter", cfg.Tools[nodeExporter], nodeAddr,
		[]string{"--collector.disable-defaults", "--collector.tcpstat", "--web.listen-address=" + nodeAddr}, devnull, nodeStates)
	if err != nil {
		return nil, err
	}
	defer ne.stop()
	exps := []*exporter{ss, ne}
	for _, e := range exps {
		for range 2 {
			if _, _, _, err := e.scrape(); err != nil {
				return nil, err
			}
		}
	}
	cpu := make([][]float64, len(exps))
	wall := make([][]float64, len(exps))
	bodies := make([]string, len(exps))
	rep := &scrapeReport{Scrapes: cfg.Scrapes}
	for round := range cfg.Scrapes {
		var roundCPU, roundWall [2]float64
		err := steady(ctx, tw, cfg.Plan.TimeWait, func() error {
			for j := range exps {
				i := (round + j) % len(exps)
				body, w, c, err := exps[i].scrape()
				if err != nil {
					return err
				}
				bodies[i], roundCPU[i], roundWall[i] = body, ms(c), ms(w)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		for i := range exps {
			cpu[i], wall[i] = append(cpu[i], roundCPU[i]), append(wall[i], roundWall[i])
		}
		if maps.Equal(ss.parse(bodies[0]), ne.parse(bodies[1])) {
			rep.StatesAgreed++
		}
	}
	for i, e := range exps {
		r := exporterRow{Name: e.name, Command: e.command, CPU: cpu[i], Bytes: len(bodies[i]), TCPStates: e.parse(bodies[i])}
		r.CPUMedian, r.CPUMin, r.CPUMax = medianMinMax(cpu[i])
		r.WallMedian, _, _ = medianMinMax(wall[i])
		status := fmt.Sprintf("/proc/%d/status", e.cmd.Process.Pid)
		if r.RSSKiB, err = readKiB(status, "VmRSS"); err != nil {
			return nil, err
		}
		if r.HWMKiB, err = readKiB(status, "VmHWM"); err != nil {
			return nil, err
		}
		rep.Exporters = append(rep.Exporters, r)
	}
	if rep.Exporters[1].CPUMedian > 0 {
		rep.CPURatio = rep.Exporters[0].CPUMedian / rep.Exporters[1].CPUMedian
	}
	if cfg.Soak > 0 {
		if rep.Soak, err = soak(ctx, ss, tw, cfg); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// soak scrapes sockstate once a second for cfg.Soak, topping TIME_WAIT up
// every 10 s, and samples its RSS after each tenth of the scrapes.
func soak(ctx context.Context, e *exporter, tw *twMaker, cfg innerConfig) (*soakReport, error) {
	n := int(cfg.Soak / time.Second)
	r := &soakReport{Scrapes: n}
	var cpu []float64
	start := time.Now()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	status := fmt.Sprintf("/proc/%d/status", e.cmd.Process.Pid)
	for i := 1; i <= n; i++ {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
		if i%10 == 0 {
			if err := tw.topUp(ctx, cfg.Plan.TimeWait); err != nil {
				return nil, err
			}
		}
		_, _, c, err := e.scrape()
		if err != nil {
			return nil, err
		}
		cpu = append(cpu, ms(c))
		if i%max(1, n/10) == 0 {
			rss, err := readKiB(status, "VmRSS")
			if err != nil {
				return nil, err
			}
			r.RSSKiB = append(r.RSSKiB, rss)
		}
	}
	r.Seconds = time.Since(start).Seconds()
	r.CPUMedian, _, r.CPUMax = medianMinMax(cpu)
	var err error
	r.HWMKiB, err = readKiB(status, "VmHWM")
	return r, err
}
