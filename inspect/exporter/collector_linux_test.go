package exporter_test

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/inspect/exporter"
	"github.com/sockstate/sockstate/internal/testnet"
)

// settled returns the counts of the sockets made in ns by protocol, family
// and state, once ss lists them so. A loaded machine can delay the ACK of
// a FIN past the RTO, leaving a socket in FIN_WAIT1 until the
// retransmission: it waits, a bounded number of times, for ss to show the
// states Textbook settles in.
func settled(t *testing.T, ns *testnet.NS, made []testnet.Want) series {
	t.Helper()
	want := series{}
	for _, w := range made {
		want[socketsKey(w.Netid, w.Local.Addr().Is6(), w.State)]++
	}
	for i := range settleTries {
		fromSS := series{}
		for _, line := range ns.SS(t, "-tuanH") {
			f := strings.Fields(line)
			fromSS[socketsKey(f[0], strings.HasPrefix(f[2], "["), f[1])]++
		}
		diff := cmp.Diff(want, fromSS)
		if diff == "" {
			break
		}
		if i == settleTries-1 {
			t.Fatalf("ss does not list the sockets made after %d looks (-made +ss)\n%s", settleTries, diff)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return want
}

// TestSocketsMatchSS counts a socket in each state, over IPv4 and IPv6, in
// a namespace of the test's own: the counts by protocol, family and state
// are exactly those of the sockets made, and those ss counts.
func TestSocketsMatchSS(t *testing.T) {
	ns := testnet.New(t)
	made := append(ns.Textbook(t, "127.0.0.1"), ns.Textbook(t, "::1")...)
	want := settled(t, ns, made)
	for name, src := range sources(ns) {
		t.Run(name, func(t *testing.T) {
			got := gather(t, newCollector(t, ns, src, exporter.Config{Top: 5})).only("sockstate_sockets{")
			if diff := cmp.Diff(want, got.nonzero()); diff != "" {
				t.Errorf("(-ss +sockstate)\n%s", diff)
			}
			// Every TCP state but NEW_SYN_RECV, and UDP's two, for each
			// family, and unix's three, 0 or not.
			if len(got) != 2*11+2*2+3 {
				t.Errorf("%d series, want 29:\n%s", len(got), got)
			}
			if v, ok := got[socketsKey("tcp", true, "SYN_SENT")]; !ok || v != 0 {
				t.Errorf("tcp inet6 SYN_SENT: %v %v, want a series of 0", v, ok)
			}
		})
	}
}

// TestUnixMatchesSS counts unix sockets of every type and state ss tells
// apart (testnet's Zoo) in a namespace of the test's own: the counts by
// state are those ss -xaH counts there.
func TestUnixMatchesSS(t *testing.T) {
	ns := testnet.New(t)
	ns.Zoo(t)
	names := map[string]string{"ESTAB": "ESTABLISHED", "LISTEN": "LISTEN", "UNCONN": "UNCONN"}
	want := series{}
	lines := strings.Split(strings.TrimSpace(ns.Run(t, "ss", "-xaH")), "\n")
	for _, line := range lines {
		state, ok := names[strings.Fields(line)[1]]
		if !ok {
			t.Fatalf("ss line %q: a state the test does not know", line)
		}
		want[fmt.Sprintf("sockstate_sockets{family=%q,protocol=%q,state=%q}", "unix", "unix", state)]++
	}
	// The zoo: 2 listeners with an abstract one, 5 connected pairs'
	// ends and a pending one, the bound and unbound datagram sockets.
	if len(lines) < 10 {
		t.Fatalf("ss lists %d unix sockets in the zoo's namespace, want at least 10:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	for name, src := range sources(ns) {
		t.Run(name, func(t *testing.T) {
			got := gather(t, newCollector(t, ns, src, exporter.Config{})).only(`sockstate_sockets{family="unix"`)
			if diff := cmp.Diff(want, got.nonzero()); diff != "" {
				t.Errorf("(-ss +sockstate)\n%s", diff)
			}
		})
	}
}

// settleTries bounds the looks at the sockets while their states settle.
const settleTries = 100

func socketsKey(netid string, inet6 bool, state string) string {
	family := "inet"
	if inet6 {
		family = "inet6"
	}
	return fmt.Sprintf("sockstate_sockets{family=%q,protocol=%q,state=%q}", family, netid, state)
}

// TestPortSeries opens connections to three listening ports, 2, 1 and 3 of
// them from the lowest port up, and counts them by port with two ports at
// most, then with --ports naming the highest: the ports left out are
// counted as other, and the client ends as ephemeral ports held per
// destination.
func TestPortSeries(t *testing.T) {
	ns := testnet.New(t)
	var lns []net.Listener
	for range 3 {
		lns = append(lns, ns.Listen(t, "tcp", "127.0.0.1:0"))
	}
	slices.SortFunc(lns, func(a, b net.Listener) int { return int(port(a.Addr())) - int(port(b.Addr())) })
	p := [3]string{}
	for i, n := range []int{2, 1, 3} {
		pairs(t, ns, lns[i], n)
		p[i] = fmt.Sprint(port(lns[i].Addr()))
	}
	dest := func(i int) string {
		return fmt.Sprintf("sockstate_ephemeral_ports_used{destination=%q}", lns[i].Addr())
	}
	portKey := func(port string) string {
		return fmt.Sprintf("sockstate_port_sockets{port=%q,state=\"ESTABLISHED\"}", port)
	}
	closeWait := func(port string) string {
		return fmt.Sprintf("sockstate_close_wait_oldest_seconds{port=%q}", port)
	}
	queue := func(addr, port string) string {
		return fmt.Sprintf("sockstate_listener_queue{address=%q,port=%q}", addr, port)
	}
	tests := []struct {
		name string
		cfg  exporter.Config
		want series
	}{
		{
			name: "max series 2",
			cfg:  exporter.Config{MaxSeries: 2, Top: 2},
			want: series{
				portKey(p[0]): 2, portKey(p[1]): 1, portKey("other"): 3,
				closeWait(p[0]): 0, closeWait(p[1]): 0, closeWait("other"): 0,
				queue("127.0.0.1", p[0]): 0, queue("127.0.0.1", p[1]): 0, queue("other", "other"): 0,
				"sockstate_port_other_ports": 1,
				dest(2):                      3, dest(0): 2, "sockstate_ephemeral_destinations": 3,
			},
		},
		{
			name: "ports the highest",
			cfg:  exporter.Config{MaxSeries: 64, Top: 1, Ports: []uint16{port(lns[2].Addr()), 9}},
			want: series{
				portKey(p[2]): 3, portKey("other"): 3,
				closeWait(p[2]): 0, closeWait("other"): 0,
				queue("127.0.0.1", p[2]): 0, queue("other", "other"): 0,
				"sockstate_port_other_ports": 2,
				dest(2):                      3, "sockstate_ephemeral_destinations": 3,
			},
		},
	}
	for _, tt := range tests {
		for name, src := range sources(ns) {
			t.Run(tt.name+"/"+name, func(t *testing.T) {
				all := gather(t, newCollector(t, ns, src, tt.cfg))
				got := series{}
				for _, prefix := range []string{"sockstate_port_", "sockstate_close_wait", "sockstate_listener_queue", "sockstate_ephemeral_ports_used", "sockstate_ephemeral_destinations"} {
					for k, v := range all.only(prefix) {
						got[k] = v
					}
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("(-want +got)\n%s", diff)
				}
				if all["sockstate_ephemeral_ports_available"] != 60999-32768+1 {
					t.Errorf("sockstate_ephemeral_ports_available %v, want the default range's 28232", all["sockstate_ephemeral_ports_available"])
				}
			})
		}
	}
}

// TestCloseWaitAge closes the client end of connections to a listener and
// collects at scripted times: the age of the oldest CLOSE_WAIT runs from
// the collection that first saw it, and moves to the next oldest when that
// one closes.
func TestCloseWaitAge(t *testing.T) {
	ns := testnet.New(t)
	for name, src := range sources(ns) {
		t.Run(name, func(t *testing.T) {
			ln := ns.Listen(t, "tcp", "[::1]:0")
			key := fmt.Sprintf("sockstate_close_wait_oldest_seconds{port=\"%d\"}", port(ln.Addr()))
			clients, servers := pairs(t, ns, ln, 2)
			clk := &clock{now: time.Unix(1000, 0)}
			c := newCollector(t, ns, src, exporter.Config{Top: 1, Now: clk.Now})
			step := func(at int64, want float64) {
				t.Helper()
				clk.now = time.Unix(at, 0)
				got := gather(t, c)
				if got[key] != want {
					t.Errorf("at %d: %s %v, want %v\n%s", at, key, got[key], want, got.only("sockstate_port_sockets"))
				}
			}
			step(1000, 0)
			clients[0].Close()
			waitState(t, ns, addrPort(servers[0].LocalAddr()).String(), addrPort(servers[0].RemoteAddr()).String(), "CLOSE-WAIT")
			step(1003, 0)
			step(1010, 7)
			clients[1].Close()
			waitState(t, ns, addrPort(servers[1].LocalAddr()).String(), addrPort(servers[1].RemoteAddr()).String(), "CLOSE-WAIT")
			step(1020, 17)
			servers[0].Close()
			step(1025, 5)
			servers[1].Close()
			step(1030, 0)
		})
	}
}

// waitState waits, a bounded number of times, for ss to show the socket
// from local to peer in state.
func waitState(t *testing.T, ns *testnet.NS, local, peer, state string) {
	t.Helper()
	var out string
	for range 200 {
		out = ns.Run(t, "ss", "-tanH", "src", local, "dst", peer)
		if f := strings.Fields(out); len(f) > 0 && f[0] == state {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s -> %s never in %s: %q", local, peer, state, out)
}
