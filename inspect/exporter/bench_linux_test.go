package exporter_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sockstate/sockstate/inspect/exporter"
	"github.com/sockstate/sockstate/inspect/sockdiag"
	"github.com/sockstate/sockstate/internal/testnet"
)

// BenchmarkCollect measures a collection of 18,001 TCP sockets (9,000
// connected pairs and their listener) in a namespace, as a scrape makes
// it, through a registry's Gather; cpu-ns/op is the process's user and
// system time per collection, the dump's included.
func BenchmarkCollect(b *testing.B) {
	ns := testnet.New(b)
	ns.OpenPairs(b, 9000)
	c, err := exporter.New(exporter.Config{Source: &sockdiag.Source{NetNS: ns.FD()}, NetNS: ns.FD(), MaxSeries: 64, Top: 10})
	if err != nil {
		b.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	b.ReportAllocs()
	cpu0 := testnet.CPUTime(b)
	for b.Loop() {
		if _, err := reg.Gather(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(testnet.CPUTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
}
