package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/sockstate/sockstate/internal/testnet"
)

// TestMain lets the test binary stand in for sockstate: with
// SOCKSTATE_AS_PEER=ADDR it is a client of ADDR (runPeer). With
// SOCKSTATE_AS_CLI=1 it runs the command line it was given, so tests can
// run it inside a namespace with ip netns exec. With SOCKSTATE_AS_UID=N as
// well it first drops to user and group N, with no supplementary groups
// and so no capabilities, once inside. With SOCKSTATE_DENY_SOCK_DIAG=N it
// first makes every NETLINK_SOCK_DIAG socket fail with errno N, as a kernel
// without sock_diag or a sandbox does.
func TestMain(m *testing.M) {
	if addr := os.Getenv("SOCKSTATE_AS_PEER"); addr != "" {
		os.Exit(runPeer(addr))
	}
	if os.Getenv("SOCKSTATE_AS_CLI") == "1" {
		if errno := os.Getenv("SOCKSTATE_DENY_SOCK_DIAG"); errno != "" {
			n, err := strconv.Atoi(errno)
			if err == nil {
				err = denySockDiag(unix.Errno(n))
			}
			if err != nil {
				fmt.Fprintf(os.Stderr, "test: deny sock_diag: %v\n", err)
				os.Exit(3)
			}
		}
		if uid := os.Getenv("SOCKSTATE_AS_UID"); uid != "" {
			if err := dropPrivileges(uid); err != nil {
				fmt.Fprintf(os.Stderr, "test: drop privileges: %v\n", err)
				os.Exit(3)
			}
		}
		// As main does: a closed stdout is EPIPE, not death by SIGPIPE,
		// and signals end the context.
		signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// childEnv is the environment of a child that runs the CLI (TestMain's
// SOCKSTATE_AS_CLI), with extra added. A race-built child sleeps a second
// at exit (GORACE's atexit_sleep_ms) so that other goroutines may still
// report races, which a hundred children turn into minutes; they do not
// sleep here, and the in-process tests run the same code under the race
// detector.
func childEnv(extra ...string) []string {
	env := append(os.Environ(), "SOCKSTATE_AS_CLI=1", "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	return append(env, extra...)
}

// sockstate runs the CLI inside ns and returns its stdout, stderr and exit
// code.
func sockstate(t *testing.T, ns *testnet.NS, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns.Name, self}, args...)...)
	cmd.Env = childEnv()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), errb.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), 0
}

// settledNS is a namespace holding the textbook sockets over IPv4 and IPv6,
// returned once ss shows all of them in their final states.
func settledNS(t *testing.T) (*testnet.NS, []string) {
	ns := testnet.New(t)
	want := testnet.Strings(append(ns.Textbook(t, "127.0.0.1"), ns.Textbook(t, "::1")...))
	deadline := time.Now().Add(2 * time.Second)
	for !slices.Equal(ns.SS(t, "-tuanH"), want) {
		if time.Now().After(deadline) {
			t.Fatalf("ss never showed the textbook sockets (-want +got):\n%s", cmp.Diff(want, ns.SS(t, "-tuanH")))
		}
		time.Sleep(10 * time.Millisecond)
	}
	return ns, want
}

// TestLsMatchesSS runs ls and ss with the same flags on the same sockets and
// requires the same sockets in the same states, from both sources.
func TestLsMatchesSS(t *testing.T) {
	ns, want := settledNS(t)
	for _, tt := range []struct {
		args []string
		cols testnet.Columns
	}{
		{[]string{"-tuanH"}, testnet.Columns{}},
		{[]string{"-tunH"}, testnet.Columns{}},
		{[]string{"-tulnH"}, testnet.Columns{}},
		{[]string{"-tanH"}, testnet.Columns{Netid: "tcp"}},
		{[]string{"-uanH"}, testnet.Columns{Netid: "udp"}},
		{[]string{"-tuanH", "-4"}, testnet.Columns{}},
		{[]string{"-tuanH", "-6"}, testnet.Columns{}},
		{[]string{"-tuH", "state", "connected"}, testnet.Columns{}},
		{[]string{"-tuH", "state", "time-wait", "state", "fin-wait-2"}, testnet.Columns{}},
		{[]string{"-tuH", "exclude", "established"}, testnet.Columns{}},
		{[]string{"-tuH", "state", "bucket"}, testnet.Columns{}},
		{[]string{"-tuH", "state", "big"}, testnet.Columns{}},
		{[]string{"-tuanH", "sport", "=", ":0"}, testnet.Columns{}},
		{[]string{"-tuanH", "dst", "[::1]"}, testnet.Columns{}},
		{[]string{"-tuanH", "src 127.0.0.1 and ( sport > :1024 or dport < :1024 )"}, testnet.Columns{}},
		{[]string{"-tanH", "state", "established", "not", "dport", "=", ":22"}, testnet.Columns{Netid: "tcp", State: "ESTABLISHED"}},
		{[]string{"-tuH", "state", "close-wait"}, testnet.Columns{State: "CLOSE_WAIT"}},
	} {
		ssGot := testnet.ParseTable(t, ns.Run(t, "ss", tt.args...), testnet.SSStates, tt.cols)
		for _, source := range []string{"netlink", "proc"} {
			t.Run(strings.Join(tt.args, " ")+"/"+source, func(t *testing.T) {
				out, stderr, code := sockstate(t, ns, append([]string{"ls", "--source", source}, tt.args...)...)
				if code != 0 || stderr != "" {
					t.Fatalf("exit %d, stderr %q", code, stderr)
				}
				got := testnet.ParseTable(t, out, nil, tt.cols)
				if diff := cmp.Diff(ssGot, got); diff != "" {
					t.Errorf("ls vs ss (-ss +ls):\n%s", diff)
				}
			})
		}
	}
	out, _, _ := sockstate(t, ns, "ls", "-tuanH")
	if diff := cmp.Diff(want, testnet.ParseTable(t, out, nil, testnet.Columns{})); diff != "" {
		t.Errorf("ls -tuanH (-want +got):\n%s", diff)
	}
}

type jsonEnd struct {
	Addr string `json:"addr"`
	Port int    `json:"port"`
}

type jsonSock struct {
	Netid  string  `json:"netid"`
	Family string  `json:"family"`
	State  string  `json:"state"`
	RecvQ  *int    `json:"recv_q"`
	SendQ  *int    `json:"send_q"`
	Local  jsonEnd `json:"local"`
	Peer   jsonEnd `json:"peer"`
	UID    *int    `json:"uid"`
	Inode  *int    `json:"inode"`
	Cookie *string `json:"cookie"`
}

func TestLsJSON(t *testing.T) {
	ns, _ := settledNS(t)
	for _, source := range []string{"netlink", "proc"} {
		t.Run(source, func(t *testing.T) {
			out, stderr, code := sockstate(t, ns, "ls", "-tuan", "-j", "--source", source)
			if code != 0 || stderr != "" {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			var socks []jsonSock
			dec := json.NewDecoder(strings.NewReader(out))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&socks); err != nil {
				t.Fatalf("decode %q: %v", out, err)
			}
			if len(socks) != 16 {
				t.Fatalf("got %d sockets, want 16: %s", len(socks), out)
			}
			states := map[string]int{}
			for _, s := range socks {
				states[s.Netid+" "+s.Family+" "+s.State]++
				if s.RecvQ == nil || s.SendQ == nil || s.UID == nil || s.Inode == nil {
					t.Errorf("%+v: a required key is missing", s)
					continue
				}
				// TIME_WAIT and the FIN_WAIT2 whose owner closed it are
				// orphans: no file, inode 0.
				orphan := s.State == "TIME_WAIT" || s.State == "FIN_WAIT2"
				switch {
				case orphan && *s.Inode != 0:
					t.Errorf("%s inode %d, want 0", s.State, *s.Inode)
				case !orphan && *s.Inode == 0:
					t.Errorf("%s %s:%d inode 0, want its socket inode", s.State, s.Local.Addr, s.Local.Port)
				}
				if source == "netlink" && (s.Cookie == nil || !strings.HasPrefix(*s.Cookie, "0x")) {
					t.Errorf("netlink %s cookie %v, want 0x...", s.State, s.Cookie)
				}
				if source == "proc" && s.Cookie != nil {
					t.Errorf("proc %s cookie %q, want the key absent", s.State, *s.Cookie)
				}
				if s.State == "LISTEN" || s.State == "UNCONN" {
					wantPeer := jsonEnd{"0.0.0.0", 0}
					if s.Family == "inet6" {
						wantPeer = jsonEnd{"::", 0}
					}
					if s.Peer != wantPeer {
						t.Errorf("%s peer %+v, want %+v", s.State, s.Peer, wantPeer)
					}
				}
				if s.Family == "inet6" && s.Local.Addr != "::1" || s.Family == "inet" && s.Local.Addr != "127.0.0.1" {
					t.Errorf("%s local address %q", s.Family, s.Local.Addr)
				}
			}
			for _, fam := range []string{"inet", "inet6"} {
				wantStates := map[string]int{"LISTEN": 1, "ESTABLISHED": 2, "CLOSE_WAIT": 1, "FIN_WAIT2": 1, "TIME_WAIT": 1}
				for st, n := range wantStates {
					if got := states["tcp "+fam+" "+st]; got != n {
						t.Errorf("tcp %s %s: %d sockets, want %d", fam, st, got, n)
					}
				}
				if got := states["udp "+fam+" UNCONN"]; got != 1 {
					t.Errorf("udp %s UNCONN: %d, want 1", fam, got)
				}
				if got := states["udp "+fam+" ESTABLISHED"]; got != 1 {
					t.Errorf("udp %s ESTABLISHED: %d, want 1", fam, got)
				}
			}
		})
	}
}

// TestBadCommandLines requires exit code 2 and one clear line on stderr for
// each mistake, and nothing on stdout.
func TestBadCommandLines(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, "usage: sockstate COMMAND"},
		{[]string{"frobnicate"}, `sockstate: unknown command "frobnicate"; see 'sockstate help'`},
		{[]string{"ls", "-z"}, "sockstate: ls: unknown flag -z; see 'sockstate ls -h'"},
		{[]string{"ls", "-tz"}, "sockstate: ls: unknown flag -z; see 'sockstate ls -h'"},
		{[]string{"ls", "--frob"}, "sockstate: ls: unknown flag --frob; see 'sockstate ls -h'"},
		{[]string{"ls", "--source"}, "sockstate: ls: flag --source needs a value"},
		{[]string{"ls", "--source", "kernel"}, `sockstate: ls: --source "kernel": use auto, netlink or proc`},
		{[]string{"ls", "--tcp=yes"}, "sockstate: ls: flag --tcp takes no value"},
		{[]string{"ls", "state", "establisehd"}, `sockstate: ls: bad state selection: unknown state "establisehd"; did you mean established? (states: established, syn-sent, syn-recv, fin-wait-1, fin-wait-2, time-wait, closed, close-wait, last-ack, listening, closing, all, connected, synchronized, bucket, big`},
		{[]string{"ls", "state"}, `sockstate: ls: bad state selection: "state" needs a state name after it, such as established`},
		{[]string{"watch", "--interval", "500us"}, "sockstate: watch: --interval 500us: want at least 1ms"},
		{[]string{"watch", "--interval", "0"}, "sockstate: watch: --interval 0: want at least 1ms"},
		{[]string{"watch", "--interval=fast"}, `sockstate: watch: --interval "fast": not a duration such as 100ms or 2s`},
		{[]string{"watch", "--interval"}, "sockstate: watch: flag --interval needs a value"},
		{[]string{"watch", "--duration", "-1s"}, "sockstate: watch: --duration -1s: want at least 0s"},
		{[]string{"watch", "--duration", "forever"}, `sockstate: watch: --duration "forever": not a duration such as 100ms or 2s`},
		{[]string{"watch", "-z"}, "sockstate: watch: unknown flag -z; see 'sockstate watch -h'"},
		{[]string{"watch", "--color=sometimes"}, `sockstate: watch: --color "sometimes": use auto, always or never`},
		{[]string{"ls", "--color", "yes"}, `sockstate: ls: --color "yes": use auto, always or never`},
		{[]string{"demo", "--color", "off"}, `sockstate: demo: --color "off": use auto, always or never`},
		{[]string{"serve", "--color=on"}, `sockstate: serve: --color "on": use auto, always or never`},
		{[]string{"-tz"}, "sockstate: ls: unknown flag -z; see 'sockstate ls -h'"},
		{[]string{"help", "frob"}, `sockstate: help: no command "frob"; the commands are demo, ls, watch, serve, version, completion and help`},
		{[]string{"watch", "--closer", "client"}, "sockstate: watch: unknown flag --closer; see 'sockstate watch -h'"},
		{[]string{"watch", "--source", "ebpf"}, `sockstate: watch: --source "ebpf": use auto, netlink, proc or trace`},
		{[]string{"watch", "-u", "--source", "trace"}, `sockstate: watch: --source trace sees TCP sockets only`},
		{[]string{"watch", "state", "established", "exclude"}, `sockstate: watch: bad state selection: "exclude" needs a state name after it, such as established`},
		{[]string{"watch", "sport", "=", ":notaport"}, "sockstate: watch: "},
		{[]string{"demo", "--closer", "nobody"}, `sockstate: demo: --closer "nobody": use server or client`},
		{[]string{"demo", "--closer"}, "sockstate: demo: flag --closer needs a value"},
		{[]string{"demo", "--step", "0s"}, "sockstate: demo: --step 0s: want at least 1ms"},
		{[]string{"demo", "--step", "slow"}, `sockstate: demo: --step "slow": not a duration such as 100ms or 2s`},
		{[]string{"demo", "--interval", "100us"}, "sockstate: demo: --interval 100us: want at least 1ms"},
		{[]string{"demo", "--addr", "localhost"}, `sockstate: demo: --addr "localhost": want an address and port such as 127.0.0.1:7788 or [::1]:7788`},
		{[]string{"demo", "--source", "ebpf"}, `sockstate: demo: --source "ebpf": use auto, netlink, proc or trace`},
		{[]string{"demo", "-t"}, "sockstate: demo: unknown flag -t; see 'sockstate demo -h'"},
		{[]string{"demo", "--frob"}, "sockstate: demo: unknown flag --frob; see 'sockstate demo -h'"},
		{[]string{"demo", "now"}, `sockstate: demo: unexpected "now": demo takes flags only`},
		{[]string{"ls", "sport", "=", ":70000"}, "sockstate: ls: filter: "},
		{[]string{"ls", "sport = :"}, "sockstate: ls: filter: expected port after ':' at column 9"},
		{[]string{"ls", "(", "sport", "=", ":80"}, "sockstate: ls: filter: "},
		{[]string{"ls", "src", "127.0.0.1/33"}, "sockstate: ls: filter: "},
		{[]string{"ls", "sport = :80 )"}, `sockstate: ls: filter: ")" has no matching "(" at column 13`},
		{[]string{"ls", ")"}, `sockstate: ls: filter: expected a condition, found ")" at column 1`},
		{[]string{"ls", "src", "::1/129"}, `sockstate: ls: filter: bad prefix length "/129" for an IPv6 address at column 8`},
		{[]string{"ls", "dport", "=", ":-1"}, `sockstate: ls: filter: port "-1" is not a number at column 10`},
		{[]string{"ls", "not"}, `sockstate: ls: filter: expected a condition after "not", found end of input at column 4`},
		{[]string{"ls", "--source="}, `sockstate: ls: flag --source has an empty value; give one`},
		{[]string{"watch", "--duration", "9999999999h"}, `sockstate: watch: --duration "9999999999h": not a duration such as 100ms or 2s`},
		{[]string{"watch", "--interval", "1e400s"}, `sockstate: watch: --interval "1e400s": not a duration such as 100ms or 2s`},
		{[]string{"ls", "-K"}, "sockstate: ls: -K closes every socket listed; give a filter expression such as 'dport = :8080' to choose them, or --all to close them all"},
		{[]string{"ls", "-Kta"}, "sockstate: ls: -K closes every socket listed; give a filter expression"},
		{[]string{"ls", "-K", "state", "established"}, "sockstate: ls: -K closes every socket listed; give a filter expression"},
		{[]string{"ls", "-K", "--source", "proc", "dport = :1"}, "sockstate: ls: -K closes sockets with sock_diag; it cannot use --source proc"},
		{[]string{"ls", "-K", "-s", "dport = :1"}, "sockstate: ls: -K closes sockets and -s only counts them; give one"},
		{[]string{"ls", "-i", "--source", "proc"}, "sockstate: ls: -i and -m come from sock_diag; --source proc has neither"},
		{[]string{"ls", "-m", "--source=proc"}, "sockstate: ls: -i and -m come from sock_diag; --source proc has neither"},
		{[]string{"ls", "-N", "sockstate-no-such-namespace"}, `sockstate: ls: netns "sockstate-no-such-namespace": no such namespace under /run/netns (see 'ip netns list')`},
		{[]string{"ls", "--net=sockstate-no-such-namespace"}, `sockstate: ls: netns "sockstate-no-such-namespace": no such namespace under /run/netns`},
		{[]string{"ls", "-N", "../etc"}, `sockstate: ls: netns "../etc": a namespace name has no slash; use --netns for a path`},
		{[]string{"ls", "-N", ".."}, `sockstate: ls: netns "..": a namespace name has no slash; use --netns for a path`},
		{[]string{"ls", "-N"}, "sockstate: ls: flag -N needs a value"},
		{[]string{"ls", "--netns", "/proc/version"}, `sockstate: ls: --netns "/proc/version": /proc/version is not a network namespace`},
		{[]string{"ls", "--netns", "/proc/self/ns/mnt"}, `sockstate: ls: --netns "/proc/self/ns/mnt": /proc/self/ns/mnt is not a network namespace`},
		{[]string{"ls", "--netns", "/nonexistent/netns"}, `sockstate: ls: --netns "/nonexistent/netns": no such file`},
		{[]string{"ls", "-N", "a", "--netns", "/b"}, "sockstate: ls: -N and --netns both name a namespace; give one"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Run(context.Background(), tt.args, &stdout, &stderr)
			if code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q, want nothing", stdout.String())
			}
			lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
			if tt.args != nil && len(lines) != 1 {
				t.Errorf("stderr has %d lines, want 1: %q", len(lines), stderr.String())
			}
			if !strings.HasPrefix(stderr.String(), tt.want) {
				t.Errorf("stderr %q, want it to start %q", stderr.String(), tt.want)
			}
		})
	}
}
