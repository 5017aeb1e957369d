//go:build linux

package tunlink

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockstate/sockstate/netns"
)

// Link is a delayed link between two network namespaces it made.
type Link struct {
	Server, Client Side

	// ns holds the namespaces' descriptors, tun the devices'.
	ns, tun [2]*os.File
	stop    chan struct{}
	wg      sync.WaitGroup
	once    sync.Once

	relayed, dropped atomic.Uint64
}

// Open makes the two namespaces, each with its TUN device up and its
// address, and starts relaying between them with rtt/2 of delay each way.
// On error nothing it made is left. It needs CAP_SYS_ADMIN (unshare) and
// CAP_NET_ADMIN: as another user the error wraps os.ErrPermission.
func Open(rtt time.Duration) (_ *Link, err error) {
	if rtt <= 0 {
		return nil, fmt.Errorf("tunlink: round-trip time %v: want more than 0", rtt)
	}
	l := &Link{stop: make(chan struct{})}
	defer func() {
		if err != nil {
			l.Close()
		}
	}()
	ends := [2]struct {
		dev        string
		addr, peer netip.Addr
	}{{ServerDev, ServerAddr, ClientAddr}, {ClientDev, ClientAddr, ServerAddr}}
	for i, e := range ends {
		if l.ns[i], err = newNS(); err != nil {
			return nil, err
		}
		err = netns.Do(int(l.ns[i].Fd()), func() error {
			var err error
			l.tun[i], err = openTUN(e.dev)
			if err != nil {
				return err
			}
			return configure(e.dev, e.addr)
		})
		if err != nil {
			return nil, err
		}
	}
	l.Server = Side{NetNS: int(l.ns[0].Fd()), Addr: ServerAddr}
	l.Client = Side{NetNS: int(l.ns[1].Fd()), Addr: ClientAddr}
	half := rtt / 2
	l.relay(l.tun[0], l.tun[1], half)
	l.relay(l.tun[1], l.tun[0], half)
	return l, nil
}

// childEhash is the size of the namespaces' own TCP hash tables: the
// demo has three sockets.
const childEhash = "128"

// newNS makes a network namespace and returns its descriptor, on a
// locked thread that unshares into it, opens it and goes back. The thread
// unshares twice: into a first namespace, whose children get their own
// TCP hash table, then into the one returned; the first, which nothing
// holds, goes when the thread goes back. A thread that cannot go back is
// not unlocked, so it ends with its goroutine.
func newNS() (*os.File, error) {
	type result struct {
		f   *os.File
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{err: fmt.Errorf("tunlink: own namespace: %w", err)}
			return
		}
		defer orig.Close()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			// The thread is where it was.
			runtime.UnlockOSThread()
			done <- result{err: fmt.Errorf("tunlink: making a network namespace: unshare: %w", err)}
			return
		}
		// A namespace made from this one gets a TCP hash table of its
		// own, of childEhash buckets, where a sock_diag dump walks only
		// its own sockets, not the host's 2^18 buckets (milliseconds of
		// CPU a poll). Kernels before 6.1 have no such setting: the
		// child then shares the host's table, as it does if the write
		// fails.
		if os.WriteFile("/proc/sys/net/ipv4/tcp_child_ehash_entries", []byte(childEhash), 0) == nil {
			err = unix.Unshare(unix.CLONE_NEWNET)
		}
		var f *os.File
		if err != nil {
			err = fmt.Errorf("tunlink: making a network namespace: unshare: %w", err)
		} else if f, err = os.Open("/proc/thread-self/ns/net"); err != nil {
			err = fmt.Errorf("tunlink: new namespace: %w", err)
		}
		if serr := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); serr != nil {
			if f != nil {
				f.Close()
			}
			done <- result{err: fmt.Errorf("tunlink: setns back: %w", serr)}
			return
		}
		runtime.UnlockOSThread()
		done <- result{f, err}
	}()
	r := <-done
	return r.f, r.err
}

// openTUN opens /dev/net/tun as the device name, in the caller's
// namespace, raw IP packets without the packet information header, and
// returns it non-blocking so that the runtime's poller serves it and
// Close ends a read.
func openTUN(name string) (*os.File, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("tunlink: %w", &os.PathError{Op: "open", Path: "/dev/net/tun", Err: err})
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("tunlink: device %q: %w", name, err)
	}
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("tunlink: device %q: ioctl(TUNSETIFF): %w", name, err)
	}
	return os.NewFile(uintptr(fd), "tun "+name), nil
}

// relay copies the packets from one device to the other, each written
// delay after it was read, in the order read: one goroutine reads, one
// writes, and a bounded queue holds what is between.
func (l *Link) relay(from, to *os.File, delay time.Duration) {
	q := make(chan held, queueLen)
	l.wg.Add(2)
	go func() {
		defer l.wg.Done()
		defer close(q)
		buf := make([]byte, 65536)
		for {
			n, err := from.Read(buf)
			if err != nil {
				// Close ends the read; a device gone ends the link.
				return
			}
			select {
			case q <- held{at: time.Now().Add(delay), pkt: append([]byte(nil), buf[:n]...)}:
			default:
				l.dropped.Add(1)
			}
		}
	}()
	go func() {
		defer l.wg.Done()
		timer := time.NewTimer(0)
		defer timer.Stop()
		for h := range q {
			timer.Reset(time.Until(h.at))
			select {
			case <-timer.C:
			case <-l.stop:
				return
			}
			if _, err := to.Write(h.pkt); err != nil {
				l.dropped.Add(1)
				continue
			}
			l.relayed.Add(1)
		}
	}()
}

// Stats returns what the relay did so far.
func (l *Link) Stats() Stats {
	return Stats{Relayed: l.relayed.Load(), Dropped: l.dropped.Load()}
}

// Close stops the relay and closes the devices and the namespaces, which
// the kernel then removes with their devices. Later calls do nothing.
func (l *Link) Close() error {
	var errs []error
	l.once.Do(func() {
		close(l.stop)
		for _, f := range l.tun {
			if f != nil {
				errs = append(errs, f.Close())
			}
		}
		l.wg.Wait()
		for _, f := range l.ns {
			if f != nil {
				errs = append(errs, f.Close())
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("tunlink: close: %w", err)
	}
	return nil
}
