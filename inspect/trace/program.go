package trace

import (
	"github.com/cilium/ebpf/asm"
)

// The record the program writes into the ring buffer for each transition.
// Addresses and ports are copied as the kernel keeps them, in network byte
// order; every other field is in native order.
const (
	recTime     = 0  // u64 bpf_ktime_get_ns(): CLOCK_MONOTONIC
	recSK       = 8  // u64 the struct sock pointer
	recCookie   = 16 // u64 bpf_get_socket_cookie(sk)
	recDrops    = 24 // u64 the drop counter as the record was written
	recSaddr4   = 32 // [4]  inet_saddr
	recDaddr4   = 36 // [4]  skc_daddr
	recSaddr6   = 40 // [16] skc_v6_rcv_saddr
	recDaddr6   = 56 // [16] skc_v6_daddr
	recSport    = 72 // u16 inet_sport, network order
	recDport    = 74 // u16 skc_dport, network order
	recFamily   = 76 // u16 skc_family
	recProtocol = 78 // u16 sk_protocol
	recOld      = 80 // u32 the tracepoint's oldstate
	recNew      = 84 // u32 the tracepoint's newstate
	recordSize  = 88
)

const ipprotoTCP = 6

// program returns the eBPF program for the BTF-enabled raw tracepoint
// sock:inet_sock_set_state, whose context is the tracepoint's arguments as
// u64 slots: (const struct sock *sk, const int oldstate, const int
// newstate), TP_PROTO in include/trace/events/sock.h. sk is a BTF pointer,
// so the program loads struct sock's fields directly and the verifier
// checks each load against the BTF.
//
// It reads the fields the tracepoint's own TP_fast_assign reads. The local
// port comes from inet_sport, not skc_num: at the last move to CLOSE,
// tcp_set_state has already called inet_put_port, which zeroes skc_num,
// while inet_sport keeps the port.
//
// It keeps TCP sockets of the network namespace whose nsfs inode number is
// inum, and writes one record per transition into the ring buffer events.
// When the ring is full it adds one to the u64 in slot 0 of the array
// drops instead, and every record carries that counter's value, so the
// reader learns of a gap from the next record.
func program(l *layout, inum uint32, events, drops int) asm.Instructions {
	const (
		ctx    = asm.R6
		sk     = asm.R7
		rec    = asm.R8
		keyOff = -4 // a u32 on the stack: the drops array's key, 0
	)
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
	// lookupDrops leaves a pointer to the drop counter, or NULL, in R0.
	lookupDrops := func() asm.Instructions {
		return asm.Instructions{
			asm.StoreImm(asm.RFP, keyOff, 0, asm.Word),
			asm.LoadMapPtr(asm.R1, drops),
			asm.Mov.Reg(asm.R2, asm.RFP),
			asm.Add.Imm(asm.R2, keyOff),
			asm.FnMapLookupElem.Call(),
		}
	}

	insns := asm.Instructions{
		asm.Mov.Reg(ctx, asm.R1),
		asm.LoadMem(sk, ctx, 0, asm.DWord),
		// TCP only: SCTP and MPTCP sockets change state through the
		// same tracepoint.
		asm.LoadMem(asm.R2, sk, l.protocol, asm.Half),
		asm.JNE.Imm(asm.R2, ipprotoTCP, "out"),
		// Only the namespace asked for: sk->__sk_common.skc_net.net->ns.inum.
		asm.LoadMem(asm.R2, sk, l.net, asm.DWord),
		asm.LoadMem(asm.R2, asm.R2, l.inum, asm.Word),
		asm.JNE.Imm32(asm.R2, int32(inum), "out"),

		asm.LoadMapPtr(asm.R1, events),
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
	insns = append(insns, load(l.dport, recDport, asm.Half)...)
	insns = append(insns, load(l.family, recFamily, asm.Half)...)
	insns = append(insns, load(l.protocol, recProtocol, asm.Half)...)
	insns = append(insns,
		asm.LoadMem(asm.R2, ctx, 8, asm.DWord),
		asm.StoreMem(rec, recOld, asm.R2, asm.Word),
		asm.LoadMem(asm.R2, ctx, 16, asm.DWord),
		asm.StoreMem(rec, recNew, asm.R2, asm.Word),
	)
	insns = append(insns, lookupDrops()...)
	insns = append(insns,
		asm.Mov.Imm(asm.R2, 0),
		asm.JEq.Imm(asm.R0, 0, "stamp"),
		asm.LoadMem(asm.R2, asm.R0, 0, asm.DWord),
		asm.StoreMem(rec, recDrops, asm.R2, asm.DWord).WithSymbol("stamp"),
		asm.Mov.Reg(asm.R1, rec),
		asm.Mov.Imm(asm.R2, 0),
		asm.FnRingbufSubmit.Call(),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("out"),
		asm.Return(),
	)
	lost := lookupDrops()
	lost[0] = lost[0].WithSymbol("lost")
	insns = append(insns, lost...)
	insns = append(insns,
		asm.JEq.Imm(asm.R0, 0, "out"),
		asm.Mov.Imm(asm.R1, 1),
		asm.AddAtomic.Mem(asm.R0, asm.R1, asm.DWord, 0),
		asm.Ja.Label("out"),
	)
	return insns
}
