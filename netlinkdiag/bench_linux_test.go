//go:build linux

package netlinkdiag_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/mdlayher/netlink"
	"github.com/sockstate/sockstate/netlinkdiag"
	"golang.org/x/sys/unix"
)

// benchConns is the number of loopback connections the dump benchmarks
// open: twice as many sockets, well under the 20,000 file descriptors a
// test process may have here.
const benchConns = 5000

var benchReq = netlinkdiag.Request{Family: unix.AF_INET, Protocol: unix.IPPROTO_TCP, States: 1 << stateEstablished}

// BenchmarkDump lists at least 2*benchConns established sockets per
// operation with receive buffers of several sizes, each on a new socket
// since the kernel sizes its datagrams by the largest buffer a socket has
// offered. It reports the time per socket.
func BenchmarkDump(b *testing.B) {
	manyConns(b, families[0], benchConns)
	for _, size := range []int{8 << 10, 16 << 10, 32 << 10, 64 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("buf=%dKiB", size>>10), func(b *testing.B) {
			c, err := netlinkdiag.Dial(nil)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			netlinkdiag.SetBufferSize(c, size)
			sockets := 0
			count := func(*netlinkdiag.Msg) error {
				sockets++
				return nil
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := c.Dump(context.Background(), benchReq, count); err != nil {
					b.Fatal(err)
				}
			}
			if sockets < 2*benchConns*b.N {
				b.Fatalf("%d sockets in %d dumps, want at least %d each", sockets, b.N, 2*benchConns)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(sockets), "ns/socket")
		})
	}
}

// BenchmarkDumpNetlinkExecute is the same dump through mdlayher/netlink's
// Conn.Execute, which collects the reply into one allocated Message per
// socket: the path Conn avoids.
func BenchmarkDumpNetlinkExecute(b *testing.B) {
	manyConns(b, families[0], benchConns)
	nl, err := netlink.Dial(unix.NETLINK_SOCK_DIAG, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer nl.Close()
	// inet_diag_req_v2 for benchReq: family, protocol, ext, pad, states,
	// then a zero inet_diag_sockid.
	data := make([]byte, 56)
	data[0], data[1] = benchReq.Family, uint8(benchReq.Protocol)
	data[4] = 1 << stateEstablished
	req := netlink.Message{
		Header: netlink.Header{Type: unix.SOCK_DIAG_BY_FAMILY, Flags: netlink.Request | netlink.Dump},
		Data:   data,
	}
	sockets := 0
	var m netlinkdiag.Msg
	b.ReportAllocs()
	for b.Loop() {
		msgs, err := nl.Execute(req)
		if err != nil {
			b.Fatal(err)
		}
		for _, msg := range msgs {
			if err := netlinkdiag.DecodeMsg(msg.Data, &m); err != nil {
				b.Fatal(err)
			}
			sockets++
		}
	}
	if sockets < 2*benchConns*b.N {
		b.Fatalf("%d sockets in %d dumps, want at least %d each", sockets, b.N, 2*benchConns)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(sockets), "ns/socket")
}
