package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// nodeExporter is Debian's name for node_exporter's binary.
const nodeExporter = "prometheus-node-exporter"

// scrapeReport compares the exporters' scrapes of the same sockets:
// sockstate serve against node_exporter's tcpstat collector.
type scrapeReport struct {
	// Scrapes is the timed scrapes of each exporter, taken in rounds
	// that rotate which goes first.
	Scrapes   int           `json:"scrapes"`
	Exporters []exporterRow `json:"exporters"`
	// CPURatio is sockstate's median CPU per scrape over node_exporter's.
	CPURatio float64 `json:"cpu_ratio"`
	// StatesAgreed is the rounds in which the two gave the same TCP
	// counts by state; a round is retried, up to three times, while
	// /proc/net/sockstat moves during it.
	StatesAgreed int         `json:"states_agreed"`
	Soak         *soakReport `json:"soak,omitempty"`
}

// exporterRow is one exporter's figures. CPU is the exporter's own, every
// thread's time on a CPU (/proc/PID/task/*/schedstat) from the request to
// 100 ms after the response ended; wall is the request's.
type exporterRow struct {
	Name       string           `json:"name"`
	Command    string           `json:"command"`
	CPU        []float64        `json:"cpu_ms"`
	CPUMedian  float64          `json:"cpu_median_ms"`
	CPUMin     float64          `json:"cpu_min_ms"`
	CPUMax     float64          `json:"cpu_max_ms"`
	WallMedian float64          `json:"wall_median_ms"`
	RSSKiB     int64            `json:"rss_kib"`
	HWMKiB     int64            `json:"peak_rss_kib"`
	Bytes      int              `json:"bytes"`
	TCPStates  map[string]int64 `json:"tcp_states"`
}

// soakReport is sockstate serve scraped once a second for a while.
type soakReport struct {
	Seconds   float64 `json:"seconds"`
	Scrapes   int     `json:"scrapes"`
	CPUMedian float64 `json:"cpu_median_ms"`
	CPUMax    float64 `json:"cpu_max_ms"`
	// RSSKiB is VmRSS after each tenth of the scrapes.
	RSSKiB []int64 `json:"rss_kib"`
	HWMKiB int64   `json:"peak_rss_kib"`
}

// medianMinMax summarises xs.
func medianMinMax(xs []float64) (median, lo, hi float64) {
	s := slices.Sorted(slices.Values(xs))
	n := len(s)
	if n == 0 {
		return 0, 0, 0
	}
	return (s[(n-1)/2] + s[n/2]) / 2, s[0], s[n-1]
}

// writeScrapeMarkdown prints the scrape comparison as a table and lines.
func writeScrapeMarkdown(b *strings.Builder, r *scrapeReport) {
	fmt.Fprintf(b, "Scrapes, %d of each, in rounds rotating which goes first (CPU: the exporter's every thread, request to 100 ms after the response):\n\n", r.Scrapes)
	b.WriteString("| exporter | command | CPU median ms | min ms | max ms | × node_exporter | wall median ms | RSS MiB | peak RSS MiB | bytes |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, e := range r.Exporters {
		ratio := "–"
		if e.Name == "sockstate" {
			ratio = fmt.Sprintf("%.2f", r.CPURatio)
		}
		fmt.Fprintf(b, "| %s | `%s` | %.1f | %.1f | %.1f | %s | %.1f | %.1f | %.1f | %d |\n", e.Name, e.Command,
			e.CPUMedian, e.CPUMin, e.CPUMax, ratio, e.WallMedian, float64(e.RSSKiB)/1024, float64(e.HWMKiB)/1024, e.Bytes)
	}
	b.WriteString("\n")
	for _, e := range r.Exporters {
		fmt.Fprintf(b, "TCP states from %s: %s.\n", e.Name, formatStates(e.TCPStates))
	}
	fmt.Fprintf(b, "The two gave the same count of every TCP state in %d of %d rounds.\n", r.StatesAgreed, r.Scrapes)
	if s := r.Soak; s != nil {
		var rss []string
		for _, k := range s.RSSKiB {
			rss = append(rss, fmt.Sprintf("%.1f", float64(k)/1024))
		}
		fmt.Fprintf(b, "\nSoak: sockstate serve scraped %d times over %.0f s (one a second): CPU per scrape median %.1f ms, max %.1f ms; "+
			"RSS MiB after each tenth: %s; peak RSS %.1f MiB.\n", s.Scrapes, s.Seconds, s.CPUMedian, s.CPUMax, strings.Join(rss, ", "), float64(s.HWMKiB)/1024)
	}
	b.WriteString("\n")
}

func formatStates(m map[string]int64) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
