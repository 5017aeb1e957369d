//go:build linux

package netlinkdiag_test

import (
	"context"
	"fmt"
	"log"
	"net"

	"github.com/sockstate/sockstate/netlinkdiag"
	"golang.org/x/sys/unix"
)

// ExampleConn_Dump lists the TCP listeners on IPv4 and picks out one.
func ExampleConn_Dump() {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).AddrPort().Port()

	c, err := netlinkdiag.Dial(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	req := netlinkdiag.Request{
		Family:   unix.AF_INET,
		Protocol: unix.IPPROTO_TCP,
		States:   1 << 10, // TCP_LISTEN
	}
	err = c.Dump(context.Background(), req, func(m *netlinkdiag.Msg) error {
		// m is reused for the next socket: copy what you keep.
		if m.Src.Port() == port {
			fmt.Printf("state %d on %v, remote %v, has inode %t\n", m.State, m.Src.Addr(), m.Dst, m.Inode != 0)
		}
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output: state 10 on 127.0.0.1, remote 0.0.0.0:0, has inode true
}
