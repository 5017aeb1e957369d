package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// netnsRun is the -netns phase of the inner harness, which the outer one
// starts in a mount namespace of its own as well: it mounts a tmpfs on
// /run/netns, so that the ip netns names it makes vanish with it, makes
// the namespaces, fills them, times groups and takes everything down.
func netnsRun(ctx context.Context, cfg innerConfig, devnull *os.File, stderr io.Writer) ([]group, error) {
	p := *cfg.Netns
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return nil, fmt.Errorf("inner: make / private: %w", err)
	}
	if err := os.MkdirAll("/run/netns", 0o755); err != nil {
		return nil, fmt.Errorf("inner: %w", err)
	}
	if err := unix.Mount("sockbench", "/run/netns", "tmpfs", 0, "mode=0755"); err != nil {
		return nil, fmt.Errorf("inner: tmpfs on /run/netns: %w", err)
	}
	defer unix.Unmount("/run/netns", unix.MNT_DETACH)
	fmt.Fprintf(stderr, "sockbench: setting up %d sockets in %d namespaces (%d listeners and %d connections each)\n",
		p.sockets(), p.Namespaces, p.Ports, p.Pairs)
	start := time.Now()
	if err := setChildHash(p.ChildHash); err != nil {
		return nil, err
	}
	var names []string
	for i := range p.Namespaces {
		names = append(names, netnsName(i))
		if out, err := exec.CommandContext(ctx, "ip", "netns", "add", names[i]).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("inner: ip netns add %s: %w: %s", names[i], err, strings.TrimSpace(string(out)))
		}
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("inner: %w", err)
	}
	var helpers []*helperProc
	defer func() {
		for _, h := range helpers {
			h.stop()
		}
	}()
	for k := 0; k*p.PerHelper < p.Namespaces; k++ {
		set := names[k*p.PerHelper : min((k+1)*p.PerHelper, p.Namespaces)]
		h, err := startHelper(self, k, p.Pairs, p.Ports, cfg.Timeout, "-netns", strings.Join(set, ","))
		if err != nil {
			return nil, err
		}
		helpers = append(helpers, h)
	}
	if err := awaitHelpers(ctx, helpers); err != nil {
		return nil, err
	}
	fmt.Fprintf(stderr, "sockbench: set up in %.1f s, %d helpers\n", time.Since(start).Seconds(), len(helpers))
	var groups []group
	for _, g := range cfg.NetnsGroups {
		fmt.Fprintf(stderr, "sockbench: timing %s\n", g.Name)
		r, err := measureGroup(ctx, cfg, g, nil, devnull)
		if err != nil {
			return groups, err
		}
		groups = append(groups, r)
	}
	return groups, nil
}

// setChildHash sets the sizes of the hash tables the namespaces made after
// it get of their own; 0 leaves them sharing the host's.
func setChildHash(n int) error {
	if n == 0 {
		return nil
	}
	for _, name := range []string{"tcp_child_ehash_entries", "udp_child_hash_entries"} {
		if err := os.WriteFile("/proc/sys/net/ipv4/"+name, []byte(strconv.Itoa(n)), 0); err != nil {
			return fmt.Errorf("inner: -child-hash: %w", err)
		}
	}
	return nil
}

// fillNetns is the helper's part of a -netns run: in each namespace named,
// entered on this thread, it brings lo up, makes its listeners and pairs
// connections, and checks the namespace's count in
// /proc/thread-self/net/sockstat. The thread stays in the last namespace:
// the helper exits with it.
func fillNetns(ctx context.Context, names []string, pairs, ports int) ([]io.Closer, error) {
	runtime.LockOSThread()
	var socks []io.Closer
	for _, name := range names {
		f, err := os.Open("/run/netns/" + name)
		if err != nil {
			return socks, fmt.Errorf("helper: %w", err)
		}
		err = unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
		f.Close()
		if err != nil {
			return socks, fmt.Errorf("helper: setns %s: %w", name, err)
		}
		if err := loopbackUp(); err != nil {
			return socks, err
		}
		s, err := connectPairs(ctx, 0, pairs, ports)
		socks = append(socks, s...)
		if err != nil {
			return socks, fmt.Errorf("%s: %w", name, err)
		}
		f, err = os.Open("/proc/thread-self/net/sockstat")
		if err != nil {
			return socks, fmt.Errorf("helper: %w", err)
		}
		st, err := parseSockstat(f)
		f.Close()
		if err != nil {
			return socks, err
		}
		if want := 2*pairs + ports; st.InUse != want {
			return socks, fmt.Errorf("helper: %s has %d TCP sockets in use, want %d", name, st.InUse, want)
		}
	}
	return socks, nil
}
