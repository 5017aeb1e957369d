package owners_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/sockstate/sockstate/inspect/owners"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/sockdiag"
	"github.com/sockstate/sockstate/internal/testnet"
)

// fakeProc builds a /proc-like tree under a temporary directory: for each
// pid its comm file (if comm is not empty) and fd links.
func fakeProc(t *testing.T, procs map[string]struct {
	comm string
	fds  map[string]string
}) string {
	t.Helper()
	root := t.TempDir()
	for pid, p := range procs {
		if err := os.MkdirAll(filepath.Join(root, pid, "fd"), 0o755); err != nil {
			t.Fatal(err)
		}
		if p.comm != "" {
			if err := os.WriteFile(filepath.Join(root, pid, "comm"), []byte(p.comm+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		for fd, target := range p.fds {
			if err := os.Symlink(target, filepath.Join(root, pid, "fd", fd)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root
}

func socksWithInodes(inodes ...uint64) []inspect.Socket {
	socks := make([]inspect.Socket, len(inodes))
	for i, ino := range inodes {
		socks[i].Inode = ino
	}
	return socks
}

func TestProcessesFakeProc(t *testing.T) {
	type proc = struct {
		comm string
		fds  map[string]string
	}
	root := fakeProc(t, map[string]proc{
		"100":  {comm: "server", fds: map[string]string{"0": "/dev/null", "3": "socket:[1001]", "7": "socket:[1002]", "12": "socket:[9999]"}},
		"200":  {comm: "worker", fds: map[string]string{"4": "socket:[1001]", "5": "pipe:[1002]", "6": "socket:[100x]", "8": "socket:[1001"}},
		"42":   {comm: "odd\"name", fds: map[string]string{"10": "socket:[1003]", "2": "socket:[1003]"}},
		"300":  {fds: map[string]string{"1": "socket:[1004]"}},
		"400":  {comm: "idle"},
		"abc":  {comm: "not a process", fds: map[string]string{"3": "socket:[1001]"}},
		"0":    {comm: "pid zero", fds: map[string]string{"3": "socket:[1001]"}},
		"1000": {comm: "other", fds: map[string]string{"3": "socket:[18446744073709551616]"}},
	})
	// A process that exited between the listing of root and the reading of
	// its descriptors: a pid directory without fd.
	if err := os.Mkdir(filepath.Join(root, "500"), 0o755); err != nil {
		t.Fatal(err)
	}

	// 1001 is listed twice, as a retried dump can list a socket.
	socks := socksWithInodes(1001, 1002, 1003, 1004, 1005, 0, 1001)
	owned, skipped, err := owners.Processes(context.Background(), socks, root)
	if err != nil {
		t.Fatal(err)
	}
	shared := []owners.Process{{PID: 100, Comm: "server", FD: 3}, {PID: 200, Comm: "worker", FD: 4}}
	want := [][]owners.Process{
		shared,
		{{PID: 100, Comm: "server", FD: 7}},
		{{PID: 42, Comm: "odd\"name", FD: 2}, {PID: 42, Comm: "odd\"name", FD: 10}},
		{{PID: 300, Comm: "", FD: 1}},
		nil,
		nil,
		shared,
	}
	if diff := cmp.Diff(want, owned); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if skipped != 0 {
		t.Errorf("skipped %d, want 0: an exited process is not skipped", skipped)
	}

	// The table holds every socket descriptor, wanted or not: joined to
	// another listing it answers for that one.
	table, err := owners.ReadProcessTable(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([][]owners.Process{{{PID: 100, Comm: "server", FD: 12}}, nil}, table.Owners(socksWithInodes(9999, 1002000))); diff != "" {
		t.Errorf("Owners of another listing (-want +got):\n%s", diff)
	}
}

func TestProcessesErrors(t *testing.T) {
	_, _, err := owners.Processes(context.Background(), socksWithInodes(1), filepath.Join(t.TempDir(), "missing"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing root: %v, want os.ErrNotExist", err)
	}
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "7"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "7", "fd"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := owners.Processes(context.Background(), socksWithInodes(1), root); !errors.Is(err, unix.ENOTDIR) {
		t.Errorf("fd that is not a directory: %v, want ENOTDIR", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := owners.Processes(ctx, socksWithInodes(1), "/proc"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v, want context.Canceled", err)
	}
}

// TestProcessesChild hands a listening socket made in a test namespace to a
// child process as its descriptor 3, closes every copy the test holds, and
// requires Processes to name the child, its command and that descriptor,
// and nothing else.
func TestProcessesChild(t *testing.T) {
	ns := testnet.New(t)
	cmd := testnet.GiveAway(t, ns.Listen(t, "tcp", "127.0.0.1:0").(*net.TCPListener))

	socks, err := (&sockdiag.Source{NetNS: ns.FD()}).Sockets(context.Background(), inspect.Query{States: inspect.AllStates})
	if err != nil {
		t.Fatal(err)
	}
	if len(socks) != 1 || socks[0].State != inspect.Listen || socks[0].Inode == 0 {
		t.Fatalf("sockets %v, want the one listener", socks)
	}
	owned, _, err := owners.Processes(context.Background(), socks, "")
	if err != nil {
		t.Fatal(err)
	}
	want := [][]owners.Process{{{PID: cmd.Process.Pid, Comm: "sleep", FD: 3}}}
	if diff := cmp.Diff(want, owned); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// BenchmarkProcesses attributes 10,000 socket descriptors held by the
// benchmark's own process, reading every process of the machine: with the
// BPF iterator where it can (root "") and from /proc (root "/proc").
func BenchmarkProcesses(b *testing.B) {
	for _, root := range []string{"", "/proc"} {
		name := root
		if name == "" {
			name = "bpf"
		}
		b.Run(name, func(b *testing.B) { benchmarkProcesses(b, root) })
	}
}

func benchmarkProcesses(b *testing.B, root string) {
	const pairs = 5000
	var socks []inspect.Socket
	for range pairs {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			b.Fatal(err)
		}
		for _, fd := range fds {
			var st syscall.Stat_t
			if err := syscall.Fstat(fd, &st); err != nil {
				b.Fatal(err)
			}
			socks = append(socks, inspect.Socket{Inode: st.Ino})
			b.Cleanup(func() { unix.Close(fd) })
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		owned, _, err := owners.Processes(context.Background(), socks, root)
		if err != nil {
			b.Fatal(err)
		}
		for i, o := range owned {
			if len(o) != 1 {
				b.Fatalf("socket %d: %d owners, want 1", i, len(o))
			}
		}
	}
}
