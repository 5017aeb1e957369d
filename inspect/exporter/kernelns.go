package exporter

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sockstate/sockstate/procnet"
)

// The kernel's counters per namespace, for --by netns.
var (
	nsOverflowsDesc = prometheus.NewDesc("sockstate_listen_overflows_total",
		"Times a completed handshake found its listener's accept queue full (TcpExt ListenOverflows of /proc/net/netstat), by network namespace.",
		[]string{"netns"}, nil)
	nsDropsDesc = prometheus.NewDesc("sockstate_listen_drops_total",
		"Connection requests a listener dropped, for a full queue or another reason (TcpExt ListenDrops of /proc/net/netstat), by network namespace.",
		[]string{"netns"}, nil)
	nsAvailableDesc = prometheus.NewDesc("sockstate_ephemeral_ports_available",
		"Ports in net.ipv4.ip_local_port_range, which connect() picks local ports from, by network namespace.",
		[]string{"netns"}, nil)
)

// nsKernel is one namespace's counters, or those of the namespaces summed
// under one name: the listen counters summed, the smallest port range.
type nsKernel struct {
	inode                    uint64
	name                     string
	overflows, drops         int64
	haveOverflows, haveDrops bool
	// available is the ports of the range; 0 when it could not be read.
	available int64
}

// portRange is a namespace's ephemeral port range.
type portRange struct{ lo, hi uint16 }

// readKernelEach reads the counters of every namespace cfg.EachNetNS
// enters: the listen counters are summed, each namespace's port range
// tells which local ports of its own sockets are ephemeral, and the
// smallest range is the ports available. Each stage fails once at most.
func (c *Collector) readKernelEach(snap *snapshot) []stageError {
	var netstatErr, rangeErr error
	t := c.t
	if t.ranges == nil {
		t.ranges = map[uint64]portRange{}
	}
	clear(t.ranges)
	err := c.cfg.EachNetNS(func(inode uint64) error {
		k := nsKernel{inode: inode}
		n, err := procnet.NewFS("/proc/thread-self").ReadNetstat()
		if err != nil {
			netstatErr = err
		} else {
			k.overflows, k.haveOverflows = n.Get("TcpExt", "ListenOverflows")
			k.drops, k.haveDrops = n.Get("TcpExt", "ListenDrops")
		}
		lo, hi, err := readPortRange()
		if err != nil {
			rangeErr = err
		} else {
			t.ranges[inode] = portRange{lo, hi}
			k.available = int64(hi) - int64(lo) + 1
		}
		snap.perNetNS = append(snap.perNetNS, k)
		return nil
	})
	if err != nil {
		netstatErr, rangeErr = err, err
	}
	for i := range snap.perNetNS {
		snap.kernel.add(&snap.perNetNS[i])
	}
	var errs []stageError
	if netstatErr != nil {
		errs = append(errs, stageError{stageNetstat, netstatErr})
	}
	if rangeErr != nil {
		errs = append(errs, stageError{stagePortRange, rangeErr})
	}
	return errs
}

// add sums o into k: the counters added, the smaller range kept.
func (k *nsKernel) add(o *nsKernel) {
	if o.haveOverflows {
		k.overflows += o.overflows
		k.haveOverflows = true
	}
	if o.haveDrops {
		k.drops += o.drops
		k.haveDrops = true
	}
	if o.available > 0 && (k.available == 0 || o.available < k.available) {
		k.available = o.available
	}
}

// nameNetNS names the namespaces of perNetNS for --by netns: those with a
// sockstate_sockets series of their own keep their name, and so do others
// while fewer than max names are taken; the rest are summed as other.
func (s *snapshot) nameNetNS(name func(uint64) string, max int) {
	own := map[string]int{}
	for _, g := range s.groups {
		own[g.name] = -1
	}
	var named []nsKernel
	var other *nsKernel
	for i := range s.perNetNS {
		k := &s.perNetNS[i]
		n := name(k.inode)
		j, ok := own[n]
		if !ok && len(own) < max {
			j, ok = -1, true
		}
		switch {
		case !ok:
			if other == nil {
				other = &nsKernel{name: "other"}
			}
			other.add(k)
			continue
		case j < 0:
			own[n] = len(named)
			named = append(named, nsKernel{name: n})
			j = len(named) - 1
		}
		named[j].add(k)
	}
	if other != nil {
		named = append(named, *other)
	}
	s.perNetNS = named
}

// emitKernel sends the listen counters and the ports available: by
// namespace with --by netns, else those of the namespace read or of every
// namespace summed (the smallest range).
func (s *snapshot) emitKernel(gauge, counter func(*prometheus.Desc, float64, ...string)) {
	if !s.kernelByNetNS {
		k := &s.kernel
		if k.haveOverflows {
			counter(listenOverflowsDesc, float64(k.overflows))
		}
		if k.haveDrops {
			counter(listenDropsDesc, float64(k.drops))
		}
		if k.available > 0 {
			gauge(ephemeralAvailableDesc, float64(k.available))
		}
		return
	}
	for i := range s.perNetNS {
		k := &s.perNetNS[i]
		if k.haveOverflows {
			counter(nsOverflowsDesc, float64(k.overflows), k.name)
		}
		if k.haveDrops {
			counter(nsDropsDesc, float64(k.drops), k.name)
		}
		if k.available > 0 {
			gauge(nsAvailableDesc, float64(k.available), k.name)
		}
	}
}
