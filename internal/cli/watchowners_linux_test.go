package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/internal/testnet"
)

// runPeer is the test binary as a child that owns a client socket: it
// connects to addr, prints its local port, closes the connection when a
// line comes on stdin, and exits at the end of stdin.
func runPeer(addr string) int {
	c, err := net.Dial("tcp4", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "peer:", err)
		return 3
	}
	fmt.Println(c.LocalAddr().(*net.TCPAddr).Port)
	in := bufio.NewReader(os.Stdin)
	if _, err := in.ReadString('\n'); err != nil {
		fmt.Fprintln(os.Stderr, "peer:", err)
		return 3
	}
	c.Close()
	io.Copy(io.Discard, in)
	return 0
}

// TestWatchProcesses runs watch -p while a child process owns a client
// and this process owns the listener and the server's end, and requires
// every event of them to name its owner alone: never pid 0, never the
// task the kernel happened to run. The connection is closed so that each
// end's moves are raised by the other process: the child's close moves
// the server's end to CLOSE_WAIT in softirq while this process runs
// nothing on it, and this process's close moves the client to TIME_WAIT
// after the child let go of its file. Unknown is unknown: the server's
// end before accept(2) (no file, no owner) names no one; from its first
// event with a file on, it names this process.
func TestWatchProcesses(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	comm := strings.TrimSpace(string(b))
	for _, source := range []string{"trace", "netlink"} {
		t.Run(source, func(t *testing.T) {
			testnet.Need(t, "root")
			ns := testnet.New(t)
			ln := ns.Listen(t, "tcp4", "127.0.0.1:7788")
			w := startWatch(t, ns, "watch", "-t", "-4", "-j", "-p", "--interval", "1ms", "--source", source)
			w.waitFor(`"event":"new"`, `"port":7788},"peer":{"addr":"0.0.0.0"`)

			peer := exec.Command("ip", "netns", "exec", ns.Name, self)
			peer.Env = append(os.Environ(), "SOCKSTATE_AS_PEER=127.0.0.1:7788")
			stdin, err := peer.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			stdout, err := peer.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			peer.Stderr = os.Stderr
			if err := peer.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { peer.Process.Kill(); peer.Wait() })
			line, err := bufio.NewReader(stdout).ReadString('\n')
			if err != nil {
				t.Fatalf("peer: %v", err)
			}
			port, err := strconv.Atoi(strings.TrimSpace(line))
			if err != nil {
				t.Fatalf("peer's port %q: %v", line, err)
			}
			server, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			client := fmt.Sprintf(`"local":{"addr":"127.0.0.1","port":%d}`, port)
			serverEnd := fmt.Sprintf(`"peer":{"addr":"127.0.0.1","port":%d}`, port)
			w.waitFor(client, `"to":"ESTABLISHED"`)
			w.waitFor(serverEnd, `"to":"ESTABLISHED"`)
			// The child closes: the server's end moves to CLOSE_WAIT in
			// softirq, raised by the child.
			fmt.Fprintln(stdin, "close")
			w.waitFor(serverEnd, `"to":"CLOSE_WAIT"`)
			// This process closes: the client moves to TIME_WAIT, its
			// owner's file long closed.
			server.Close()
			stdin.Close()
			if err := peer.Wait(); err != nil {
				t.Fatalf("peer: %v", err)
			}
			w.waitFor(client, `"to":"TIME_WAIT"`)
			w.waitFor(serverEnd, `"event":"gone"`)
			ln.Close()
			w.waitFor(`"event":"gone"`, `"port":7788},"peer":{"addr":"0.0.0.0"`)
			out := w.stop()

			listener := `"peer":{"addr":"0.0.0.0"`
			owner := map[string]int{client: peer.Process.Pid, serverEnd: os.Getpid(), listener: os.Getpid()}
			named := map[string]bool{}
			seq := map[string][]string{} // each end's events: kind from to pid
			for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
				var ev struct {
					Event, From, To string
					Process         []jsonProcess
				}
				if err := json.Unmarshal([]byte(l), &ev); err != nil {
					t.Fatalf("%s: %v", l, err)
				}
				for end, pid := range owner {
					if !strings.Contains(l, end) || !strings.Contains(l, "7788") {
						continue
					}
					want := []jsonProcess{{PID: pid, Comm: comm}}
					got := 0
					if len(ev.Process) > 0 {
						got = ev.Process[0].PID
					}
					seq[end] = append(seq[end], fmt.Sprintf("%s %s %s %d", ev.Event, ev.From, ev.To, got))
					switch {
					case ev.Process == nil && end == serverEnd && !named[end] && ev.To != "CLOSE_WAIT":
						// Before accept(2): no owner yet.
					case len(ev.Process) != 1 || ev.Process[0].PID != want[0].PID || ev.Process[0].Comm != comm:
						t.Errorf("%s: want the owner pid %d %q alone", l, pid, comm)
					default:
						named[end] = true
					}
				}
			}
			if source == "trace" {
				// The tracer sees every move: each end's, exactly.
				c, sv := peer.Process.Pid, os.Getpid()
				want := map[string][]string{
					listener: {fmt.Sprintf("new  LISTEN %d", sv), fmt.Sprintf("change LISTEN CLOSE %d", sv), fmt.Sprintf("gone CLOSE  %d", sv)},
					client: {
						fmt.Sprintf("change CLOSE SYN_SENT %d", c), fmt.Sprintf("change SYN_SENT ESTABLISHED %d", c),
						fmt.Sprintf("change ESTABLISHED FIN_WAIT1 %d", c), fmt.Sprintf("change FIN_WAIT1 FIN_WAIT2 %d", c),
						fmt.Sprintf("change FIN_WAIT2 TIME_WAIT %d", c),
					},
					serverEnd: {
						"change LISTEN SYN_RECV 0", "change SYN_RECV ESTABLISHED 0",
						fmt.Sprintf("change ESTABLISHED CLOSE_WAIT %d", sv), fmt.Sprintf("change CLOSE_WAIT LAST_ACK %d", sv),
						fmt.Sprintf("change LAST_ACK CLOSE %d", sv), fmt.Sprintf("gone CLOSE  %d", sv),
					},
				}
				if diff := cmp.Diff(want, seq); diff != "" {
					t.Errorf("events by end (-want +got):\n%s", diff)
				}
			}
			for end := range owner {
				if !named[end] {
					t.Errorf("no event of %s named its owner; output:\n%s", end, out)
				}
			}
			if testing.Verbose() || t.Failed() {
				t.Logf("output:\n%s", out)
			}
		})
	}
}
