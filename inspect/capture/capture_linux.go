//go:build linux

package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockstate/sockstate/internal/monoclock"
)

// Capture reads the frames of one interface that its filter keeps.
type Capture struct {
	fd int
	// loopback says the interface is a loopback device, whose frames
	// the kernel shows twice; raw that its frames are bare IP packets
	// (ARPHRD_NONE: a TUN device), not Ethernet frames.
	loopback, raw bool
	// offset is CLOCK_REALTIME minus CLOCK_MONOTONIC, in nanoseconds,
	// measured at Open.
	offset int64

	stop     atomic.Bool
	done     chan struct{}
	stopOnce sync.Once
	stats    Stats
	mu       sync.Mutex // guards what follows
	packets  []Packet
	err      error
	// undecoded counts frames the filter kept that Decode refused.
	undecoded int
}

// pollEvery bounds how long Stop waits for the reader to see it.
var pollEvery = unix.Timeval{Usec: 20000}

// Open starts capturing the TCP segments to or from port on the interface
// named ifname, in the caller's network namespace. Each frame is kept
// once: on a loopback device the kernel shows each frame twice, as it
// leaves (PACKET_OUTGOING) and as it comes back in (PACKET_HOST), and the
// capture keeps the second. Stop ends the capture.
func Open(ifname string, port uint16) (*Capture, error) {
	// Protocol 0 takes no frames until bind, so none arrives before the
	// filter is attached.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("capture: socket(AF_PACKET): %w", err)
	}
	c := &Capture{fd: fd, done: make(chan struct{})}
	if err := c.setup(ifname, port); err != nil {
		unix.Close(fd)
		return nil, err
	}
	go c.read()
	return c, nil
}

func (c *Capture) setup(ifname string, port uint16) error {
	ifr, err := unix.NewIfreq(ifname)
	if err != nil {
		return fmt.Errorf("capture: interface %q: %w", ifname, err)
	}
	if err := unix.IoctlIfreq(c.fd, unix.SIOCGIFINDEX, ifr); err != nil {
		return fmt.Errorf("capture: interface %q: %w", ifname, err)
	}
	ifindex := int(ifr.Uint32())
	if err := unix.IoctlIfreq(c.fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("capture: interface %q: flags: %w", ifname, err)
	}
	c.loopback = ifr.Uint16()&unix.IFF_LOOPBACK != 0
	if err := unix.IoctlIfreq(c.fd, unix.SIOCGIFHWADDR, ifr); err != nil {
		return fmt.Errorf("capture: interface %q: hardware address: %w", ifname, err)
	}
	// The hardware address's sa_family is the link's ARPHRD_ type.
	c.raw = ifr.Uint16() == unix.ARPHRD_NONE
	if err := c.Follow(port); err != nil {
		return err
	}
	if err := unix.SetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		return fmt.Errorf("capture: setsockopt(SO_TIMESTAMPNS): %w", err)
	}
	if err := unix.SetsockoptTimeval(c.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &pollEvery); err != nil {
		return fmt.Errorf("capture: setsockopt(SO_RCVTIMEO): %w", err)
	}
	if err := awaitStamps(); err != nil {
		return err
	}
	if c.offset, err = monoclock.WallOffset(); err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	// ETH_P_ALL in network byte order, as sockaddr_ll wants it.
	sll := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifindex}
	if err := unix.Bind(c.fd, sll); err != nil {
		return fmt.Errorf("capture: bind(%s): %w", ifname, err)
	}
	return nil
}

// Follow replaces the filter with one for port: the kernel swaps the
// filters at once, so no frame passes unfiltered.
func (c *Capture) Follow(port uint16) error {
	build := Filter
	if c.raw {
		build = RawFilter
	}
	raw, err := build(port)
	if err != nil {
		return err
	}
	prog := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		prog[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if err := unix.SetsockoptSockFprog(c.fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog); err != nil {
		return fmt.Errorf("capture: setsockopt(SO_ATTACH_FILTER): %w", err)
	}
	return nil
}

// awaitStamps waits until the kernel stamps frames as they arrive.
// SO_TIMESTAMPNS turns stamping on through a work queue, later; a frame
// that arrives before then is stamped when it is read, so its time would
// be out of order. A datagram sent over loopback to a socket not read
// until after a pause tells: stamped as it arrived, its time is before
// the pause ended. Bounded to awaitTries pauses.
func awaitStamps() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("capture: probe socket: %w", err)
	}
	defer unix.Close(fd)
	lo := &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}
	if err := unix.Bind(fd, lo); err != nil {
		return fmt.Errorf("capture: probe: bind: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		return fmt.Errorf("capture: probe: setsockopt(SO_TIMESTAMPNS): %w", err)
	}
	self, err := unix.Getsockname(fd)
	if err != nil {
		return fmt.Errorf("capture: probe: getsockname: %w", err)
	}
	buf, oob := make([]byte, 1), make([]byte, unix.CmsgSpace(sizeofTimespec))
	for range awaitTries {
		if err := unix.Sendto(fd, buf, 0, self); err != nil {
			return fmt.Errorf("capture: probe: sendto: %w", err)
		}
		time.Sleep(time.Millisecond)
		var before unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_REALTIME, &before); err != nil {
			return fmt.Errorf("capture: clock_gettime: %w", err)
		}
		_, oobn, _, _, err := unix.Recvmsg(fd, buf, oob, 0)
		if err != nil {
			return fmt.Errorf("capture: probe: recvmsg: %w", err)
		}
		ts, err := timestamp(oob[:oobn])
		if err != nil {
			return err
		}
		if ts < before.Nano() {
			return nil
		}
	}
	return fmt.Errorf("capture: the kernel did not stamp frames as they arrive within %d tries", awaitTries)
}

// awaitTries bounds awaitStamps' pauses of a millisecond: five seconds at
// least. The work that turns stamping on patches the kernel's code, which
// took more than 200 ms on a machine at load 12.
const awaitTries = 5000

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// read takes frames in until Stop, then what is left in the socket's
// queue.
func (c *Capture) read() {
	defer close(c.done)
	buf := make([]byte, snapLen)
	oob := make([]byte, unix.CmsgSpace(sizeofTimespec))
	for {
		flags := 0
		stopping := c.stop.Load()
		if stopping {
			flags = unix.MSG_DONTWAIT
		}
		n, oobn, _, from, err := unix.Recvmsg(c.fd, buf, oob, flags)
		switch {
		case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR):
			if stopping {
				return
			}
			continue
		case err != nil:
			c.fail(fmt.Errorf("capture: recvmsg: %w", err))
			return
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING && c.loopback {
			continue
		}
		c.take(buf[:n], oob[:oobn])
	}
}

// sizeofTimespec is sizeof(struct timespec) with 64-bit fields, what
// SCM_TIMESTAMPNS carries on 64-bit Linux.
const sizeofTimespec = 16

// take decodes one frame and its timestamp.
func (c *Capture) take(frame, oob []byte) {
	var p Packet
	ts, err := timestamp(oob)
	if err == nil {
		decode := Decode
		if c.raw {
			decode = DecodeIP
		}
		err = decode(append([]byte(nil), frame...), &p)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.undecoded++
		return
	}
	p.Time = time.Unix(0, ts)
	p.Mono = time.Duration(ts - c.offset)
	c.packets = append(c.packets, p)
}

// timestamp returns the SCM_TIMESTAMPNS stamp in oob, in nanoseconds of
// CLOCK_REALTIME.
func timestamp(oob []byte) (int64, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return 0, fmt.Errorf("capture: control message: %w", err)
	}
	for _, m := range msgs {
		if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_TIMESTAMPNS && len(m.Data) >= sizeofTimespec {
			// struct timespec, in native byte order.
			sec := int64(binary.NativeEndian.Uint64(m.Data))
			nsec := int64(binary.NativeEndian.Uint64(m.Data[8:]))
			return sec*int64(time.Second) + nsec, nil
		}
	}
	return 0, errors.New("capture: a frame without its timestamp")
}

func (c *Capture) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.err = err
}

// RawIP says that the frames are bare IP packets (pcap's LINKTYPE_RAW), not
// Ethernet frames.
func (c *Capture) RawIP() bool { return c.raw }

// Packets returns a copy of the packets read so far, in the order the
// kernel took them in.
func (c *Capture) Packets() []Packet {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Packet(nil), c.packets...)
}

// Stop ends the capture and returns the packets in the order the kernel
// took them in, with what was lost. The error is the reader's, if it
// failed. Later calls return the same.
func (c *Capture) Stop() ([]Packet, Stats, error) {
	c.stopOnce.Do(func() {
		c.stop.Store(true)
		<-c.done
		ts, err := unix.GetsockoptTpacketStats(c.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
		unix.Close(c.fd)
		c.mu.Lock()
		defer c.mu.Unlock()
		c.stats.Undecoded = c.undecoded
		if err == nil {
			c.stats.Dropped = ts.Drops
		} else if c.err == nil {
			c.err = fmt.Errorf("capture: getsockopt(PACKET_STATISTICS): %w", err)
		}
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.packets, c.stats, c.err
}
