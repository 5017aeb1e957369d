package testnet

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// UnixZoo are the unix sockets Zoo opens: one of each kind ss tells apart.
type UnixZoo struct {
	// Dir holds the path-bound sockets; Abstract is the abstract name
	// (without its NUL) of the abstract listener.
	Dir, Abstract string
	// Listener is the stream listener at Dir/stream.sock, with a backlog
	// of 7, one accepted connection (Accepted, whose peer Client wrote 5
	// bytes it has not read) and one waiting in its queue (Pending).
	Listener, Accepted, Client, Pending int
	// PairA and PairB are an unnamed stream socketpair.
	PairA, PairB int

	fds []int // every descriptor, closed when the test ends
}

// Close closes fd, one of the zoo's, now rather than when the test ends.
func (z *UnixZoo) Close(fd int) {
	for i, f := range z.fds {
		if f == fd {
			unix.Close(fd)
			z.fds = append(z.fds[:i], z.fds[i+1:]...)
			return
		}
	}
}

// Zoo opens in ns, from a thread switched into it (sock_diag lists a unix
// socket in the namespace of the thread that made it): a stream listener
// with an accepted and a pending connection; a datagram socket bound to a
// path and one connected to it that sent a datagram; a seqpacket listener
// with a connection; a stream listener on an abstract name; an unnamed
// stream socketpair; an unbound stream and an unbound datagram socket.
// They are closed when the test ends.
func (ns *NS) Zoo(t testing.TB) *UnixZoo {
	t.Helper()
	z := &UnixZoo{Dir: t.TempDir(), Abstract: fmt.Sprintf("sockstate-test-%d-%s", os.Getpid(), ns.Name)}
	t.Cleanup(func() {
		for _, fd := range z.fds {
			unix.Close(fd)
		}
	})
	ns.Do(t, func() error {
		sock := func(typ int) (int, error) {
			fd, err := unix.Socket(unix.AF_UNIX, typ|unix.SOCK_CLOEXEC, 0)
			if err == nil {
				z.fds = append(z.fds, fd)
			}
			return fd, err
		}
		listen := func(typ int, sa unix.Sockaddr, backlog int) (int, error) {
			fd, err := sock(typ)
			if err != nil {
				return -1, err
			}
			if err := unix.Bind(fd, sa); err != nil {
				return -1, err
			}
			return fd, unix.Listen(fd, backlog)
		}
		dial := func(typ int, sa unix.Sockaddr) (int, error) {
			fd, err := sock(typ)
			if err != nil {
				return -1, err
			}
			return fd, unix.Connect(fd, sa)
		}
		accept := func(ln int) (int, error) {
			fd, _, err := unix.Accept4(ln, unix.SOCK_CLOEXEC)
			if err == nil {
				z.fds = append(z.fds, fd)
			}
			return fd, err
		}

		var err error
		streamAddr := &unix.SockaddrUnix{Name: filepath.Join(z.Dir, "stream.sock")}
		if z.Listener, err = listen(unix.SOCK_STREAM, streamAddr, 7); err != nil {
			return fmt.Errorf("stream listener: %w", err)
		}
		if z.Client, err = dial(unix.SOCK_STREAM, streamAddr); err != nil {
			return fmt.Errorf("stream client: %w", err)
		}
		if z.Accepted, err = accept(z.Listener); err != nil {
			return fmt.Errorf("accept: %w", err)
		}
		if _, err := unix.Write(z.Client, []byte("hello")); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		if z.Pending, err = dial(unix.SOCK_STREAM, streamAddr); err != nil {
			return fmt.Errorf("pending client: %w", err)
		}

		dgramAddr := &unix.SockaddrUnix{Name: filepath.Join(z.Dir, "dgram.sock")}
		bound, err := sock(unix.SOCK_DGRAM)
		if err != nil {
			return err
		}
		if err := unix.Bind(bound, dgramAddr); err != nil {
			return fmt.Errorf("bind datagram socket: %w", err)
		}
		sender, err := dial(unix.SOCK_DGRAM, dgramAddr)
		if err != nil {
			return fmt.Errorf("connect datagram socket: %w", err)
		}
		if _, err := unix.Write(sender, []byte("datagram")); err != nil {
			return fmt.Errorf("send datagram: %w", err)
		}

		seqAddr := &unix.SockaddrUnix{Name: filepath.Join(z.Dir, "seq.sock")}
		seq, err := listen(unix.SOCK_SEQPACKET, seqAddr, 3)
		if err != nil {
			return fmt.Errorf("seqpacket listener: %w", err)
		}
		if _, err := dial(unix.SOCK_SEQPACKET, seqAddr); err != nil {
			return fmt.Errorf("seqpacket client: %w", err)
		}
		if _, err := accept(seq); err != nil {
			return fmt.Errorf("seqpacket accept: %w", err)
		}

		if _, err := listen(unix.SOCK_STREAM, &unix.SockaddrUnix{Name: "@" + z.Abstract}, 5); err != nil {
			return fmt.Errorf("abstract listener: %w", err)
		}

		pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("socketpair: %w", err)
		}
		z.fds = append(z.fds, pair[0], pair[1])
		z.PairA, z.PairB = pair[0], pair[1]

		if _, err := sock(unix.SOCK_STREAM); err != nil {
			return err
		}
		_, err = sock(unix.SOCK_DGRAM)
		return err
	})
	return z
}

// FDInode returns the inode of the socket open at fd.
func FDInode(t testing.TB, fd int) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}
