package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sockstate/sockstate/internal/testnet"
	"github.com/sockstate/sockstate/procnet"
)

// BenchmarkWatchChurnMemory runs watch, in process, for a minute in a
// namespace where 2,000 connections a second open and close, each leaving
// a TIME_WAIT socket for 60s (TCP_TIMEWAIT_LEN) up to the namespace's cap
// (net.ipv4.tcp_max_tw_buckets), and reports the process's peak RSS, the
// heap the runtime holds, the collections and the TIME_WAIT sockets at the
// end. watch's memory follows the sockets it tracks: with the cap high it
// grows while TIME_WAIT fills, for the first minute, then stays flat. The
// process includes the churn's connections. Run it with -benchtime=1x.
func BenchmarkWatchChurnMemory(b *testing.B) {
	for _, twCap := range []int{1000, 262144} {
		b.Run("tw-cap-"+strconv.Itoa(twCap), func(b *testing.B) {
			for b.Loop() {
				watchChurn(b, twCap)
			}
		})
	}
}

func watchChurn(b *testing.B, twCap int) {
	ns := testnet.New(b)
	churn := ns.StartChurn(b, 2000)
	ns.Run(b, "sysctl", "-qw", "net.ipv4.tcp_max_tw_buckets="+strconv.Itoa(twCap))
	// Writing 5 to clear_refs resets VmHWM (proc(5)), so that each run
	// reports its own peak.
	runtime.GC()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Fatal(err)
	}
	gcs := numGC()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	var stderr bytes.Buffer
	code := 0
	ns.Do(b, func() error {
		code = Run(ctx, []string{"watch"}, io.Discard, &stderr)
		return nil
	})
	cancel()
	if code != 0 {
		b.Fatalf("watch: exit %d, stderr %q", code, stderr.String())
	}
	var st procnet.Sockstat
	ns.Do(b, func() error {
		var err error
		st, err = procnet.NewFS("/proc/thread-self").ReadSockstat()
		return err
	})
	if _, _, err := churn.Stop(); err != nil {
		b.Fatal(err)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(vmHWM(b))/(1<<10), "peak-RSS-MiB")
	b.ReportMetric(float64(ms.HeapSys)/(1<<20), "heap-sys-MiB")
	b.ReportMetric(float64(ms.NumGC-gcs), "GCs")
	b.ReportMetric(float64(st.TCP.TW), "time-waits")
}

func numGC() uint32 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.NumGC
}

// vmHWM returns the process's peak resident set in KiB, from
// /proc/self/status.
func vmHWM(b *testing.B) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				b.Fatalf("VmHWM %q: %v", v, err)
			}
			return n
		}
	}
	b.Fatal("no VmHWM in /proc/self/status")
	return 0
}
