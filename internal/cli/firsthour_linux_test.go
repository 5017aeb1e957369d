package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/internal/testnet"
)

// TestDropIn: ss's flags with no command run ls, and help NAME is NAME's
// help.
func TestDropIn(t *testing.T) {
	ns, _ := settledNS(t)
	for _, flags := range [][]string{{"-tan"}, {"-tuanH"}, {"-uan", "-4"}, {"-ta", "state", "time-wait"}} {
		bare, _, code := sockstate(t, ns, flags...)
		ls, _, lsCode := sockstate(t, ns, append([]string{"ls"}, flags...)...)
		if code != 0 || lsCode != 0 || bare != ls || bare == "" {
			t.Errorf("sockstate %s (exit %d):\n%s\nsockstate ls (exit %d):\n%s", strings.Join(flags, " "), code, bare, lsCode, ls)
		}
	}
	for cmd, want := range map[string]string{"ls": lsUsage, "watch": watchUsage, "demo": demoUsage, "serve": serveUsage} {
		var stdout, stderr bytes.Buffer
		if code := Run(context.Background(), []string{"help", cmd}, &stdout, &stderr); code != 0 || stdout.String() != want || stderr.Len() != 0 {
			t.Errorf("help %s: exit %d, stderr %q, stdout %.60q...; want %s's usage", cmd, code, stderr.String(), stdout.String(), cmd)
		}
	}
}

// fields splits text into lines of whitespace-separated fields: ss pads
// its columns to its own widths.
func fields(text string) [][]string {
	var lines [][]string
	for _, l := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		lines = append(lines, strings.Fields(l))
	}
	return lines
}

// TestSSNames requires ls --ss-names, and SOCKSTATE_SS_NAMES=1, to print
// what ss prints, field for field and line for line, state column
// included, for the textbook sockets in every state; and the same names
// in JSON.
func TestSSNames(t *testing.T) {
	ns, _ := settledNS(t)
	for _, flags := range []string{"-tanH", "-tuanH", "-uanH"} {
		want := fields(ns.Run(t, "ss", flags))
		for _, tt := range []struct {
			name string
			env  []string
			args []string
		}{
			{"flag", nil, []string{"ls", "--ss-names", flags}},
			{"environment", []string{"SOCKSTATE_SS_NAMES=1"}, []string{"ls", flags}},
			{"bare", []string{"SOCKSTATE_SS_NAMES=1"}, []string{flags}},
		} {
			t.Run(flags+"/"+tt.name, func(t *testing.T) {
				out, stderr, code := runCLI(t, ns, tt.env, tt.args...)
				if code != 0 || stderr != "" {
					t.Fatalf("exit %d, stderr %q", code, stderr)
				}
				if diff := cmp.Diff(want, fields(out)); diff != "" {
					t.Errorf("ls vs ss (-ss +ls):\n%s", diff)
				}
			})
		}
	}
	// The states in the textbook, as ss spells them, in JSON.
	out, stderr, code := runCLI(t, ns, nil, "ls", "-tua", "-j", "--ss-names")
	if code != 0 || stderr != "" {
		t.Fatalf("ls -j --ss-names: exit %d, stderr %q", code, stderr)
	}
	var got []string
	for _, m := range regexp.MustCompile(`"state":"([^"]*)"`).FindAllStringSubmatch(out, -1) {
		if !slices.Contains(got, m[1]) {
			got = append(got, m[1])
		}
	}
	slices.Sort(got)
	want := []string{"CLOSE-WAIT", "ESTAB", "FIN-WAIT-2", "LISTEN", "TIME-WAIT", "UNCONN"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ls -j --ss-names states (-want +got):\n%s", diff)
	}
	// Without the flag, the kernel's names stay the default.
	out, _, _ = runCLI(t, ns, nil, "ls", "-tua", "-j")
	if !strings.Contains(out, `"state":"TIME_WAIT"`) || strings.Contains(out, `"state":"TIME-WAIT"`) {
		t.Errorf("ls -j without --ss-names: want the kernel's TIME_WAIT:\n%s", out)
	}
}

// inPty runs the CLI inside ns on a pseudo-terminal cols columns wide,
// with env added, and returns what it wrote, the terminal's \r\n turned
// back into \n, and its exit code. started, if not nil, is called on the test's goroutine
// with the first line written; the command then goes on to its end.
func inPty(t *testing.T, ns *testnet.NS, cols uint16, env []string, started func(line string), args ...string) (out string, code int) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns.Name, self}, args...)...)
	cmd.Env = childEnv(env...)
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: cols})
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	done := make(chan struct{})
	firstLine := make(chan string, 1)
	timer := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() })
	defer timer.Stop()
	var b bytes.Buffer
	r := bufio.NewReader(ptmx)
	go func() {
		defer close(done)
		for first := true; ; first = false {
			line, err := r.ReadString('\n')
			b.WriteString(line)
			if first && err == nil {
				firstLine <- line
			}
			if err != nil {
				// The child ended: Linux reports EIO on the master.
				return
			}
		}
	}()
	if started != nil {
		select {
		case line := <-firstLine:
			started(line)
		case <-done:
		}
	}
	werr := cmd.Wait()
	<-done
	var ee *exec.ExitError
	if werr != nil && !errors.As(werr, &ee) {
		t.Fatal(werr)
	}
	return strings.ReplaceAll(b.String(), "\r\n", "\n"), cmd.ProcessState.ExitCode()
}

// TestColor: on a terminal, watch colours its states unless NO_COLOR is
// set, TERM is dumb or --color=never says otherwise; --color=always
// colours through a pipe. Every command takes --color.
func TestColor(t *testing.T) {
	ns := testnet.New(t)
	ns.Listen(t, "tcp4", "127.0.0.1:0")
	watch := []string{"watch", "-t", "--duration", "300ms"}
	for _, tt := range []struct {
		name    string
		env     []string
		flags   []string
		escapes bool
	}{
		{"terminal", []string{"TERM=xterm"}, nil, true},
		{"NO_COLOR", []string{"TERM=xterm", "NO_COLOR=1"}, nil, false},
		{"TERM=dumb", []string{"TERM=dumb"}, nil, false},
		{"never", []string{"TERM=xterm"}, []string{"--color=never"}, false},
		{"always over NO_COLOR", []string{"TERM=xterm", "NO_COLOR=1"}, []string{"--color", "always"}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, code := inPty(t, ns, 120, tt.env, nil, append(watch, tt.flags...)...)
			if code != 0 || !strings.Contains(out, "LISTEN") {
				t.Fatalf("exit %d, no LISTEN in %q", code, out)
			}
			if got := strings.Contains(out, "\x1b["); got != tt.escapes {
				t.Errorf("escape codes: %v, want %v, in %q", got, tt.escapes, out)
			}
		})
	}
	t.Run("always through a pipe", func(t *testing.T) {
		out, stderr, code := runCLI(t, ns, nil, append(watch, "--color=always")...)
		if code != 0 || !strings.Contains(out, "\x1b[36mLISTEN\x1b[0m") {
			t.Errorf("exit %d, stderr %q, stdout %q; want a cyan LISTEN", code, stderr, out)
		}
	})
	t.Run("auto through a pipe", func(t *testing.T) {
		out, _, code := runCLI(t, ns, []string{"TERM=xterm"}, watch...)
		if code != 0 || strings.Contains(out, "\x1b[") || !strings.Contains(out, "LISTEN") {
			t.Errorf("exit %d, stdout %q; want LISTEN without escapes", code, out)
		}
	})
	for _, args := range [][]string{{"ls", "--color=always", "-tlH"}, {"-tl", "--color=never"}} {
		out, stderr, code := runCLI(t, ns, nil, args...)
		if code != 0 || stderr != "" || !strings.Contains(out, "127.0.0.1:") || strings.Contains(out, "\x1b[") {
			t.Errorf("%s: exit %d, stderr %q, stdout %q", strings.Join(args, " "), code, stderr, out)
		}
	}
}

// TestWatchAt80Columns watches connections on loopback IPv4 open and close
// under an 80-column terminal, with -t, without it and with -p: no line is
// wider than 80, the netid is there unless -t says it, what does not fit
// is continued on an indented line, and the changes are there with their
// times in state.
func TestWatchAt80Columns(t *testing.T) {
	ns := testnet.New(t)
	ln := listen(t, ns, "127.0.0.1:0")
	connect := func(string) {
		// Connections whose client port has five digits, the widest
		// line, each closed by the client then the server.
		for range 3 {
			c := dial(t, ns, ln)
			time.Sleep(150 * time.Millisecond)
			c.client.Close()
			time.Sleep(150 * time.Millisecond)
			c.server.Close()
		}
	}
	for _, flags := range [][]string{{"-t"}, nil, {"-p"}} {
		t.Run(strings.Join(append([]string{"watch"}, flags...), " "), func(t *testing.T) {
			args := append(append([]string{"watch"}, flags...), "--interval", "10ms", "--duration", "2s")
			out, code := inPty(t, ns, 80, []string{"TERM=xterm"}, connect, args...)
			if code != 0 {
				t.Fatalf("exit %d: %q", code, out)
			}
			netid := "tcp "
			if slices.Contains(flags, "-t") {
				netid = ""
			}
			// Each event's line, its continuations joined to it; stderr's
			// note of the source, continued under its text.
			var events []string
			note := false
			for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
				if n := columns(l); n > 80 {
					t.Errorf("%d columns: %q", n, l)
				}
				indent := len(l) - len(strings.TrimLeft(l, " "))
				switch {
				case strings.HasPrefix(l, "sockstate: "):
					note = true
				case indent > 0 && note:
					if indent != len("sockstate: ") {
						t.Errorf("note continued indented %d, want %d: %q", indent, len("sockstate: "), l)
					}
				case indent > 0 && len(events) > 0:
					if indent != 13+len(netid) {
						t.Errorf("event continued indented %d, want %d: %q", indent, 13+len(netid), l)
					}
					events[len(events)-1] += " " + strings.TrimLeft(l, " ")
				default:
					note = false
					events = append(events, l)
				}
			}
			event := regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d{3} ` + netid + `(\S+ +){3}-> `)
			for _, l := range events {
				if !event.MatchString(l) {
					t.Errorf("not an event with its netid %q: %q", netid, l)
				}
			}
			changed := regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d{3} ` + netid + `127\.0\.0\.1:\d+ +127\.0\.0\.1:\d+ +(\x1b\[\d+m)?ESTABLISHED(\x1b\[0m)? +-> (\x1b\[\d+m)?(FIN_WAIT1|FIN_WAIT2|CLOSE_WAIT)(\x1b\[0m)? [0-9.]+(ms|s|µs)`)
			if !slices.ContainsFunc(events, changed.MatchString) {
				t.Errorf("no ESTABLISHED -> closing change with its time in state in:\n%s", out)
			}
			if slices.Contains(flags, "-p") && !strings.Contains(out, `users:(("cli.test",pid=`) {
				t.Errorf("watch -p: no users:(...) in:\n%s", out)
			}
		})
	}
}

// TestWatchNoSnapshot: --no-snapshot leaves out the sockets the first
// poll finds, and prints what changes after it.
func TestWatchNoSnapshot(t *testing.T) {
	ns := testnet.New(t)
	ln := ns.Listen(t, "tcp4", "127.0.0.1:0")
	out, stderr, code := runCLI(t, ns, nil, "watch", "-t", "--duration", "300ms")
	if code != 0 || !strings.Contains(out, ln.Addr().String()) {
		t.Fatalf("watch: exit %d, stderr %q, stdout %q; want the listener as new", code, stderr, out)
	}
	out, stderr, code = runCLI(t, ns, nil, "watch", "-t", "--no-snapshot", "--duration", "300ms")
	if code != 0 || out != "" {
		t.Errorf("watch --no-snapshot: exit %d, stderr %q, stdout %q; want nothing", code, stderr, out)
	}
}

// TestWatchListening: watch -l watches listeners only, and -a, -n and -H
// are accepted, as ls takes them (ss's -tanH habit).
func TestWatchListening(t *testing.T) {
	ns := testnet.New(t)
	dial(t, ns, listen(t, ns, "127.0.0.1:0"))
	out, stderr, code := runCLI(t, ns, nil, "watch", "-tl", "--duration", "300ms", "-j")
	if code != 0 || strings.Count(out, "\n") != 1 || !strings.Contains(out, `"to":"LISTEN"`) {
		t.Errorf("watch -l: exit %d, stderr %q, stdout %q; want the listener alone", code, stderr, out)
	}
	for _, flags := range []string{"-ta", "-tanH", "-tan"} {
		out, stderr, code = runCLI(t, ns, nil, "watch", flags, "--duration", "300ms", "-j")
		if code != 0 || strings.Count(out, `"to":"ESTABLISHED"`) != 2 || !strings.Contains(out, `"to":"LISTEN"`) {
			t.Errorf("watch %s: exit %d, stderr %q, stdout %q; want the listener and both ends", flags, code, stderr, out)
		}
	}
}

// TestDemoAt80Columns runs the demo on an 80-column terminal: no line is
// wider, and the "observed:" summary is wrapped at its words.
func TestDemoAt80Columns(t *testing.T) {
	ns := testnet.New(t)
	// Exit 1 is a state too brief to poll on a loaded machine: the
	// lines are what is tested here, and the summary is written either
	// way.
	out, code := inPty(t, ns, 80, []string{"TERM=xterm"}, nil, "demo", "--step", "20ms", "--source", "netlink")
	if code != 0 && code != 1 {
		t.Fatalf("exit %d: %q", code, out)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	observed := -1
	for i, l := range lines {
		if n := columns(l); n > 80 {
			t.Errorf("%d columns: %q", n, l)
		}
		if strings.Contains(l, "  observed: ") {
			observed = i
		}
	}
	if observed < 0 || observed+1 >= len(lines) {
		t.Fatalf("no observed: summary, or nothing after it:\n%s", out)
	}
	// The summary's next line is its continuation, indented to its
	// text, and the summary's first line ends with a whole word.
	indent := strings.Index(lines[observed], "observed: ")
	next := lines[observed+1]
	if !strings.HasPrefix(next, strings.Repeat(" ", indent)) || next[indent] == ' ' {
		t.Errorf("summary's second line %q, want it indented %d", next, indent)
	}
	if strings.HasSuffix(lines[observed], " ") {
		t.Errorf("summary's first line ends in a space: %q", lines[observed])
	}
}

// TestErrorsOneLine holds the refusals of the first hour: each is one
// line on stderr naming the fix, with its exit code and nothing on
// stdout before it.
func TestErrorsOneLine(t *testing.T) {
	ns := testnet.New(t)
	ln := listen(t, ns, "127.0.0.1:0")
	c := dial(t, ns, ln).client
	port := c.LocalAddr().(*net.TCPAddr).Port
	taken := ns.Listen(t, "tcp4", "127.0.0.1:7788")
	nobody := []string{"SOCKSTATE_AS_UID=65534"}
	for _, tt := range []struct {
		name string
		env  []string
		args []string
		code int
		want string
	}{
		{"-N as nobody", nobody, []string{"ls", "-N", ns.Name},
			1, fmt.Sprintf("sockstate: ls: netns %q: entering a network namespace needs CAP_SYS_ADMIN (run as root)", ns.Name)},
		{"watch -N as nobody", nobody, []string{"watch", "-N", ns.Name},
			1, fmt.Sprintf("sockstate: watch: netns %q: entering a network namespace needs CAP_SYS_ADMIN (run as root)", ns.Name)},
		{"-K as nobody", nobody, []string{"ls", "-K", "-t", fmt.Sprintf("sport = :%d", port)},
			1, fmt.Sprintf("sockstate: ls: -K: closing sockets needs CAP_NET_ADMIN in their network namespace (run as root): inspect: destroy tcp %s %s: netlinkdiag: kernel replied: %v", c.LocalAddr(), ln.Addr(), syscall.EPERM)},
		{"--source bogus", nil, []string{"ls", "--source", "bogus"},
			2, `sockstate: ls: --source "bogus": use auto, netlink or proc`},
		{"demo --addr taken", nil, []string{"demo", "--addr", taken.Addr().String()},
			1, "sockstate: demo: --addr 127.0.0.1:7788 is taken (address already in use); give a free port, or leave out --addr and the demo finds one"},
		{"state typo", nil, []string{"ls", "state", "establised"},
			2, `sockstate: ls: bad state selection: unknown state "establised"; did you mean established? (states: established, syn-sent, syn-recv, fin-wait-1, fin-wait-2, time-wait, closed, close-wait, last-ack, listening, closing, all, connected, synchronized, bucket, big)`},
		{"serve --ss-names", nil, []string{"serve", "--ss-names"},
			2, "sockstate: serve: --ss-names: the metrics' state labels keep one spelling, the kernel's, for dashboards and alerts; ss's spellings are for ls, watch and demo"},
		{"unknown service name", nil, []string{"ls", "sport = :nosuchservice"},
			2, `sockstate: ls: filter: unknown port "nosuchservice": not a number, nor a service in /etc/services at column 10`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, stderr, code := runCLI(t, ns, tt.env, tt.args...)
			if code != tt.code || out != "" || stderr != tt.want+"\n" {
				t.Errorf("exit %d, stdout %q, stderr\n%q\nwant exit %d, no stdout, stderr\n%q", code, out, stderr, tt.code, tt.want+"\n")
			}
		})
	}
	// The connection -K was refused is still open.
	if _, err := c.Write([]byte("x")); err != nil {
		t.Errorf("the connection -K was refused: %v", err)
	}
}
