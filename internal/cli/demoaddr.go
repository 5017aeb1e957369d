package cli

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// checkFree refuses an address given to demo --addr that the server could
// not bind, before the demo prints anything: only the default address
// moves to a free port.
func checkFree(addr netip.AddrPort) error {
	ln, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(addr))
	switch {
	case err == nil:
		return ln.Close()
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("demo: --addr %v is taken (address already in use); give a free port, or leave out --addr and the demo finds one", addr)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return fmt.Errorf("demo: --addr %v: no interface has that address; use a loopback address such as 127.0.0.1:7788 or [::1]:7788", addr)
	}
	return fmt.Errorf("demo: --addr %v: %w", addr, err)
}
