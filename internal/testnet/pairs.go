package testnet

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// ListenRaw opens a TCP listener on 127.0.0.1 in ns, on a port the kernel
// picks, with the backlog given, as a raw descriptor closed when the test
// ends, and returns it and its address.
func (ns *NS) ListenRaw(t testing.TB, backlog int) (int, *unix.SockaddrInet4) {
	t.Helper()
	fd := -1
	var sa unix.Sockaddr
	t.Cleanup(func() {
		if fd >= 0 {
			unix.Close(fd)
		}
	})
	ns.Do(t, func() error {
		var err error
		if fd, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0); err != nil {
			return err
		}
		if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
			return err
		}
		if err := unix.Listen(fd, backlog); err != nil {
			return err
		}
		sa, err = unix.Getsockname(fd)
		return err
	})
	return fd, sa.(*unix.SockaddrInet4)
}

// OpenPairs opens n connected TCP pairs to one listener on 127.0.0.1 in ns,
// with raw descriptors (2n+1 of them, so n up to about 9,990 under the
// limit of 20,000 a process), reset rather than left in TIME_WAIT when the
// test ends.
func (ns *NS) OpenPairs(t testing.TB, n int) {
	t.Helper()
	ln, sa := ns.ListenRaw(t, 1024)
	var fds []int
	t.Cleanup(func() {
		for _, fd := range fds {
			unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1})
			unix.Close(fd)
		}
	})
	ns.Do(t, func() error {
		for range n {
			c, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return err
			}
			fds = append(fds, c)
			if err := unix.Connect(c, sa); err != nil {
				return err
			}
			s, _, err := unix.Accept4(ln, unix.SOCK_CLOEXEC)
			if err != nil {
				return err
			}
			fds = append(fds, s)
		}
		return nil
	})
}

// CPUTime returns the user and system time the process has used, for
// benchmarks that report CPU per operation, the kernel's work included.
func CPUTime(t testing.TB) time.Duration {
	t.Helper()
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
