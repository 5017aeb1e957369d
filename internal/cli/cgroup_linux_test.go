package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/inspect/cgroups"
	"github.com/sockstate/sockstate/internal/testnet"
)

// testCgroup makes a cgroup, and the cgroups above it, under the cgroup2
// mount, removed when the test ends, and returns its path as ss prints it
// (/NAME).
func testCgroup(t *testing.T, paths *cgroups.Paths, name string) string {
	t.Helper()
	parts := strings.Split(name, "/")
	for i := range parts {
		dir := filepath.Join(paths.Mount, filepath.Join(parts[:i+1]...))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := os.Remove(dir); err != nil {
				t.Errorf("remove cgroup: %v", err)
			}
		})
	}
	return "/" + name
}

// connectFrom starts a child, moves it into the cgroup
// (cgroup.procs: membership survives the child's execs), and has it
// connect to 127.0.0.1:port with bash's /dev/tcp, so that the
// connection's socket belongs to that cgroup. It returns once the child
// is connected; the child is killed when the test ends, before the cgroup
// is removed.
func connectFrom(t *testing.T, paths *cgroups.Paths, cgroup string, port int) {
	t.Helper()
	cmd := exec.Command("bash", "-c", fmt.Sprintf("read go && exec 3<>/dev/tcp/127.0.0.1/%d && echo connected && exec sleep 60", port))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	procs := filepath.Join(paths.Mount, cgroup, "cgroup.procs")
	if err := os.WriteFile(procs, []byte(strconv.Itoa(cmd.Process.Pid)), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := in.Write([]byte("go\n")); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "connected\n" {
		t.Fatalf("child in %s: said %q: %v", cgroup, line, err)
	}
}

// cgroupsOf reads ls or ss -tanH --cgroup output (one state column) into
// "STATE LOCAL PEER cgroup:PATH" lines, sorted; a socket without a cgroup
// has no fourth field.
func cgroupsOf(t *testing.T, text string, states map[string]string) []string {
	t.Helper()
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			t.Fatalf("line %q: too few fields", line)
		}
		state := f[0]
		if states != nil {
			state = states[state]
		}
		s := state + " " + f[3] + " " + f[4]
		for _, x := range f[5:] {
			if strings.HasPrefix(x, "cgroup:") {
				s += " " + x
			}
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// TestLsCgroup makes two cgroups, moves a child into each, which
// connects to a listener of the test: ls --cgroup names each socket's
// cgroup as ss --cgroup does, and "cgroup PATH" selects exactly the
// child's socket, in each of the forms ss takes and the one it prints.
// The /proc source has no cgroups: it says so, and exits 1; a cgroup that
// does not exist is a usage error.
//
// It runs in the host's namespace, as ip netns exec mounts a /sys of its
// own, without the cgroup2 mount; a filter on the test's port keeps other
// tests' sockets out.
func TestLsCgroup(t *testing.T) {
	paths, port := cgroupTest(t)
	mine := []string{"sport", "=", ":" + strconv.Itoa(port), "or", "dport", "=", ":" + strconv.Itoa(port)}
	var groups []string
	for i := range 2 {
		cg := testCgroup(t, paths, fmt.Sprintf("sockstate-test-%d-%d", os.Getpid(), i))
		connectFrom(t, paths, cg, port)
		groups = append(groups, cg)
	}

	want := cgroupsOf(t, ssOutput(t, append([]string{"-tanH", "--cgroup"}, mine...)...), testnet.SSStates)
	stdout, stderr, code := runHost(t, append([]string{"ls", "-tanH", "--cgroup"}, mine...)...)
	if code != 0 {
		t.Fatalf("ls --cgroup: exit %d, stderr %q", code, stderr)
	}
	got := cgroupsOf(t, stdout, nil)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ls --cgroup against ss --cgroup (-want +got):\n%s", diff)
	}
	inGroup := func(lines []string, cg string) []string {
		var out []string
		for _, l := range lines {
			if strings.HasSuffix(l, " cgroup:"+cg) {
				out = append(out, l)
			}
		}
		return out
	}
	for _, cg := range groups {
		if n := len(inGroup(got, cg)); n != 1 {
			t.Errorf("%d sockets in %s, want the child's one: %q", n, cg, got)
		}
	}

	for _, cg := range groups {
		want := inGroup(got, cg)
		// ss's forms (relative to the mount; a path under it) and the
		// one --cgroup prints.
		for _, path := range []string{cg, strings.TrimPrefix(cg, "/"), paths.Mount + cg} {
			for _, source := range []string{"auto", "netlink"} {
				stdout, stderr, code := runHost(t, "ls", "-tanH", "--cgroup", "--source", source, "cgroup", path)
				if code != 0 {
					t.Fatalf("cgroup %s: exit %d, stderr %q", path, code, stderr)
				}
				if diff := cmp.Diff(want, cgroupsOf(t, stdout, nil)); diff != "" {
					t.Errorf("--source %s cgroup %s (-want +got):\n%s", source, path, diff)
				}
			}
		}
		// ss selects the same socket by the path under the mount.
		ssOut := ssOutput(t, "-tanH", "--cgroup", "cgroup", paths.Mount+cg)
		if diff := cmp.Diff(want, cgroupsOf(t, ssOut, testnet.SSStates)); diff != "" {
			t.Errorf("ss cgroup %s disagrees (-ls +ss):\n%s", paths.Mount+cg, diff)
		}
	}

	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"ls", "-tan", "--source", "proc", "cgroup", groups[0]}, 1, "sockstate: ls: the /proc source has no cgroups"},
		{[]string{"ls", "-tan", "--source", "proc", "--cgroup"}, 1, "sockstate: ls: the /proc source has no cgroups"},
		{[]string{"ls", "-tan", "cgroup", "/sockstate-no-such-cgroup"}, 2, `no such cgroup under ` + paths.Mount},
	} {
		stdout, stderr, code := runHost(t, tt.args...)
		if code != tt.code || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tt.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit %d and one line with %q", tt.args, code, stdout, stderr, tt.code, tt.want)
		}
	}
}

// ssOutput runs ss in the test's namespace and returns its output.
func ssOutput(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ss", args...).Output()
	if err != nil {
		t.Fatalf("ss %s: %v", strings.Join(args, " "), err)
	}
	return string(out)
}

// TestLsContainers makes cgroups laid out as docker's and as a Kubernetes
// pod's under containerd, with a child in each: ls -C names the container
// (and pod) in its Container column and JSON, and the test's own
// sockets, in no container, have none.
func TestLsContainers(t *testing.T) {
	paths, port := cgroupTest(t)
	const (
		dockerID = "3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a"
		podID    = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
		uid      = "8dbc2f1e-7f7a-4b7e-9a50-2c1d3e4f5a6b"
	)
	top := fmt.Sprintf("sockstate-test-%d", os.Getpid())
	docker := testCgroup(t, paths, top+"-d.slice/docker-"+dockerID+".scope")
	pod := testCgroup(t, paths, top+"-k.slice/kubepods-burstable-pod"+strings.ReplaceAll(uid, "-", "_")+".slice/cri-containerd-"+podID+".scope")
	connectFrom(t, paths, docker, port)
	connectFrom(t, paths, pod, port)
	filter := []string{"dport", "=", ":" + strconv.Itoa(port)}

	stdout, stderr, code := runHost(t, append([]string{"ls", "-tnHC"}, filter...)...)
	if code != 0 {
		t.Fatalf("ls -C: exit %d, stderr %q", code, stderr)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		f := strings.Fields(line)
		got = append(got, f[len(f)-1])
	}
	slices.Sort(got)
	want := []string{"containerd:" + podID[:12] + ",pod:" + uid, "docker:" + dockerID[:12]}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Container column (-want +got):\n%s", diff)
	}

	stdout, stderr, code = runHost(t, "ls", "-tnjC", "sport", "=", ":"+strconv.Itoa(port), "or", "dport", "=", ":"+strconv.Itoa(port))
	if code != 0 {
		t.Fatalf("ls -C -j: exit %d, stderr %q", code, stderr)
	}
	var socks []struct {
		Local     jsonEnd        `json:"local"`
		Container *jsonContainer `json:"container"`
	}
	if err := json.Unmarshal([]byte(stdout), &socks); err != nil {
		t.Fatal(err)
	}
	var containers []jsonContainer
	for _, s := range socks {
		if s.Container != nil {
			containers = append(containers, *s.Container)
		}
	}
	slices.SortFunc(containers, func(a, b jsonContainer) int { return strings.Compare(a.Runtime, b.Runtime) })
	wantJSON := []jsonContainer{
		{Runtime: "containerd", ID: podID, PodUID: uid, Unit: "cri-containerd-" + podID + ".scope"},
		{Runtime: "docker", ID: dockerID, Unit: "docker-" + dockerID + ".scope"},
	}
	if diff := cmp.Diff(wantJSON, containers); diff != "" || len(socks) != 4 {
		t.Errorf("%d sockets; JSON containers (-want +got):\n%s", len(socks), diff)
	}
}

// cgroupTest finds the cgroup2 mount and listens on 127.0.0.1 in the
// test's namespace, until the test ends, for children in cgroups to
// connect to; it returns the mount's Paths and the port.
func cgroupTest(t *testing.T) (*cgroups.Paths, int) {
	t.Helper()
	paths, err := cgroups.NewPaths()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return paths, ln.Addr().(*net.TCPAddr).Port
}
