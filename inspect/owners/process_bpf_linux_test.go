package owners

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/internal/testnet"

	"github.com/cilium/ebpf"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// TestProcessTableBPFMatchesProc reads the process table both ways, with
// the task_file iterator and from /proc, and requires both to name the
// same holders for 200 sockets of the test process, one of which a child
// holds too.
func TestProcessTableBPFMatchesProc(t *testing.T) {
	testnet.Need(t, "root")
	var socks []inspect.Socket
	var fds []int
	for range 100 {
		pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, fd := range pair {
			t.Cleanup(func() { unix.Close(fd) })
			var st syscall.Stat_t
			if err := syscall.Fstat(fd, &st); err != nil {
				t.Fatal(err)
			}
			socks = append(socks, inspect.Socket{Inode: st.Ino})
			fds = append(fds, fd)
		}
	}
	// The child holds the first socket too, as its descriptor 3.
	dup, err := unix.FcntlInt(uintptr(fds[0]), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	shared := os.NewFile(uintptr(dup), "shared")
	cmd := exec.Command("sleep", "60")
	cmd.ExtraFiles = []*os.File{shared}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	shared.Close()

	bpf, err := readProcessTableBPF("/proc")
	if err != nil {
		if errors.Is(err, ebpf.ErrNotSupported) {
			t.Skipf("no BPF iterator here: %v", err)
		}
		t.Fatal(err)
	}
	proc, err := readProcessTable(context.Background(), "/proc")
	if err != nil {
		t.Fatal(err)
	}
	got := bpf.Owners(socks)
	if diff := cmp.Diff(proc.Owners(socks), got); diff != "" {
		t.Errorf("BPF (+) and /proc (-) disagree:\n%s", diff)
	}
	want := []Process{{PID: os.Getpid(), Comm: got[0][0].Comm, FD: fds[0]}, {PID: cmd.Process.Pid, Comm: "sleep", FD: 3}}
	if cmd.Process.Pid < os.Getpid() {
		want[0], want[1] = want[1], want[0]
	}
	if diff := cmp.Diff(want, got[0]); diff != "" {
		t.Errorf("the shared socket (-want +got):\n%s", diff)
	}
	if bpf.Skipped != 0 {
		t.Errorf("BPF skipped %d processes; it sees every one", bpf.Skipped)
	}
}
