//go:build linux

package owners

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// The BPF way to the process table: a task_file iterator (bpf_iter,
// Documentation/bpf/bpf_iterators.rst; kernel/bpf/task_iter.c) calls a
// program for every open file of every process, with the task, the
// descriptor and the struct file, and the program writes one record per
// socket (a file bpf_sock_from_file finds a socket behind, by its f_op,
// which spares reading the inode's mode: the inode is a cache miss, and
// that read was a third of the program's time) into the iterator's seq_file,
// which a read(2) returns. One pass over the kernel's tables replaces a
// readlink per descriptor. It needs CAP_BPF and CAP_PERFMON, kernel BTF
// and Linux 5.11; where any is missing, the /proc scan is used.

// fdRecordSize is a record's size: the inode (u64), the process id (u32)
// and the descriptor (u32), in native byte order.
const fdRecordSize = 16

// initPIDNSInode is the inode number of the initial PID namespace
// (PROC_PID_INIT_INO, include/linux/proc_ns.h). task_struct's tgid is an
// id in that namespace, so the iterator's ids are /proc's only there.
const initPIDNSInode = 0xeffffffc

// fdLayout holds the offsets the program reads, found in the running
// kernel's BTF.
type fdLayout struct {
	ctxMeta, ctxTask, ctxFD, ctxFile int16 // struct bpf_iter__task_file
	metaSeq                          int16 // struct bpf_iter_meta.seq
	tgid                             int16 // struct task_struct.tgid, pid_t
	fInode                           int16 // struct file.f_inode
	iIno                             int16 // struct inode.i_ino (unsigned long)
}

// memberOffset returns the byte offset and size of the member name of the
// struct called root, looking through anonymous structs and unions.
func memberOffset(spec *btf.Spec, root, name string) (int16, uint32, error) {
	var s *btf.Struct
	if err := spec.TypeByName(root, &s); err != nil {
		return 0, 0, fmt.Errorf("struct %s: %w", root, err)
	}
	off, t, ok := findMember(s, name, 0, 0)
	if !ok {
		return 0, 0, fmt.Errorf("struct %s has no %s", root, name)
	}
	size, err := btf.Sizeof(t)
	if err != nil {
		return 0, 0, fmt.Errorf("%s.%s: %w", root, name, err)
	}
	if off > 1<<15-1 {
		return 0, 0, fmt.Errorf("%s.%s at %d, past a load's reach", root, name, off)
	}
	return int16(off), uint32(size), nil
}

func findMember(t btf.Type, name string, base uint32, depth int) (uint32, btf.Type, bool) {
	var members []btf.Member
	switch t := btf.UnderlyingType(t).(type) {
	case *btf.Struct:
		members = t.Members
	case *btf.Union:
		members = t.Members
	default:
		return 0, nil, false
	}
	for _, m := range members {
		off := base + uint32(m.Offset.Bytes())
		if m.BitfieldSize != 0 || m.Offset%8 != 0 {
			continue
		}
		if m.Name == name {
			return off, m.Type, true
		}
		if m.Name == "" && depth < 4 {
			if o, mt, ok := findMember(m.Type, name, off, depth+1); ok {
				return o, mt, true
			}
		}
	}
	return 0, nil, false
}

func newFDLayout(spec *btf.Spec) (*fdLayout, error) {
	var l fdLayout
	for _, f := range []struct {
		dst        *int16
		root, name string
		size       uint32
	}{
		{&l.ctxMeta, "bpf_iter__task_file", "meta", 8},
		{&l.ctxTask, "bpf_iter__task_file", "task", 8},
		{&l.ctxFD, "bpf_iter__task_file", "fd", 4},
		{&l.ctxFile, "bpf_iter__task_file", "file", 8},
		{&l.metaSeq, "bpf_iter_meta", "seq", 8},
		{&l.tgid, "task_struct", "tgid", 4},
		{&l.fInode, "file", "f_inode", 8},
		{&l.iIno, "inode", "i_ino", 8},
	} {
		off, size, err := memberOffset(spec, f.root, f.name)
		if err != nil {
			return nil, err
		}
		if size != f.size {
			return nil, fmt.Errorf("%s.%s is %d bytes, want %d", f.root, f.name, size, f.size)
		}
		*f.dst = off
	}
	return &l, nil
}

// fdProgram writes a record for every socket file it is called with. The
// last call of an iteration comes with no task and no file.
func fdProgram(l *fdLayout) asm.Instructions {
	const (
		ctx   = asm.R6
		inode = asm.R7
		file  = asm.R8
		rec   = -fdRecordSize // the record, on the stack
	)
	return asm.Instructions{
		asm.Mov.Reg(ctx, asm.R1),
		asm.LoadMem(asm.R1, ctx, l.ctxFile, asm.DWord),
		asm.JEq.Imm(asm.R1, 0, "out"),
		asm.Mov.Reg(file, asm.R1),
		asm.FnSockFromFile.Call(),
		asm.JEq.Imm(asm.R0, 0, "out"),
		asm.LoadMem(inode, file, l.fInode, asm.DWord),
		asm.JEq.Imm(inode, 0, "out"),
		asm.LoadMem(asm.R4, ctx, l.ctxTask, asm.DWord),
		asm.JEq.Imm(asm.R4, 0, "out"),
		asm.LoadMem(asm.R5, inode, l.iIno, asm.DWord),
		asm.StoreMem(asm.RFP, rec, asm.R5, asm.DWord),
		asm.LoadMem(asm.R5, asm.R4, l.tgid, asm.Word),
		asm.StoreMem(asm.RFP, rec+8, asm.R5, asm.Word),
		asm.LoadMem(asm.R5, ctx, l.ctxFD, asm.Word),
		asm.StoreMem(asm.RFP, rec+12, asm.R5, asm.Word),
		asm.LoadMem(asm.R1, ctx, l.ctxMeta, asm.DWord),
		asm.LoadMem(asm.R1, asm.R1, l.metaSeq, asm.DWord),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, rec),
		asm.Mov.Imm(asm.R3, fdRecordSize),
		asm.FnSeqWrite.Call(),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("out"),
		asm.Return(),
	}
}

// readProcessTableBPF reads every process's socket descriptors with the
// task_file iterator, and the command names of the processes that hold
// one from root/<pid>/comm. Its error wraps errNoBPFTable when the
// iterator cannot be used at all.
func readProcessTableBPF(root string) (*ProcessTable, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/pid", &st); err != nil || st.Ino != initPIDNSInode {
		return nil, fmt.Errorf("%w: not in the initial PID namespace", errNoBPFTable)
	}
	// Decoding the kernel's BTF is most of the cost of this path: one
	// cache serves both the layout and the loader's search for the
	// iterator's attach point.
	cache := btf.NewCache()
	spec, err := cache.Kernel()
	if err != nil {
		return nil, fmt.Errorf("%w: kernel BTF: %w", errNoBPFTable, err)
	}
	l, err := newFDLayout(spec)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errNoBPFTable, err)
	}
	coll, err := ebpf.NewCollectionWithOptions(&ebpf.CollectionSpec{
		Programs: map[string]*ebpf.ProgramSpec{"sockstate_fds": {
			Name:         "sockstate_fds",
			Type:         ebpf.Tracing,
			AttachType:   ebpf.AttachTraceIter,
			AttachTo:     "task_file",
			Instructions: fdProgram(l),
			License:      "GPL",
		}},
	}, ebpf.CollectionOptions{Cache: cache})
	if err != nil {
		return nil, fmt.Errorf("%w: load: %w", errNoBPFTable, err)
	}
	defer coll.Close()
	it, err := link.AttachIter(link.IterOptions{Program: coll.Programs["sockstate_fds"]})
	if err != nil {
		return nil, fmt.Errorf("%w: attach: %w", errNoBPFTable, err)
	}
	defer it.Close()
	rd, err := it.Open()
	if err != nil {
		return nil, fmt.Errorf("%w: open: %w", errNoBPFTable, err)
	}
	defer rd.Close()
	hits, comms, err := readRecords(rd)
	if err != nil {
		return nil, fmt.Errorf("inspect: processes: read the task_file iterator: %w", err)
	}
	rootFD, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("inspect: processes: %w", &os.PathError{Op: "open", Path: root, Err: err})
	}
	defer unix.Close(rootFD)
	sc := procScanner{rootFD: rootFD}
	for pid := range comms {
		comms[pid] = sc.comm(pid)
	}
	return newProcessTable(hits, comms, 0), nil
}

// iterReadSize is the buffer the iterator is read through, 4,096 records.
const iterReadSize = 64 << 10

// readRecords decodes the iterator's records as they are read, with a
// command name of "" for each process that holds a socket: the records
// are the table, so no copy of the stream is kept.
func readRecords(r io.Reader) ([]fdHit, map[int32]string, error) {
	var hits []fdHit
	comms := map[int32]string{}
	ne := binary.NativeEndian
	buf := make([]byte, iterReadSize)
	have := 0         // bytes of buf not yet decoded: a record cut short
	var lastPID int32 // the iterator goes process by process
	for {
		n, err := r.Read(buf[have:])
		have += n
		b := buf[:have]
		for ; len(b) >= fdRecordSize; b = b[fdRecordSize:] {
			h := fdHit{inode: ne.Uint64(b), pid: int32(ne.Uint32(b[8:])), fd: int32(ne.Uint32(b[12:]))}
			hits = append(hits, h)
			if h.pid != lastPID || len(hits) == 1 {
				comms[h.pid] = ""
				lastPID = h.pid
			}
		}
		have = copy(buf, b)
		switch {
		case err == io.EOF && have != 0:
			return nil, nil, fmt.Errorf("%d bytes at the end, not a whole %d-byte record", have, fdRecordSize)
		case err == io.EOF:
			return hits, comms, nil
		case err != nil:
			return nil, nil, err
		}
	}
}
