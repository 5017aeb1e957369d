package testnet

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/sockstate/sockstate/netns"
)

// ResetChurn makes n TCP connections inside ns to a listener on
// 127.0.0.1:port, each closed by its client with SO_LINGER {1, 0} (an RST)
// as soon as it is made, about rate a second (0: as fast as four workers
// go), and returns how many it made from each client address and how
// long it took. The server's end reads until the RST, then closes; the
// listener closes once it has accepted every connection, so that none is
// reset from its queue. It fails t if a connection cannot be made.
func (ns *NS) ResetChurn(t testing.TB, port uint16, n, rate int) (map[netip.AddrPort]int, time.Duration) {
	t.Helper()
	var ln net.Listener
	ns.Do(t, func() (err error) {
		ln, err = net.Listen("tcp4", netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port).String())
		return err
	})
	defer ln.Close()
	var server sync.WaitGroup
	accepted := make(chan struct{}, n)
	server.Go(func() {
		var conns sync.WaitGroup
		defer conns.Wait()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- struct{}{}
			conns.Go(func() {
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				c.Read(make([]byte, 1))
				c.Close()
			})
		}
	})

	var mu sync.Mutex
	made := map[netip.AddrPort]int{}
	var errs error
	jobs := make(chan struct{})
	var workers sync.WaitGroup
	for range churnWorkers {
		workers.Go(func() {
			err := netns.Do(ns.fd, func() error {
				for range jobs {
					c, err := net.DialTCP("tcp4", nil, net.TCPAddrFromAddrPort(ln.Addr().(*net.TCPAddr).AddrPort()))
					if err != nil {
						return err
					}
					local := c.LocalAddr().(*net.TCPAddr).AddrPort()
					if err := c.SetLinger(0); err != nil {
						c.Close()
						return err
					}
					if err := c.Close(); err != nil {
						return err
					}
					mu.Lock()
					made[local]++
					mu.Unlock()
				}
				return nil
			})
			if err != nil {
				mu.Lock()
				errs = errors.Join(errs, err)
				mu.Unlock()
				for range jobs {
				}
			}
		})
	}
	start := time.Now()
	for i := range n {
		if rate > 0 {
			if wait := time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))); wait > 0 {
				time.Sleep(wait)
			}
		}
		jobs <- struct{}{}
	}
	close(jobs)
	workers.Wait()
	elapsed := time.Since(start)
	if errs == nil {
		timeout := time.After(10 * time.Second)
		for range n {
			select {
			case <-accepted:
			case <-timeout:
				t.Errorf("reset churn: the server accepted fewer than %d connections in 10s", n)
			}
		}
	}
	ln.Close()
	server.Wait()
	if errs != nil {
		t.Fatalf("reset churn: %v", errs)
	}
	return made, elapsed
}
