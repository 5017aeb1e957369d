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
// requires: every event that names a process names the child alone, never
// watch itself nor pid 0; once a socket is named, every later event of it
// is, through the moves the kernel makes in softirq and after the child
// closed it; and the listener, which the child holds for the whole run, is
// named on every event. A socket watch first sees after the child let go
// of it (one that lived between two polls on a loaded machine, a server
// end the tracer sees only before accept(2) and at close(2)) stays
// unknown.
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

			demo := exec.Command("ip", "netns", "exec", ns.Name, self, "demo", "--step", "200ms", "--source", "netlink", "--addr", "127.0.0.1:7788")
			demo.Env = append(os.Environ(), "SOCKSTATE_AS_CLI=1")
			if out, err := demo.CombinedOutput(); err != nil {
				t.Fatalf("demo: %v\n%s", err, out)
			}
			// ip netns exec runs the demo in its own process: its pid
			// is the child's.
			child := fmt.Sprintf(`"process":[{"pid":%d,"comm":%q,"fd":`, demo.Process.Pid, comm)
			w.waitFor(`"event":"gone"`, `"port":7788},"peer":{"addr":"0.0.0.0"`)
			out := w.stop()

			named := map[string]bool{} // the sockets named so far, by cookie
			listener := 0
			for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
				if !strings.Contains(l, `"port":7788`) {
					continue
				}
				_, cookie, _ := strings.Cut(l, `"cookie":`)
				cookie, _, _ = strings.Cut(cookie, ",")
				has := strings.Contains(l, `"process"`)
				switch {
				case has && (!strings.Contains(l, child) || strings.Count(l, `"pid"`) != 1):
					t.Errorf("%s: names another process than the demo's %s", l, child)
				case named[cookie] && !has:
					t.Errorf("%s: named before, not now", l)
				case strings.Contains(l, `"port":7788},"peer":{"addr":"0.0.0.0"`):
					listener++
					if !has {
						t.Errorf("the listener's event %s does not name the demo %s", l, child)
					}
				}
				named[cookie] = named[cookie] || has
			}
			if listener == 0 {
				t.Errorf("no event of the listener's; output:\n%s", out)
			}
		})
	}
}
