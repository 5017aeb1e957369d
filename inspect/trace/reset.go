package trace

import (
	"github.com/cilium/ebpf/asm"

	"github.com/sockstate/sockstate/inspect"
)

// resetProgram returns the eBPF program for the BTF-enabled raw tracepoint
// tcp:tcp_receive_reset (kind kindResetReceived), whose first argument is
// the socket that got the RST (tcp_reset, before it moves the socket to
// CLOSE), or tcp:tcp_send_reset (kindResetSent), whose first argument is
// the socket that sends one, or NULL for a segment no socket owns
// (include/trace/events/tcp.h). It writes one record of its kind, with
// the socket's state as both old and new state, for the TCP sockets of
// the namespace whose nsfs inode number is inum: the reader keeps it to
// give the socket's move to CLOSE its cause. A reset that interrupts
// another program on the CPU is skipped by the kernel (prog->active);
// sk_err, which every record carries, tells the cause without it.
func resetProgram(l *layout, inum uint32, m maps, kind int32) asm.Instructions {
	const (
		ctx = asm.R6
		sk  = asm.R7
		rec = asm.R8
	)
	insns := asm.Instructions{
		asm.Mov.Reg(ctx, asm.R1),
		asm.LoadMem(sk, ctx, 0, asm.DWord),
		asm.JEq.Imm(sk, 0, "out"),
	}
	insns = append(insns, keep(l, inum, sk)...)
	states := asm.Instructions{
		asm.LoadMem(asm.R2, sk, l.state, asm.Byte),
		asm.StoreMem(rec, recOld, asm.R2, asm.Word),
		asm.StoreMem(rec, recNew, asm.R2, asm.Word),
	}
	return append(insns, record(l, m, sk, rec, kind, states)...)
}

// The errors the kernel leaves in sk_err when it ends a connection, from
// include/uapi/asm-generic/errno.h (Linux's numbers on every architecture
// the tracer runs on).
const (
	errEPIPE        = 32
	errECONNABORTED = 103
	errECONNRESET   = 104
	errETIMEDOUT    = 110
	errECONNREFUSED = 111
)

// resetFlags holds what reset records said of a socket before its move
// to CLOSE.
type resetFlags uint8

const (
	gotReset resetFlags = 1 << iota
	sentReset
)

// maxResets bounds the sockets resets remembers: a socket that gets or
// sends an RST and stays open (a listener answering stray segments) is
// remembered until it closes.
const maxResets = 1 << 16

// resets remembers the RSTs sockets got and sent until their move to CLOSE,
// by cookie.
type resets map[uint64]resetFlags

// note remembers the reset record tr of kind. A record for a socket in
// CLOSE already is the RST the kernel sends after it (tcp_disconnect and a
// close with unread data move the socket to CLOSE first): its cause was
// given then.
func (r *resets) note(tr *Transition, kind uint32) {
	if tr.To == inspect.Close {
		return
	}
	if *r == nil || len(*r) >= maxResets {
		*r = resets{}
	}
	switch kind {
	case kindResetReceived:
		(*r)[tr.Cookie] |= gotReset
	case kindResetSent:
		(*r)[tr.Cookie] |= sentReset
	}
}

// cause returns why tr, a move to CLOSE, ends its socket, and forgets the
// socket's resets. It reads, in order: a listener closes; the error the
// kernel left in sk_err (tcp_reset sets ECONNREFUSED in SYN_SENT,
// ECONNRESET or EPIPE otherwise; tcp_write_err ETIMEDOUT; tcp_abort
// ECONNABORTED); the resets recorded; and the state left: from a
// synchronized state with no error, the owner closed with SO_LINGER {1, 0}
// or unread data, or a listener with the connection in its queue, and the
// kernel sends an RST after the move (tcp_disconnect, __tcp_close); from
// SYN_SENT the owner gave up the connect; from LAST_ACK, or from FIN_WAIT2
// and CLOSING when no time-wait socket is left, the close was orderly.
func (r resets) cause(tr *Transition) inspect.Cause {
	flags := r[tr.Cookie]
	delete(r, tr.Cookie)
	switch {
	case tr.From == inspect.Listen:
		return inspect.CauseClosed
	case tr.Err == errECONNREFUSED:
		return inspect.CauseRefused
	case tr.Err == errETIMEDOUT:
		return inspect.CauseTimeout
	case tr.Err == errECONNABORTED:
		return inspect.CauseAborted
	case flags&gotReset != 0 && tr.From == inspect.SynSent:
		return inspect.CauseRefused
	case flags&gotReset != 0 || tr.Err == errECONNRESET || tr.Err == errEPIPE:
		return inspect.CauseResetReceived
	case flags&sentReset != 0:
		return inspect.CauseResetSent
	case tr.Err != 0:
		return inspect.CauseAborted
	}
	switch tr.From {
	case inspect.Established, inspect.CloseWait, inspect.FinWait1, inspect.SynRecv:
		return inspect.CauseResetSent
	case inspect.SynSent:
		return inspect.CauseAborted
	}
	return inspect.CauseClosed
}
