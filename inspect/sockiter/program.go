package sockiter

import (
	"github.com/cilium/ebpf/asm"
)

// A record is what the programs write for each socket, recordSize bytes.
// Ports and addresses are in network byte order as the kernel keeps them,
// except the local port (skc_num), which is in host order; every other
// field is in native order.
const (
	recordSize = 80

	offCookie  = 0  // u64: the socket cookie (bpf_get_socket_cookie)
	offInode   = 8  // u64: the socket's inode, 0 for none
	offNetNS   = 16 // u32: ns.inum of the socket's namespace
	offUID     = 20 // u32: the iterator's uid
	offFamily  = 24 // u16: AF_INET or AF_INET6
	offState   = 26 // u8: skc_state, or a timewait socket's tw_substate
	offSport   = 28 // u16, host order
	offDport   = 30 // __be16
	offSaddr   = 32 // 4 or 16 bytes
	offDaddr   = 48 // 4 or 16 bytes
	offRecvQ   = 64 // u32: as the kernel subtracts it, clamped by decode
	offSendQ   = 68 // u32
	offBoundIf = 72 // u32: skc_bound_dev_if
)

// The kernel's numbers the programs test (include/net/tcp_states.h,
// include/linux/socket.h).
const (
	afInet6         = 10
	tcpEstablished  = 1
	tcpTimeWait     = 6
	tcpClose        = 7
	tcpListen       = 10
	tcpNewSynRecv   = 12
	tcpSynRecv      = 3
	protoStackFrame = -recordSize // the record, on the stack
)

// Registers the programs keep across calls.
const (
	rCtx = asm.R6 // the iterator's context
	rSk  = asm.R7 // the socket, as struct sock_common (tcp) or udp_sock
	rAux = asm.R8 // the family, then the full socket (tcp)
	rSt  = asm.R9 // the state
)

// common starts a program: it loads the socket from the context at
// skOff, ends the program when there is none (the iteration's last
// call), zeroes the record and fills in what every socket has in its
// struct sock_common.
func common(l *layout, skOff, uidOff int16) asm.Instructions {
	const rec = protoStackFrame
	insns := asm.Instructions{
		asm.Mov.Reg(rCtx, asm.R1),
		asm.LoadMem(rSk, rCtx, skOff, asm.DWord),
		asm.JEq.Imm(rSk, 0, "out"),
		asm.Mov.Imm(asm.R1, 0),
	}
	for off := int16(0); off < recordSize; off += 8 {
		insns = append(insns, asm.StoreMem(asm.RFP, rec+off, asm.R1, asm.DWord))
	}
	return append(insns,
		asm.Mov.Reg(asm.R1, rSk),
		asm.FnGetSocketCookie.Call(),
		asm.StoreMem(asm.RFP, rec+offCookie, asm.R0, asm.DWord),
		asm.LoadMem(asm.R1, rSk, l.net, asm.DWord),
		asm.JEq.Imm(asm.R1, 0, "nonet"),
		asm.LoadMem(asm.R1, asm.R1, l.inum, asm.Word),
		asm.StoreMem(asm.RFP, rec+offNetNS, asm.R1, asm.Word),
		asm.LoadMem(asm.R1, rCtx, uidOff, asm.Word).WithSymbol("nonet"),
		asm.StoreMem(asm.RFP, rec+offUID, asm.R1, asm.Word),
		asm.LoadMem(rAux, rSk, l.family, asm.Half),
		asm.StoreMem(asm.RFP, rec+offFamily, rAux, asm.Half),
		asm.LoadMem(rSt, rSk, l.state, asm.Byte),
		asm.StoreMem(asm.RFP, rec+offState, rSt, asm.Byte),
		asm.LoadMem(asm.R1, rSk, l.num, asm.Half),
		asm.StoreMem(asm.RFP, rec+offSport, asm.R1, asm.Half),
		asm.LoadMem(asm.R1, rSk, l.dport, asm.Half),
		asm.StoreMem(asm.RFP, rec+offDport, asm.R1, asm.Half),
		asm.LoadMem(asm.R1, rSk, l.boundDev, asm.Word),
		asm.StoreMem(asm.RFP, rec+offBoundIf, asm.R1, asm.Word),
		asm.JEq.Imm(rAux, afInet6, "v6"),
		asm.LoadMem(asm.R1, rSk, l.rcvSaddr, asm.Word),
		asm.StoreMem(asm.RFP, rec+offSaddr, asm.R1, asm.Word),
		asm.LoadMem(asm.R1, rSk, l.daddr, asm.Word),
		asm.StoreMem(asm.RFP, rec+offDaddr, asm.R1, asm.Word),
		asm.Ja.Label("addrs"),
		// An in6_addr is copied whole: the verifier allows a direct
		// load only of a member's size.
		asm.Mov.Reg(asm.R1, asm.RFP).WithSymbol("v6"),
		asm.Add.Imm(asm.R1, rec+offSaddr),
		asm.Mov.Imm(asm.R2, 16),
		asm.Mov.Reg(asm.R3, rSk),
		asm.Add.Imm(asm.R3, int32(l.v6Saddr)),
		asm.FnProbeReadKernel.Call(),
		asm.Mov.Reg(asm.R1, asm.RFP),
		asm.Add.Imm(asm.R1, rec+offDaddr),
		asm.Mov.Imm(asm.R2, 16),
		asm.Mov.Reg(asm.R3, rSk),
		asm.Add.Imm(asm.R3, int32(l.v6Daddr)),
		asm.FnProbeReadKernel.Call(),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("addrs"),
	)
}

// inode follows sk (a full socket, in register sk) to its file's inode
// number, sock_i_ino's way, and jumps to emit: an orphaned socket has no
// file.
func inode(l *layout, sk asm.Register) asm.Instructions {
	return asm.Instructions{
		asm.LoadMem(asm.R1, sk, l.skSocket, asm.DWord),
		asm.JEq.Imm(asm.R1, 0, "emit"),
		asm.LoadMem(asm.R1, asm.R1, l.socketFile, asm.DWord),
		asm.JEq.Imm(asm.R1, 0, "emit"),
		asm.LoadMem(asm.R1, asm.R1, l.fileInode, asm.DWord),
		asm.JEq.Imm(asm.R1, 0, "emit"),
		asm.LoadMem(asm.R1, asm.R1, l.inodeIno, asm.DWord),
		asm.StoreMem(asm.RFP, protoStackFrame+offInode, asm.R1, asm.DWord),
	}
}

// emit writes the record to the iterator's seq_file, from the context's
// meta at metaOff, and ends the program.
func emit(l *layout, metaOff int16) asm.Instructions {
	return asm.Instructions{
		asm.LoadMem(asm.R1, rCtx, metaOff, asm.DWord).WithSymbol("emit"),
		asm.LoadMem(asm.R1, asm.R1, l.metaSeq, asm.DWord),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, protoStackFrame),
		asm.Mov.Imm(asm.R3, recordSize),
		asm.FnSeqWrite.Call(),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("out"),
		asm.Return(),
	}
}

// tcpProgram writes a record for every TCP socket, request socket and
// timewait socket, with the queues as tcp_diag_get_info has them: a
// listener's accept backlog and its limit, else the unread and the
// unacknowledged bytes.
func tcpProgram(l *layout) asm.Instructions {
	const rec = protoStackFrame
	insns := common(l, l.tcpSk, l.tcpUID)
	insns = append(insns,
		asm.JEq.Imm(rSt, tcpTimeWait, "tw"),
		asm.JEq.Imm(rSt, tcpNewSynRecv, "emit"),
		asm.Mov.Reg(asm.R1, rSk),
		asm.FnSkcToTcpSock.Call(),
		asm.JEq.Imm(asm.R0, 0, "emit"),
		asm.Mov.Reg(rAux, asm.R0),
		asm.JNE.Imm(rSt, tcpListen, "conn"),
		asm.LoadMem(asm.R1, rAux, l.ackBacklog, asm.Word),
		asm.StoreMem(asm.RFP, rec+offRecvQ, asm.R1, asm.Word),
		asm.LoadMem(asm.R1, rAux, l.maxAckBacklog, asm.Word),
		asm.StoreMem(asm.RFP, rec+offSendQ, asm.R1, asm.Word),
		asm.Ja.Label("inode"),
		asm.LoadMem(asm.R1, rAux, l.rcvNxt, asm.Word).WithSymbol("conn"),
		asm.LoadMem(asm.R2, rAux, l.copiedSeq, asm.Word),
		asm.Sub.Reg32(asm.R1, asm.R2),
		asm.StoreMem(asm.RFP, rec+offRecvQ, asm.R1, asm.Word),
		asm.LoadMem(asm.R1, rAux, l.writeSeq, asm.Word),
		asm.LoadMem(asm.R2, rAux, l.sndUna, asm.Word),
		asm.Sub.Reg32(asm.R1, asm.R2),
		asm.StoreMem(asm.RFP, rec+offSendQ, asm.R1, asm.Word),
	)
	in := inode(l, rAux)
	in[0] = in[0].WithSymbol("inode")
	insns = append(insns, in...)
	insns = append(insns,
		asm.Ja.Label("emit"),
		// A timewait socket reports its substate, as inet_diag does:
		// TIME_WAIT, or FIN_WAIT2 for an orphan kept as one.
		asm.Mov.Reg(asm.R1, asm.RFP).WithSymbol("tw"),
		asm.Add.Imm(asm.R1, rec+offState),
		asm.Mov.Imm(asm.R2, 1),
		asm.Mov.Reg(asm.R3, rSk),
		asm.Add.Imm(asm.R3, int32(l.twSubstate)),
		asm.FnProbeReadKernel.Call(),
	)
	return append(insns, emit(l, l.tcpMeta)...)
}

// udpProgram writes a record for every UDP socket, with the queues as
// udp_diag_get_info has them: the receive memory less the forward
// deficit, and the send memory.
func udpProgram(l *layout) asm.Instructions {
	const rec = protoStackFrame
	insns := common(l, l.udpSk, l.udpUID)
	insns = append(insns,
		asm.LoadMem(asm.R1, rSk, l.rmemAlloc, asm.Word),
		asm.LoadMem(asm.R2, rSk, l.forwardDeficit, asm.Word),
		asm.Sub.Reg32(asm.R1, asm.R2),
		asm.StoreMem(asm.RFP, rec+offRecvQ, asm.R1, asm.Word),
		asm.LoadMem(asm.R1, rSk, l.wmemAlloc, asm.Word),
		asm.Sub.Imm32(asm.R1, 1),
		asm.StoreMem(asm.RFP, rec+offSendQ, asm.R1, asm.Word),
	)
	insns = append(insns, inode(l, rSk)...)
	return append(insns, emit(l, l.udpMeta)...)
}
