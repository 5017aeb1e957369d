package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// readyLine is what a helper prints once all its connections are up.
const readyLine = "ready"

// runHelper is the helper role: it listens on its ports, connects to itself
// pairs times, prints readyLine and holds every socket until its stdin
// closes or it is told to stop. Its parent starts it with Pdeathsig, so it
// also dies with the parent.
func runHelper(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("sockbench helper", flag.ContinueOnError)
	index := fs.Int("index", 0, "helper number, which picks its addresses")
	pairs := fs.Int("pairs", 0, "connections to make")
	ports := fs.Int("ports", 1, "listening ports")
	timeout := fs.Duration("timeout", time.Minute, "limit for the whole setup")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := raiseNofile(2**pairs + *ports + fdReserve); err != nil {
		return err
	}
	setupCtx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	socks, err := connectPairs(setupCtx, *index, *pairs, *ports)
	// Close whatever was made, even on failure: SO_LINGER 0 turns each
	// close into a reset, so none lingers in TIME_WAIT.
	defer func() {
		for _, c := range socks {
			c.Close()
		}
	}()
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(stdout, readyLine); err != nil {
		return fmt.Errorf("helper %d: %w", *index, err)
	}
	holdUntilEOF(ctx, stdin)
	return nil
}

// holdUntilEOF returns when stdin closes or ctx ends: a helper holds its
// sockets until then.
func holdUntilEOF(ctx context.Context, stdin io.Reader) {
	eof := make(chan struct{})
	go func() {
		io.Copy(io.Discard, stdin)
		close(eof)
	}()
	select {
	case <-eof:
	case <-ctx.Done():
	}
}

// raiseNofile lifts RLIMIT_NOFILE's soft limit to the hard one and checks
// that need descriptors fit.
func raiseNofile(need int) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("helper: getrlimit: %w", err)
	}
	if lim.Max < uint64(need) {
		return fmt.Errorf("helper: need %d descriptors, RLIMIT_NOFILE's hard limit is %d", need, lim.Max)
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("helper: setrlimit: %w", err)
	}
	return nil
}

// connectPairs makes helper k's listeners and its pairs connections to them,
// both ends here, each set to reset rather than linger when closed. It
// returns every socket it made, even on error.
func connectPairs(ctx context.Context, k, pairs, ports int) ([]io.Closer, error) {
	socks := make([]io.Closer, 0, 2*pairs+ports)
	var lns []*net.TCPListener
	for i := range ports {
		ln, err := net.ListenTCP("tcp4", net.TCPAddrFromAddrPort(helperListenAddr(k, i)))
		if err != nil {
			return socks, fmt.Errorf("helper %d: %w", k, err)
		}
		socks = append(socks, ln)
		lns = append(lns, ln)
	}
	deadline, _ := ctx.Deadline()
	for j := range pairs {
		i := j % ports
		c, s, err := connectPair(ctx, lns[i], helperClientAddr(k, j), helperListenAddr(k, i), deadline)
		if c != nil {
			socks = append(socks, c)
		}
		if s != nil {
			socks = append(socks, s)
		}
		if err != nil {
			return socks, fmt.Errorf("helper %d: connection %d: %w", k, j, err)
		}
		if err := c.SetLinger(0); err != nil {
			return socks, fmt.Errorf("helper %d: %w", k, err)
		}
		if err := s.SetLinger(0); err != nil {
			return socks, fmt.Errorf("helper %d: %w", k, err)
		}
	}
	return socks, nil
}

// connectPair connects from src to ln's address dst and accepts the
// connection on ln, by deadline.
func connectPair(ctx context.Context, ln *net.TCPListener, src, dst netip.AddrPort, deadline time.Time) (c, s *net.TCPConn, err error) {
	d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(src), Deadline: deadline}
	conn, err := d.DialContext(ctx, "tcp4", dst.String())
	if err != nil {
		return nil, nil, err
	}
	c = conn.(*net.TCPConn)
	if err := ln.SetDeadline(deadline); err != nil {
		return c, nil, err
	}
	s, err = ln.AcceptTCP()
	return c, s, err
}

// helperProc is a running helper as its parent sees it.
type helperProc struct {
	index int
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines *bufio.Scanner
	// stderr collects what the helper says on failure.
	stderr   strings.Builder
	stopOnce sync.Once
}

// startHelper starts helper k from the executable self.
func startHelper(self string, k, pairs, ports int, timeout time.Duration) (*helperProc, error) {
	h := &helperProc{index: k}
	h.cmd = exec.Command(self, "-index", strconv.Itoa(k), "-pairs", strconv.Itoa(pairs),
		"-ports", strconv.Itoa(ports), "-timeout", timeout.String())
	return startProc(h, roleHelper)
}

// startProc starts h.cmd as a helper of the role given, its stdin and
// stdout piped to h.
func startProc(h *helperProc, role string) (*helperProc, error) {
	k := h.index
	h.cmd.Env = append(os.Environ(), roleEnv+"="+role)
	h.cmd.Stderr = &h.stderr
	h.cmd.WaitDelay = 5 * time.Second
	h.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var err error
	if h.stdin, err = h.cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("helper %d: %w", k, err)
	}
	out, err := h.cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("helper %d: %w", k, err)
	}
	h.lines = bufio.NewScanner(out)
	if err := h.cmd.Start(); err != nil {
		return nil, fmt.Errorf("helper %d: %w", k, err)
	}
	return h, nil
}

// waitReady waits for the helper's ready line. The helper enforces the
// timeout itself and exits, closing its stdout, when it runs out.
func (h *helperProc) waitReady() error {
	if h.lines.Scan() && h.lines.Text() == readyLine {
		return nil
	}
	// Reap it to be sure its stderr is complete.
	h.stop()
	return fmt.Errorf("helper %d did not get ready: %s", h.index, strings.TrimSpace(h.stderr.String()))
}

// stop closes the helper's stdin, which makes it close its sockets and exit,
// and kills it if it has not exited within a few seconds. It may be called
// more than once.
func (h *helperProc) stop() {
	h.stopOnce.Do(func() {
		h.stdin.Close()
		done := make(chan struct{})
		go func() {
			h.cmd.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			h.cmd.Process.Kill()
			<-done
		}
	})
}
