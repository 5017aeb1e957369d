package cli

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/internal/testnet"
)

// resolveNS is a namespace with names for -r to find: a TCP listener on
// 127.0.0.1:22 (ssh, localhost) with a connection to it, one on
// 0.0.0.0:7777 (no name), and a UDP socket on 127.0.0.2:53 (domain).
func resolveNS(t *testing.T) *testnet.NS {
	t.Helper()
	ns := testnet.New(t)
	ssh := ns.Listen(t, "tcp4", "127.0.0.1:22")
	ns.Listen(t, "tcp4", "0.0.0.0:7777")
	ns.Do(t, func() error {
		c, err := net.Dial("tcp4", ssh.Addr().String())
		if err != nil {
			return err
		}
		t.Cleanup(func() { c.Close() })
		u, err := net.ListenPacket("udp4", "127.0.0.2:53")
		if err != nil {
			return err
		}
		t.Cleanup(func() { u.Close() })
		return nil
	})
	return ns
}

// idleNS is a namespace with two TCP listeners, an idle connection to the
// first and a UDP socket; it returns the listeners' ports.
func idleNS(t *testing.T) (*testnet.NS, string, string) {
	t.Helper()
	ns := testnet.New(t)
	a := ns.Listen(t, "tcp4", "127.0.0.1:0")
	b := ns.Listen(t, "tcp4", "127.0.0.1:0")
	ns.Do(t, func() error {
		c, err := net.Dial("tcp4", a.Addr().String())
		if err != nil {
			return err
		}
		t.Cleanup(func() { c.Close() })
		u, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			return err
		}
		t.Cleanup(func() { u.Close() })
		return nil
	})
	port := func(ln net.Listener) string { return strings.TrimPrefix(ln.Addr().String(), "127.0.0.1:") }
	return ns, port(a), port(b)
}

// TestLsFilterFileMatchesSS reads the expression from a file with
// comments and lines, and from standard input, with a state selection on
// the command line, as ss -F does: the same rows.
func TestLsFilterFileMatchesSS(t *testing.T) {
	ns, a, b := idleNS(t)
	file := filepath.Join(t.TempDir(), "filter")
	// ss takes a comment only at the start of a line; ls anywhere.
	expr := "# the two listeners' ports\nsport = :" + a + " or\n  sport = :" + b + "\n# the end\n"
	if err := os.WriteFile(file, []byte(expr), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"-F", file}, {"--filter=" + file, "state", "listening"}, {"-F", file, "exclude", "listening"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			want := normalRows(ns.Run(t, "ss", append([]string{"-tanH"}, args...)...))
			got := normalRows(mustRun(t, ns, append([]string{"ls", "-taH"}, args...)...))
			if len(want) == 0 {
				t.Fatal("ss lists nothing")
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-ss +ls):\n%s", diff)
			}
		})
	}

	t.Run("stdin", func(t *testing.T) {
		run := func(name string, args ...string) []string {
			self, err := os.Executable()
			if err != nil {
				t.Fatal(err)
			}
			if name == "" {
				name = self
			}
			cmd := exec.Command("ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
			cmd.Env = childEnv()
			cmd.Stdin = strings.NewReader(expr)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%s %v: %v: %s", name, args, err, stderr.String())
			}
			return normalRows(string(out))
		}
		want := run("ss", "-tanH", "-F", "-")
		if diff := cmp.Diff(want, run("", "ls", "-taH", "-F", "-")); diff != "" || len(want) != 3 {
			t.Errorf("%d rows from ss (-ss +ls):\n%s", len(want), diff)
		}
	})

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-F", file, "sport", "=", ":1"}, `sockstate: ls: -F ` + file + ` gives the expression; give no expression on the command line as well ("sport = :1")`},
		{[]string{"-F", filepath.Join(t.TempDir(), "none")}, "sockstate: ls: -F: open "},
	} {
		_, stderr, code := runCLI(t, nil, nil, append([]string{"ls"}, tt.args...)...)
		if code != 2 || !strings.HasPrefix(stderr, tt.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("ls %v: exit %d, stderr %q; want 2 and one line starting %q", tt.args, code, stderr, tt.want)
		}
	}
}

// TestLsOnelineMatchesSS requires ls -mO to put skmem on each socket's
// line as ss -mO does, with the same values for the idle sockets, and
// -iO to print one line per socket.
func TestLsOnelineMatchesSS(t *testing.T) {
	ns, _, _ := idleNS(t)
	want := normalRows(ns.Run(t, "ss", "-tuanmOH"))
	got := normalRows(mustRun(t, ns, "ls", "-tuamOH"))
	if len(want) != 5 {
		t.Fatalf("ss -tuanmOH lists %d sockets, want 5", len(want))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-ss +ls):\n%s", diff)
	}
	info := strings.Split(strings.TrimSpace(mustRun(t, ns, "ls", "-tuaiOH")), "\n")
	if len(info) != 5 {
		t.Errorf("ls -tuaiOH prints %d lines for 5 sockets:\n%s", len(info), strings.Join(info, "\n"))
	}
	for _, line := range info {
		if strings.HasPrefix(line, "tcp") && !strings.Contains(line, " cwnd:") {
			t.Errorf("TCP line without -i's details: %q", line)
		}
	}
}

// TestLsResolveMatchesSS names hosts and ports with -r, as ss -r does, on
// sockets at named ports: the same rows. The namespace has no route to a
// DNS server, so names come from /etc/hosts or not at all, for both.
func TestLsResolveMatchesSS(t *testing.T) {
	ns := resolveNS(t)
	want := normalRows(ns.Run(t, "ss", "-tuarH"))
	got := normalRows(mustRun(t, ns, "ls", "-tuarH"))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-ss +ls):\n%s", diff)
	}
	if n := strings.Count(strings.Join(got, "\n"), ":ssh"); n != 3 {
		t.Errorf("ls -r names port 22 %d times, want 3 (listener, both ends):\n%s", n, strings.Join(got, "\n"))
	}
	if !slices.ContainsFunc(got, func(r string) bool { return strings.Contains(r, "127.0.0.2:domain") }) {
		t.Errorf("ls -r does not name UDP port 53:\n%s", strings.Join(got, "\n"))
	}
}
