package owners

import (
	"context"
	"errors"
	"slices"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/internal/u64map"
)

// errNoBPFTable wraps the reasons the BPF process table cannot be read;
// ReadProcessTable then reads /proc.
var errNoBPFTable = errors.New("no BPF process table")

// Process is one file descriptor that refers to a socket: the process
// holding it, the process's command name, and the descriptor's number.
// ss -p prints it as ("comm",pid=PID,fd=FD).
type Process struct {
	PID  int
	Comm string
	FD   int
	// TID is the thread's id in a listing by thread (Threads), else 0;
	// Comm is then the thread's name.
	TID int
}

// ProcessTable is a snapshot of the socket descriptors of every process:
// which socket inode each refers to. Join it to a listing with Owners.
type ProcessTable struct {
	hits []fdHit
	// head maps an inode to its descriptor, packed (packHit), when it
	// has one; otherwise to shared and one of its descriptors in hits,
	// and next links each to another of the same inode (-1: none). Owners
	// then costs a lookup per socket, whatever the table's size, and
	// most lookups read nothing else.
	head  u64map.Map
	next  []int32
	comms map[int32]string
	// Skipped counts the processes whose descriptors could not be read
	// (another user's, for a caller without CAP_SYS_PTRACE).
	Skipped int
}

// newProcessTable indexes hits by inode.
func newProcessTable(hits []fdHit, comms map[int32]string, skipped int) *ProcessTable {
	t := &ProcessTable{hits: hits, next: make([]int32, len(hits)), comms: comms, Skipped: skipped}
	t.head.Reset(len(hits))
	for k := range hits {
		t.next[k] = -1
		if h, ok := t.head.Get(hits[k].inode); ok {
			t.next[k] = int32(h)
		}
		t.head.Put(hits[k].inode, uint64(k))
	}
	// Each inode's head is now its last descriptor; pack the lone ones
	// and mark the rest. A packed value is at least 1<<32, past any index.
	for k := range hits {
		if h, _ := t.head.Get(hits[k].inode); h == uint64(k) {
			if t.next[k] < 0 {
				t.head.Put(hits[k].inode, packHit(hits[k]))
			} else {
				t.head.Put(hits[k].inode, shared|h)
			}
		}
	}
	return t
}

// shared marks a head value that is an index into hits. A packed
// descriptor never has it: process ids are positive int32s.
const shared = 1 << 63

// packHit packs a descriptor's process id and number into a head value.
func packHit(h fdHit) uint64 { return uint64(h.pid)<<32 | uint64(uint32(h.fd)) }

// fdHit is one descriptor that refers to a socket.
type fdHit struct {
	inode   uint64
	pid, fd int32
}

// ReadProcessTable reads which sockets every process holds, and the
// command name of each process that holds one. It needs no listing of
// sockets, so it can run while one is made.
//
// With root empty it first asks the kernel with a BPF iterator over every
// process's files (task_file), one pass that costs about a hundredth of
// reading the links below; that takes CAP_BPF and CAP_PERFMON, kernel BTF
// and the initial PID namespace, and sees every process, so Skipped is 0.
// Otherwise, and with root given (a test's fake tree), it makes one pass
// over root/<pid>/fd for every process ("/proc" when root is empty),
// reading each descriptor's link and keeping those that name a socket, the
// processes shared among GOMAXPROCS goroutines. Processes whose
// descriptors the caller may not read are then counted in Skipped;
// processes that exit during the pass are left out without being counted.
//
// Sockets belong to a network namespace but descriptors to processes,
// which may be in any namespace: every process is read.
func ReadProcessTable(ctx context.Context, root string) (*ProcessTable, error) {
	if root == "" {
		root = "/proc"
		t, err := readProcessTableBPF(root)
		if !errors.Is(err, errNoBPFTable) {
			return t, err
		}
	}
	return readProcessTable(ctx, root)
}

// Owners returns, for each of socks, the descriptors that refer to it:
// owners[i] holds socks[i]'s, ordered by process id and then descriptor,
// and is nil for a socket no process holds, such as one in TIME_WAIT
// (inode 0). The slices share one array.
func (t *ProcessTable) Owners(socks []inspect.Socket) [][]Process {
	return t.owners(len(socks), func(i int) uint64 { return socks[i].Inode })
}

// PeerOwners returns, for each of socks, the descriptors that refer to
// its unix peer (UnixEnd.PeerInode), as Owners does: nil for a socket
// without a peer, or whose peer no process holds.
func (t *ProcessTable) PeerOwners(socks []inspect.Socket) [][]Process {
	return t.owners(len(socks), func(i int) uint64 {
		if u := socks[i].Unix; u != nil {
			return u.PeerInode
		}
		return 0
	})
}

// owners returns the descriptors of the inodes inode(0) to inode(n-1).
func (t *ProcessTable) owners(n int, inode func(int) uint64) [][]Process {
	// One lookup per socket: each socket's descriptors go into all, and
	// ends[i] records where socks[i]'s end; the slices are cut once all
	// has stopped growing. Most sockets have one owner or none.
	owners := make([][]Process, n)
	ends := make([]int32, n)
	all := make([]Process, 0, n)
	for i := range n {
		ino := inode(i)
		h, ok := t.head.Get(ino)
		if ok && ino != 0 && h&shared == 0 {
			pid := int32(h >> 32)
			all = append(all, Process{PID: int(pid), Comm: t.comms[pid], FD: int(int32(uint32(h)))})
		} else if ok && ino != 0 {
			h &^= shared
			start := len(all)
			for k := int32(h); k >= 0; k = t.next[k] {
				hit := &t.hits[k]
				all = append(all, Process{PID: int(hit.pid), Comm: t.comms[hit.pid], FD: int(hit.fd)})
			}
			if ps := all[start:]; len(ps) > 1 {
				slices.SortFunc(ps, func(a, b Process) int {
					if a.PID != b.PID {
						return a.PID - b.PID
					}
					return a.FD - b.FD
				})
			}
		}
		ends[i] = int32(len(all))
	}
	start := int32(0)
	for i, end := range ends {
		if end > start {
			owners[i] = all[start:end:end]
		}
		start = end
	}
	return owners
}

// Processes reads the process table (ReadProcessTable) and joins it to
// socks (Owners). It returns owners[i] for socks[i] and the count of
// processes that could not be read.
func Processes(ctx context.Context, socks []inspect.Socket, root string) (owners [][]Process, skipped int, err error) {
	t, err := ReadProcessTable(ctx, root)
	if err != nil {
		return nil, 0, err
	}
	return t.Owners(socks), t.Skipped, nil
}
