// Package netns runs code inside another network namespace, on an OS thread
// switched into it and back (setns(2)), leaving the rest of the process where
// it was.
package netns

import (
	"fmt"
	"runtime"

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
