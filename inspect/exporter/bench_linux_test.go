package exporter_test

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sockstate/sockstate/inspect/exporter"
	"github.com/sockstate/sockstate/inspect/sockdiag"
	"github.com/sockstate/sockstate/internal/testnet"
	"github.com/sockstate/sockstate/netns"
)

// BenchmarkCollect measures a collection of 18,001 TCP sockets (9,000
// connected pairs and their listener) in a namespace, as a scrape makes
// it, through a registry's Gather; cpu-ns/op is the process's user and
// system time per collection, the dump's included.
func BenchmarkCollect(b *testing.B) {
	ns := testnet.New(b)
	openPairs(b, ns, 9000)
	c, err := exporter.New(exporter.Config{Source: &sockdiag.Source{NetNS: ns.FD()}, NetNS: ns.FD(), MaxSeries: 64, Top: 10})
	if err != nil {
		b.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	for b.Loop() {
		if _, err := reg.Gather(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
}

func cpuTime(b *testing.B) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// openPairs opens n connected pairs to one listener on 127.0.0.1 inside ns,
// with raw descriptors (2n+1 of them), reset rather than left in TIME_WAIT
// when b ends.
func openPairs(b *testing.B, ns *testnet.NS, n int) {
	b.Helper()
	var fds []int
	b.Cleanup(func() {
		for _, fd := range fds {
			unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1})
			unix.Close(fd)
		}
	})
	err := netns.Do(ns.FD(), func() error {
		ln, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		fds = append(fds, ln)
		if err := unix.Bind(ln, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
			return err
		}
		if err := unix.Listen(ln, 1024); err != nil {
			return err
		}
		sa, err := unix.Getsockname(ln)
		if err != nil {
			return err
		}
		for range n {
			c, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return err
			}
			fds = append(fds, c)
			if err := unix.Connect(c, sa); err != nil {
				return err
			}
			s, _, err := unix.Accept4(ln, unix.SOCK_CLOEXEC)
			if err != nil {
				return err
			}
			fds = append(fds, s)
		}
		return nil
	})
	if err != nil {
		b.Fatalf("opening %d pairs: %v", n, err)
	}
}
