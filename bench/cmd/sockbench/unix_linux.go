package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// roleUnixHelper is a helper that holds unix socketpairs.
const roleUnixHelper = "unixhelper"

// runUnixHelper is the unix helper role: it makes pairs stream
// socketpairs, prints readyLine and holds them until its stdin closes.
func runUnixHelper(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("sockbench unixhelper", flag.ContinueOnError)
	index := fs.Int("index", 0, "helper number")
	pairs := fs.Int("pairs", 0, "socketpairs to make")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := raiseNofile(2**pairs + fdReserve); err != nil {
		return err
	}
	fds := make([]int, 0, 2**pairs)
	defer func() {
		for _, fd := range fds {
			syscall.Close(fd)
		}
	}()
	for j := range *pairs {
		p, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("unix helper %d: socketpair %d: %w", *index, j, err)
		}
		fds = append(fds, p[0], p[1])
	}
	if _, err := fmt.Fprintln(stdout, readyLine); err != nil {
		return fmt.Errorf("unix helper %d: %w", *index, err)
	}
	holdUntilEOF(ctx, stdin)
	return nil
}

// startUnixHelpers starts a unix helper per entry of pairs and waits until
// each is ready. It returns the helpers started, even on error.
func startUnixHelpers(ctx context.Context, pairs []int) ([]*helperProc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("inner: %w", err)
	}
	var helpers []*helperProc
	for k, n := range pairs {
		h := &helperProc{index: k}
		h.cmd = exec.Command(self, "-index", strconv.Itoa(k), "-pairs", strconv.Itoa(n))
		if h, err = startProc(h, roleUnixHelper); err != nil {
			return helpers, err
		}
		helpers = append(helpers, h)
	}
	return helpers, awaitHelpers(ctx, helpers)
}

// countUnix counts the sockets of /proc/net/unix, this namespace's.
func countUnix() (int, error) {
	b, err := os.ReadFile("/proc/thread-self/net/unix")
	if err != nil {
		return 0, fmt.Errorf("inner: %w", err)
	}
	return bytes.Count(b, []byte{'\n'}) - 1, nil
}

// setUpUnix starts the plan's unix helpers into set and checks that the
// namespace holds their sockets.
func setUpUnix(ctx context.Context, p plan, set *socketSet, st *setup) error {
	if len(p.UnixPairs) == 0 {
		return nil
	}
	start := time.Now()
	helpers, err := startUnixHelpers(ctx, p.UnixPairs)
	set.helpers = append(set.helpers, helpers...)
	if err != nil {
		return err
	}
	st.UnixSeconds = time.Since(start).Seconds()
	if st.UnixSockets, err = countUnix(); err != nil {
		return err
	}
	if st.UnixSockets < p.unixSockets() {
		return fmt.Errorf("inner: /proc/net/unix lists %d sockets, want at least the helpers' %d", st.UnixSockets, p.unixSockets())
	}
	return nil
}
