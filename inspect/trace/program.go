package trace

import (
	"fmt"

	"github.com/cilium/ebpf/asm"
)

// The record the program writes into the ring buffer for each transition.
// Addresses and ports are copied as the kernel keeps them, in network byte
// order; every other field is in native order.
const (
	recTime     = 0   // u64 bpf_ktime_get_ns(): CLOCK_MONOTONIC
	recSK       = 8   // u64 the struct sock pointer
	recCookie   = 16  // u64 bpf_get_socket_cookie(sk)
	recDrops    = 24  // u64 the drop counter as the record was written
	recSaddr4   = 32  // [4]  inet_saddr
	recDaddr4   = 36  // [4]  skc_daddr
	recSaddr6   = 40  // [16] skc_v6_rcv_saddr
	recDaddr6   = 56  // [16] skc_v6_daddr
	recSport    = 72  // u16 inet_sport, network order
	recDport    = 74  // u16 skc_dport, network order
	recFamily   = 76  // u16 skc_family
	recProtocol = 78  // u16 sk_protocol
	recOld      = 80  // u32 the tracepoint's oldstate
	recNew      = 84  // u32 the tracepoint's newstate
	recErr      = 88  // u32 sk_err, the socket's pending error
	recKind     = 92  // u32 what the record reports (kindTransition, kindReset...)
	recAcked    = 96  // u64 tcp_sock's bytes_acked
	recReceived = 104 // u64 tcp_sock's bytes_received
	recInode    = 112 // u64 sk->sk_socket->file->f_inode->i_ino, 0 without a file
	recFlags    = 120 // u64 sk_flags (skc_flags): SOCK_DONE once the peer's FIN came
	recNetNS    = 128 // u32 sk->__sk_common.skc_net.net->ns.inum: the namespace's nsfs inode
	recordSize  = 136
)

// The kinds of record: a state change, from sock:inet_sock_set_state, or a
// reset, from tcp:tcp_receive_reset or tcp:tcp_send_reset, whose old and
// new states are both the socket's state at the reset.
const (
	kindTransition    = 0
	kindResetReceived = 1
	kindResetSent     = 2
)

const ipprotoTCP = 6

// The per-CPU value of the claims map, through which the two copies of
// the program agree on who records an event. Native order.
const (
	claimNext   = 0 // u64 how many tokens the primary copy has written
	claimBackup = 8 // u64 events the backup copy recorded
	claimSlots  = 16
	claimSize   = claimSlots + 8*claimSlotCount

	// claimSlotCount is how many tokens the primary keeps, a power of
	// two: enough for the state changes of one softirq's burst of
	// packets between the two copies of one event.
	claimSlotCount = 16
)

// maps are the file descriptors of the program's maps.
type maps struct {
	events int // BPF_MAP_TYPE_RINGBUF: the records
	drops  int // BPF_MAP_TYPE_ARRAY, one u64: records the full ring refused
	claims int // BPF_MAP_TYPE_PERCPU_ARRAY, one claimSize value
}

// program returns one of the two copies of the eBPF program for the
// BTF-enabled raw tracepoint sock:inet_sock_set_state, whose context is the
// tracepoint's arguments as u64 slots: (const struct sock *sk, const int
// oldstate, const int newstate), TP_PROTO in include/trace/events/sock.h.
// sk is a BTF pointer, so the program loads struct sock's fields directly
// and the verifier checks each load against the BTF.
//
// It reads the fields the tracepoint's own TP_fast_assign reads. The local
// port comes from inet_sport, not skc_num: at the last move to CLOSE,
// tcp_set_state has already called inet_put_port, which zeroes skc_num,
// while inet_sport keeps the port.
//
// It keeps TCP sockets of the network namespace whose nsfs inode number is
// inum, or of every namespace for inum 0 (no namespace has it), and writes one record per transition into the ring buffer. When
// the ring is full it adds one to the drop counter instead, and every
// record carries that counter's value, so the reader learns of a gap from
// the next record.
//
// Two copies run because the kernel runs a program at most once per CPU
// at a time (__bpf_trace_run's prog->active): a state change in a softirq
// that interrupts the program, say while close(2) moves a socket to
// FIN_WAIT1, is skipped and only counted as a recursion miss. Under churn
// that loses about one transition in 3,000. The tracepoint calls the
// copies one after the other, primary first. The primary first writes the
// event's token (cookie << 16 | oldstate << 8 | newstate) into one of 16
// per-CPU slots in turn, then records the event if it is one to keep. The
// backup runs next: finding the token, it clears it and stops; not finding
// it, the primary was skipped, so it counts the event and records it if it
// is one to keep. Both do this for every event of the tracepoint, before
// the protocol and namespace filters, because the kernel counts the
// primary's recursion misses for every event: a count of the kept ones
// only would leave the misses of other namespaces' events, and of MPTCP
// sockets, looking like losses. An event interrupting the primary finds
// the primary busy and the backup free; one interrupting the backup finds
// the primary free. Only a third level of nesting could skip both, and the
// reader can tell: the primary's recursion misses less the backup's count
// (an upper bound: it counts other namespaces' events too, and is 0 in
// practice). When more than 16 state changes come between the copies of
// one event, the backup no longer finds the token and records the event
// again, counting it as a skipped primary's; the reader drops that repeat
// (see repeats), and the count can hide only a loss of the third level.
func program(l *layout, inum uint32, m maps, backup bool) asm.Instructions {
	const (
		ctx   = asm.R6
		sk    = asm.R7
		rec   = asm.R8
		token = asm.R9
	)

	insns := asm.Instructions{
		asm.Mov.Reg(ctx, asm.R1),
		asm.LoadMem(sk, ctx, 0, asm.DWord),

		// The event's token, for every event of the tracepoint, before
		// any filter: the kernel counts the primary's recursion misses
		// whatever the socket, so the backup must tell them all. The
		// cookie stands for the socket: the verifier forbids arithmetic
		// on the pointer.
		asm.Mov.Reg(asm.R1, sk),
		asm.FnGetSocketCookie.Call(),
		asm.Mov.Reg(token, asm.R0),
		asm.LSh.Imm(token, 8),
		asm.LoadMem(asm.R2, ctx, 8, asm.DWord),
		asm.And.Imm(asm.R2, 0xff),
		asm.Or.Reg(token, asm.R2),
		asm.LSh.Imm(token, 8),
		asm.LoadMem(asm.R2, ctx, 16, asm.DWord),
		asm.And.Imm(asm.R2, 0xff),
		asm.Or.Reg(token, asm.R2),
	}
	if backup {
		insns = append(insns, lookup(m.claims)...)
		insns = append(insns, asm.JEq.Imm(asm.R0, 0, "filter"))
		for i := int16(0); i < claimSlotCount; i++ {
			next := fmt.Sprintf("slot%d", i+1)
			insns = append(insns,
				asm.LoadMem(asm.R2, asm.R0, claimSlots+8*i, asm.DWord),
				asm.JNE.Reg(asm.R2, token, next),
				asm.Mov.Imm(asm.R2, 0),
				asm.StoreMem(asm.R0, claimSlots+8*i, asm.R2, asm.DWord),
				asm.Ja.Label("out"),
			)
			if i > 0 {
				insns[len(insns)-5] = insns[len(insns)-5].WithSymbol(fmt.Sprintf("slot%d", i))
			}
		}
		insns = append(insns,
			asm.Mov.Imm(asm.R2, 1).WithSymbol(fmt.Sprintf("slot%d", claimSlotCount)),
			asm.AddAtomic.Mem(asm.R0, asm.R2, asm.DWord, claimBackup),
		)
	} else {
		// slots[next % claimSlotCount] = token; next++
		insns = append(insns, lookup(m.claims)...)
		insns = append(insns,
			asm.JEq.Imm(asm.R0, 0, "filter"),
			asm.LoadMem(asm.R1, asm.R0, claimNext, asm.DWord),
			asm.Mov.Reg(asm.R2, asm.R1),
			asm.Add.Imm(asm.R2, 1),
			asm.StoreMem(asm.R0, claimNext, asm.R2, asm.DWord),
			asm.And.Imm(asm.R1, claimSlotCount-1),
			asm.LSh.Imm(asm.R1, 3),
			asm.Add.Reg(asm.R0, asm.R1),
			asm.StoreMem(asm.R0, claimSlots, token, asm.DWord),
		)
	}
	insns = append(insns, keep(l, inum, sk)...)

	states := asm.Instructions{
		asm.LoadMem(asm.R2, ctx, 8, asm.DWord),
		asm.StoreMem(rec, recOld, asm.R2, asm.Word),
		asm.LoadMem(asm.R2, ctx, 16, asm.DWord),
		asm.StoreMem(rec, recNew, asm.R2, asm.Word),
	}
	return append(insns, record(l, m, sk, rec, kindTransition, states)...)
}

// lookup returns the instructions that leave a pointer to slot 0 of the
// array fd, or NULL, in R0, with the key, a u32 0, on the stack at -4.
func lookup(fd int) asm.Instructions {
	const keyOff = -4
	return asm.Instructions{
		asm.StoreImm(asm.RFP, keyOff, 0, asm.Word),
		asm.LoadMapPtr(asm.R1, fd),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, keyOff),
		asm.FnMapLookupElem.Call(),
	}
}

// keep returns the instructions that go to "out" unless the socket in
// register sk is TCP (SCTP and MPTCP sockets change state through the same
// tracepoint) and of the network namespace whose inode number is inum
// (sk->__sk_common.skc_net.net->ns.inum); inum 0 keeps every namespace.
// Its first is labelled "filter".
func keep(l *layout, inum uint32, sk asm.Register) asm.Instructions {
	insns := asm.Instructions{
		asm.LoadMem(asm.R2, sk, l.protocol, asm.Half).WithSymbol("filter"),
		asm.JNE.Imm(asm.R2, ipprotoTCP, "out"),
	}
	if inum == 0 {
		return insns
	}
	return append(insns,
		asm.LoadMem(asm.R2, sk, l.net, asm.DWord),
		asm.LoadMem(asm.R2, asm.R2, l.inum, asm.Word),
		asm.JNE.Imm32(asm.R2, int32(inum), "out"),
	)
}

// record returns the instructions that write one record of kind for the
// socket in register sk, with rec for the record's pointer, states
// filling its old and new states, then return 0 (label "out"). The drop
// counter takes one when the ring is full.
func record(l *layout, m maps, sk, rec asm.Register, kind int32, states asm.Instructions) asm.Instructions {
	load := func(from, to int16, size asm.Size) asm.Instructions {
		return asm.Instructions{
			asm.LoadMem(asm.R2, sk, from, size),
			asm.StoreMem(rec, to, asm.R2, size),
		}
	}
	probeRead := func(from, to int16, size int32) asm.Instructions {
		return asm.Instructions{
			asm.Mov.Reg(asm.R1, rec),
			asm.Add.Imm(asm.R1, int32(to)),
			asm.Mov.Imm(asm.R2, size),
			asm.Mov.Reg(asm.R3, sk),
			asm.Add.Imm(asm.R3, int32(from)),
			asm.FnProbeReadKernel.Call(),
		}
	}
	insns := asm.Instructions{
		asm.LoadMapPtr(asm.R1, m.events).WithSymbol("record"),
		asm.Mov.Imm(asm.R2, recordSize),
		asm.Mov.Imm(asm.R3, 0),
		asm.FnRingbufReserve.Call(),
		asm.JEq.Imm(asm.R0, 0, "lost"),
		asm.Mov.Reg(rec, asm.R0),

		asm.FnKtimeGetNs.Call(),
		asm.StoreMem(rec, recTime, asm.R0, asm.DWord),
		asm.StoreMem(rec, recSK, sk, asm.DWord),
		asm.Mov.Reg(asm.R1, sk),
		asm.FnGetSocketCookie.Call(),
		asm.StoreMem(rec, recCookie, asm.R0, asm.DWord),
	}
	insns = append(insns, probeRead(l.saddr, recSaddr4, 4)...)
	insns = append(insns, load(l.daddr, recDaddr4, asm.Word)...)
	for i := int16(0); i < 16; i += 4 {
		insns = append(insns, load(l.v6RcvSaddr+i, recSaddr6+i, asm.Word)...)
		insns = append(insns, load(l.v6Daddr+i, recDaddr6+i, asm.Word)...)
	}
	insns = append(insns, probeRead(l.sport, recSport, 2)...)
	insns = append(insns, probeRead(l.bytesAcked, recAcked, 8)...)
	insns = append(insns, probeRead(l.bytesReceived, recReceived, 8)...)
	insns = append(insns, load(l.dport, recDport, asm.Half)...)
	insns = append(insns, load(l.family, recFamily, asm.Half)...)
	insns = append(insns, load(l.protocol, recProtocol, asm.Half)...)
	insns = append(insns, states...)
	insns = append(insns, load(l.skErr, recErr, asm.Word)...)
	insns = append(insns, load(l.flags, recFlags, asm.DWord)...)
	insns = append(insns,
		asm.LoadMem(asm.R2, sk, l.net, asm.DWord),
		asm.LoadMem(asm.R2, asm.R2, l.inum, asm.Word),
		asm.StoreMem(rec, recNetNS, asm.R2, asm.Word),
	)
	// The inode of the socket's file: BTF pointers, each load checked
	// by the verifier, NULL until the socket has a file (a connection
	// not yet accepted) and after close(2).
	insns = append(insns,
		asm.LoadMem(asm.R2, sk, l.skSocket, asm.DWord),
		asm.JEq.Imm(asm.R2, 0, "noinode"),
		asm.LoadMem(asm.R2, asm.R2, l.socketFile, asm.DWord),
		asm.JEq.Imm(asm.R2, 0, "noinode"),
		asm.LoadMem(asm.R2, asm.R2, l.fileInode, asm.DWord),
		asm.JEq.Imm(asm.R2, 0, "noinode"),
		asm.LoadMem(asm.R2, asm.R2, l.inodeIno, asm.DWord),
		asm.Ja.Label("inode"),
		asm.Mov.Imm(asm.R2, 0).WithSymbol("noinode"),
		asm.StoreMem(rec, recInode, asm.R2, asm.DWord).WithSymbol("inode"),
	)
	insns = append(insns, asm.StoreImm(rec, recKind, int64(kind), asm.Word))
	insns = append(insns, lookup(m.drops)...)
	insns = append(insns,
		asm.Mov.Imm(asm.R2, 0),
		asm.JEq.Imm(asm.R0, 0, "stamp"),
		asm.LoadMem(asm.R2, asm.R0, 0, asm.DWord),
		asm.StoreMem(rec, recDrops, asm.R2, asm.DWord).WithSymbol("stamp"),
		asm.Mov.Reg(asm.R1, rec),
		asm.Mov.Imm(asm.R2, 0),
		asm.FnRingbufSubmit.Call(),
		asm.Ja.Label("out"),
	)
	lost := lookup(m.drops)
	lost[0] = lost[0].WithSymbol("lost")
	insns = append(insns, lost...)
	insns = append(insns,
		asm.JEq.Imm(asm.R0, 0, "out"),
		asm.Mov.Imm(asm.R1, 1),
		asm.AddAtomic.Mem(asm.R0, asm.R1, asm.DWord, 0),
	)
	insns = append(insns,
		asm.Mov.Imm(asm.R0, 0).WithSymbol("out"),
		asm.Return(),
	)
	return insns
}
