// Package testnet gives tests a network namespace of their own: made with
// ip netns add, loopback up, removed when the test ends. Sockets opened
// inside NS.Do belong to the namespace for their whole life.
package testnet

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockstate/sockstate/netns"
)

var seq atomic.Int64

// NS is a network namespace made for one test.
type NS struct {
	// Name is the namespace's name under /run/netns; empty for one made
	// by NewUnnamed.
	Name string
	// Path is its bind-mount, /run/netns/Name, or for an unnamed one
	// /proc/PID/ns/net of the process that holds it.
	Path string
	fd   int
	// holder holds an unnamed namespace.
	holder *exec.Cmd
}

// Command returns a command that runs name inside the namespace: with ip
// netns exec for a named one, nsenter --net for an unnamed one.
func (ns *NS) Command(name string, args ...string) *exec.Cmd {
	if ns.Name == "" {
		return exec.Command("nsenter", append([]string{"--net=" + ns.Path, name}, args...)...)
	}
	return exec.Command("ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

// New makes a namespace with loopback up and removes it when t ends. It
// fails t when the namespace cannot be made: tests run as root, so that is
// an error, not an absence.
func New(t testing.TB) *NS {
	t.Helper()
	name := fmt.Sprintf("sockstate-test-%d-%d", os.Getpid(), seq.Add(1))
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", name, err, bytes.TrimSpace(out))
	}
	ns := &NS{Name: name, Path: "/run/netns/" + name, fd: -1}
	t.Cleanup(func() {
		if ns.fd >= 0 {
			unix.Close(ns.fd)
		}
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, bytes.TrimSpace(out))
		}
	})
	ns.Run(t, "ip", "link", "set", "lo", "up")
	fd, err := unix.Open(ns.Path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open %s: %v", ns.Path, err)
	}
	ns.fd = fd
	return ns
}

// FD is a descriptor of the namespace, valid until the test ends.
func (ns *NS) FD() int { return ns.fd }

// Run runs a command inside the namespace (ip netns exec) and returns its
// standard output; it fails t when the command fails.
func (ns *NS) Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	cmd := ns.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(cmd.Args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return string(out)
}

// Do runs fn on an OS thread switched into the namespace, so that sockets
// fn opens, and /proc/thread-self/net, are the namespace's. fn runs on
// another goroutine, so it reports failure by returning an error, which
// fails t, not by t.Fatal.
func (ns *NS) Do(t testing.TB, fn func() error) {
	t.Helper()
	if err := netns.Do(ns.fd, fn); err != nil {
		t.Fatalf("in %s: %v", ns.Name, err)
	}
}

// Listen listens on the network and address given inside the namespace,
// as net.Listen does; the listener is closed when the test ends, if the
// test has not closed it before.
func (ns *NS) Listen(t testing.TB, network, addr string) net.Listener {
	t.Helper()
	var ln net.Listener
	ns.Do(t, func() error {
		var err error
		ln, err = net.Listen(network, addr)
		return err
	})
	t.Cleanup(func() { ln.Close() })
	return ln
}

// GiveAway starts `sleep 60` holding ln's socket as its descriptor 3,
// then closes every copy the test has, so that the child is the socket's
// only holder. The child is killed when the test ends.
func GiveAway(t testing.TB, ln *net.TCPListener) *exec.Cmd {
	t.Helper()
	f, err := ln.File()
	if err != nil {
		t.Fatal(err)
	}
	cmd := Hold(t, f)
	f.Close()
	ln.Close()
	return cmd
}

// Hold starts `sleep 60` holding a copy of f as its descriptor 3, and
// returns once the kernel names the child sleep; the child is killed when
// the test ends.
func Hold(t testing.TB, f *os.File) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	cmd.ExtraFiles = []*os.File{f}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	// Start returns once the exec has closed the child's copy of Go's
	// error pipe, which may be before the kernel names the child anew.
	comm := fmt.Sprintf("/proc/%d/comm", cmd.Process.Pid)
	for range 5000 {
		b, err := os.ReadFile(comm)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) == "sleep\n" {
			return cmd
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("%s never said sleep", comm)
	return nil
}

// Inode returns the inode of c's socket, as fstat(2) reports it and the
// kernel's socket tables show it.
func Inode(t testing.TB, c syscall.Conn) uint64 {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Fstat(int(fd), &st) }); err != nil {
		t.Fatal(err)
	}
	if serr != nil {
		t.Fatal(serr)
	}
	return st.Ino
}
