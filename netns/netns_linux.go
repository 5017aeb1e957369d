//go:build linux

package netns

import (
	"fmt"
	"os"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

// Do runs fn on a locked OS thread switched into the namespace open at fd.
// Sockets fn opens belong to that namespace for their whole life, and
// /proc/thread-self/net shows its tables. If the thread cannot be switched
// back it is not unlocked, so it dies with the goroutine instead of serving
// others from the wrong namespace.
func Do(fd int, fn func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			done <- fmt.Errorf("netns: open own namespace: %w", err)
			return
		}
		defer unix.Close(orig)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("netns: setns: %w", err)
			return
		}
		fnErr := fn()
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			done <- fmt.Errorf("netns: setns back: %w", err)
			return
		}
		runtime.UnlockOSThread()
		done <- fnErr
	}()
	return <-done
}

// nsGetNSType is NS_GET_NSTYPE, _IO(0xb7, 0x3) from include/uapi/linux/nsfs.h
// (Linux 4.11): it returns the CLONE_NEW* type of a namespace file.
const nsGetNSType = 0xb7<<8 | 0x3

// Open opens the network namespace file at path, such as
// /run/netns/NAME or /proc/PID/ns/net; the caller closes it, and passes
// int(f.Fd()) where a namespace descriptor is wanted. A path that exists
// but is not a network namespace is an error wrapping ErrNotNetNS; open
// errors keep their *os.PathError, so errors.Is(err, fs.ErrNotExist) and
// os.ErrPermission work.
//
// The path is first opened with O_PATH, which never blocks (a FIFO would
// wait for a writer) and opens no device, and checked to be an nsfs file;
// only then is it opened for reading, through the O_PATH descriptor, so
// that what is checked is what is opened.
func Open(path string) (*os.File, error) {
	pfd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("netns: %w", &os.PathError{Op: "open", Path: path, Err: err})
	}
	defer unix.Close(pfd)
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(pfd, &sfs); err != nil {
		return nil, fmt.Errorf("netns: %w", &os.PathError{Op: "fstatfs", Path: path, Err: err})
	}
	if sfs.Type != unix.NSFS_MAGIC {
		return nil, fmt.Errorf("netns: %s: %w", path, ErrNotNetNS)
	}
	fd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(pfd), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("netns: %w", &os.PathError{Op: "open", Path: path, Err: err})
	}
	typ, err := unix.IoctlRetInt(fd, nsGetNSType)
	if err != nil || typ != unix.CLONE_NEWNET {
		unix.Close(fd)
		return nil, fmt.Errorf("netns: %s: %w", path, ErrNotNetNS)
	}
	return os.NewFile(uintptr(fd), path), nil
}
