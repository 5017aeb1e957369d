package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// benchmark builds what it measures, runs the inner harness in a new network
// namespace, and checks that nothing it made outlives it.
func benchmark(ctx context.Context, o options, stderr io.Writer) (*Report, error) {
	rep := &Report{Date: time.Now(), Runs: o.runs}
	// The plan first: it can refuse the flags before anything is built.
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return nil, fmt.Errorf("getrlimit: %w", err)
	}
	fds := int(min(uint64(o.fds), lim.Max))
	var np *netnsPlan
	if o.netns > 0 {
		p, err := newNetnsPlan(o.n, o.netns, fds)
		if err != nil {
			return nil, err
		}
		p.ChildHash = o.childHash
		// The same sockets, in one namespace, without TIME-WAIT.
		np, o.n, o.twFrac = &p, p.sockets(), 0
	}
	p, err := newPlan(o.n, o.twFrac, o.ports, fds)
	if err != nil {
		return nil, err
	}
	if p.UnixPairs, err = newUnixPlan(o.unix, int(min(uint64(o.fds), lim.Max))); err != nil {
		return nil, err
	}
	repo, err := findRepo(ctx, o.repo)
	if err != nil {
		return nil, err
	}
	rep.Commit = commit(ctx, repo)
	tmp, err := os.MkdirTemp("", "sockbench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	tools, err := findTools(ctx, o.only, repo, tmp, stderr)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(o.only, "sockstate") {
		rep.Notes = append(rep.Notes, "sockstate was left out by -only.")
		if o.scrapes > 0 {
			return nil, errors.New("-scrapes compares sockstate serve: -only must keep sockstate")
		}
	}
	if o.scrapes > 0 {
		if tools[nodeExporter], err = exec.LookPath(nodeExporter); err != nil {
			return nil, fmt.Errorf("-scrapes: %w (apt-get install prometheus-node-exporter)", err)
		}
	}
	if rep.Machine, err = describeMachine(ctx, tools); err != nil {
		return nil, err
	}

	cfg := innerConfig{
		Plan:    p,
		Groups:  selectGroups(groupSpecs(), o.only),
		Tools:   tools,
		Runs:    o.runs,
		Warmup:  o.warmup,
		Timeout: o.timeout,
		Scrapes: o.scrapes,
		Soak:    o.soak,
	}
	if np != nil {
		if !slices.Contains(o.only, "sockstate") {
			return nil, errors.New("-netns times sockstate ls --all-netns: -only must keep sockstate")
		}
		cfg.Netns, cfg.NetnsGroups = np, netnsGroups(o.only)
		if tools["sh"], err = exec.LookPath("sh"); err != nil {
			return nil, err
		}
		rep.Notes = append(rep.Notes, fmt.Sprintf("-netns: first %d sockets in %d namespaces (%d listeners, %d connections each; %d per helper), then %d in one.",
			np.sockets(), np.Namespaces, np.Ports, np.Pairs, np.PerHelper, p.sockets()))
		if np.ChildHash > 0 {
			rep.Notes = append(rep.Notes, fmt.Sprintf("-child-hash: each of the %d namespaces has its own TCP established and UDP hash tables of %d buckets.", np.Namespaces, np.ChildHash))
		}
	}
	if o.unix > 0 {
		cfg.Groups = append(cfg.Groups, selectGroups(unixGroupSpecs(), o.only)...)
	}

	if rep.Cleanup.HostBefore, err = readSockstat(); err != nil {
		return nil, err
	}
	planBefore, err := hostPlanSockets()
	if err != nil {
		return nil, err
	}
	res, ns, runErr := startInner(ctx, cfg, stderr)
	if ns == (nsID{}) {
		return nil, runErr
	}
	if ctx.Err() != nil {
		runErr = fmt.Errorf("interrupted: %w", runErr)
	}
	// Check what is left whether or not the run worked.
	left, lerr := waitNetnsEmpty(ns, 5*time.Second)
	planAfter, perr := hostPlanSockets()
	hostAfter, serr := readSockstat()
	if err := errors.Join(lerr, perr, serr); err != nil {
		return nil, errors.Join(runErr, err)
	}
	summary := fmt.Sprintf("processes still in the benchmark's network namespace: %v; host TCP sockets on its addresses: %d (%d before)",
		left, planAfter, planBefore)
	if runErr != nil {
		return nil, fmt.Errorf("%w\ncleanup: %s", runErr, summary)
	}
	if len(left) > 0 || planAfter > planBefore {
		return nil, fmt.Errorf("cleanup: %s", summary)
	}
	rep.Cleanup.ProcessesLeft = len(left)
	rep.Cleanup.HostAfter = hostAfter
	rep.Cleanup.HostPlanSockets = planAfter
	rep.Setup = res.Setup
	rep.Groups = res.Groups
	rep.Scrape = res.Scrape
	rep.Cleanup.NetnsTCPInUse = res.After.InUse
	rep.Cleanup.NetnsTimeWait = res.After.TimeWait
	return rep, nil
}

// findTools builds sockstate and the gopsutil peer into tmp and finds ss and
// netstat on PATH, for the tools in only. It maps each tool to its binary.
func findTools(ctx context.Context, only []string, repo, tmp string, stderr io.Writer) (map[string]string, error) {
	tools := map[string]string{}
	for _, t := range only {
		var err error
		switch t {
		case "sockstate":
			fmt.Fprintf(stderr, "sockbench: building sockstate in %s\n", repo)
			tools[t] = filepath.Join(tmp, "sockstate")
			if err = goBuild(ctx, repo, tools[t]); err != nil {
				err = fmt.Errorf("building sockstate: %w\n(is the sockstate command there yet? -only ss,netstat,gopsutil times the others)", err)
			}
		case "gopsutil":
			fmt.Fprintf(stderr, "sockbench: building the gopsutil peer in %s\n", gopsutilDir)
			tools[t] = filepath.Join(tmp, "gopsutil-conns")
			err = goBuild(ctx, filepath.Join(repo, gopsutilDir), tools[t])
		default:
			if tools[t], err = exec.LookPath(t); err != nil {
				err = fmt.Errorf("%w (-only can leave %s out)", err, t)
			}
		}
		if err != nil {
			return nil, err
		}
	}
	return tools, nil
}

func describeMachine(ctx context.Context, tools map[string]string) (machine, error) {
	m := machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), Versions: map[string]string{}}
	kernel, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return m, err
	}
	m.Kernel = strings.TrimSpace(string(kernel))
	mem, err := readKiB("/proc/meminfo", "MemTotal")
	if err != nil {
		return m, err
	}
	m.MemTotalMiB = int(mem / 1024)
	load, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return m, err
	}
	f := strings.Fields(string(load))
	if len(f) < 3 {
		return m, fmt.Errorf("loadavg: %q: %w", load, errMalformed)
	}
	m.LoadAvg = strings.Join(f[:3], " ")
	for t, path := range tools {
		if v := toolVersion(ctx, t, path); v != "" {
			m.Versions[t] = v
		}
	}
	return m, nil
}

// nsID identifies a namespace: the device and inode of its /proc/PID/ns file.
type nsID struct{ dev, ino uint64 }

func netnsOf(pid int) (nsID, error) {
	fi, err := os.Stat(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil {
		return nsID{}, err
	}
	st := fi.Sys().(*syscall.Stat_t)
	return nsID{st.Dev, st.Ino}, nil
}

// startInner runs the inner harness in a new network namespace and returns
// its result and the namespace's identity, which is zero if the harness did
// not start. An interrupt reaches the inner harness as SIGTERM; it has 30 s
// to clean up before it is killed. Pdeathsig kills it if this process dies.
func startInner(ctx context.Context, cfg innerConfig, stderr io.Writer) (innerResult, nsID, error) {
	var res innerResult
	self, err := os.Executable()
	if err != nil {
		return res, nsID{}, err
	}
	in, err := json.Marshal(cfg)
	if err != nil {
		return res, nsID{}, err
	}
	resR, resW, err := os.Pipe()
	if err != nil {
		return res, nsID{}, err
	}
	defer resR.Close()
	cmd := exec.CommandContext(ctx, self)
	cmd.Env = append(os.Environ(), roleEnv+"="+roleInner)
	cmd.Stdin = bytes.NewReader(in)
	cmd.Stderr = stderr
	cmd.ExtraFiles = []*os.File{resW}
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	if cfg.Netns != nil {
		// Its ip netns names go in a /run/netns of its own.
		cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWNS
	}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	err = cmd.Start()
	resW.Close()
	if errors.Is(err, os.ErrPermission) {
		return res, nsID{}, fmt.Errorf("creating a network namespace: %w (run as root)", err)
	}
	if err != nil {
		return res, nsID{}, fmt.Errorf("starting the inner harness: %w", err)
	}
	ns, nsErr := netnsOf(cmd.Process.Pid)
	out, readErr := io.ReadAll(resR)
	waitErr := cmd.Wait()
	if nsErr != nil {
		// Without the namespace's identity nothing can be checked.
		return res, nsID{}, fmt.Errorf("inner harness: %w", nsErr)
	}
	if readErr != nil {
		return res, ns, fmt.Errorf("inner harness: %w", readErr)
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return res, ns, fmt.Errorf("inner harness gave no result (%v): %w", waitErr, err)
	}
	if res.Err != "" {
		return res, ns, errors.New(res.Err)
	}
	if waitErr != nil {
		return res, ns, fmt.Errorf("inner harness: %w", waitErr)
	}
	return res, ns, nil
}

// waitNetnsEmpty waits up to limit for every process in ns to go and returns
// those left. A namespace no process is in, and no file or mount holds, is
// destroyed with its sockets.
func waitNetnsEmpty(ns nsID, limit time.Duration) ([]int, error) {
	deadline := time.Now().Add(limit)
	for {
		left, err := processesIn(ns)
		if err != nil || len(left) == 0 || time.Now().After(deadline) {
			return left, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// processesIn lists the processes in network namespace ns.
func processesIn(ns nsID) ([]int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		// A process that exits meanwhile has no namespace to compare.
		if id, err := netnsOf(pid); err == nil && id == ns {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}
