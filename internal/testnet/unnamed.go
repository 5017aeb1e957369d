package testnet

import (
	"bufio"
	"os/exec"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// NewUnnamed makes a network namespace with no name, as a container
// runtime does: held only by a child started with unshare -n, which brings
// loopback up and waits. Kill ends the child, and the namespace with it
// (once no descriptor holds it); the test's end does, if Kill was not
// called.
func NewUnnamed(t testing.TB) *NS {
	t.Helper()
	cmd := exec.Command("unshare", "-n", "sh", "-c", "ip link set lo up && echo up && exec sleep 120")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("unshare -n: %v", err)
	}
	ns := &NS{Path: "/proc/" + strconv.Itoa(cmd.Process.Pid) + "/ns/net", fd: -1, holder: cmd}
	t.Cleanup(func() { ns.Kill(t) })
	// The child says up once loopback is, and before it execs sleep:
	// its pid is unshare's, which execs sh in the new namespace.
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "up\n" {
		t.Fatalf("unshare -n: said %q: %v", line, err)
	}
	fd, err := unix.Open(ns.Path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open %s: %v", ns.Path, err)
	}
	ns.fd = fd
	return ns
}

// PID returns the pid of the process holding an unnamed namespace; 0 for
// a named one.
func (ns *NS) PID() int {
	if ns.holder == nil {
		return 0
	}
	return ns.holder.Process.Pid
}

// Kill ends an unnamed namespace: it closes the test's descriptor and
// kills and reaps the child holding it. Sockets the test opened in it
// keep it alive in the kernel, without a process or a path.
func (ns *NS) Kill(t testing.TB) {
	t.Helper()
	if ns.fd >= 0 {
		unix.Close(ns.fd)
		ns.fd = -1
	}
	if ns.holder != nil && ns.holder.ProcessState == nil {
		ns.holder.Process.Kill()
		ns.holder.Wait()
	}
}
