package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// timeRun runs c once from path, with stdio on /dev/null, and returns its
// wall time from fork to reaping.
func timeRun(ctx context.Context, path string, c command, devnull *os.File, timeout time.Duration) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, c.Args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", c, err)
	}
	return d, nil
}

// probeResult is what a traced run of a command found.
type probeResult struct {
	peakKiB int64
	lines   int
}

// ptraceOExitKill is PTRACE_O_EXITKILL (linux/ptrace.h), which package
// syscall lacks: the tracee dies if the tracer does.
const ptraceOExitKill = 1 << 20

// probe runs c once under ptrace to read its peak RSS and count its output
// lines. The peak is VmHWM from /proc/PID/status at the exit stop, when the
// process still has its memory. wait4's ru_maxrss cannot serve: Go starts
// children with vfork, and exec folds the old memory's high-water mark, the
// parent's, into the child's ru_maxrss, so every child would report at least
// the harness's own peak.
func probe(ctx context.Context, path string, c command, devnull *os.File, timeout time.Duration) (probeResult, error) {
	// The tracer is the thread that forked the child: every ptrace call
	// must come from it.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	outR, outW, err := os.Pipe()
	if err != nil {
		return probeResult{}, fmt.Errorf("%s: %w", c, err)
	}
	defer outR.Close()
	errR, errW, err := os.Pipe()
	if err != nil {
		outW.Close()
		return probeResult{}, fmt.Errorf("%s: %w", c, err)
	}
	defer errR.Close()
	pid, err := syscall.ForkExec(path, append([]string{path}, c.Args...), &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: []uintptr{devnull.Fd(), outW.Fd(), errW.Fd()},
		Sys:   &syscall.SysProcAttr{Ptrace: true, Pdeathsig: syscall.SIGKILL},
	})
	outW.Close()
	errW.Close()
	if err != nil {
		return probeResult{}, fmt.Errorf("%s: %w", c, err)
	}
	lines := make(chan int, 1)
	go func() {
		lines <- countLines(outR)
	}()
	var stderr bytes.Buffer
	stderrDone := make(chan struct{})
	go func() {
		io.Copy(&stderr, io.LimitReader(errR, 4096))
		io.Copy(io.Discard, errR)
		close(stderrDone)
	}()

	// os.FindProcess holds a pidfd, so a late kill cannot hit a reused pid.
	p, err := os.FindProcess(pid)
	if err != nil {
		return probeResult{}, fmt.Errorf("%s: %w", c, err)
	}
	defer p.Release()
	kill := func() { p.Kill() }
	timer := time.AfterFunc(timeout, kill)
	stopKill := context.AfterFunc(ctx, kill)
	peak, ws, err := traceToExit(pid)
	timer.Stop()
	stopKill()
	r := probeResult{peakKiB: peak, lines: <-lines}
	<-stderrDone
	switch {
	case err != nil:
		return r, fmt.Errorf("%s: %w", c, err)
	case ctx.Err() != nil:
		return r, fmt.Errorf("%s: %w", c, ctx.Err())
	case ws.Signaled():
		return r, fmt.Errorf("%s: killed by %v (after the %v limit?): %s", c, ws.Signal(), timeout, strings.TrimSpace(stderr.String()))
	case ws.ExitStatus() != 0:
		return r, fmt.Errorf("%s: exit status %d: %s", c, ws.ExitStatus(), strings.TrimSpace(stderr.String()))
	}
	return r, nil
}

// traceToExit follows a child that called PTRACE_TRACEME and exec'd, from
// its post-exec stop to its end, which it reaps. It reads the peak RSS at the
// exit stop. Any other stop is a signal meant for the child, passed on.
func traceToExit(pid int) (peakKiB int64, ws syscall.WaitStatus, err error) {
	first := true
	for {
		if _, werr := syscall.Wait4(pid, &ws, 0, nil); werr == syscall.EINTR {
			continue
		} else if werr != nil {
			return peakKiB, ws, fmt.Errorf("wait4: %w", werr)
		}
		if ws.Exited() || ws.Signaled() {
			return peakKiB, ws, err
		}
		var cerr error
		switch {
		case !ws.Stopped():
			continue
		case first:
			first = false
			if ws.StopSignal() != syscall.SIGTRAP {
				cerr = fmt.Errorf("first stop by %v, not the exec's SIGTRAP", ws.StopSignal())
				break
			}
			cerr = syscall.PtraceSetOptions(pid, syscall.PTRACE_O_TRACEEXIT|ptraceOExitKill)
			if cerr == nil {
				cerr = syscall.PtraceCont(pid, 0)
			}
		case ws.TrapCause() == syscall.PTRACE_EVENT_EXIT:
			peakKiB, err = readKiB(fmt.Sprintf("/proc/%d/status", pid), "VmHWM")
			cerr = syscall.PtraceCont(pid, 0)
		default:
			cerr = syscall.PtraceCont(pid, int(ws.StopSignal()))
		}
		if cerr != nil {
			// Keep waiting: the kill ends the child, and the loop
			// reaps it.
			err = fmt.Errorf("ptrace: %w", cerr)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// countLines counts the newlines r yields until EOF or an error.
func countLines(r io.Reader) int {
	buf := make([]byte, 64<<10)
	n := 0
	for {
		m, err := r.Read(buf)
		n += bytes.Count(buf[:m], []byte{'\n'})
		if err != nil {
			return n
		}
	}
}
