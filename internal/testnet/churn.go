package testnet

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/sockstate/sockstate/netns"
)

// churnWorkers is how many goroutines open connections; each dials from an
// OS thread switched into the namespace.
const churnWorkers = 4

// Churn opens and closes TCP connections over 127.0.0.1 in a namespace, at
// a steady rate, until Stop. Each connection is the server's end closing
// first, then the client's once it has read the FIN: the client's socket
// goes through CLOSE_WAIT and LAST_ACK and is freed, the server's waits in
// TIME_WAIT.
type Churn struct {
	// Listener is the address every connection goes to.
	Listener netip.AddrPort

	ln              net.Listener
	stop            chan struct{}
	dialers, server sync.WaitGroup
	stopFn          func()

	mu     sync.Mutex
	closed map[netip.AddrPort]int // client address -> connections closed from it
	stats  ChurnStats
	err    error
}

// ChurnStats counts what a Churn did.
type ChurnStats struct {
	// Closed is the number of connections made and closed.
	Closed int
	// Failed is the number of connections that could not be made (Closed
	// leaves them out) or that did not end with the server's FIN within a
	// second (Closed counts them).
	Failed int
	// Elapsed is the time from the start to Stop.
	Elapsed time.Duration
}

// StartChurn starts opening and closing about rate connections a second in
// ns. It caps the namespace's TIME_WAIT sockets at 1000
// (net.ipv4.tcp_max_tw_buckets), so that a listing stays small however long
// the churn runs. The churn stops when the test ends if Stop was not
// called.
func (ns *NS) StartChurn(t testing.TB, rate int) *Churn {
	t.Helper()
	ns.Run(t, "sysctl", "-qw", "net.ipv4.tcp_max_tw_buckets=1000")
	var ln net.Listener
	ns.Do(t, func() error {
		var err error
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		return err
	})
	c := &Churn{
		Listener: ln.Addr().(*net.TCPAddr).AddrPort(),
		ln:       ln,
		stop:     make(chan struct{}),
		closed:   map[netip.AddrPort]int{},
	}
	start := time.Now()
	c.server.Go(c.serve)
	perTick := max(rate/churnWorkers/100, 1) // a tick is 10ms
	for range churnWorkers {
		c.dialers.Go(func() {
			err := netns.Do(ns.fd, func() error { return c.dial(perTick) })
			if err != nil {
				c.mu.Lock()
				c.err = errors.Join(c.err, err)
				c.mu.Unlock()
			}
		})
	}
	c.stopFn = sync.OnceFunc(func() {
		close(c.stop)
		c.dialers.Wait()
		ln.Close()
		c.server.Wait()
		c.stats.Elapsed = time.Since(start)
	})
	t.Cleanup(c.stopFn)
	return c
}

// serve accepts connections and closes each at once, until the listener
// closes.
func (c *Churn) serve() {
	for {
		conn, err := c.ln.Accept()
		if err != nil {
			return
		}
		conn.Close()
	}
}

// dial opens perTick connections every 10ms until stop; a tick it falls
// behind on is not made up.
func (c *Churn) dial(perTick int) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	buf := make([]byte, 1)
	for {
		select {
		case <-c.stop:
			return nil
		case <-tick.C:
		}
		for range perTick {
			conn, err := net.DialTCP("tcp", nil, net.TCPAddrFromAddrPort(c.Listener))
			if err != nil {
				c.mu.Lock()
				c.stats.Failed++
				c.mu.Unlock()
				continue
			}
			local := conn.LocalAddr().(*net.TCPAddr).AddrPort()
			conn.SetReadDeadline(time.Now().Add(time.Second))
			_, err = conn.Read(buf)
			conn.Close()
			c.count(local, errors.Is(err, io.EOF))
		}
	}
}

func (c *Churn) count(local netip.AddrPort, ended bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !ended {
		c.stats.Failed++
	}
	c.stats.Closed++
	c.closed[local]++
}

// Stop stops the churn, waits for the connections in progress to close,
// and returns what it did, how many connections it closed from each client
// address, and the first error of a worker that could not run.
func (c *Churn) Stop() (ChurnStats, map[netip.AddrPort]int, error) {
	c.stopFn()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats, c.closed, c.err
}
