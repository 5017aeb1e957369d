package testnet

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"testing"
)

// Want is a socket a test expects, as ss shows it: netid (tcp, udp), the
// kernel's state name (UNCONN for an unconnected UDP socket), local, peer.
type Want struct {
	Netid, State string
	Local, Peer  netip.AddrPort
}

// String is the form tests compare: "tcp LISTEN 127.0.0.1:80 0.0.0.0:0".
func (w Want) String() string {
	return fmt.Sprintf("%s %s %s %s", w.Netid, w.State, w.Local, w.Peer)
}

// Textbook opens inside ns, over the loopback address given (127.0.0.1 or
// ::1), a socket in each state a listing must get right: LISTEN, an
// ESTABLISHED pair, a half-closed pair (FIN_WAIT2 and CLOSE_WAIT), a
// TIME_WAIT, an unconnected UDP socket and a connected one. It returns
// what it expects a listing to show once the FINs on loopback have been
// processed; what it opened is closed when the test ends.
func (ns *NS) Textbook(t testing.TB, loopback string) []Want {
	t.Helper()
	var want []Want
	var keep []io.Closer
	t.Cleanup(func() {
		for _, c := range keep {
			c.Close()
		}
	})
	ns.Do(t, func() error {
		ln, err := net.Listen("tcp", net.JoinHostPort(loopback, "0"))
		if err != nil {
			return err
		}
		keep = append(keep, ln)
		lnAddr := ln.Addr().(*net.TCPAddr).AddrPort()
		want = append(want, Want{"tcp", "LISTEN", lnAddr, netip.AddrPortFrom(unspecified(lnAddr.Addr()), 0)})

		pair := func() (client, server net.Conn, local, peer netip.AddrPort, err error) {
			client, err = net.Dial("tcp", lnAddr.String())
			if err != nil {
				return nil, nil, local, peer, err
			}
			server, err = ln.Accept()
			if err != nil {
				client.Close()
				return nil, nil, local, peer, err
			}
			local = client.LocalAddr().(*net.TCPAddr).AddrPort()
			peer = client.RemoteAddr().(*net.TCPAddr).AddrPort()
			return client, server, local, peer, nil
		}

		c, s, cl, cp, err := pair()
		if err != nil {
			return err
		}
		keep = append(keep, c, s)
		want = append(want, Want{"tcp", "ESTABLISHED", cl, cp}, Want{"tcp", "ESTABLISHED", cp, cl})

		// The server closes and the client does not.
		c, s, cl, cp, err = pair()
		if err != nil {
			return err
		}
		keep = append(keep, c)
		s.Close()
		want = append(want, Want{"tcp", "CLOSE_WAIT", cl, cp}, Want{"tcp", "FIN_WAIT2", cp, cl})

		// The server closes, then the client: the server's end waits.
		c, s, cl, cp, err = pair()
		if err != nil {
			return err
		}
		s.Close()
		if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
			c.Close()
			return fmt.Errorf("client read after server close: %v, want EOF", err)
		}
		c.Close()
		want = append(want, Want{"tcp", "TIME_WAIT", cp, cl})

		u, err := net.ListenPacket("udp", net.JoinHostPort(loopback, "0"))
		if err != nil {
			return err
		}
		keep = append(keep, u)
		uAddr := u.LocalAddr().(*net.UDPAddr).AddrPort()
		want = append(want, Want{"udp", "UNCONN", uAddr, netip.AddrPortFrom(unspecified(uAddr.Addr()), 0)})
		uc, err := net.Dial("udp", uAddr.String())
		if err != nil {
			return err
		}
		keep = append(keep, uc)
		want = append(want, Want{"udp", "ESTABLISHED", uc.LocalAddr().(*net.UDPAddr).AddrPort(), uAddr})
		return nil
	})
	return want
}

func unspecified(a netip.Addr) netip.Addr {
	if a.Is4() {
		return netip.IPv4Unspecified()
	}
	return netip.IPv6Unspecified()
}
