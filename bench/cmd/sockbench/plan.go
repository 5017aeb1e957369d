package main

import (
	"fmt"
	"math"
	"net/netip"
)

// The address plan. Every address is in 127.0.0.0/8, so every packet stays on
// the namespace's loopback device. Each helper gets its own listening address
// and its own client source address, and the TIME_WAIT maker its own pair of
// /24s, so no two sockets can ever want the same 4-tuple and no connect needs
// an ephemeral port.
const (
	// basePort is the first listening port of every helper; the filter
	// group selects it.
	basePort = 5000
	// twPort is where the TIME_WAIT maker listens, apart from the helpers'
	// ports so that the filter group does not count it.
	twPort = 4000
	// Client ports are bound explicitly from this range.
	firstClientPort = 10000
	lastClientPort  = 59999
	clientPorts     = lastClientPort - firstClientPort + 1
	// twSources is the number of source addresses the TIME_WAIT maker
	// cycles through: 400,000 tuples, three times the kernel's default
	// tcp_max_tw_buckets, so a tuple is reused only long after it left
	// TIME_WAIT.
	twSources = 8
	// fdReserve is what a helper keeps back from its descriptor budget for
	// stdio, the Go runtime's epoll and pipes, and its listeners.
	fdReserve = 64
	// A run uses at least minHelpers so that ss -p and gopsutil always see
	// sockets spread over several processes, and at most maxHelpers so that
	// each helper's addresses fit in a /24.
	minHelpers = 2
	maxHelpers = 250
)

// helperListenAddr is the k-th helper's i-th listening socket.
func helperListenAddr(k, i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 1, byte(k + 1)}), uint16(basePort+i))
}

// helperClientAddr is the source of the k-th helper's j-th connection.
func helperClientAddr(k, j int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 2, byte(k + 1)}), uint16(firstClientPort+j))
}

// twListenAddr is where the TIME_WAIT maker accepts.
var twListenAddr = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 3, 1}), twPort)

// twTuples is the number of distinct client addresses the TIME_WAIT maker has.
const twTuples = twSources * clientPorts

// twClientAddr is the source of the TIME_WAIT maker's c-th connection, for c
// in [0, twTuples).
func twClientAddr(c int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 4, byte(c/clientPorts + 1)}), uint16(firstClientPort+c%clientPorts))
}

// inPlan reports whether a is one of the plan's addresses, which no socket
// outside the benchmark's namespace should ever have.
func inPlan(a netip.Addr) bool {
	if !a.Is4() {
		return false
	}
	b := a.As4()
	return b[0] == 127 && b[1] == 0 && b[2] >= 1 && b[2] <= 4
}

// plan is how a run makes its TCP sockets: ESTABLISHED pairs (both ends held
// by one helper process), listeners, and TIME_WAIT sockets, which hold no
// file descriptor.
type plan struct {
	// Pairs has one entry per helper: how many connections it makes.
	Pairs []int `json:"pairs_per_helper"`
	// Ports is the number of listeners per helper.
	Ports    int `json:"ports_per_helper"`
	TimeWait int `json:"time_wait"`
	// UnixPairs has one entry per unix helper: how many socketpairs it
	// holds.
	UnixPairs []int `json:"unix_pairs_per_helper,omitempty"`
}

// newPlan spreads n sockets over helpers that may each hold fds descriptors,
// with the fraction twFrac of them in TIME_WAIT. The count of listeners
// includes the TIME_WAIT maker's.
func newPlan(n int, twFrac float64, ports, fds int) (plan, error) {
	perHelper := min((fds-fdReserve-ports)/2, clientPorts)
	if perHelper < 1 {
		return plan{}, fmt.Errorf("plan: %d descriptors per helper leave no room for connections", fds)
	}
	tw := int(math.Round(float64(n) * twFrac))
	helpers := max(minHelpers, ceilDiv((n-tw)/2, perHelper))
	pairs := (n - tw - helpers*ports - 1) / 2
	// An odd remainder goes to TIME_WAIT, so that the plan makes exactly n.
	tw = n - 2*pairs - helpers*ports - 1
	if pairs < helpers {
		return plan{}, fmt.Errorf("plan: %d sockets leave fewer than one connection per helper", n)
	}
	if helpers > maxHelpers {
		return plan{}, fmt.Errorf("plan: %d sockets need %d helpers, more than the address plan's %d", n, helpers, maxHelpers)
	}
	p := plan{Pairs: make([]int, helpers), Ports: ports, TimeWait: tw}
	for k := range p.Pairs {
		p.Pairs[k] = pairs / helpers
		if k < pairs%helpers {
			p.Pairs[k]++
		}
	}
	return p, nil
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// pairs is the number of ESTABLISHED connections.
func (p plan) pairs() int {
	n := 0
	for _, c := range p.Pairs {
		n += c
	}
	return n
}

// listeners counts the helpers' listening sockets and the TIME_WAIT maker's.
func (p plan) listeners() int { return len(p.Pairs)*p.Ports + 1 }

// sockets is the number of TCP sockets the plan makes.
func (p plan) sockets() int { return 2*p.pairs() + p.listeners() + p.TimeWait }
