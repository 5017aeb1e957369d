package exporter

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sockstate/sockstate/inspect"
)

var (
	socketsDesc = prometheus.NewDesc("sockstate_sockets",
		"Sockets by protocol (tcp, udp, unix), address family (inet, inet6, unix) and the kernel's state name (UNCONN for an unconnected UDP or unix socket).",
		[]string{"protocol", "family", "state"}, nil)
	listenerQueueDesc = prometheus.NewDesc("sockstate_listener_queue",
		"Connections in a TCP listener's accept queue, waiting for accept() (ss's Recv-Q of a listening socket).",
		[]string{"address", "port"}, nil)
	listenerBacklogDesc = prometheus.NewDesc("sockstate_listener_backlog",
		"The limit of a TCP listener's accept queue, the backlog given to listen() capped by net.core.somaxconn (ss's Send-Q of a listening socket).",
		[]string{"address", "port"}, nil)
	listenOverflowsDesc = prometheus.NewDesc("sockstate_listen_overflows_total",
		"Times a completed handshake found its listener's accept queue full (TcpExt ListenOverflows of /proc/net/netstat).",
		nil, nil)
	listenDropsDesc = prometheus.NewDesc("sockstate_listen_drops_total",
		"Connection requests a listener dropped, for a full queue or another reason (TcpExt ListenDrops of /proc/net/netstat).",
		nil, nil)
	portSocketsDesc = prometheus.NewDesc("sockstate_port_sockets",
		"TCP connections whose local port is a listening port, by that port (or other) and state.",
		[]string{"port", "state"}, nil)
	otherPortsDesc = prometheus.NewDesc("sockstate_port_other_ports",
		"Listening ports counted under port=\"other\": those not chosen by --ports or above --max-series.",
		nil, nil)
	closeWaitDesc = prometheus.NewDesc("sockstate_close_wait_oldest_seconds",
		"Age of the oldest CLOSE_WAIT connection of a listening port, from the first collection that saw it; 0 for none.",
		[]string{"port"}, nil)
	ephemeralUsedDesc = prometheus.NewDesc("sockstate_ephemeral_ports_used",
		"Local ports in the ephemeral range held by TCP connections to a destination, for the destinations that hold the most.",
		[]string{"destination"}, nil)
	ephemeralAvailableDesc = prometheus.NewDesc("sockstate_ephemeral_ports_available",
		"Ports in net.ipv4.ip_local_port_range, which connect() picks local ports from.",
		nil, nil)
	destinationsDesc = prometheus.NewDesc("sockstate_ephemeral_destinations",
		"Destinations that TCP connections from ephemeral ports go to, of which the top ones have sockstate_ephemeral_ports_used.",
		nil, nil)
	durationDesc = prometheus.NewDesc("sockstate_collection_duration_seconds",
		"How long the last collection of sockets and counters took.",
		nil, nil)
	seenDesc = prometheus.NewDesc("sockstate_collection_sockets",
		"Sockets the last collection counted.",
		nil, nil)
	unrecognizedDesc = prometheus.NewDesc("sockstate_collection_sockets_unrecognized",
		"Sockets the last collection could not count by protocol, family or state (none expected).",
		nil, nil)
	successDesc = prometheus.NewDesc("sockstate_collection_success",
		"1 when the last collection listed every socket, 0 when the listing failed and the socket metrics are left out.",
		nil, nil)
	collectionsDesc = prometheus.NewDesc("sockstate_collections_total",
		"Collections run; concurrent scrapes share one.",
		nil, nil)
	sharedDesc = prometheus.NewDesc("sockstate_scrapes_shared_total",
		"Scrapes that came while a collection was in progress and reported its result.",
		nil, nil)
	errorsDesc = prometheus.NewDesc("sockstate_collection_errors_total",
		"Collections in which a stage failed: sockets (the listing), netstat, port_range.",
		[]string{"stage"}, nil)
)

var allDescs = []*prometheus.Desc{
	socketsDesc, listenerQueueDesc, listenerBacklogDesc, listenOverflowsDesc, listenDropsDesc,
	portSocketsDesc, otherPortsDesc, closeWaitDesc, ephemeralUsedDesc, ephemeralAvailableDesc,
	destinationsDesc, durationDesc, seenDesc, unrecognizedDesc, successDesc, collectionsDesc,
	sharedDesc, errorsDesc,
}

// snapshot is the result of one collection, which scrapes that share it
// read and do not change.
type snapshot struct {
	// listed is set when every socket was listed; the socket metrics are
	// left out otherwise.
	listed bool
	// sockets counts by kind and state.
	sockets       stateCounts
	seen, unknown int64
	// socketsDesc describes sockstate_sockets; when grouped, it has the
	// group's label, and groups (the largest) and otherGroup (the rest,
	// otherGroups of them) replace sockets in it.
	socketsDesc *prometheus.Desc
	grouped     bool
	groups      []groupCount
	otherGroup  *groupCount
	otherGroups int
	// listeners are those of ports with series of their own, by port
	// then address; otherListener sums those of the other ports.
	listeners     []listener
	otherListener listener
	// ports have series of their own, lowest first; other, when not nil,
	// counts the otherPorts listening ports without.
	ports      []portCount
	other      *portCount
	otherPorts int
	// dests are the top destinations of ephemeral ports, of destinations.
	dests        []destCount
	destinations int

	// kernel is the listen counters and ports available, of every
	// namespace read; perNetNS has them by namespace, and, when
	// kernelByNetNS, by the name --by netns gives them.
	kernel        nsKernel
	perNetNS      []nsKernel
	kernelByNetNS bool
	duration      time.Duration
}

// selfCounts are the Collector's own counters at a scrape.
type selfCounts struct {
	collections, shared float64
	errors              map[string]float64
}

// kind is what sockstate_sockets tells sockets apart by besides their
// state: protocol and address family.
type kind struct {
	protocol, family string
	// always are the states the kind always has a series for, 0 or not,
	// so that a state that comes and goes is a gauge that moves rather
	// than a series that appears.
	always inspect.StateSet
}

// The states of always: TCP's every state but NEW_SYN_RECV, which
// sock_diag and /proc report as SYN_RECV; UDP's two; a unix socket's
// three (UNCONN, LISTEN, ESTABLISHED: unix(7) sockets take TCP's numbers).
var (
	tcpAlways  = inspect.AllStates &^ inspect.StatesOf(inspect.NewSynRecv)
	udpAlways  = inspect.StatesOf(inspect.Established, inspect.Close)
	unixAlways = inspect.StatesOf(inspect.Established, inspect.Listen, inspect.Close)
)

// kinds are the kinds counted, in the order of stateCounts' rows.
var kinds = [...]kind{
	{"tcp", "inet", tcpAlways},
	{"tcp", "inet6", tcpAlways},
	{"udp", "inet", udpAlways},
	{"udp", "inet6", udpAlways},
	{"unix", "unix", unixAlways},
}

const numKinds = len(kinds)

// kindOf returns the row of kinds that counts s; -1 for none.
func kindOf(s *inspect.Socket) int {
	switch {
	case s.Family == inspect.Unix:
		return 4
	case s.Protocol != inspect.TCP && s.Protocol != inspect.UDP:
		return -1
	case s.Family != inspect.INet && s.Family != inspect.INet6:
		return -1
	}
	k := 0
	if s.Protocol == inspect.UDP {
		k = 2
	}
	if s.Family == inspect.INet6 {
		k++
	}
	return k
}

// stateLabel is the state as ss users know it: the kernel's name, and
// UNCONN for an unconnected UDP or unix socket.
func (k *kind) stateLabel(s inspect.State) string {
	if k.protocol != "tcp" && s == inspect.Close {
		return "UNCONN"
	}
	return s.String()
}

// emit sends the snapshot's metrics and the Collector's own.
func (s *snapshot) emit(ch chan<- prometheus.Metric, self *selfCounts) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	if s.listed {
		s.emitSockets(gauge)
	}
	s.emitKernel(gauge, counter)
	gauge(durationDesc, s.duration.Seconds())
	gauge(seenDesc, float64(s.seen))
	gauge(unrecognizedDesc, float64(s.unknown))
	success := 0.0
	if s.listed {
		success = 1
	}
	gauge(successDesc, success)
	counter(collectionsDesc, self.collections)
	counter(sharedDesc, self.shared)
	for stage, n := range self.errors {
		counter(errorsDesc, n, stage)
	}
}

// emitSockets sends the metrics counted from the sockets.
func (s *snapshot) emitSockets(gauge func(*prometheus.Desc, float64, ...string)) {
	if s.grouped {
		s.emitGroups(s.socketsDesc, gauge)
	} else {
		s.emitTotals(gauge)
	}
	for _, l := range s.listeners {
		addr, port := l.addr.Addr().String(), strconv.Itoa(int(l.addr.Port()))
		gauge(listenerQueueDesc, float64(l.queue), addr, port)
		gauge(listenerBacklogDesc, float64(l.backlog), addr, port)
	}
	ports := s.ports
	if s.other != nil {
		gauge(listenerQueueDesc, float64(s.otherListener.queue), "other", "other")
		gauge(listenerBacklogDesc, float64(s.otherListener.backlog), "other", "other")
		ports = append(ports[:len(ports):len(ports)], *s.other)
	}
	gauge(otherPortsDesc, float64(s.otherPorts))
	for i := range ports {
		pc := &ports[i]
		port := strconv.Itoa(int(pc.port))
		if pc == &ports[len(ports)-1] && s.other != nil {
			port = "other"
		}
		for st, n := range pc.states {
			if n > 0 {
				gauge(portSocketsDesc, float64(n), port, inspect.State(st).String())
			}
		}
		gauge(closeWaitDesc, pc.oldestCloseWait.Seconds(), port)
	}
	for _, d := range s.dests {
		gauge(ephemeralUsedDesc, float64(d.used), d.dest.String())
	}
	gauge(destinationsDesc, float64(s.destinations))
}

// emitTotals sends sockstate_sockets by protocol, family and state.
func (s *snapshot) emitTotals(gauge func(*prometheus.Desc, float64, ...string)) {
	for i := range kinds {
		k := &kinds[i]
		for st := range numStates {
			state := inspect.State(st)
			n := s.sockets[i][st]
			if n == 0 && !k.always.Has(state) {
				continue
			}
			gauge(socketsDesc, float64(n), k.protocol, k.family, k.stateLabel(state))
		}
	}
}
