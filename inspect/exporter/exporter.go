package exporter

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/netns"
	"github.com/sockstate/sockstate/procnet"
)

// Config says what a Collector counts and where.
type Config struct {
	// Source lists the sockets. A Streamer (sockdiag.Source,
	// sockdiag.AutoSource) hands them over in batches as it decodes them.
	Source inspect.Source
	// NetNS is a descriptor of the network namespace whose counters to
	// read (/proc/net/netstat, ip_local_port_range), the one Source lists;
	// 0 means the caller's own.
	NetNS int
	// Ports, when not empty, are the listening ports that may have series
	// of their own in sockstate_port_sockets and the listener metrics; the
	// other listening ports are counted under port="other".
	Ports []uint16
	// MaxSeries is how many listening ports at most have series of their
	// own, the lowest first; the rest are counted under port="other".
	MaxSeries int
	// Top is how many destinations sockstate_ephemeral_ports_used reports,
	// those with the most local ports first.
	Top int
	// Timeout bounds a collection; 0 means 10 s.
	Timeout time.Duration
	// Now tells the time CLOSE_WAIT sockets are first seen at; nil means
	// time.Now. Tests script it.
	Now func() time.Time
	// By, when set, splits sockstate_sockets by namespace, cgroup or
	// container: MaxSeries groups at most, the largest first, the rest
	// summed under "other".
	By *Grouping
	// OnError, when set, is told of each stage of a collection that
	// failed, which sockstate_collection_errors_total also counts.
	OnError func(stage string, err error)
	// EachNetNS, when set, replaces NetNS for the kernel's counters when
	// Source lists several namespaces: it runs fn on a thread in each
	// namespace with the namespace's inode, as Socket.NetNS has it. The
	// listen counters are then summed, or by namespace when By groups by
	// it, each namespace's sockets are told ephemeral by its own port
	// range, and the ports available are the smallest range's.
	EachNetNS func(fn func(inode uint64) error) error
}

// The parts of a collection that can fail, the error counter's stage label.
const (
	stageSockets   = "sockets"
	stageNetstat   = "netstat"
	stagePortRange = "port_range"
)

// Collector is a prometheus.Collector of socket states. One collection runs
// at a time: a scrape that comes while one is in progress waits for it and
// reports its result.
type Collector struct {
	cfg Config
	// sockets describes sockstate_sockets, with By's label when set.
	sockets *prometheus.Desc

	mu       sync.Mutex
	inflight *collection
	// t is used by the collection in progress only.
	t *tally
	// collections, shared and errors are guarded by mu.
	collections, shared float64
	errors              map[string]float64
}

// collection is one run of collect, which the scrapes that come while it
// runs share.
type collection struct {
	done chan struct{}
	snap *snapshot
}

var _ prometheus.Collector = (*Collector)(nil)

// New returns a Collector for cfg. MaxSeries below 1 is an error.
func New(cfg Config) (*Collector, error) {
	if cfg.Source == nil {
		return nil, errors.New("exporter: no source")
	}
	if cfg.MaxSeries < 1 {
		return nil, fmt.Errorf("exporter: max series %d: want at least 1", cfg.MaxSeries)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Collector{cfg: cfg, sockets: socketsDesc, t: newTally(cfg.By), errors: map[string]float64{stageSockets: 0, stageNetstat: 0, stagePortRange: 0}}
	if cfg.By != nil {
		c.sockets = groupSockets(cfg.By)
	}
	return c, nil
}

// Describe sends the descriptions of every metric the Collector makes.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	byNetNS := c.kernelByNetNS()
	for _, d := range allDescs {
		switch {
		case d == socketsDesc:
			d = c.sockets
		case byNetNS && d == listenOverflowsDesc:
			d = nsOverflowsDesc
		case byNetNS && d == listenDropsDesc:
			d = nsDropsDesc
		case byNetNS && d == ephemeralAvailableDesc:
			d = nsAvailableDesc
		}
		ch <- d
	}
	if c.cfg.By != nil {
		ch <- otherGroupsDesc
	}
}

// Collect collects, or waits for the collection in progress, and sends its
// metrics.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	snap := c.snapshot()
	c.mu.Lock()
	self := selfCounts{collections: c.collections, shared: c.shared, errors: maps.Clone(c.errors)}
	c.mu.Unlock()
	snap.emit(ch, &self)
}

// kernelByNetNS reports whether the kernel's counters are by namespace.
func (c *Collector) kernelByNetNS() bool {
	return c.cfg.EachNetNS != nil && c.cfg.By != nil && c.cfg.By.NetNS
}

// snapshot runs a collection, or waits for the one in progress and returns
// its result.
func (c *Collector) snapshot() *snapshot {
	c.mu.Lock()
	if cur := c.inflight; cur != nil {
		c.shared++
		c.mu.Unlock()
		<-cur.done
		return cur.snap
	}
	cur := &collection{done: make(chan struct{})}
	c.inflight = cur
	c.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Timeout)
	defer cancel()
	snap, failed := c.collect(ctx)

	c.mu.Lock()
	c.collections++
	for _, stage := range failed {
		c.errors[stage]++
	}
	c.inflight = nil
	c.mu.Unlock()
	cur.snap = snap
	close(cur.done)
	return snap
}

// collect counts the sockets of the source and reads the kernel's
// counters; it returns the stages that failed.
func (c *Collector) collect(ctx context.Context) (*snapshot, []string) {
	start := time.Now()
	snap := &snapshot{socketsDesc: c.sockets, grouped: c.cfg.By != nil}
	errs := c.readKernel(snap)
	if err := c.count(ctx, snap); err != nil {
		errs = append(errs, stageError{stageSockets, err})
	}
	if c.kernelByNetNS() {
		snap.nameNetNS(c.cfg.By.Name, c.cfg.MaxSeries)
		snap.kernelByNetNS = true
	}
	snap.duration = time.Since(start)
	var failed []string
	for _, e := range errs {
		failed = append(failed, e.stage)
		if c.cfg.OnError != nil {
			c.cfg.OnError(e.stage, e.err)
		}
	}
	return snap, failed
}

// count lists the listening TCP sockets, which give the ports their slots,
// then every other TCP and UDP socket, then the unix sockets, counting each
// as it comes.
func (c *Collector) count(ctx context.Context, snap *snapshot) error {
	t := c.t
	t.snap, t.now = snap, c.cfg.Now()
	listed := false
	defer func() { t.finish(c.cfg.Top, c.cfg.MaxSeries, listed) }()
	cgroup := c.cfg.By != nil && c.cfg.By.Cgroup
	listening := inspect.Query{Protocols: []inspect.Protocol{inspect.TCP}, States: inspect.StatesOf(inspect.Listen), Cgroup: cgroup, Inline: true}
	if err := inspect.Each(ctx, c.cfg.Source, listening, t.addListeners); err != nil && !errors.Is(err, inspect.ErrIncomplete) {
		return err
	}
	t.assignPorts(c.cfg.Ports, c.cfg.MaxSeries)
	// UDP sockets are never in LISTEN: the unconnected ones are in CLOSE.
	rest := inspect.Query{Protocols: []inspect.Protocol{inspect.TCP, inspect.UDP}, States: inspect.AllStates &^ inspect.StatesOf(inspect.Listen), Cgroup: cgroup, Inline: true}
	err := inspect.Each(ctx, c.cfg.Source, rest, t.addConnections)
	if err != nil && !errors.Is(err, inspect.ErrIncomplete) {
		return err
	}
	// Unix sockets in every state, apart: one Query's states apply to
	// every protocol it lists.
	unixSocks := inspect.Query{UnixTypes: []inspect.UnixType{inspect.UnixStream, inspect.UnixDgram, inspect.UnixSeqPacket}, States: inspect.AllStates, Inline: true}
	uerr := inspect.Each(ctx, c.cfg.Source, unixSocks, t.addUnix)
	if uerr != nil && !errors.Is(uerr, inspect.ErrIncomplete) {
		return uerr
	}
	snap.listed = true
	listed = err == nil && uerr == nil
	// An interrupted dump hands over every socket once, from the last
	// attempt: the counts stand, and the error is counted.
	return cmp.Or(err, uerr)
}

// stageError is an error of one stage of a collection.
type stageError struct {
	stage string
	err   error
}

// readKernel reads the listen counters and the ephemeral port range, from
// a thread in the namespace when the Collector has one.
// The port range is read before the sockets are counted, as the count
// needs it to tell the ephemeral ports.
func (c *Collector) readKernel(snap *snapshot) []stageError {
	c.t.lo, c.t.hi = 0, 0
	if c.cfg.EachNetNS != nil {
		return c.readKernelEach(snap)
	}
	var errs []stageError
	read := func() error {
		n, err := procnet.NewFS("/proc/thread-self").ReadNetstat()
		if err != nil {
			errs = append(errs, stageError{stageNetstat, err})
		} else {
			k := &snap.kernel
			k.overflows, k.haveOverflows = n.Get("TcpExt", "ListenOverflows")
			k.drops, k.haveDrops = n.Get("TcpExt", "ListenDrops")
		}
		lo, hi, err := readPortRange()
		if err != nil {
			errs = append(errs, stageError{stagePortRange, err})
			return nil
		}
		c.t.lo, c.t.hi = lo, hi
		snap.kernel.available = int64(hi) - int64(lo) + 1
		return nil
	}
	if c.cfg.NetNS == 0 {
		read()
	} else if err := netns.Do(c.cfg.NetNS, read); err != nil {
		errs = append(errs, stageError{stageNetstat, err}, stageError{stagePortRange, err})
	}
	return errs
}

// readPortRange reads the calling thread's namespace's ip_local_port_range:
// /proc/sys/net follows the reading thread's network namespace.
func readPortRange() (lo, hi uint16, err error) {
	f, err := os.Open("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, 0, fmt.Errorf("exporter: %w", err)
	}
	defer f.Close()
	return procnet.ParsePortRange(f)
}

// destCount is the local ports a destination's connections hold.
type destCount struct {
	dest netip.AddrPort
	used int64
}

// portCount is the connections of a listening port (or of the listening
// ports counted as other) by state, and the age of the oldest CLOSE_WAIT.
type portCount struct {
	port            uint16
	states          [numStates]int64
	oldestCloseWait time.Duration
}
