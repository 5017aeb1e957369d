package exporter_test

import (
	"fmt"
	"net"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/exporter"
	"github.com/sockstate/sockstate/internal/testnet"
	"github.com/sockstate/sockstate/netns"
	"github.com/sockstate/sockstate/procnet"
)

// overflow makes one listen overflow in ns: a listener with a backlog of
// 0 holds one connection in its queue, and the next SYN finds it full
// (counted in ListenOverflows and ListenDrops); that client is closed at
// once, so that no retransmitted SYN counts again. It returns the
// listener's address.
func overflow(t *testing.T, ns *testnet.NS) string {
	t.Helper()
	_, sa := ns.ListenRaw(t, 0)
	ns.Do(t, func() error {
		queued, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		t.Cleanup(func() { unix.Close(queued) })
		if err := unix.Connect(queued, sa); err != nil {
			return err
		}
		c, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(c)
		if err := unix.Connect(c, sa); err != unix.EINPROGRESS {
			return fmt.Errorf("connecting to a full queue: %v, want EINPROGRESS", err)
		}
		return nil
	})
	return fmt.Sprintf("127.0.0.1:%d", sa.Port)
}

// listenCounters reads ns's ListenOverflows and ListenDrops.
func listenCounters(t *testing.T, ns *testnet.NS) (overflows, drops int64) {
	t.Helper()
	ns.Do(t, func() error {
		n, err := procnet.NewFS("/proc/thread-self").ReadNetstat()
		overflows, _ = n.Get("TcpExt", "ListenOverflows")
		drops, _ = n.Get("TcpExt", "ListenDrops")
		return err
	})
	return overflows, drops
}

// TestKernelCountersByNetns lists two namespaces that differ, one with a
// listen overflow and a port range of 1,000 ports, the other with none
// and 500 ports, as serve --all-netns does: the listen counters are each
// namespace's own, by namespace with --by netns and summed without; the
// ports available are each namespace's, or the smallest range; and a
// socket is ephemeral by its own namespace's range (a connection from
// port 40500 is in the first's range, not in the second's, where it is).
func TestKernelCountersByNetns(t *testing.T) {
	a, b := testnet.New(t), testnet.New(t)
	a.Run(t, "sysctl", "-qw", "net.ipv4.ip_local_port_range=40000 40999")
	b.Run(t, "sysctl", "-qw", "net.ipv4.ip_local_port_range=50000 50499")
	full := overflow(t, a)
	lnA, lnB := a.Listen(t, "tcp", "127.0.0.1:0"), b.Listen(t, "tcp", "127.0.0.1:0")
	a.Do(t, func() error {
		c, err := net.Dial("tcp", lnA.Addr().String())
		if err == nil {
			t.Cleanup(func() { c.Close() })
		}
		return err
	})
	b.Do(t, func() error {
		for _, d := range []net.Dialer{{}, {LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40500}}} {
			c, err := d.Dial("tcp", lnB.Addr().String())
			if err != nil {
				return err
			}
			t.Cleanup(func() { c.Close() })
		}
		return nil
	})
	overA, dropsA := listenCounters(t, a)
	overB, dropsB := listenCounters(t, b)
	if overA < 1 || dropsA < 1 || overB != 0 || dropsB != 0 {
		t.Fatalf("ListenOverflows, ListenDrops: %d, %d in %s and %d, %d in %s; want at least 1 in the first, 0 in the second", overA, dropsA, a.Name, overB, dropsB, b.Name)
	}

	nss := namespaces{nsOf(t, a), nsOf(t, b)}
	label := map[uint64]string{}
	for _, n := range nss {
		label[n.Inode] = n.Label()
	}
	each := func(fn func(uint64) error) error {
		for i, ns := range []*testnet.NS{a, b} {
			if err := netns.Do(ns.FD(), func() error { return fn(nss[i].Inode) }); err != nil {
				return err
			}
		}
		return nil
	}
	used := series{
		fmt.Sprintf("sockstate_ephemeral_ports_used{destination=%q}", full):                1,
		fmt.Sprintf("sockstate_ephemeral_ports_used{destination=%q}", lnA.Addr().String()): 1,
		fmt.Sprintf("sockstate_ephemeral_ports_used{destination=%q}", lnB.Addr().String()): 1,
	}
	for _, tt := range []struct {
		name string
		by   *exporter.Grouping
		want series
	}{
		{name: "summed", want: series{
			"sockstate_listen_overflows_total":    float64(overA + overB),
			"sockstate_listen_drops_total":        float64(dropsA + dropsB),
			"sockstate_ephemeral_ports_available": 500,
		}},
		{name: "by netns", by: &exporter.Grouping{Label: "netns", Key: func(s *inspect.Socket) uint64 { return s.NetNS }, Name: func(k uint64) string { return label[k] }, NetNS: true}, want: series{
			fmt.Sprintf("sockstate_listen_overflows_total{netns=%q}", a.Name):    float64(overA),
			fmt.Sprintf("sockstate_listen_overflows_total{netns=%q}", b.Name):    0,
			fmt.Sprintf("sockstate_listen_drops_total{netns=%q}", a.Name):        float64(dropsA),
			fmt.Sprintf("sockstate_listen_drops_total{netns=%q}", b.Name):        0,
			fmt.Sprintf("sockstate_ephemeral_ports_available{netns=%q}", a.Name): 1000,
			fmt.Sprintf("sockstate_ephemeral_ports_available{netns=%q}", b.Name): 500,
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := exporter.New(exporter.Config{Source: nss, EachNetNS: each, MaxSeries: 64, Top: 10, By: tt.by,
				OnError: func(stage string, err error) { t.Errorf("collection stage %s: %v", stage, err) }})
			if err != nil {
				t.Fatal(err)
			}
			got := gather(t, c)
			kernel := series{}
			for _, prefix := range []string{"sockstate_listen_", "sockstate_ephemeral_ports_available"} {
				for k, v := range got.only(prefix) {
					kernel[k] = v
				}
			}
			if diff := cmp.Diff(tt.want, kernel); diff != "" {
				t.Errorf("kernel counters (-want +got)\n%s", diff)
			}
			if diff := cmp.Diff(used, got.only("sockstate_ephemeral_ports_used")); diff != "" {
				t.Errorf("ephemeral ports used (-want +got)\n%s", diff)
			}
		})
	}
}
