package cli

import (
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/internal/testnet"
)

// demoLine is any line of demo -j: a timeline entry or the result.
type demoLine struct {
	MS       *int64   `json:"ms"`
	US       *int64   `json:"us"`
	Type     string   `json:"type"`
	Actor    string   `json:"actor"`
	Text     string   `json:"text"`
	Socket   string   `json:"socket"`
	State    string   `json:"state"`
	Observed *bool    `json:"observed"`
	Meaning  string   `json:"meaning"`
	OK       *bool    `json:"ok"`
	Missed   []string `json:"missed"`
}

func decodeLines[T any](t *testing.T, out string) []T {
	t.Helper()
	var lines []T
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		dec := json.NewDecoder(strings.NewReader(l))
		dec.DisallowUnknownFields()
		var v T
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		lines = append(lines, v)
	}
	return lines
}

// polledDemo runs a demo that polls, in a namespace of its own. It polls
// every millisecond for states that last a step (100 ms), and a loaded
// machine can stall a poll past one: a run that missed a state the
// textbook requires is run once more, in a fresh namespace, and the log
// says so. A second miss is the caller's failure.
func polledDemo(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	stdout, stderr, code = sockstate(t, testnet.New(t), args...)
	if code == 1 && strings.HasPrefix(stderr, "sockstate: demo: not observed: ") {
		t.Logf("a poll missed a state (%s); running the demo once more", strings.TrimSpace(stderr))
		stdout, stderr, code = sockstate(t, testnet.New(t), args...)
	}
	return stdout, stderr, code
}

// TestDemo runs the demo in a namespace of its own with each closer and
// each source and requires exit 0, the textbook's steps in order, and each
// socket's states in the textbook's order, the required ones observed.
func TestDemo(t *testing.T) {
	closerSteps := map[string][]string{
		"server": {"server close()", "client close()"},
		"client": {"client close()", `server recv(1024) = "" (end of file: the client closed)`, "server close()"},
	}
	active := []string{"ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT"}
	passive := []string{"ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "gone"}
	for _, source := range []string{"netlink", "proc"} {
		for _, closer := range []string{"server", "client"} {
			t.Run(source+"/"+closer, func(t *testing.T) {
				out, stderr, code := polledDemo(t, "demo", "--no-capture", "-j", "--step", "100ms", "--source", source, "--closer", closer)
				if code != 0 || stderr != "" {
					t.Fatalf("exit %d, stderr %q, stdout:\n%s", code, stderr, out)
				}
				lines := decodeLines[demoLine](t, out)
				last := lines[len(lines)-1]
				if last.Type != "result" || last.OK == nil || !*last.OK || last.Missed == nil || len(last.Missed) != 0 {
					t.Errorf("last line %+v, want an ok result with missed []", last)
				}
				var steps []string
				states := map[string][]string{}
				observed := map[string][]string{}
				var prevMS int64
				for _, l := range lines[:len(lines)-1] {
					if l.MS == nil {
						t.Fatalf("entry %+v without ms", l)
					}
					switch l.Type {
					case "step":
						steps = append(steps, l.Actor+" "+l.Text)
						if *l.MS < prevMS {
							t.Errorf("step %q at %d ms, before the step at %d ms", l.Text, *l.MS, prevMS)
						}
						prevMS = *l.MS
					case "state":
						if l.Observed == nil || l.Meaning == "" {
							t.Errorf("state entry %+v: observed or meaning missing", l)
						}
						states[l.Socket] = append(states[l.Socket], l.State)
						if *l.Observed {
							observed[l.Socket] = append(observed[l.Socket], l.State)
						}
					case "note":
					default:
						t.Errorf("line of type %q", l.Type)
					}
				}
				wantSteps := append([]string{
					"server socket(); bind(127.0.0.1:7788)",
					"server listen(5)",
					"client socket(); bind(127.0.0.1:0)",
					"client connect(127.0.0.1:7788)",
					"server accept()",
					`client send("hello from the client")`,
					`server recv(1024) = "hello from the client"`,
					`server send("thank you !")`,
					`client recv(1024) = "thank you !"`,
				}, closerSteps[closer]...)
				wantSteps = append(wantSteps, "server close() the listening socket")
				if diff := cmp.Diff(wantSteps, steps); diff != "" {
					t.Errorf("steps (-want +got):\n%s", diff)
				}
				server, client := active, passive
				if closer == "client" {
					server, client = passive, active
				}
				want := map[string][]string{
					"listener":    {"LISTEN", "gone"},
					"server conn": append([]string{"SYN_RECV"}, server...),
					"client":      append([]string{"SYN_SENT"}, client...),
				}
				if diff := cmp.Diff(want, states); diff != "" {
					t.Errorf("states, observed or passed through (-want +got):\n%s", diff)
				}
				closing := map[string]string{"server": "server conn", "client": "client"}[closer]
				other := map[string]string{"server": "client", "client": "server conn"}[closer]
				required := map[string][]string{
					"listener": {"LISTEN"}, "server conn": {"ESTABLISHED"}, "client": {"ESTABLISHED"},
				}
				required[closing] = append(required[closing], "TIME_WAIT")
				required[other] = append(required[other], "CLOSE_WAIT")
				for sock, sts := range required {
					for _, st := range sts {
						if !slices.Contains(observed[sock], st) {
							t.Errorf("%s: %s not observed; observed %q", sock, st, observed[sock])
						}
					}
				}
				if !slices.Contains(observed[closing], "FIN_WAIT1") && !slices.Contains(observed[closing], "FIN_WAIT2") {
					t.Errorf("%s: neither FIN_WAIT observed; observed %q", closing, observed[closing])
				}
			})
		}
	}
}

// TestDemoText checks the text timeline's shape with polling: the states
// that polling cannot see on loopback are shown as passed through, and the
// last line says the run succeeded.
func TestDemoText(t *testing.T) {
	out, stderr, code := polledDemo(t, "demo", "--no-capture", "--step", "100ms", "--source", "netlink")
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q, stdout:\n%s", code, stderr, out)
	}
	for _, want := range []string{
		"  server       listen(5)\n",
		"  listener     LISTEN       waiting for connections",
		"  client       CLOSE_WAIT   the peer sent its FIN",
		"  server conn  TIME_WAIT    both FINs acknowledged",
		"  the server conn stays in TIME_WAIT for 60 s after the demo ends\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// The handshake's states last microseconds on loopback: a poll
	// seldom sees them, but a loaded machine may stretch them past one.
	for _, state := range []string{
		"  client       SYN_SENT     ",
		"  server conn  SYN_RECV     ",
	} {
		if !strings.Contains(out, state+"passed through, not observed: ") && !strings.Contains(out, state+"a SYN came in") && !strings.Contains(out, state+"connect() sent a SYN") {
			t.Errorf("output lacks %q, passed through or observed:\n%s", state, out)
		}
	}
	if !strings.HasSuffix(out, "\nok: every state the textbook requires was observed\n") {
		t.Errorf("output does not end with the verdict:\n%s", out)
	}
	if strings.Contains(out, "\x1b[") {
		t.Errorf("colours in piped output:\n%q", out)
	}
}

type watchLine struct {
	Time      string   `json:"time"`
	Event     string   `json:"event"`
	Netid     string   `json:"netid"`
	Family    string   `json:"family"`
	Local     *jsonEnd `json:"local"`
	Peer      *jsonEnd `json:"peer"`
	From      *string  `json:"from"`
	To        *string  `json:"to"`
	Cookie    *string  `json:"cookie"`
	InStateMS *int64   `json:"in_state_ms"`
	Cause     *string  `json:"cause"`
	Reset     bool     `json:"reset"`
	Lost      uint64   `json:"lost"`
	Unmatched uint64   `json:"unmatched"`
	LifeMS    *int64   `json:"lifetime_ms"`
	SeenMS    *int64   `json:"seen_ms"`
	Acked     *uint64  `json:"bytes_acked"`
	Received  *uint64  `json:"bytes_received"`
	InStateUS *int64   `json:"in_state_us"`
}

// TestWatchJSON runs watch -j in a namespace, drives a connection through
// its states, interrupts watch with SIGINT and requires exit 0, every line
// whole and in the documented shape, and each socket's history.
func TestWatchJSON(t *testing.T) {
	for _, source := range []string{"netlink", "proc"} {
		t.Run(source, func(t *testing.T) {
			ns := testnet.New(t)
			ln := ns.Listen(t, "tcp4", "127.0.0.1:7788")

			w := startWatch(t, ns, "watch", "-t", "-4", "-j", "--interval", "1ms", "--source", source)
			w.waitFor(`"to":"LISTEN"`)

			var cl string
			ns.Do(t, func() error {
				c, err := net.Dial("tcp4", "127.0.0.1:7788")
				if err != nil {
					return err
				}
				s, err := ln.Accept()
				if err != nil {
					return err
				}
				cl = fmt.Sprint(c.LocalAddr().(*net.TCPAddr).Port)
				// Both ends, before the close: a poll reads the table
				// while the connection is being made, and may show
				// the server's end before the client's.
				w.waitFor(`"peer":{"addr":"127.0.0.1","port":`+cl+`}`, `"to":"ESTABLISHED"`)
				w.waitFor(`"peer":{"addr":"127.0.0.1","port":7788}`, `"to":"ESTABLISHED"`)
				s.Close()
				w.waitFor(`"to":"CLOSE_WAIT"`)
				w.waitFor(`"to":"FIN_WAIT2"`)
				c.Close()
				return nil
			})
			w.waitFor(`"to":"TIME_WAIT"`)
			w.waitFor(`"event":"gone"`)
			out := w.stop()

			history := map[string][]string{}
			for _, l := range decodeLines[watchLine](t, out) {
				if _, err := time.Parse("2006-01-02T15:04:05.000000Z", l.Time); err != nil {
					t.Errorf("time %q: %v", l.Time, err)
				}
				if l.Netid != "tcp" || l.Family != "inet" || l.Local == nil || l.Peer == nil {
					t.Errorf("%+v: want tcp, inet, local and peer", l)
					continue
				}
				if (l.From == nil) != (l.Event == "new") || (l.To == nil) != (l.Event == "gone") {
					t.Errorf("%s event with from %v, to %v", l.Event, l.From, l.To)
				}
				if (l.Cookie != nil) != (source == "netlink") {
					t.Errorf("%s source: cookie %v", source, l.Cookie)
				}
				if l.Event == "change" && (l.InStateMS == nil || *l.InStateMS < 0) {
					t.Errorf("change without in_state_ms: %+v", l)
				}
				if l.SeenMS != nil && (l.Event != "gone" || *l.SeenMS < 0) {
					t.Errorf("seen_ms %d on a %s event", *l.SeenMS, l.Event)
				}
				if (l.InStateMS == nil) != (l.InStateUS == nil) || l.InStateUS != nil && *l.InStateUS/1000 != *l.InStateMS {
					t.Errorf("in_state_ms %v and in_state_us %v disagree: %+v", l.InStateMS, l.InStateUS, l)
				}
				key := fmt.Sprintf("%s:%d-%d", l.Local.Addr, l.Local.Port, l.Peer.Port)
				switch l.Event {
				case "new":
					history[key] = append(history[key], "new "+*l.To)
				case "gone":
					history[key] = append(history[key], "gone")
				default:
					// The handshake's states, FIN_WAIT1 and LAST_ACK last
					// microseconds, so a poll seldom shows them; CLOSE is
					// the state a destroy report gives, shown when the
					// report comes before a poll finds the socket gone.
					h := history[key]
					switch {
					case *l.To == "ESTABLISHED" && len(h) == 1 && (h[0] == "new SYN_SENT" || h[0] == "new SYN_RECV"):
						h[0] = "new ESTABLISHED"
					case *l.To != "FIN_WAIT1" && *l.To != "LAST_ACK" && *l.To != "CLOSE":
						history[key] = append(h, *l.To)
					}
				}
			}
			want := map[string][]string{
				"127.0.0.1:7788-0":          {"new LISTEN"},
				"127.0.0.1:7788-" + cl:      {"new ESTABLISHED", "FIN_WAIT2", "TIME_WAIT"},
				"127.0.0.1:" + cl + "-7788": {"new ESTABLISHED", "CLOSE_WAIT", "gone"},
			}
			if diff := cmp.Diff(want, history); diff != "" {
				t.Errorf("histories (-want +got):\n%s", diff)
			}
		})
	}
}
