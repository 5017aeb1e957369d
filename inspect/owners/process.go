package owners

import (
	"cmp"
	"context"
	"errors"
	"slices"

	"github.com/sockstate/sockstate/inspect"
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
	// hits is sorted by inode, then process id, then descriptor, so an
	// inode's descriptors lie side by side in the order Owners returns
	// them. At 16 bytes a descriptor it is the whole index: a hash table
	// over 100,000 descriptors took twice as much again.
	hits []fdHit
	// starts[b] is the first of hits whose inode is at least
	// minInode + b<<shift: a lookup searches only its bucket's few hits.
	starts   []uint32
	minInode uint64
	shift    uint8
	comms    map[int32]string
	// Skipped counts the processes whose descriptors could not be read
	// (another user's, for a caller without CAP_SYS_PTRACE).
	Skipped int
}

// newProcessTable indexes hits by inode, sorting them in place.
func newProcessTable(hits []fdHit, comms map[int32]string, skipped int) *ProcessTable {
	t := &ProcessTable{hits: hits, comms: comms, Skipped: skipped}
	if len(hits) == 0 {
		return t
	}
	t.minInode = slices.MinFunc(hits, byInode).inode
	span := slices.MaxFunc(hits, byInode).inode - t.minInode
	sortByInode(hits, t.minInode, span)
	// About two hits a bucket were the inodes spread evenly; where they
	// bunch, the search within a bucket keeps a lookup logarithmic.
	for span>>t.shift > uint64(len(hits)/2) {
		t.shift++
	}
	t.starts = make([]uint32, span>>t.shift+2)
	b, run := 0, 0
	for k := range hits {
		for bk := int((hits[k].inode - t.minInode) >> t.shift); b <= bk; b++ {
			t.starts[b] = uint32(k)
		}
		// An inode held by several descriptors: its run in process and
		// descriptor order.
		if hits[k].inode != hits[run].inode {
			sortRun(hits[run:k])
			run = k
		}
	}
	sortRun(hits[run:])
	for ; b < len(t.starts); b++ {
		t.starts[b] = uint32(len(hits))
	}
	return t
}

func byInode(a, b fdHit) int { return cmp.Compare(a.inode, b.inode) }

// sortByInode sorts hits by inode, stably, with a radix sort on the
// inodes less min a byte at a time, as many bytes as span needs: sorting
// by comparison was two thirds of ls -p's time in the process table.
func sortByInode(hits []fdHit, min, span uint64) {
	src, dst := hits, make([]fdHit, len(hits))
	for shift := uint(0); shift < 64 && span>>shift != 0; shift += 8 {
		var count [256]int
		for _, h := range src {
			count[byte((h.inode-min)>>shift)]++
		}
		if count[byte((src[0].inode-min)>>shift)] == len(src) {
			continue // every hit has this byte
		}
		pos := 0
		for d, c := range count {
			count[d] = pos
			pos += c
		}
		for _, h := range src {
			d := byte((h.inode - min) >> shift)
			dst[count[d]] = h
			count[d]++
		}
		src, dst = dst, src
	}
	if &src[0] != &hits[0] {
		copy(hits, src)
	}
}

// sortRun sorts the descriptors of one inode by process and descriptor.
func sortRun(run []fdHit) {
	if len(run) > 1 {
		slices.SortFunc(run, func(a, b fdHit) int {
			if c := cmp.Compare(a.pid, b.pid); c != 0 {
				return c
			}
			return cmp.Compare(a.fd, b.fd)
		})
	}
}

// find returns the descriptors of inode ino.
func (t *ProcessTable) find(ino uint64) []fdHit {
	if ino < t.minInode || len(t.hits) == 0 {
		return nil
	}
	b := (ino - t.minInode) >> t.shift
	if b+1 >= uint64(len(t.starts)) {
		return nil
	}
	bucket := t.hits[t.starts[b]:t.starts[b+1]]
	lo, _ := slices.BinarySearchFunc(bucket, ino, func(h fdHit, ino uint64) int { return cmp.Compare(h.inode, ino) })
	hi := lo
	for hi < len(bucket) && bucket[hi].inode == ino {
		hi++
	}
	return bucket[lo:hi]
}

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
	// Each socket's descriptors go into all, and ends[i] records where
	// socks[i]'s end; the slices are cut once all has stopped growing.
	// Most sockets have one owner or none.
	owners := make([][]Process, n)
	ends := make([]int32, n)
	all := make([]Process, 0, n)
	for i := range n {
		if ino := inode(i); ino != 0 {
			for _, h := range t.find(ino) {
				all = append(all, Process{PID: int(h.pid), Comm: t.comms[h.pid], FD: int(h.fd)})
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
