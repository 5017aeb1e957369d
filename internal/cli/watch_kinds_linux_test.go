package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/sockstate/sockstate/internal/testnet"
)

// kindEvents returns each socket's events in watch -j's lines, by its
// inode: "new TO", "change FROM TO", "gone FROM", with the netid.
func kindEvents(t *testing.T, out string) map[uint64][]string {
	t.Helper()
	events := map[uint64][]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var e struct {
			Event, Netid, From, To string
			Local                  struct{ Inode uint64 }
			Inode                  uint64
		}
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		events[e.Local.Inode] = append(events[e.Local.Inode], strings.Join(slices.DeleteFunc([]string{e.Netid, e.Event, e.From, e.To}, func(s string) bool { return s == "" }), " "))
	}
	return events
}

// TestWatchUnix watches unix sockets in a namespace (-x) by polling, from
// sock_diag and from /proc: the first poll prints the listener there
// before watch started and nothing else (ss -xaH lists the same), a
// socketpair made and closed meanwhile is new in ESTABLISHED and then
// gone, and the listener's close is its gone, each socket named by its
// inode, in that order (from /proc, with no peer). stderr says what
// polls cannot see.
func TestWatchUnix(t *testing.T) {
	for _, source := range []string{"netlink", "proc", "auto"} {
		t.Run(source, func(t *testing.T) {
			ns := testnet.New(t)
			name := fmt.Sprintf("sockstate-watch-%d", len(source))
			var ln, a, b int
			ns.Do(t, func() error {
				var err error
				if ln, err = unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0); err != nil {
					return err
				}
				if err := unix.Bind(ln, &unix.SockaddrUnix{Name: "@" + name}); err != nil {
					return err
				}
				return unix.Listen(ln, 4)
			})
			lnInode := testnet.FDInode(t, ln)
			if ss := ns.Run(t, "ss", "-xaH"); strings.Count(ss, "\n") != 1 || !strings.Contains(ss, fmt.Sprintf("@%s %d", name, lnInode)) {
				t.Fatalf("ss -xaH before watch: %q, want the listener alone", ss)
			}
			w := startWatch(t, ns, "watch", "-x", "-j", "--interval", "10ms", "--source", source)
			switch source {
			case "proc":
			case "auto":
				w.wantStderr = "sockstate: watch: unix polled every 10ms (the tracer sees TCP only)\nsockstate: the kernel reports no freed unix sockets, so those that live and die between two polls are missed\n"
			default:
				w.wantStderr = "sockstate: the kernel reports no freed unix sockets, so those that live and die between two polls are missed\n"
			}
			w.waitFor(`"event":"new"`, fmt.Sprintf(`"local":{"abstract":%q,"inode":%d}`, name, lnInode), `"to":"LISTEN"`)
			ns.Do(t, func() error {
				fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
				a, b = fds[0], fds[1]
				return err
			})
			ai, bi := testnet.FDInode(t, a), testnet.FDInode(t, b)
			// /proc/net/unix has no peers: 0 there, as ls prints it.
			aPeer, bPeer := bi, ai
			if source == "proc" {
				aPeer, bPeer = 0, 0
			}
			w.waitFor(`"event":"new"`, fmt.Sprintf(`"local":{"inode":%d},"peer":{"inode":%d}`, ai, aPeer), `"to":"ESTABLISHED"`)
			w.waitFor(`"event":"new"`, fmt.Sprintf(`"local":{"inode":%d},"peer":{"inode":%d}`, bi, bPeer), `"to":"ESTABLISHED"`)
			unix.Close(a)
			unix.Close(b)
			w.waitFor(`"event":"gone"`, fmt.Sprintf(`"inode":%d}`, ai))
			w.waitFor(`"event":"gone"`, fmt.Sprintf(`"inode":%d}`, bi))
			unix.Close(ln)
			w.waitFor(`"event":"gone"`, fmt.Sprintf(`"inode":%d}`, lnInode))
			want := map[uint64][]string{
				lnInode: {"u_str new LISTEN", "u_str gone LISTEN"},
				ai:      {"u_str new ESTABLISHED", "u_str gone ESTABLISHED"},
				bi:      {"u_str new ESTABLISHED", "u_str gone ESTABLISHED"},
			}
			if diff := cmp.Diff(want, kindEvents(t, w.stop())); diff != "" {
				t.Errorf("events by inode (-want +got):\n%s", diff)
			}
		})
	}
}

// TestWatchUnixText: a unix socket's line names it as ls does, its name
// and inode, then * and its peer's inode, with the netid before them.
func TestWatchUnixText(t *testing.T) {
	ns := testnet.New(t)
	var ln int
	ns.Do(t, func() error {
		var err error
		if ln, err = unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0); err != nil {
			return err
		}
		if err := unix.Bind(ln, &unix.SockaddrUnix{Name: "@sockstate-watch-text"}); err != nil {
			return err
		}
		return unix.Listen(ln, 4)
	})
	defer unix.Close(ln)
	w := startWatch(t, ns, "watch", "-xt", "--source", "netlink", "--interval", "10ms")
	w.wantStderr = "sockstate: the kernel reports no freed unix sockets, so those that live and die between two polls are missed\n"
	w.waitFor(fmt.Sprintf(" u_seq @sockstate-watch-text %d * 0 ", testnet.FDInode(t, ln)), " new ", "-> LISTEN")
	w.stop()
}

// TestWatchRaw watches raw sockets (-w) in a namespace by polling: an
// ICMP socket opened after watch started is new, UNCONN, then gone at
// its close. This kernel's raw sockets come from /proc/net/raw where it
// lacks raw_diag, as ls -w's do.
func TestWatchRaw(t *testing.T) {
	for _, source := range []string{"netlink", "proc"} {
		t.Run(source, func(t *testing.T) {
			ns := testnet.New(t)
			w := startWatch(t, ns, "watch", "-w", "-j", "--interval", "10ms", "--source", source)
			if source == "netlink" {
				w.wantStderr = "sockstate: the kernel reports no freed raw sockets, so those that live and die between two polls are missed\n"
			}
			var fd int
			ns.Do(t, func() (err error) {
				fd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMP)
				return err
			})
			w.waitFor(`"event":"new"`, `"netid":"raw"`, `"local":{"addr":"0.0.0.0","port":1}`, `"to":"UNCONN"`)
			unix.Close(fd)
			w.waitFor(`"event":"gone"`, `"netid":"raw"`, `"from":"UNCONN"`)
			out := w.stop()
			if n := strings.Count(out, `"netid":"raw"`); n != 2 {
				t.Errorf("%d raw events, want new and gone:\n%s", n, out)
			}
		})
	}
}

// TestWatchMPTCP watches an MPTCP listener (-M) from sock_diag: new in
// LISTEN, gone at its close. A kernel without MPTCP refuses the socket
// (EPROTONOSUPPORT or ENOPROTOOPT): the test then skips.
func TestWatchMPTCP(t *testing.T) {
	ns := testnet.New(t)
	w := startWatch(t, ns, "watch", "-M", "-j", "--interval", "10ms", "--source", "netlink")
	w.wantStderr = "sockstate: the kernel reports no freed MPTCP sockets, so those that live and die between two polls are missed\n"
	var fd int
	var absent bool
	ns.Do(t, func() (err error) {
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, unix.IPPROTO_MPTCP)
		if errors.Is(err, unix.EPROTONOSUPPORT) || errors.Is(err, unix.ENOPROTOOPT) {
			absent = true
			return nil
		}
		if err != nil {
			return err
		}
		if err := unix.Bind(fd, &unix.SockaddrInet4{Port: 7799, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
			return err
		}
		return unix.Listen(fd, 4)
	})
	if absent {
		w.stop()
		t.Skip("this kernel has no MPTCP: socket(IPPROTO_MPTCP) refused")
	}
	w.waitFor(`"event":"new"`, `"netid":"mptcp"`, `"port":7799}`, `"to":"LISTEN"`)
	unix.Close(fd)
	w.waitFor(`"event":"gone"`, `"netid":"mptcp"`, `"port":7799}`, `"from":"LISTEN"`)
	w.stop()
}

// TestWatchKindsRefused: what a source cannot follow is one line and
// exit 2: the tracer sees TCP only, /proc has no MPTCP; and -A and -f
// take ls's names.
func TestWatchKindsRefused(t *testing.T) {
	trace := "sockstate: watch: --source trace follows TCP sockets only (the kernel's TCP tracepoint); unix, raw and MPTCP sockets are polled: use --source auto or netlink"
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-x", "--source", "trace"}, trace},
		{[]string{"-tw", "--source", "trace"}, trace},
		{[]string{"-A", "mptcp", "--source", "trace"}, trace},
		{[]string{"-f", "unix", "--source", "trace"}, trace},
		{[]string{"-M", "--source", "proc"}, "sockstate: watch: -M: MPTCP sockets come from sock_diag only; --source proc has none"},
		{[]string{"-A", "packet"}, "sockstate: watch: -A packet: sockstate lists tcp, udp, raw, mptcp and unix sockets only"},
		{[]string{"-f", "ipx"}, `sockstate: watch: -f "ipx": unknown family; use inet, inet6 or unix`},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, stderr, code := runCLI(t, nil, nil, append([]string{"watch"}, tt.args...)...)
			if code != 2 || out != "" || stderr != tt.want+"\n" {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2, nothing and %q", code, out, stderr, tt.want)
			}
		})
	}
}
