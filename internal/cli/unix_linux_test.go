package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/sockstate/sockstate/internal/testnet"
)

// unixRows reads a header-less table of unix sockets, ss's or ls's
// (netid, state, Recv-Q, Send-Q, name, inode, *, peer inode, ...), into
// sorted rows of those eight fields with ss's state names; withQueues
// false leaves out the queues and the peer, which /proc does not have.
func unixRows(t *testing.T, text string, withQueues bool) []string {
	t.Helper()
	states := map[string]string{"ESTAB": "ESTAB", "ESTABLISHED": "ESTAB", "LISTEN": "LISTEN", "UNCONN": "UNCONN"}
	var rows []string
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			t.Fatalf("table line %q: too few fields", line)
		}
		state, ok := states[f[1]]
		if !ok {
			t.Fatalf("table line %q: unknown state %q", line, f[1])
		}
		if withQueues {
			rows = append(rows, strings.Join(append([]string{f[0], state}, f[2:8]...), " "))
		} else {
			rows = append(rows, strings.Join([]string{f[0], state, f[4], f[5]}, " "))
		}
	}
	slices.Sort(rows)
	return rows
}

// TestLsUnixMatchesSS lists the unix sockets of a namespace holding one of
// each kind with ls -xa, from sock_diag and from /proc, and with ss -xa:
// the same sockets, states, names and inodes, and from sock_diag the same
// queues and peers.
//
// /proc/net/unix has neither queues nor peers: the proc source prints 0
// for both, as ss does when it reads /proc. ss reading /proc (PROC_ROOT
// set) is not compared: it keeps a name only up to its first space, and
// iproute2 6.1 prints an unconnected datagram socket as ESTAB there.
func TestLsUnixMatchesSS(t *testing.T) {
	ns := testnet.New(t)
	z := ns.Zoo(t)
	ss := ns.Run(t, "ss", "-xaH")
	want := unixRows(t, ss, true)
	if len(want) != 14 {
		t.Fatalf("ss lists %d unix sockets, want the zoo's 14:\n%s", len(want), ss)
	}
	// The rows say what the test made, not only what ss says.
	for _, row := range []string{
		fmt.Sprintf("u_str LISTEN 1 7 %s/stream.sock %d * 0", z.Dir, testnet.FDInode(t, z.Listener)),
		fmt.Sprintf("u_str ESTAB 5 0 %s/stream.sock %d * %d", z.Dir, testnet.FDInode(t, z.Accepted), testnet.FDInode(t, z.Client)),
		fmt.Sprintf("u_str ESTAB 0 0 * %d * %d", testnet.FDInode(t, z.PairA), testnet.FDInode(t, z.PairB)),
	} {
		if !slices.Contains(want, row) {
			t.Errorf("ss has no row %q:\n%s", row, ss)
		}
	}
	if !strings.Contains(ss, "@"+z.Abstract+" ") {
		t.Errorf("ss has no abstract socket @%s:\n%s", z.Abstract, ss)
	}

	for _, source := range []string{"netlink", "proc"} {
		t.Run(source, func(t *testing.T) {
			got := mustRun(t, ns, "ls", "-xaH", "--source", source)
			if source == "netlink" {
				if diff := cmp.Diff(want, unixRows(t, got, true)); diff != "" {
					t.Errorf("ls -xaH --source netlink (-ss +ls):\n%s", diff)
				}
				return
			}
			if diff := cmp.Diff(unixRows(t, ss, false), unixRows(t, got, false)); diff != "" {
				t.Errorf("ls -xaH --source proc (-ss +ls):\n%s", diff)
			}
			for _, line := range strings.Split(strings.TrimSpace(got), "\n") {
				if f := strings.Fields(line); f[2] != "0" || f[3] != "0" || f[6] != "*" || f[7] != "0" {
					t.Errorf("proc row %q has queues or a peer", line)
				}
			}
		})
	}
}

// TestLsUnixJSON requires ls -xaj's local and peer objects: a path, an
// abstract name or neither, and the inodes.
func TestLsUnixJSON(t *testing.T) {
	ns := testnet.New(t)
	z := ns.Zoo(t)
	var socks []map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, ns, "ls", "-xaj")), &socks); err != nil {
		t.Fatal(err)
	}
	byInode := map[float64]map[string]any{}
	for _, s := range socks {
		byInode[s["inode"].(float64)] = s
	}
	inode := func(fd int) float64 { return float64(testnet.FDInode(t, fd)) }
	for _, tt := range []struct {
		name string
		fd   int
		want map[string]any
	}{
		{"listener", z.Listener, map[string]any{"netid": "u_str", "state": "LISTEN", "recv_q": 1.0, "send_q": 7.0,
			"local": map[string]any{"path": z.Dir + "/stream.sock", "inode": inode(z.Listener)}, "peer": map[string]any{"inode": 0.0}}},
		{"pair", z.PairA, map[string]any{"netid": "u_str", "state": "ESTABLISHED", "recv_q": 0.0, "send_q": 0.0,
			"local": map[string]any{"inode": inode(z.PairA)}, "peer": map[string]any{"inode": inode(z.PairB)}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := byInode[inode(tt.fd)]
			for k, v := range tt.want {
				if diff := cmp.Diff(v, s[k]); diff != "" {
					t.Errorf("%s (-want +got):\n%s", k, diff)
				}
			}
		})
	}
	abstract := 0
	for _, s := range socks {
		if s["local"].(map[string]any)["abstract"] == z.Abstract {
			abstract++
		}
	}
	if abstract != 1 {
		t.Errorf("%d sockets with the abstract name %q, want 1", abstract, z.Abstract)
	}
}

// TestLsUnixPeerProcess gives the two ends of a socketpair to two child
// processes and requires ls -xp to name each end's holder and its peer's,
// in the table and in JSON, and the users to be ss -xp's.
func TestLsUnixPeerProcess(t *testing.T) {
	ns := testnet.New(t)
	z := ns.Zoo(t)
	a, b := holdFD(t, z.PairA), holdFD(t, z.PairB)
	ia, ib := testnet.FDInode(t, z.PairA), testnet.FDInode(t, z.PairB)
	z.Close(z.PairA)
	z.Close(z.PairB)

	out := mustRun(t, ns, "ls", "-xpH")
	ssOut := ns.Run(t, "ss", "-xpH")
	for _, tt := range []struct {
		inode      uint64
		self, peer int
	}{{ia, a, b}, {ib, b, a}} {
		users := fmt.Sprintf(`users:(("sleep",pid=%d,fd=3))`, tt.self)
		want := fmt.Sprintf(`%s peer:(("sleep",pid=%d,fd=3))`, users, tt.peer)
		local := regexp.MustCompile(fmt.Sprintf(`\*\s+%d\s+\*`, tt.inode))
		line := lineMatching(out, local)
		if !strings.HasSuffix(strings.TrimSpace(line), want) {
			t.Errorf("ls -xp row of inode %d is %q, want it to end in %q", tt.inode, line, want)
		}
		if ssLine := lineMatching(ssOut, local); !strings.Contains(ssLine, users) {
			t.Errorf("ss -xp row of inode %d is %q, want %q in it", tt.inode, ssLine, users)
		}
	}

	var socks []struct {
		Inode       uint64        `json:"inode"`
		Process     []jsonProcess `json:"process"`
		PeerProcess []jsonProcess `json:"peer_process"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, ns, "ls", "-xpj")), &socks); err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, s := range socks {
		if s.Inode != ia {
			continue
		}
		found++
		want := []jsonProcess{{PID: b, Comm: "sleep", FD: 3}}
		if diff := cmp.Diff(want, s.PeerProcess); diff != "" {
			t.Errorf("peer_process (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]jsonProcess{{PID: a, Comm: "sleep", FD: 3}}, s.Process); diff != "" {
			t.Errorf("process (-want +got):\n%s", diff)
		}
	}
	if found != 1 {
		t.Errorf("ls -xpj lists inode %d %d times, want once", ia, found)
	}
}

// holdFD starts `sleep 60` holding a copy of fd as its descriptor 3 and
// returns its pid; it is killed when the test ends.
func holdFD(t *testing.T, fd int) int {
	t.Helper()
	// A copy of fd, closed here once the child has it: an *os.File
	// left to the collector would close its descriptor whenever it is
	// collected, by then perhaps another test's.
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(dup), "held")
	defer f.Close()
	return testnet.Hold(t, f).Process.Pid
}

// lineMatching returns the first line of text that re matches, or "".
func lineMatching(text string, re *regexp.Regexp) string {
	for _, line := range strings.Split(text, "\n") {
		if re.MatchString(line) {
			return line
		}
	}
	return ""
}

// TestLsUnixDetailsMatchSS requires ls -xae's shutdown, bound file and
// pending connections, and ls -xam's skmem, to be ss's, socket for socket
// (by inode) on the zoo, which is idle while both run.
func TestLsUnixDetailsMatchSS(t *testing.T) {
	ns := testnet.New(t)
	ns.Zoo(t)
	for _, tt := range []struct {
		flag string
		tail *regexp.Regexp
	}{
		{"-e", regexp.MustCompile(`(<|-)-(>|-)( ino:\d+ dev:\d+/\d+)?( peers:( \d+)*)?`)},
		{"-m", regexp.MustCompile(`skmem:\([^)]*\)`)},
	} {
		t.Run(tt.flag, func(t *testing.T) {
			byInode := func(text string) map[string]string {
				m := map[string]string{}
				for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
					m[strings.Fields(line)[5]] = tt.tail.FindString(line)
				}
				return m
			}
			want := byInode(ns.Run(t, "ss", "-xaH", tt.flag))
			got := byInode(mustRun(t, ns, "ls", "-xaH", tt.flag))
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("by inode (-ss +ls):\n%s", diff)
			}
			if len(want) != 14 {
				t.Errorf("ss lists %d sockets, want the zoo's 14", len(want))
			}
			for inode, tail := range want {
				if tail == "" {
					t.Errorf("ss's row of inode %s has no %s details", inode, tt.flag)
				}
			}
		})
	}
}

// TestLsUnixPathConditionsMatchSS filters the zoo by unix names with
// shell patterns, as ss -x takes them: the same rows from ls and ss.
func TestLsUnixPathConditionsMatchSS(t *testing.T) {
	ns := testnet.New(t)
	z := ns.Zoo(t)
	for _, expr := range []string{
		"src " + z.Dir + "/*.sock",
		"src unix:" + z.Dir + "/s[a-z]*",
		"src @sockstate-test-*",
		"dst unix:*",
		"not src " + z.Dir + "/*",
		"src " + z.Dir + "/?gram.sock or src " + z.Dir + "/seq.sock",
	} {
		t.Run(expr, func(t *testing.T) {
			ss := ns.Run(t, "ss", "-xaH", expr)
			if strings.TrimSpace(ss) == "" {
				t.Fatal("ss lists nothing: the test's sockets are missing")
			}
			got := mustRun(t, ns, "ls", "-xaH", expr)
			if diff := cmp.Diff(unixRows(t, ss, true), unixRows(t, got, true)); diff != "" {
				t.Errorf("(-ss +ls):\n%s", diff)
			}
		})
	}
}

// TestLsThreadsMatchSS gives a connection's ends to two single-threaded
// children and requires ls -T's users, tid included, to be ss -T's.
func TestLsThreadsMatchSS(t *testing.T) {
	ns := testnet.New(t)
	z := ns.Zoo(t)
	holdFD(t, z.PairA)
	holdFD(t, z.PairB)
	ia := testnet.FDInode(t, z.PairA)
	z.Close(z.PairA)
	z.Close(z.PairB)
	users := regexp.MustCompile(`users:\(.*?\)\)`)
	local := regexp.MustCompile(fmt.Sprintf(`\*\s+%d\s+\*`, ia))
	want := users.FindString(lineMatching(ns.Run(t, "ss", "-xTH"), local))
	got := users.FindString(lineMatching(mustRun(t, ns, "ls", "-xTH"), local))
	if want == "" || !strings.Contains(want, ",tid=") {
		t.Fatalf("ss -xT names no thread of inode %d: %q", ia, want)
	}
	if got != want {
		t.Errorf("ls -xT users %q, ss -xT %q", got, want)
	}
}
