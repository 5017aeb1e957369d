package demo

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/sockstate/sockstate/netns"
)

// The textbook's messages and sizes.
const (
	backlog  = 5
	recvSize = 1024
	request  = "hello from the client"
	reply    = "thank you !"
)

// action is a step of one of the programs.
type action struct {
	actor, text string
	do          func() error
}

// exchange takes the textbook's steps with raw system calls, one at a
// time, calling pause after each. Every step is recorded before it is
// taken, so its effects show after it. accept and recv wait on ctx too.
func (r *run) exchange(ctx context.Context, pause func() error) (err error) {
	wait, err := newWaiter(ctx)
	if err != nil {
		return err
	}
	defer wait.close()
	var open []int
	defer func() {
		for _, fd := range open {
			unix.Close(fd)
		}
	}()
	closeFD := func(fd int) error {
		for i, o := range open {
			if o == fd {
				open = append(open[:i], open[i+1:]...)
			}
		}
		return unix.Close(fd)
	}
	addr := r.cfg.Addr

	r.step("server", fmt.Sprintf("socket(); bind(%v)", addr))
	lfd, err := r.socket(r.cfg.NetNS, addr)
	if err != nil {
		return err
	}
	open = append(open, lfd)
	if err := unix.SetsockoptInt(lfd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return fmt.Errorf("demo: server: setsockopt(SO_REUSEADDR): %w", err)
	}
	err = unix.Bind(lfd, sockaddr(addr))
	if errors.Is(err, unix.EADDRINUSE) && addr.Port() != 0 && !r.cfg.Fixed {
		taken := addr
		addr = netip.AddrPortFrom(addr.Addr(), 0)
		if err = unix.Bind(lfd, sockaddr(addr)); err == nil {
			if addr, err = localAddr(lfd); err == nil {
				r.note(fmt.Sprintf("%v is taken (address already in use); the server bound %v instead", taken, addr))
			}
		}
	}
	if err != nil {
		return fmt.Errorf("demo: server: bind(%v): %w", addr, err)
	}
	if r.cfg.Capture != nil && addr.Port() != r.cfg.Addr.Port() {
		if err := r.cfg.Capture.Follow(addr.Port()); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}
	// The listener and the server's connection have the address connect()
	// reaches: loopback when the server binds the wildcard address.
	server := addr
	if addr.Addr().IsUnspecified() {
		server = netip.AddrPortFrom(loopbackOf(addr.Addr()), addr.Port())
	}
	r.setAddrs(addr, server, netip.AddrPort{})
	if err := pause(); err != nil {
		return err
	}

	r.step("server", "listen("+strconv.Itoa(backlog)+")")
	if err := unix.Listen(lfd, backlog); err != nil {
		return fmt.Errorf("demo: server: listen: %w", err)
	}
	if err := pause(); err != nil {
		return err
	}

	clientBind, clientNS := netip.AddrPortFrom(server.Addr(), 0), r.cfg.NetNS
	if r.cfg.ClientAddr.IsValid() {
		clientBind, clientNS = netip.AddrPortFrom(r.cfg.ClientAddr, 0), r.cfg.ClientNetNS
	}
	r.step("client", fmt.Sprintf("socket(); bind(%v)", clientBind))
	cfd, err := r.socket(clientNS, server)
	if err != nil {
		return err
	}
	open = append(open, cfd)
	if err := unix.Bind(cfd, sockaddr(clientBind)); err != nil {
		return fmt.Errorf("demo: client: bind(%v): %w", clientBind, err)
	}
	client, err := localAddr(cfd)
	if err != nil {
		return err
	}
	r.note(fmt.Sprintf("the kernel gave the client %v", client))
	r.setAddrs(addr, server, client)
	if err := pause(); err != nil {
		return err
	}

	r.step("client", fmt.Sprintf("connect(%v)", server))
	if err := unix.Connect(cfd, sockaddr(server)); err != nil {
		return fmt.Errorf("demo: client: connect(%v): %w", server, err)
	}
	if err := pause(); err != nil {
		return err
	}

	r.step("server", "accept()")
	if err := wait.readable(lfd); err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		return fmt.Errorf("demo: server: accept: %w", err)
	}
	sfd, _, err := unix.Accept4(lfd, unix.SOCK_CLOEXEC)
	if err != nil {
		return fmt.Errorf("demo: server: accept: %w", err)
	}
	open = append(open, sfd)
	if err := pause(); err != nil {
		return err
	}

	steps := []action{
		{"client", fmt.Sprintf("send(%q)", request), func() error { return send(cfd, request) }},
		{"server", fmt.Sprintf("recv(%d) = %q", recvSize, request), func() error { return recvWant(wait, sfd, request) }},
		{"server", fmt.Sprintf("send(%q)", reply), func() error { return send(sfd, reply) }},
		{"client", fmt.Sprintf("recv(%d) = %q", recvSize, reply), func() error { return recvWant(wait, cfd, reply) }},
	}
	if r.cfg.Closer == ServerCloses {
		steps = append(steps, []action{
			{"server", "close()", func() error { return closeFD(sfd) }},
			{"client", "close()", func() error { return closeFD(cfd) }},
		}...)
	} else {
		steps = append(steps, []action{
			{"client", "close()", func() error { return closeFD(cfd) }},
			{"server", fmt.Sprintf("recv(%d) = \"\" (end of file: the client closed)", recvSize), func() error { return recvWant(wait, sfd, "") }},
			{"server", "close()", func() error { return closeFD(sfd) }},
		}...)
	}
	steps = append(steps, action{"server", "close() the listening socket", func() error { return closeFD(lfd) }})
	for _, s := range steps {
		r.step(s.actor, s.text)
		if err := s.do(); err != nil {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return err
			}
			return fmt.Errorf("demo: %s: %s: %w", s.actor, s.text, err)
		}
		if err := pause(); err != nil {
			return err
		}
	}
	return nil
}

// socket makes a TCP socket of a's family, in the namespace open at ns (0:
// the caller's).
func (r *run) socket(ns int, a netip.AddrPort) (int, error) {
	domain := unix.AF_INET6
	if a.Addr().Is4() {
		domain = unix.AF_INET
	}
	fd := -1
	mk := func() error {
		var err error
		fd, err = unix.Socket(domain, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		return err
	}
	var err error
	if ns != 0 {
		err = netns.Do(ns, mk)
	} else {
		err = mk()
	}
	if err != nil {
		return -1, fmt.Errorf("demo: socket: %w", err)
	}
	return fd, nil
}

func send(fd int, msg string) error {
	n, err := unix.Write(fd, []byte(msg))
	if err == nil && n != len(msg) {
		err = fmt.Errorf("sent %d of %d bytes", n, len(msg))
	}
	return err
}

// recvWant receives up to recvSize bytes and requires want; "" is the end
// of the stream. It waits for something to read with wait first.
func recvWant(wait *waiter, fd int, want string) error {
	if err := wait.readable(fd); err != nil {
		return err
	}
	buf := make([]byte, recvSize)
	n, err := unix.Read(fd, buf)
	if err != nil {
		return err
	}
	if got := string(buf[:n]); got != want {
		return fmt.Errorf("received %q, want %q", got, want)
	}
	return nil
}

func sockaddr(a netip.AddrPort) unix.Sockaddr {
	if a.Addr().Is4() {
		return &unix.SockaddrInet4{Port: int(a.Port()), Addr: a.Addr().As4()}
	}
	return &unix.SockaddrInet6{Port: int(a.Port()), Addr: a.Addr().As16()}
}

func localAddr(fd int) (netip.AddrPort, error) {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("demo: getsockname: %w", err)
	}
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port)), nil
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port)), nil
	}
	return netip.AddrPort{}, fmt.Errorf("demo: getsockname: address %T", sa)
}

func loopbackOf(a netip.Addr) netip.Addr {
	if a.Is4() {
		return netip.MustParseAddr("127.0.0.1")
	}
	return netip.IPv6Loopback()
}
