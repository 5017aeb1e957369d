package trace

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/internal/testnet"
)

var instanceSeq atomic.Int64

// tracefsInstance makes a private tracefs instance, mounting tracefs at a
// temporary directory when it is not mounted at /sys/kernel/tracing, and
// removes both when the test ends. It returns the instance's directory.
func tracefsInstance(t *testing.T) string {
	t.Helper()
	root := "/sys/kernel/tracing"
	if _, err := os.Stat(filepath.Join(root, "instances")); err != nil {
		root = t.TempDir()
		if err := unix.Mount("nodev", root, "tracefs", 0, ""); err != nil {
			t.Fatalf("mount tracefs at %s: %v", root, err)
		}
		t.Cleanup(func() {
			if err := unix.Unmount(root, 0); err != nil {
				t.Errorf("unmount %s: %v", root, err)
			}
		})
	}
	dir := filepath.Join(root, "instances", fmt.Sprintf("sockstate-test-%d-%d", os.Getpid(), instanceSeq.Add(1)))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatalf("make tracefs instance: %v", err)
	}
	t.Cleanup(func() {
		if err := os.Remove(dir); err != nil {
			t.Errorf("remove tracefs instance: %v", err)
		}
	})
	return dir
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatalf("write %q to %s: %v", s, path, err)
	}
}

// tracefsLine matches the event's print fmt (its format file in tracefs)
// after the "timestamp: inet_sock_set_state: " the trace file prefixes.
var tracefsLine = regexp.MustCompile(`\s(\d+)\.(\d{6}): inet_sock_set_state: family=(\S+) protocol=(\S+) sport=(\d+) dport=(\d+) saddr=(\S+) daddr=(\S+) saddrv6=(\S+) daddrv6=(\S+) oldstate=(\S+) newstate=(\S+)$`)

// event is one transition in the terms of the tracefs text.
type event struct {
	mono  time.Duration // trace_clock mono, to the microsecond
	tuple string        // sport dport saddr daddr: the group
	text  string        // family protocol oldstate newstate
}

// parseTracefs reads the events out of a trace file, keeping the TCP ones
// of the address tuples in keep. The program keeps TCP only; Go's
// listeners are MPTCP sockets (Go 1.24 on), whose own transitions, with
// protocol IPPROTO_MPTCP, come beside their TCP subflow's.
func parseTracefs(t *testing.T, text string, keep map[string]bool) []event {
	t.Helper()
	var out []event
	for _, l := range strings.Split(text, "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		m := tracefsLine.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("tracefs line %q: not the event's format", l)
		}
		s, _ := strconv.ParseInt(m[1], 10, 64)
		us, _ := strconv.ParseInt(m[2], 10, 64)
		saddr, daddr := m[7], m[8]
		if m[3] == "AF_INET6" {
			saddr, daddr = m[9], m[10]
		}
		ev := event{
			mono:  time.Duration(s)*time.Second + time.Duration(us)*time.Microsecond,
			tuple: fmt.Sprintf("%s %s %s %s", m[5], m[6], saddr, daddr),
			text:  fmt.Sprintf("%s %s %s %s", m[3], m[4], m[11], m[12]),
		}
		if keep[ev.tuple] && m[4] == "IPPROTO_TCP" {
			out = append(out, ev)
		}
	}
	return out
}

// eventOf puts tr in the tracefs text's terms.
func eventOf(tr *Transition) event {
	family := map[inspect.Family]string{inspect.INet: "AF_INET", inspect.INet6: "AF_INET6"}[tr.Family]
	protocol := map[inspect.Protocol]string{inspect.TCP: "IPPROTO_TCP"}[tr.Protocol]
	return event{
		mono:  tr.Mono,
		tuple: fmt.Sprintf("%d %d %s %s", tr.Local.Port(), tr.Peer.Port(), tr.Local.Addr(), tr.Peer.Addr()),
		text:  fmt.Sprintf("%s %s TCP_%s TCP_%s", family, protocol, tr.From, tr.To),
	}
}

// groups returns each tuple's texts in order.
func groups(evs []event) map[string][]string {
	out := map[string][]string{}
	for _, ev := range evs {
		out[ev.tuple] = append(out[ev.tuple], ev.text)
	}
	return out
}

// TestAgainstTracefs holds the Tracer to the kernel's own record of the
// same tracepoint: the trace event sock/inet_sock_set_state, enabled in a
// private tracefs instance with the mono trace clock. Per address tuple
// the two must list the same transitions in the same order, with the same
// family, protocol, ports and addresses, and each side's times must put a
// tuple's transitions in that order. The two clocks are not compared: the
// program and tracefs stamp an event at different moments, which a busy
// machine can set more than a millisecond apart.
func TestAgainstTracefs(t *testing.T) {
	testnet.Need(t, "tracefs")
	for _, loopback := range []string{"127.0.0.1", "::1"} {
		for _, first := range []closer{serverFirst, clientFirst} {
			t.Run(fmt.Sprintf("%s %s", loopback, first), func(t *testing.T) {
				ns := testnet.New(t)
				// The instance keeps the listener's port only: tracefs
				// sees every namespace. Pick the port before listening, and
				// before tracing, so that the filter is in place for the
				// listener's first transition; nothing else runs in the
				// namespace.
				var port uint16
				ns.Do(t, func() error {
					ln, err := net.Listen("tcp", net.JoinHostPort(loopback, "0"))
					if err != nil {
						return err
					}
					port = ln.Addr().(*net.TCPAddr).AddrPort().Port()
					return ln.Close()
				})
				r := startReader(t, open(t, ns, Options{}))
				dir := tracefsInstance(t)
				ev := filepath.Join(dir, "events", "sock", "inet_sock_set_state")
				writeFile(t, filepath.Join(dir, "trace_clock"), "mono")
				writeFile(t, filepath.Join(ev, "filter"), fmt.Sprintf("sport == %d || dport == %d", port, port))
				writeFile(t, filepath.Join(ev, "enable"), "1")
				t.Cleanup(func() { writeFile(t, filepath.Join(ev, "enable"), "0") })

				var cv conversation
				ns.Do(t, func() (err error) {
					cv, err = converse(loopback, port, first)
					return err
				})
				want := textbook(cv, first)
				got := r.take(t, countLines(want), 5*time.Second)
				writeFile(t, filepath.Join(ev, "enable"), "0")
				text, err := os.ReadFile(filepath.Join(dir, "trace"))
				if err != nil {
					t.Fatal(err)
				}

				var ours []event
				keep := map[string]bool{}
				for i := range got {
					if got[i].TimeWait {
						continue
					}
					e := eventOf(&got[i])
					ours = append(ours, e)
					keep[e.tuple] = true
				}
				theirs := parseTracefs(t, string(text), keep)
				if diff := cmp.Diff(groups(theirs), groups(ours)); diff != "" {
					t.Fatalf("per tuple (-tracefs +trace):\n%s\ntracefs:\n%s", diff, text)
				}
				if len(theirs) != len(ours) {
					t.Fatalf("%d tracefs events, %d traced", len(theirs), len(ours))
				}
				checkTupleOrder(t, "tracefs", theirs)
				checkTupleOrder(t, "traced", ours)
				// The tuples are the conversation's and no other.
				wantTuples := tuplesOf(cv)
				if diff := cmp.Diff(wantTuples, keep); diff != "" {
					t.Errorf("tuples (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// checkTupleOrder requires the times of each tuple's events, as listed,
// never to go back.
func checkTupleOrder(t *testing.T, who string, events []event) {
	t.Helper()
	last := map[string]event{}
	for _, e := range events {
		if l, ok := last[e.tuple]; ok && e.mono < l.mono {
			t.Errorf("%s %s: %s at %v, after %s at %v", who, e.tuple, e.text, e.mono, l.text, l.mono)
		}
		last[e.tuple] = e
	}
}

// tuplesOf lists the address tuples cv's sockets show, in eventOf's form.
func tuplesOf(cv conversation) map[string]bool {
	unspec := netip.IPv4Unspecified()
	if cv.listener.Addr().Is6() {
		unspec = netip.IPv6Unspecified()
	}
	l, c := cv.listener, cv.client
	f := func(sport, dport uint16, saddr, daddr netip.Addr) string {
		return fmt.Sprintf("%d %d %s %s", sport, dport, saddr, daddr)
	}
	return map[string]bool{
		f(l.Port(), 0, l.Addr(), unspec):          true, // the listener
		f(0, l.Port(), c.Addr(), l.Addr()):        true, // connect, before the port
		f(c.Port(), l.Port(), c.Addr(), l.Addr()): true,
		f(l.Port(), c.Port(), l.Addr(), c.Addr()): true,
	}
}
