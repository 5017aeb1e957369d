package cli

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/ssfilter"
	"github.com/sockstate/sockstate/internal/testnet"
)

// propertyLines is how many random command lines TestRandomCommandLines
// runs, and propertySeed the seed that makes them.
const (
	propertyLines = 2000
	propertySeed  = 18
)

// randomLine is a command line built from sockstate's real flags and words,
// and what it names: whether it holds -K (alone or in a cluster), the
// spelled-out --all, and the words that are not flags or their values.
type randomLine struct {
	args       []string
	kill, all  bool
	expression []string
}

// lineMaker makes random command lines for a namespace whose listener is
// on port lport and one of whose clients is on port cport.
type lineMaker struct {
	rng               *rand.Rand
	flags, expression []string
	values            map[string][]string
	valueFlags        []string
}

func newLineMaker(seed uint64, ns *testnet.NS, dir string, lport, cport int) *lineMaker {
	blanks := []string{"", " ", "\t", " \t "}
	names := append([]string{ns.Name, "sockstate-no-such-ns", strings.Repeat("n", 300), "a/b", ".."}, blanks...)
	paths := append([]string{ns.Path, "/dev/zero", dir, filepath.Join(dir, "fifo"), filepath.Join(dir, "none")}, blanks...)
	m := &lineMaker{
		rng: rand.New(rand.NewPCG(seed, seed)),
		flags: []string{
			"-t", "-u", "-a", "-l", "-4", "-6", "-n", "-H", "-e", "-o", "-p", "-m", "-i", "-s", "-j",
			"-tan", "-tuan", "-ul", "--tcp", "--udp", "--listening", "--numeric", "--json", "--all", "-x", "--bogus",
			"-K", "-K", "-K", "--kill", "-tK", "-Ku", "-aK",
		},
		expression: append([]string{
			"state", "established", "listening", "connected", "time-wait", "exclude",
			"sport", "dport", "src", "dst", "=", "!=", ">", "<", "and", "or", "not", "(", ")", "*",
			fmt.Sprintf(":%d", lport), fmt.Sprintf(":%d", cport), ":1", "127.0.0.1", "[::1]", "10.1.2.3",
			fmt.Sprintf("sport = :%d", lport), fmt.Sprintf("dport = :%d", lport), "dport = :1", "src 10.1.2.3",
			// Blanks the more often: a blank expression is what -K
			// must never take for one.
		}, slices.Repeat(blanks, 4)...),
		values: map[string][]string{
			"-N": names, "--net": names, "--netns": paths,
			"--source":   append([]string{"auto", "netlink", "proc", "trace", "bogus"}, blanks...),
			"--interval": {"", "1ms", "10", "x"},
		},
		valueFlags: []string{"-N", "--net", "--netns", "--source", "--interval"},
	}
	return m
}

func (m *lineMaker) pick(from []string) string { return from[m.rng.IntN(len(from))] }

// line makes one command line: ls mostly, watch sometimes (always ended
// by --duration), then up to eight flags, values and words in any order.
func (m *lineMaker) line() randomLine {
	var l randomLine
	cmd := "ls"
	if m.rng.IntN(6) == 0 {
		cmd = "watch"
	}
	l.args = []string{cmd}
	for range m.rng.IntN(9) {
		switch m.rng.IntN(3) {
		case 0:
			f := m.pick(m.flags)
			l.args = append(l.args, f)
			l.kill = l.kill || f == "--kill" || !strings.HasPrefix(f, "--") && strings.Contains(f, "K")
			l.all = l.all || f == "--all"
		case 1:
			f := m.pick(m.valueFlags)
			v := m.pick(m.values[f])
			if strings.HasPrefix(f, "--") && m.rng.IntN(2) == 0 {
				l.args = append(l.args, f+"="+v)
			} else {
				l.args = append(l.args, f, v)
			}
		default:
			w := m.pick(m.expression)
			l.args = append(l.args, w)
			l.expression = append(l.expression, w)
		}
	}
	if cmd == "watch" {
		l.args = append(l.args, "--duration", "20ms")
		l.kill = false
	}
	return l
}

// filter is the filter the line's words name, nil for none (blank words
// only, or words that are not an expression).
func (l *randomLine) filter() *ssfilter.Filter {
	words := strings.Fields(strings.Join(l.expression, " "))
	if len(words) == 0 {
		return nil
	}
	_, _, rest, err := ssfilter.ParseStateSelection(words)
	if err != nil || len(rest) == 0 {
		return nil
	}
	f, err := ssfilter.Parse(rest)
	if err != nil {
		return nil
	}
	return f
}

// wantSocket turns an ss line of testnet's Want form into the socket a
// filter matches: protocol, family and both ends.
func wantSocket(t *testing.T, line string) inspect.Socket {
	t.Helper()
	f := strings.Fields(line)
	s := inspect.Socket{Protocol: inspect.TCP, Local: netip.MustParseAddrPort(f[2]), Peer: netip.MustParseAddrPort(f[3])}
	if f[0] == "udp" {
		s.Protocol = inspect.UDP
	}
	s.Family = inspect.INet6
	if s.Local.Addr().Is4() {
		s.Family = inspect.INet
	}
	return s
}

// reversed is line with its two ends swapped: the other end of a
// connection.
func reversed(line string) string {
	f := strings.Fields(line)
	return strings.Join([]string{f[0], f[1], f[3], f[2]}, " ")
}

// TestRandomCommandLines runs 2,000 random command lines of real flags and
// words, empty and blank ones among them, in a namespace holding a
// listener and connections. Each must end (no hang past hangGuard) with
// exit 0, 1 or 2, at most one line on stderr, no panic; and no socket may
// go unless the line held -K and named its target: --all, or a non-blank
// expression that matches the socket or its peer (whose end of the
// connection the reset takes too), as ss shows before and after.
func TestRandomCommandLines(t *testing.T) {
	ns := testnet.New(t)
	dir := t.TempDir()
	if err := unix.Mkfifo(filepath.Join(dir, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := openFixture(t, ns)
	lport := f.ln.Addr().(*net.TCPAddr).Port
	cport := f.closers[1].(net.Conn).LocalAddr().(*net.TCPAddr).Port
	t.Logf("seed %d", propertySeed)
	m := newLineMaker(propertySeed, ns, dir, lport, cport)
	before := ns.SS(t, "-tuanH")
	kills, destroyed := 0, 0
	for i := range propertyLines {
		l := m.line()
		r := runIn(t, ns, nil, l.args...)
		name := fmt.Sprintf("line %d %q", i, l.args)
		if r.hung {
			t.Fatalf("%s: still running %v after SIGINT, itself sent after %v", name, hangGuard, hangGuard)
		}
		if r.code < 0 || r.code > 2 {
			t.Errorf("%s: exit %d, want 0, 1 or 2; stderr %q", name, r.code, r.stderr)
		}
		// watch's line naming its source comes before the one line.
		if strings.Count(withoutSourceLine(r.stderr), "\n") > 1 || strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "panic") {
			t.Errorf("%s: stderr %q, want at most one line", name, r.stderr)
		}
		if l.kill {
			kills++
		}
		after := ns.SS(t, "-tuanH")
		var gone []string
		for _, s := range before {
			if !slices.Contains(after, s) {
				gone = append(gone, s)
			}
		}
		if len(gone) == 0 {
			continue
		}
		destroyed++
		filter := l.filter()
		switch {
		case !l.kill:
			t.Fatalf("%s: no -K, yet ss no longer lists %v", name, gone)
		case !l.all && filter == nil:
			t.Fatalf("%s: -K named no target, yet ss no longer lists %v", name, gone)
		case !l.all:
			for _, s := range gone {
				a, b := wantSocket(t, s), wantSocket(t, reversed(s))
				if !filter.Match(&a) && !filter.Match(&b) {
					t.Fatalf("%s: -K %v closed %s, which it does not match", name, filter, s)
				}
			}
		}
		// Back to the fixture, afresh, for the next line.
		f.close()
		f = openFixture(t, ns)
		before = ns.SS(t, "-tuanH")
	}
	t.Logf("%d lines, %d with -K, %d of which closed sockets", propertyLines, kills, destroyed)
	if destroyed == 0 {
		t.Error("no line closed a socket: the lines never reach -K's work, so the property is not tested")
	}
}
