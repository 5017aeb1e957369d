//go:build linux

package owners

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// procScanner reads the descriptors of processes on one goroutine. It
// reads directories with getdents(2) into one buffer and each link with
// readlinkat(2) relative to the directory, passing the name where getdents
// left it, so that a descriptor costs one system call and no allocation.
type procScanner struct {
	rootFD int
	// procfs is set when root is a procfs mount, whose fd directories
	// have the size and offsets scan relies on.
	procfs bool
	dents  []byte
	link   [64]byte // "socket:[18446744073709551615]" is 29 bytes
	path   []byte
	hits   []fdHit
	found  bool // the process being scanned holds a socket
	comms  map[int32]string
	// skipped counts processes whose descriptors could not be read.
	skipped int
	err     error
}

// dentsSize is the getdents buffer: about 1,300 descriptors per call.
const dentsSize = 32 << 10

// Offsets in struct linux_dirent64: u64 d_ino, s64 d_off, u16 d_reclen,
// u8 d_type, then the NUL-terminated name. Fields in native byte order.
const (
	direntReclen = 16
	direntName   = 19
)

func readProcessTable(ctx context.Context, root string) (*ProcessTable, error) {
	rootFD, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("inspect: processes: %w", &os.PathError{Op: "open", Path: root, Err: err})
	}
	defer unix.Close(rootFD)
	pids, err := listPIDs(rootFD)
	if err != nil {
		return nil, fmt.Errorf("inspect: processes: read %s: %w", root, err)
	}

	var fs unix.Statfs_t
	procfs := unix.Fstatfs(rootFD, &fs) == nil && fs.Type == unix.PROC_SUPER_MAGIC

	workers := max(1, min(runtime.GOMAXPROCS(0), len(pids)))
	scanners := make([]*procScanner, workers)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range scanners {
		sc := &procScanner{rootFD: rootFD, procfs: procfs, dents: make([]byte, dentsSize), comms: map[int32]string{}}
		scanners[w] = sc
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(len(pids)) && sc.err == nil; i = next.Add(1) - 1 {
				if err := ctx.Err(); err != nil {
					sc.err = err
					return
				}
				sc.scan(pids[i])
			}
		})
	}
	wg.Wait()

	skipped, nhits := 0, 0
	for _, sc := range scanners {
		if sc.err != nil {
			return nil, fmt.Errorf("inspect: processes: %w", sc.err)
		}
		skipped += sc.skipped
		nhits += len(sc.hits)
	}
	hits := make([]fdHit, 0, nhits)
	comms := map[int32]string{}
	for _, sc := range scanners {
		hits = append(hits, sc.hits...)
		for pid, comm := range sc.comms {
			comms[pid] = comm
		}
	}
	return newProcessTable(hits, comms, skipped), nil
}

// listPIDs returns the numeric entries of the directory open at fd.
func listPIDs(fd int) ([]int32, error) {
	var pids []int32
	buf := make([]byte, dentsSize)
	for {
		n, err := unix.Getdents(fd, buf)
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return pids, nil
		}
		for off := 0; off < n; {
			name, reclen := direntAt(buf[off:n])
			if reclen == 0 {
				break
			}
			off += reclen
			if pid, ok := parseDecimal(name); ok && pid > 0 {
				pids = append(pids, int32(pid))
			}
		}
	}
}

// direntAt returns the name of the linux_dirent64 at the start of b,
// without its NUL, and the record's length; 0 if b holds no whole record.
func direntAt(b []byte) (name []byte, reclen int) {
	if len(b) < direntName {
		return nil, 0
	}
	reclen = int(binary.NativeEndian.Uint16(b[direntReclen:]))
	if reclen < direntName || reclen > len(b) {
		return nil, 0
	}
	name = b[direntName:reclen]
	if i := bytes.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	return name, reclen
}

// parseDecimal parses a non-empty run of decimal digits that fits in an
// int32.
func parseDecimal(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 10 {
		return 0, false
	}
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, v <= 1<<31-1
}

// scan reads the descriptors of process pid.
//
// Listing /proc/<pid>/fd costs the kernel about as much per entry as
// reading a link does, so scan skips the listing where it can: the
// directory's size is its number of open descriptors (Linux 6.2), and
// while descriptors are dense, reading the links of 0, 1, 2, ... until
// that many are found needs no listing. Elsewhere (a test's fake tree)
// everything is listed. When misses pile up (a sparse
// table, or one that changed meanwhile) the rest is listed with getdents,
// starting where the probing stopped.
func (sc *procScanner) scan(pid int32) {
	sc.path = strconv.AppendInt(sc.path[:0], int64(pid), 10)
	sc.path = append(sc.path, "/fd\x00"...)
	dirFD, err := openat(sc.rootFD, sc.path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC)
	switch err {
	case nil:
	case unix.EACCES, unix.EPERM:
		sc.skipped++
		return
	case unix.ENOENT, unix.ESRCH:
		return // the process exited
	default:
		sc.err = fmt.Errorf("open %d/fd: %w", pid, err)
		return
	}
	defer unix.Close(dirFD)

	sc.found = false
	var st unix.Stat_t
	open := int64(0)
	if sc.procfs && unix.Fstat(dirFD, &st) == nil {
		open = st.Size
	}
	fd, seen, misses := int32(0), int64(0), 0
	for seen < open {
		if misses > 32+int(seen/4) {
			break
		}
		sc.path = strconv.AppendInt(sc.path[:0], int64(fd), 10)
		sc.path = append(sc.path, 0)
		switch sc.readLink(pid, dirFD, &sc.path[0], fd) {
		case linkRead:
			seen++
		case linkDenied:
			sc.skipped++
			return
		case linkMissing:
			misses++
		}
		fd++
	}
	if seen < open || open == 0 {
		sc.list(pid, dirFD, fd)
	}
	if sc.found {
		sc.comms[pid] = sc.comm(pid)
	}
}

// The outcomes of readLink.
const (
	linkRead = iota
	linkMissing
	linkDenied
)

// readLink reads the link of descriptor fd, named by the NUL-terminated
// name, in the fd directory open at dirFD, and records a hit if it is a
// socket.
func (sc *procScanner) readLink(pid int32, dirFD int, name *byte, fd int32) int {
	l, errno := readlinkat(dirFD, name, sc.link[:])
	switch errno {
	case 0:
	case unix.EACCES, unix.EPERM:
		return linkDenied
	default:
		return linkMissing // ENOENT: not open, or closed meanwhile
	}
	if inode, ok := socketInode(sc.link[:l]); ok {
		sc.hits = append(sc.hits, fdHit{inode: inode, pid: pid, fd: fd})
		sc.found = true
	}
	return linkRead
}

// list reads the links of the descriptors from from on, listing them with
// getdents(2). The directory's offset of descriptor n is n+2, after "."
// and ".." (proc_readfd_common in fs/proc/fd.c).
func (sc *procScanner) list(pid int32, dirFD int, from int32) {
	if from > 0 {
		if _, err := unix.Seek(dirFD, int64(from)+2, 0); err != nil {
			return
		}
	}
	for {
		n, err := unix.Getdents(dirFD, sc.dents)
		if err != nil || n <= 0 {
			// ENOENT: the process exited while being read.
			return
		}
		for off := 0; off < n; {
			rec := sc.dents[off:n]
			name, reclen := direntAt(rec)
			if reclen == 0 {
				break
			}
			off += reclen
			fd, ok := parseDecimal(name)
			if !ok {
				continue // "." and ".."
			}
			// The name is NUL-terminated in place: hand it over as is.
			if sc.readLink(pid, dirFD, &rec[direntName], int32(fd)) == linkDenied {
				sc.skipped++
				return
			}
		}
	}
}

// comm returns the command name of process pid, "" if it cannot be read.
func (sc *procScanner) comm(pid int32) string {
	sc.path = strconv.AppendInt(sc.path[:0], int64(pid), 10)
	sc.path = append(sc.path, "/comm\x00"...)
	fd, err := openat(sc.rootFD, sc.path, unix.O_RDONLY|unix.O_CLOEXEC)
	if err != nil {
		return ""
	}
	defer unix.Close(fd)
	var buf [64]byte
	n, err := unix.Read(fd, buf[:])
	if err != nil || n <= 0 {
		return ""
	}
	return string(bytes.TrimSuffix(buf[:n], []byte{'\n'}))
}

// socketInode parses a descriptor's link text, "socket:[INODE]".
func socketInode(link []byte) (uint64, bool) {
	const prefix = "socket:["
	if len(link) <= len(prefix)+1 || string(link[:len(prefix)]) != prefix || link[len(link)-1] != ']' {
		return 0, false
	}
	digits := link[len(prefix) : len(link)-1]
	var v uint64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (1<<64-1-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}

// openat is openat(2) with a NUL-terminated path, which it does not copy.
func openat(dirFD int, path []byte, flags int) (int, error) {
	for {
		fd, _, errno := unix.Syscall6(unix.SYS_OPENAT, uintptr(dirFD), uintptr(unsafe.Pointer(&path[0])), uintptr(flags), 0, 0, 0)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return -1, errno
		}
		return int(fd), nil
	}
}

// readlinkat is readlinkat(2) with a NUL-terminated name, which it does not
// copy; it returns the length of the link text in buf.
func readlinkat(dirFD int, name *byte, buf []byte) (int, unix.Errno) {
	for {
		n, _, errno := unix.Syscall6(unix.SYS_READLINKAT, uintptr(dirFD), uintptr(unsafe.Pointer(name)), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0)
		if errno != unix.EINTR {
			return int(n), errno
		}
	}
}
