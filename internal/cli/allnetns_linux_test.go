package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/internal/testnet"
)

// allNetnsPort is the port every test namespace listens on, so that a
// filter on it selects the same socket in each.
const allNetnsPort = 7001

// testNamespaces makes named namespaces and unnamed ones (held by a child
// of unshare -n), each with a listener on 127.0.0.1:7001 and one
// connection to it, both ends open, and returns them with their Netns
// labels: the name, or net:[INODE].
func testNamespaces(t *testing.T, named, unnamed int) ([]*testnet.NS, []string) {
	t.Helper()
	return testNamespacesOn(t, named, unnamed, allNetnsPort)
}

// testNamespacesOn is testNamespaces with the listeners on port.
func testNamespacesOn(t *testing.T, named, unnamed, port int) ([]*testnet.NS, []string) {
	t.Helper()
	var nss []*testnet.NS
	for range named {
		nss = append(nss, testnet.New(t))
	}
	for range unnamed {
		nss = append(nss, testnet.NewUnnamed(t))
	}
	labels := make([]string, len(nss))
	for i, ns := range nss {
		labels[i] = ns.Name
		if ns.Name == "" {
			labels[i] = fmt.Sprintf("net:[%d]", nsInode(t, ns))
		}
		ln := ns.Listen(t, "tcp", fmt.Sprintf("127.0.0.1:%d", port))
		ns.Do(t, func() error {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				return err
			}
			t.Cleanup(func() { c.Close() })
			return nil
		})
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
	}
	return nss, labels
}

func nsInode(t *testing.T, ns *testnet.NS) uint64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(ns.Path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// runHost runs the test binary as the CLI in the test's own namespace.
func runHost(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(executable(t), args...)
	cmd.Env = childEnv()
	return runCmd(t, cmd)
}

// runCmd runs cmd and returns its stdout, stderr and exit code.
func runCmd(t *testing.T, cmd *exec.Cmd) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), errb.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), 0
}

// byNetns splits an ls --all-netns -H table of one protocol by its Netns
// column, keeping the labels in keep, and returns each namespace's sockets
// as sorted Want strings (the line's tail, such as users:, is returned
// too, by socket).
func byNetns(t *testing.T, table string, keep []string, cols testnet.Columns) map[string][]string {
	t.Helper()
	lines := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(table), "\n") {
		label, rest, _ := strings.Cut(line, " ")
		if slices.Contains(keep, label) {
			lines[label] = append(lines[label], strings.TrimSpace(rest))
		}
	}
	got := map[string][]string{}
	for label, ls := range lines {
		got[label] = testnet.ParseTable(t, strings.Join(ls, "\n"), nil, cols)
	}
	return got
}

// TestLsAllNetns makes 20 namespaces, 10 named and 10 unnamed, and
// requires ls -tan --all-netns to list in each exactly what ss lists
// inside it (ip netns exec NAME ss / nsenter --net=/proc/PID/ns/net ss),
// tagged with that namespace; filters, state selections and -p to hold
// across namespaces; and JSON to name each socket's namespace by inode
// and name. Other namespaces on the host (the host's, other tests') are
// listed too, and left out of the comparison.
func TestLsAllNetns(t *testing.T) {
	nss, labels := testNamespaces(t, 10, 10)
	tcp := testnet.Columns{Netid: "tcp"}
	want := map[string][]string{}
	for i, ns := range nss {
		want[labels[i]] = testnet.ParseTable(t, ns.Run(t, "ss", "-tanH"), testnet.SSStates, tcp)
		if len(want[labels[i]]) != 3 {
			t.Fatalf("ss in %s lists %v, want a listener and both ends of a connection", labels[i], want[labels[i]])
		}
	}

	stdout, stderr, code := runHost(t, "ls", "-tanH", "--all-netns")
	if code != 0 {
		t.Fatalf("ls --all-netns: exit %d, stderr %q", code, stderr)
	}
	if diff := cmp.Diff(want, byNetns(t, stdout, labels, tcp)); diff != "" {
		t.Errorf("ls -tan --all-netns against ss in each namespace (-want +got):\n%s", diff)
	}

	t.Run("filter", func(t *testing.T) {
		stdout, stderr, code := runHost(t, "ls", "-tanH", "--all-netns", "sport", "=", ":"+strconv.Itoa(allNetnsPort))
		if code != 0 {
			t.Fatalf("exit %d, stderr %q", code, stderr)
		}
		got := byNetns(t, stdout, labels, tcp)
		for i, ns := range nss {
			w := testnet.ParseTable(t, ns.Run(t, "ss", "-tanH", "sport", "=", ":"+strconv.Itoa(allNetnsPort)), testnet.SSStates, tcp)
			if diff := cmp.Diff(w, got[labels[i]]); diff != "" || len(w) != 2 {
				t.Errorf("%s: sport = :%d (-ss +ls), ss lists %d:\n%s", labels[i], allNetnsPort, len(w), diff)
			}
		}
	})
	t.Run("state and -p", func(t *testing.T) {
		stdout, stderr, code := runHost(t, "ls", "-tnpH", "--all-netns", "state", "listening")
		if code != 0 {
			t.Fatalf("exit %d, stderr %q", code, stderr)
		}
		users := fmt.Sprintf(",pid=%d,", os.Getpid())
		seen := map[string]int{}
		for _, line := range strings.Split(stdout, "\n") {
			label, _, _ := strings.Cut(line, " ")
			if !slices.Contains(labels, label) {
				continue
			}
			seen[label]++
			if !strings.Contains(line, fmt.Sprintf("127.0.0.1:%d", allNetnsPort)) || !strings.Contains(line, users) {
				t.Errorf("%q: want the listener on :%d held by this test (%s)", line, allNetnsPort, users)
			}
		}
		for _, l := range labels {
			if seen[l] != 1 {
				t.Errorf("%s: %d listeners, want 1", l, seen[l])
			}
		}
	})
	t.Run("json", func(t *testing.T) {
		port := ":" + strconv.Itoa(allNetnsPort)
		stdout, stderr, code := runHost(t, "ls", "-tanj", "--all-netns", "sport", "=", port, "or", "dport", "=", port)
		if code != 0 {
			t.Fatalf("exit %d, stderr %q", code, stderr)
		}
		var socks []struct {
			Local jsonEnd `json:"local"`
			NetNS *struct {
				Inode uint64  `json:"inode"`
				Name  *string `json:"name"`
			} `json:"netns"`
		}
		if err := json.Unmarshal([]byte(stdout), &socks); err != nil {
			t.Fatal(err)
		}
		byInode := map[uint64]*testnet.NS{}
		for _, ns := range nss {
			byInode[nsInode(t, ns)] = ns
		}
		count := map[uint64]int{}
		for _, s := range socks {
			if s.NetNS == nil {
				t.Fatalf("socket on %v has no netns", s.Local)
			}
			count[s.NetNS.Inode]++
			ns := byInode[s.NetNS.Inode]
			if ns == nil {
				continue
			}
			if (ns.Name == "") != (s.NetNS.Name == nil) || (s.NetNS.Name != nil && *s.NetNS.Name != ns.Name) {
				t.Errorf("socket on %v of %s: name %v", s.Local, ns.Path, s.NetNS.Name)
			}
		}
		for i, ns := range nss {
			if n := count[nsInode(t, ns)]; n != 3 {
				t.Errorf("%s: %d sockets, want 3", labels[i], n)
			}
		}
	})
}

// TestLsAllNetnsSummary: ls -s --all-netns prints each namespace's summary
// under its label, ss -s's inside it, then the total; with -j, each
// namespace's by inode and name.
func TestLsAllNetnsSummary(t *testing.T) {
	nss, labels := testNamespaces(t, 2, 2)
	stdout, stderr, code := runHost(t, "ls", "-s", "--all-netns")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	sections := strings.Split(stdout, "Netns: ")
	if last := sections[len(sections)-1]; !strings.HasPrefix(last, fmt.Sprintf("all %d\nTotal: ", len(sections)-2)) {
		t.Errorf("last section %q, want the total of %d namespaces", last, len(sections)-2)
	}
	for i, ns := range nss {
		j := slices.IndexFunc(sections, func(s string) bool { return strings.HasPrefix(s, labels[i]+"\n") })
		if j < 0 {
			t.Fatalf("no section for %s in %q", labels[i], stdout)
		}
		// The transport table is the namespace's own; the TCP: line
		// counts sockets allocated host-wide, which other tests change.
		ssTCP := tcpRow(t, ns.Run(t, "ss", "-s"))
		if got := tcpRow(t, sections[j]); got != ssTCP || !strings.HasPrefix(got, "TCP\t  3 ") {
			t.Errorf("%s: TCP row %q, ss -s inside says %q, want 3 sockets", labels[i], got, ssTCP)
		}
	}

	stdout, stderr, code = runHost(t, "ls", "-sj", "--all-netns")
	if code != 0 {
		t.Fatalf("-j: exit %d, stderr %q", code, stderr)
	}
	type perNS struct {
		NetNS   jsonNetNS `json:"netns"`
		Summary struct {
			Transport struct {
				TCP struct{ Total int } `json:"tcp"`
			} `json:"transport"`
		} `json:"summary"`
	}
	var v struct {
		Namespaces []perNS              `json:"namespaces"`
		Total      *struct{ Total int } `json:"total"`
	}
	if err := json.Unmarshal([]byte(stdout), &v); err != nil {
		t.Fatal(err)
	}
	for _, ns := range nss {
		ino := nsInode(t, ns)
		i := slices.IndexFunc(v.Namespaces, func(n perNS) bool { return n.NetNS.Inode == ino })
		if i < 0 || v.Namespaces[i].NetNS.Name != ns.Name || v.Namespaces[i].Summary.Transport.TCP.Total != 3 {
			t.Errorf("%s: JSON summary %+v", ns.Path, v.Namespaces[max(i, 0)])
		}
	}
	if v.Total == nil {
		t.Error("JSON summary without a total")
	}
}

// tcpRow returns the TCP row of ss -s's transport table in text.
func tcpRow(t *testing.T, text string) string {
	t.Helper()
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "TCP\t") {
			return strings.TrimRight(line, " ")
		}
	}
	t.Fatalf("no TCP row in %q", text)
	return ""
}

// TestLsAllNetnsUsage: --all-netns names every namespace, so -N and
// --netns are usage errors, in one line.
func TestLsAllNetnsUsage(t *testing.T) {
	for _, args := range [][]string{
		{"ls", "--all-netns", "-N", "x"},
		{"ls", "--all-netns", "--netns", "/proc/self/ns/net"},
	} {
		var out, errb bytes.Buffer
		code := Run(t.Context(), args, &out, &errb)
		if code != 2 || out.Len() != 0 || strings.Count(errb.String(), "\n") != 1 || !strings.Contains(errb.String(), "--all-netns") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2 and one line naming --all-netns", args, code, out.String(), errb.String())
		}
	}
}

// TestLsAllNetnsChurn lists every namespace again and again while
// namespaces are made and destroyed: each listing succeeds, says nothing
// of the namespaces that went (they are skipped), and lists the stable
// namespaces whole.
func TestLsAllNetnsChurn(t *testing.T) {
	nss, labels := testNamespaces(t, 2, 2)
	tcp := testnet.Columns{Netid: "tcp"}
	want := map[string][]string{}
	for i, ns := range nss {
		want[labels[i]] = testnet.ParseTable(t, ns.Run(t, "ss", "-tanH"), testnet.SSStates, tcp)
	}
	stop := make(chan struct{})
	churned := make(chan int)
	go func() {
		n := 0
		defer func() { churned <- n }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			// Made and gone within a listing, or between the
			// discovery and the listing of it.
			cmd := exec.Command("unshare", "-n", "sleep", "0.01")
			if err := cmd.Run(); err != nil {
				t.Errorf("unshare -n sleep: %v", err)
				return
			}
			n++
		}
	}()
	const listings = 20
	for range listings {
		stdout, stderr, code := runHost(t, "ls", "-tanH", "--all-netns")
		if code != 0 || strings.Contains(stderr, "could not be entered") {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
		if diff := cmp.Diff(want, byNetns(t, stdout, labels, tcp)); diff != "" {
			t.Errorf("stable namespaces (-want +got):\n%s", diff)
		}
	}
	close(stop)
	if n := <-churned; n == 0 {
		t.Error("no namespace was made and destroyed during the listings")
	}
}

// TestLsAllNetnsUnprivileged runs ls --all-netns as nobody, without
// capabilities: it lists the namespace it is in, and says in one line
// how many it could not enter or see, and what would help.
func TestLsAllNetnsUnprivileged(t *testing.T) {
	_, labels := testNamespaces(t, 2, 1)
	dir, err := os.MkdirTemp("", "sockstate-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := dir + "/sockstate"
	data, err := os.ReadFile(executable(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	host := testnet.New(t) // the namespace nobody runs in
	ln := host.Listen(t, "tcp", "127.0.0.1:0")
	cmd := cliCommand(t, host, bin, []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"}, "ls", "-tanH", "--all-netns")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ls --all-netns as nobody: %v, stderr %q", err, stderr.String())
	}
	got := byNetns(t, stdout.String(), append([]string{host.Name}, labels...), testnet.Columns{Netid: "tcp"})
	if len(got) != 1 || len(got[host.Name]) != 1 || !strings.Contains(got[host.Name][0], ln.Addr().String()) {
		t.Errorf("listed %v, want the listener %v of its own namespace %s only", got, ln.Addr(), host.Name)
	}
	// The named namespaces may be opened but not entered; the unnamed
	// one's holder is root's, whose /proc/PID/ns nobody may not read.
	line := stderr.String()
	if strings.Count(line, "\n") != 1 || !strings.Contains(line, "network namespaces could not be entered") ||
		!strings.Contains(line, "could not be read") || !strings.Contains(line, "(run as root to see them)") {
		t.Errorf("stderr %q, want one line counting the namespaces not entered and not read, and what would help", line)
	}
}
