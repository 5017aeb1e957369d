package exporter_test

import (
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/exporter"
	"github.com/sockstate/sockstate/inspect/procsrc"
	"github.com/sockstate/sockstate/inspect/sockdiag"
	"github.com/sockstate/sockstate/internal/testnet"
)

// series is a gathering's values by series name, as Prometheus writes it:
// sockstate_sockets{family="inet",protocol="tcp",state="LISTEN"}.
type series map[string]float64

// gather collects c once through a registry, which checks the metrics
// against their descriptions.
func gather(t *testing.T, c prometheus.Collector) series {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := series{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			name := mf.GetName()
			if len(labels) > 0 {
				name += "{" + strings.Join(labels, ",") + "}"
			}
			v := m.GetGauge().GetValue()
			if m.GetCounter() != nil {
				v = m.GetCounter().GetValue()
			}
			if h := m.GetHistogram(); h != nil {
				// A histogram counts its observations.
				v = float64(h.GetSampleCount())
			}
			out[name] = v
		}
	}
	return out
}

// only keeps the series whose name starts with prefix.
func (s series) only(prefix string) series {
	out := series{}
	for k, v := range s {
		if strings.HasPrefix(k, prefix) {
			out[k] = v
		}
	}
	return out
}

// nonzero keeps the series that are not 0.
func (s series) nonzero() series {
	out := series{}
	for k, v := range s {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

func (s series) String() string {
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s %v\n", k, s[k])
	}
	return b.String()
}

// sources are the two a collector can count from, in ns.
func sources(ns *testnet.NS) map[string]inspect.Source {
	return map[string]inspect.Source{
		"netlink": &sockdiag.Source{NetNS: ns.FD()},
		"proc":    &procsrc.Source{NetNS: ns.FD()},
	}
}

// newCollector returns a collector of ns's sockets from src; the other
// settings are cfg's.
func newCollector(t *testing.T, ns *testnet.NS, src inspect.Source, cfg exporter.Config) *exporter.Collector {
	t.Helper()
	cfg.Source, cfg.NetNS = src, ns.FD()
	if cfg.MaxSeries == 0 {
		cfg.MaxSeries = 64
	}
	cfg.OnError = func(stage string, err error) { t.Errorf("collection stage %s: %v", stage, err) }
	c, err := exporter.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// clock is a scripted time.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

// pairs opens n connections to ln's address from inside ns, accepting
// each, and returns the client and server ends, which are closed when the
// test ends.
func pairs(t *testing.T, ns *testnet.NS, ln net.Listener, n int) (clients, servers []net.Conn) {
	t.Helper()
	ns.Do(t, func() error {
		for range n {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				return err
			}
			clients = append(clients, c)
			s, err := ln.Accept()
			if err != nil {
				return err
			}
			servers = append(servers, s)
		}
		return nil
	})
	t.Cleanup(func() {
		for i := range clients {
			clients[i].Close()
			servers[i].Close()
		}
	})
	return clients, servers
}

func port(a net.Addr) uint16 { return a.(*net.TCPAddr).AddrPort().Port() }

func addrPort(a net.Addr) netip.AddrPort { return a.(*net.TCPAddr).AddrPort() }
