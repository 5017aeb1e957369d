package exporter_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockstate/sockstate/inspect/exporter"
	"github.com/sockstate/sockstate/inspect/procsrc"
	"github.com/sockstate/sockstate/inspect/sockdiag"
	"github.com/sockstate/sockstate/internal/testnet"
	"github.com/sockstate/sockstate/netns"
	"github.com/sockstate/sockstate/procnet"
)

// TestListenerQueue fills the accept queue of a listener with a backlog of
// 3 and connects twice more: the queue holds backlog+1 connections (the
// kernel's sk_acceptq_is_full is ack_backlog > max_ack_backlog), the two
// others stay in SYN_SENT, their SYNs counted by ListenOverflows and
// ListenDrops, which the collector reports as the namespace's netstat has
// them.
func TestListenerQueue(t *testing.T) {
	const backlog, dials = 3, 6
	ns := testnet.New(t)
	var fds []int
	t.Cleanup(func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	})
	_, sa := ns.ListenRaw(t, backlog)
	lnPort := sa.Port
	ns.Do(t, func() error {
		for range dials {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return err
			}
			fds = append(fds, fd)
			err = unix.Connect(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: lnPort})
			if err != nil && !errors.Is(err, unix.EINPROGRESS) {
				return err
			}
		}
		return nil
	})
	queue := fmt.Sprintf("sockstate_listener_queue{address=\"127.0.0.1\",port=\"%d\"}", lnPort)
	backlogKey := fmt.Sprintf("sockstate_listener_backlog{address=\"127.0.0.1\",port=\"%d\"}", lnPort)
	c := newCollector(t, ns, &sockdiag.Source{NetNS: ns.FD()}, exporter.Config{Top: 1})
	var got series
	for range 200 {
		got = gather(t, c)
		if got[queue] == backlog+1 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	want := series{
		queue: backlog + 1, backlogKey: backlog,
		// Each queued connection's two ends.
		socketsKey("tcp", false, "ESTABLISHED"): 2 * (backlog + 1),
		socketsKey("tcp", false, "SYN_SENT"):    dials - backlog - 1,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s %v, want %v", k, got[k], v)
		}
	}
	// The SYNs are sent again, and counted again, while the test reads:
	// compare with netstat when it reads the same before and after.
	for range 20 {
		before := readNetstat(t, ns)
		got = gather(t, c)
		if after := readNetstat(t, ns); !equalListen(before, after) {
			continue
		}
		overflows, _ := before.Get("TcpExt", "ListenOverflows")
		drops, _ := before.Get("TcpExt", "ListenDrops")
		if overflows < dials-backlog-1 {
			t.Errorf("netstat's ListenOverflows %d, want at least %d", overflows, dials-backlog-1)
		}
		if got["sockstate_listen_overflows_total"] != float64(overflows) || got["sockstate_listen_drops_total"] != float64(drops) {
			t.Errorf("overflows %v drops %v, want netstat's %d %d", got["sockstate_listen_overflows_total"], got["sockstate_listen_drops_total"], overflows, drops)
		}
		return
	}
	t.Fatal("netstat's listen counters moved during each of 20 collections")
}

func readNetstat(t *testing.T, ns *testnet.NS) procnet.Netstat {
	t.Helper()
	var n procnet.Netstat
	if err := netns.Do(ns.FD(), func() error {
		var err error
		n, err = procnet.NewFS("/proc/thread-self").ReadNetstat()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

func equalListen(a, b procnet.Netstat) bool {
	for _, name := range []string{"ListenOverflows", "ListenDrops"} {
		x, _ := a.Get("TcpExt", name)
		y, _ := b.Get("TcpExt", name)
		if x != y {
			return false
		}
	}
	return true
}

func TestNewRefusesNoSeries(t *testing.T) {
	_, err := exporter.New(exporter.Config{Source: &procsrc.Source{}, MaxSeries: 0})
	if err == nil || err.Error() != "exporter: max series 0: want at least 1" {
		t.Errorf("New with MaxSeries 0: %v", err)
	}
}
