package owners

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestThreads(t *testing.T) {
	root := t.TempDir()
	for tid, comm := range map[string]string{"10": "main", "12": "worker 2", "11": "worker 1"} {
		dir := filepath.Join(root, "10", "task", tid)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "comm"), []byte(comm+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	procs := [][]Process{
		{{PID: 10, Comm: "main", FD: 3}, {PID: 99, Comm: "gone", FD: 5}},
		nil,
		{{PID: 10, Comm: "main", FD: 4}},
	}
	want := [][]Process{
		{{PID: 10, TID: 12, Comm: "worker 2", FD: 3}, {PID: 10, TID: 11, Comm: "worker 1", FD: 3}, {PID: 10, TID: 10, Comm: "main", FD: 3},
			{PID: 99, Comm: "gone", FD: 5}},
		nil,
		{{PID: 10, TID: 12, Comm: "worker 2", FD: 4}, {PID: 10, TID: 11, Comm: "worker 1", FD: 4}, {PID: 10, TID: 10, Comm: "main", FD: 4}},
	}
	if diff := cmp.Diff(want, Threads(procs, root)); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}
