package owners

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Threads returns procs with each descriptor repeated for every thread of
// its process, as ss -T lists them: TID set, Comm the thread's name, the
// threads of a process from the highest id down, as ss's order has them.
// It reads root/<pid>/task ("/proc" when root is empty) once per process;
// a process that has exited meanwhile keeps its one entry. Threads share
// their process's descriptors (CLONE_FILES), which is what every thread
// library asks for.
func Threads(procs [][]Process, root string) [][]Process {
	if root == "" {
		root = "/proc"
	}
	tasks := map[int][]Process{} // a process's threads, FD unset
	out := make([][]Process, len(procs))
	for i, ps := range procs {
		for _, p := range ps {
			ts, ok := tasks[p.PID]
			if !ok {
				ts = readThreads(root, p.PID)
				tasks[p.PID] = ts
			}
			if len(ts) == 0 {
				out[i] = append(out[i], p)
				continue
			}
			for _, t := range ts {
				t.FD = p.FD
				out[i] = append(out[i], t)
			}
		}
	}
	return out
}

// readThreads lists process pid's threads, highest id first; none if it
// cannot be read.
func readThreads(root string, pid int) []Process {
	dir := filepath.Join(root, strconv.Itoa(pid), "task")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var ts []Process
	for _, e := range entries {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, _ := os.ReadFile(filepath.Join(dir, e.Name(), "comm"))
		ts = append(ts, Process{PID: pid, TID: tid, Comm: strings.TrimSuffix(string(comm), "\n")})
	}
	slices.SortFunc(ts, func(a, b Process) int { return b.TID - a.TID })
	return ts
}
