package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Report is everything one benchmark run found; -json prints it as is.
type Report struct {
	Date    time.Time `json:"date"`
	Machine machine   `json:"machine"`
	// Commit is the sockstate checkout's HEAD, with -dirty if it has
	// uncommitted changes.
	Commit string  `json:"commit"`
	Runs   int     `json:"runs"`
	Setup  setup   `json:"setup"`
	Groups []group `json:"groups"`
	// Scrape compares the exporters, with -scrapes.
	Scrape *scrapeReport `json:"scrape,omitempty"`
	// Notes says what was left out and why.
	Notes   []string `json:"notes,omitempty"`
	Cleanup cleanup  `json:"cleanup"`
}

type machine struct {
	Kernel      string `json:"kernel"`
	CPUs        int    `json:"cpus"`
	MemTotalMiB int    `json:"mem_total_mib"`
	Go          string `json:"go"`
	// LoadAvg is /proc/loadavg's first three fields when the run started:
	// other work on the machine shows here.
	LoadAvg string `json:"loadavg"`
	// Versions maps each measured tool to its version.
	Versions map[string]string `json:"versions"`
}

// setup is the socket set the inner harness built and what building it cost.
type setup struct {
	Plan plan `json:"plan"`
	// TCPInUse and TimeWait are the namespace's counts from
	// /proc/net/sockstat, the figures ss -s prints, once setup was done.
	TCPInUse int `json:"tcp_inuse"`
	TimeWait int `json:"time_wait"`
	// MaxTimeWait is the namespace's net.ipv4.tcp_max_tw_buckets.
	MaxTimeWait int     `json:"max_time_wait"`
	Seconds     float64 `json:"seconds"`
	// MemMiB is how far MemAvailable fell during setup: the kernel's
	// socket memory plus the helpers'. Other work on the machine blurs it.
	MemMiB float64 `json:"mem_mib"`
	// HelpersRSSMiB is the helpers' resident memory, all together.
	HelpersRSSMiB float64 `json:"helpers_rss_mib"`
	// UnixSockets is the namespace's count of /proc/net/unix once the
	// unix helpers were ready, and UnixSeconds how long they took.
	UnixSockets int     `json:"unix_sockets,omitempty"`
	UnixSeconds float64 `json:"unix_seconds,omitempty"`
}

type group struct {
	Name string `json:"name"`
	Rows []row  `json:"rows"`
}

// row is one command's figures. Times are wall clock from fork to reaping.
type row struct {
	Command command   `json:"command"`
	Times   []float64 `json:"times_ms"`
	Median  float64   `json:"median_ms"`
	Min     float64   `json:"min_ms"`
	Max     float64   `json:"max_ms"`
	// VsSS is the median divided by the group's ss median; 0 when the
	// group has no ss command.
	VsSS float64 `json:"vs_ss,omitempty"`
	// PeakRSSKiB is the command's VmHWM at its exit in the warm-up runs.
	PeakRSSKiB int64 `json:"peak_rss_kib"`
	// Lines is how many lines the command printed in its last warm-up run.
	Lines int `json:"lines"`
}

// cleanup is what was left once the run ended.
type cleanup struct {
	// NetnsTCPInUse is the namespace's TCP sockets in use once the
	// helpers had exited; a fresh namespace starts at 0.
	NetnsTCPInUse int `json:"netns_tcp_inuse"`
	// NetnsTimeWait is the TIME_WAIT sockets left then; they go with the
	// namespace.
	NetnsTimeWait int `json:"netns_time_wait"`
	// ProcessesLeft counts processes still in the namespace after the
	// inner harness exited; the namespace is gone when it is 0.
	ProcessesLeft int `json:"processes_left"`
	// HostBefore and HostAfter are the host namespace's counts, which
	// other work on the machine may move.
	HostBefore sockstat `json:"host_before"`
	HostAfter  sockstat `json:"host_after"`
	// HostPlanSockets counts host TCP sockets on the plan's addresses
	// (127.0.1.0-127.0.4.255) afterwards; only a leak would make one.
	HostPlanSockets int `json:"host_plan_sockets"`
}

// sockstat is the TCP line of /proc/net/sockstat.
type sockstat struct {
	InUse    int `json:"inuse"`
	TimeWait int `json:"tw"`
}

// newRow summarises a command's times and its warm-up figures.
func newRow(c command, times []time.Duration, peakKiB int64, lines int) row {
	r := row{Command: c, PeakRSSKiB: peakKiB, Lines: lines}
	for _, t := range times {
		r.Times = append(r.Times, ms(t))
	}
	sorted := slices.Sorted(slices.Values(r.Times))
	if n := len(sorted); n > 0 {
		r.Min, r.Max = sorted[0], sorted[n-1]
		r.Median = (sorted[(n-1)/2] + sorted[n/2]) / 2
	}
	return r
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// setRatios divides every median in g by its ss command's.
func (g *group) setRatios() {
	i := slices.IndexFunc(g.Rows, func(r row) bool { return r.Command.Tool == "ss" })
	if i < 0 || g.Rows[i].Median == 0 {
		return
	}
	for j := range g.Rows {
		g.Rows[j].VsSS = g.Rows[j].Median / g.Rows[i].Median
	}
}

// tableHeader is the markdown table's header; the test reads it too.
var tableHeader = []string{"group", "command", "runs", "median ms", "min ms", "max ms", "× ss", "peak RSS MiB", "lines"}

// writeMarkdown prints r as a markdown document with one table.
func writeMarkdown(w io.Writer, r *Report) error {
	s := r.Setup
	var b strings.Builder
	fmt.Fprintf(&b, "# sockbench: %d TCP sockets, %d runs\n\n", s.Plan.sockets(), r.Runs)
	fmt.Fprintf(&b, "%s; Linux %s, %d CPUs, %.1f GiB, load %s; %s; checkout %s.\n", r.Date.UTC().Format("2006-01-02 15:04 MST"),
		r.Machine.Kernel, r.Machine.CPUs, float64(r.Machine.MemTotalMiB)/1024, r.Machine.LoadAvg, r.Machine.Go, r.Commit)
	var versions []string
	for _, t := range allTools {
		if v, ok := r.Machine.Versions[t]; ok {
			versions = append(versions, fmt.Sprintf("%s: %s", t, v))
		}
	}
	if len(versions) > 0 {
		fmt.Fprintf(&b, "Versions: %s.\n", strings.Join(versions, "; "))
	}
	fmt.Fprintf(&b, "\nIn a fresh network namespace: %d ESTABLISHED (%d connections held by %d helpers), %d TIME-WAIT, %d LISTEN; "+
		"/proc/net/sockstat then said %d in use, %d TIME-WAIT. Set up in %.2f s; MemAvailable fell %.0f MiB "+
		"(the helpers' RSS: %.0f MiB).\n\n",
		2*s.Plan.pairs(), s.Plan.pairs(), len(s.Plan.Pairs), s.Plan.TimeWait, s.Plan.listeners(),
		s.TCPInUse, s.TimeWait, s.Seconds, s.MemMiB, s.HelpersRSSMiB)
	if s.UnixSockets > 0 {
		fmt.Fprintf(&b, "Unix sockets: %d stream socketpairs held by %d helpers; /proc/net/unix then listed %d. Set up in %.2f s.\n\n",
			s.Plan.unixSockets()/2, len(s.Plan.UnixPairs), s.UnixSockets, s.UnixSeconds)
	}

	fmt.Fprintf(&b, "| %s |\n", strings.Join(tableHeader, " | "))
	fmt.Fprintf(&b, "|---|---|%s\n", strings.Repeat("---:|", len(tableHeader)-2))
	for _, g := range r.Groups {
		for _, row := range g.Rows {
			ratio := "–"
			if row.VsSS > 0 {
				ratio = fmt.Sprintf("%.2f", row.VsSS)
			}
			fmt.Fprintf(&b, "| %s | `%s` | %d | %.1f | %.1f | %.1f | %s | %.1f | %d |\n", g.Name, row.Command, len(row.Times),
				row.Median, row.Min, row.Max, ratio, float64(row.PeakRSSKiB)/1024, row.Lines)
		}
	}
	b.WriteString("\n")
	if r.Scrape != nil {
		writeScrapeMarkdown(&b, r.Scrape)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "Note: %s\n", n)
	}
	c := r.Cleanup
	gone := "so it is gone with its TIME-WAIT"
	if c.ProcessesLeft > 0 {
		gone = "so it lingers until they exit"
	}
	fmt.Fprintf(&b, "Cleanup: after the helpers exited the namespace had %d TCP sockets in use (a fresh one has 0) and %d TIME-WAIT; "+
		"%d processes were left in it, %s. Host TCP in use %d → %d, TIME-WAIT %d → %d "+
		"(ss -s counts; other work moves them); host sockets on the benchmark's addresses: %d.\n",
		c.NetnsTCPInUse, c.NetnsTimeWait, c.ProcessesLeft, gone, c.HostBefore.InUse, c.HostAfter.InUse,
		c.HostBefore.TimeWait, c.HostAfter.TimeWait, c.HostPlanSockets)
	_, err := io.WriteString(w, b.String())
	return err
}
