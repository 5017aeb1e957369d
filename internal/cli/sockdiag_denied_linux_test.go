package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/sockstate/sockstate/internal/testnet"
)

// TestSockDiagDenied runs the CLI with the real kernel refusing every
// NETLINK_SOCK_DIAG socket (a seccomp filter the child installs, see
// denySockDiag), once as a kernel without sock_diag refuses and once as a
// sandbox does. ls and watch with the default source list exactly what ss
// shows, from /proc, after one line on stderr saying so; --source netlink
// fails with one line that names the way out.
func TestSockDiagDenied(t *testing.T) {
	if _, ok := auditArch[runtime.GOARCH]; !ok {
		t.Skipf("the seccomp filter knows no audit architecture for %s", runtime.GOARCH)
	}
	ns, want := settledNS(t)
	if diff := cmp.Diff(want, ns.SS(t, "-tuanH")); diff != "" {
		t.Fatalf("ss moved on (-want +got):\n%s", diff)
	}
	self := executable(t)
	for _, errno := range []unix.Errno{unix.EPROTONOSUPPORT, unix.EPERM} {
		run := func(t *testing.T, args ...string) (stdout, stderr string, code int) {
			t.Helper()
			cmd := cliCommand(t, ns, self, nil, args...)
			cmd.Env = append(cmd.Env, "SOCKSTATE_DENY_SOCK_DIAG="+strconv.Itoa(int(errno)))
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			err := cmd.Run()
			var ee *exec.ExitError
			switch {
			case errors.As(err, &ee):
				code = ee.ExitCode()
			case err != nil:
				t.Fatal(err)
			}
			if code == 3 {
				t.Fatalf("the child could not deny sock_diag: %s", errb.String())
			}
			return out.String(), errb.String(), code
		}
		t.Run(unix.ErrnoName(errno), func(t *testing.T) {
			t.Run("ls", func(t *testing.T) {
				stdout, stderr, code := run(t, "ls", "-tuanH")
				if code != 0 {
					t.Errorf("exit %d, want 0; stderr %q", code, stderr)
				}
				wantErr := "sockstate: sock_diag unavailable, reading /proc/net instead: inspect: netlink: netlinkdiag: dial: socket: " + errno.Error() + "\n"
				if stderr != wantErr {
					t.Errorf("stderr %q, want %q", stderr, wantErr)
				}
				if diff := cmp.Diff(want, testnet.ParseTable(t, stdout, nil, testnet.Columns{})); diff != "" {
					t.Errorf("ls vs ss (-ss +ls):\n%s", diff)
				}
			})
			t.Run("ls --source netlink", func(t *testing.T) {
				stdout, stderr, code := run(t, "ls", "-tuanH", "--source", "netlink")
				if code != 1 {
					t.Errorf("exit %d, want 1", code)
				}
				if stdout != "" {
					t.Errorf("stdout %q, want nothing", stdout)
				}
				wantErr := "sockstate: inspect: netlink: netlinkdiag: dial: socket: " + errno.Error() + "; --source proc reads /proc/net instead\n"
				if stderr != wantErr {
					t.Errorf("stderr %q, want %q", stderr, wantErr)
				}
			})
			t.Run("watch --source netlink", func(t *testing.T) {
				stdout, stderr, code := run(t, "watch", "--duration", "300ms", "--source", "netlink")
				if code != 1 {
					t.Errorf("exit %d, want 1", code)
				}
				if stdout != "" {
					t.Errorf("stdout %q, want nothing", stdout)
				}
				wantErr := "sockstate: watch: netlinkdiag: dial: socket: " + errno.Error() + "; --source proc reads /proc/net instead\n"
				if stderr != wantErr {
					t.Errorf("stderr %q, want %q", stderr, wantErr)
				}
			})
			t.Run("watch", func(t *testing.T) {
				// watch runs until the first poll's sockets are out, then
				// is stopped as ^C would: a fixed --duration may end before
				// a slow start has polled.
				cmd := cliCommand(t, ns, self, nil, "watch", "-j")
				cmd.Env = append(cmd.Env, "SOCKSTATE_DENY_SOCK_DIAG="+strconv.Itoa(int(errno)))
				stdout, err := cmd.StdoutPipe()
				if err != nil {
					t.Fatal(err)
				}
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				timer := time.AfterFunc(10*time.Second, func() { cmd.Process.Kill() })
				defer timer.Stop()
				var news []string
				lines := bufio.NewScanner(stdout)
				for n := 0; len(news) < len(want) && n < 1000 && lines.Scan(); n++ {
					var e watchLine
					if err := json.Unmarshal(lines.Bytes(), &e); err != nil {
						t.Fatalf("line %q: %v", lines.Text(), err)
					}
					if e.Event == "new" && e.To != nil && e.Local != nil && e.Peer != nil {
						news = append(news, testnet.Want{Netid: e.Netid, State: *e.To, Local: e.Local.addrPort(), Peer: e.Peer.addrPort()}.String())
					}
				}
				if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, stdout)
				if err := cmd.Wait(); err != nil {
					t.Errorf("watch: %v, want exit 0; stderr %q", err, stderr.String())
				}
				wantErr := "sockstate: watch: TCP and UDP polled every 100ms (no tracing: trace: netlinkdiag: dial: socket: " + errno.Error() + ")\n" +
					"sockstate: sock_diag unavailable, reading /proc/net instead (sockets that live and die between two polls are missed): netlinkdiag: dial: socket: " + errno.Error() + "\n"
				if stderr.String() != wantErr {
					t.Errorf("stderr %q, want %q", stderr.String(), wantErr)
				}
				slices.Sort(news)
				if diff := cmp.Diff(want, news); diff != "" {
					t.Errorf("watch, new events (-ss +watch):\n%s", diff)
				}
			})
		})
	}
}
