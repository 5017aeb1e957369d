package inspect

import "context"

// Process is one file descriptor that refers to a socket: the process
// holding it, the process's command name, and the descriptor's number.
// ss -p prints it as ("comm",pid=PID,fd=FD).
type Process struct {
	PID  int
	Comm string
	FD   int
}

// Processes finds the processes holding socks: it returns, for each socket
// inode among socks that some process holds, every descriptor referring to
// it, ordered by process id and then descriptor. Sockets that hold no file
// (inode 0, such as TIME_WAIT) are never in the map.
//
// It makes one pass over root/<pid>/fd for every process (root is "/proc"
// when empty), reading each descriptor's link and looking it up among the
// inodes of socks, so it costs one readlink per open descriptor on the
// machine and reads a process's command name only if the process holds one
// of socks. The processes are shared among GOMAXPROCS goroutines.
//
// Sockets belong to a network namespace but descriptors to processes, which
// may be in any namespace: every process is searched, whichever namespace
// socks came from. Processes whose descriptors the caller may not read
// (another user's, for a caller without CAP_SYS_PTRACE) are skipped and
// counted in skipped; processes that exit during the pass are left out
// without being counted.
func Processes(ctx context.Context, socks []Socket, root string) (owners map[uint64][]Process, skipped int, err error) {
	if root == "" {
		root = "/proc"
	}
	want := make(map[uint64]struct{}, len(socks))
	for i := range socks {
		if socks[i].Inode != 0 {
			want[socks[i].Inode] = struct{}{}
		}
	}
	if len(want) == 0 {
		return map[uint64][]Process{}, 0, nil
	}
	return scanProcesses(ctx, root, want)
}
