package capture

import (
	"fmt"

	"golang.org/x/net/bpf"
)

// Frame offsets on an Ethernet link (loopback included): the EtherType at
// 12, the IP header at 14. Network byte order throughout, as the classic
// BPF loads it.
const (
	ethType   = 12
	ipStart   = 14
	etherIPv4 = 0x0800
	etherIPv6 = 0x86dd
	protoTCP  = 6
	// An IPv6 header is 40 bytes; the filter takes TCP only as the first
	// next header, which is all the kernel's own TCP sends.
	ip6Len = 40
	// snapLen keeps whole frames: loopback's MTU is 65536.
	snapLen = 0x40000
)

// Filter returns the classic BPF program that keeps the TCP segments to or
// from port over IPv4 or IPv6, whole, and drops every other frame.
func Filter(port uint16) ([]bpf.RawInstruction, error) {
	p := uint32(port)
	prog := []bpf.Instruction{
		/* 0 */ bpf.LoadAbsolute{Off: ethType, Size: 2},
		/* 1 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: etherIPv4, SkipFalse: 9},
		// IPv4: TCP, not a later fragment, then the ports past the
		// header length the IHL gives.
		/* 2 */ bpf.LoadAbsolute{Off: ipStart + 9, Size: 1},
		/* 3 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: protoTCP, SkipFalse: 15},
		/* 4 */ bpf.LoadAbsolute{Off: ipStart + 6, Size: 2},
		/* 5 */ bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: 0x1fff, SkipTrue: 13},
		/* 6 */ bpf.LoadMemShift{Off: ipStart},
		/* 7 */ bpf.LoadIndirect{Off: ipStart, Size: 2},
		/* 8 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: p, SkipTrue: 9},
		/* 9 */ bpf.LoadIndirect{Off: ipStart + 2, Size: 2},
		/* 10 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: p, SkipTrue: 7, SkipFalse: 8},
		/* 11 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: etherIPv6, SkipFalse: 7},
		// IPv6: TCP as the next header, then the ports.
		/* 12 */ bpf.LoadAbsolute{Off: ipStart + 6, Size: 1},
		/* 13 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: protoTCP, SkipFalse: 5},
		/* 14 */ bpf.LoadAbsolute{Off: ipStart + ip6Len, Size: 2},
		/* 15 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: p, SkipTrue: 2},
		/* 16 */ bpf.LoadAbsolute{Off: ipStart + ip6Len + 2, Size: 2},
		/* 17 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: p, SkipFalse: 1},
		/* 18 */ bpf.RetConstant{Val: snapLen},
		/* 19 */ bpf.RetConstant{Val: 0},
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return nil, fmt.Errorf("capture: filter: %w", err)
	}
	return raw, nil
}
