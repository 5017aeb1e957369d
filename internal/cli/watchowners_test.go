package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sockstate/sockstate/internal/testnet"
)

// TestWatchProcesses runs watch -p while a child process (the demo, its
// server and client in one process) makes and ends a connection, and
// requires every event of the demo's sockets that names a process to name
// the child alone, never watch itself nor pid 0, and the client's every
// event to name it: from connect(2), where the client has its file, to the
// moves the kernel makes in softirq and after the child closed it. The
// server's end gets its file at accept(2): polling names the child once a
// poll sees it; the tracer sees no change of it between its accept and its
// close, so it may stay unknown.
func TestWatchProcesses(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	comm := filepath.Base(self)
	if len(comm) > 15 {
		comm = comm[:15] // the kernel's TASK_COMM_LEN
	}
	for _, source := range []string{"trace", "netlink"} {
		t.Run(source, func(t *testing.T) {
			ns := testnet.New(t)
			// A listener of the test's own tells when watch has begun.
			ns.Listen(t, "tcp4", "127.0.0.1:7000")
			w := startWatch(t, ns, "watch", "-t", "-4", "-j", "-p", "--interval", "1ms", "--source", source)
			w.waitFor(`"event":"new"`, `"port":7000`)

			demo := exec.Command("ip", "netns", "exec", ns.Name, self, "demo", "--step", "50ms", "--source", "netlink", "--addr", "127.0.0.1:7788")
			demo.Env = append(os.Environ(), "SOCKSTATE_AS_CLI=1")
			if out, err := demo.CombinedOutput(); err != nil {
				t.Fatalf("demo: %v\n%s", err, out)
			}
			pid := demo.Process.Pid
			// ip netns exec runs the demo in its own process: its pid is
			// the child's own.
			w.waitFor(`"event":"gone"`, `"port":7788},"peer":{"addr":"0.0.0.0"`)
			out := w.stop()

			child := fmt.Sprintf(`"process":[{"pid":%d,"comm":%q,"fd":`, pid, comm)
			var client string
			for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
				if !strings.Contains(l, `"port":7788`) {
					continue
				}
				if strings.Contains(l, `"process"`) && (!strings.Contains(l, child) || strings.Count(l, `"pid"`) != 1) {
					t.Errorf("%s: names another process than the demo's %s", l, child)
				}
				// The client's end: the peer is the listener.
				if i := strings.Index(l, `"peer":{"addr":"127.0.0.1","port":7788}`); i >= 0 {
					client += l + "\n"
					if !strings.Contains(l, child) {
						t.Errorf("the client's event %s does not name the demo %s", l, child)
					}
				}
			}
			if client == "" {
				t.Errorf("no event of the client's; output:\n%s", out)
			}
		})
	}
}
