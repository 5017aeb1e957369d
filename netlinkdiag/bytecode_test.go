package netlinkdiag

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
)

// op encodes struct inet_diag_bc_op in native byte order.
func op(code, yes uint8, no uint16) []byte {
	return binary.NativeEndian.AppendUint16([]byte{code, yes}, no)
}

// hostcond encodes struct inet_diag_hostcond: port in native byte order,
// the address as given (network order).
func hostcond(family, bits uint8, port int32, addr ...byte) []byte {
	b := binary.NativeEndian.AppendUint32([]byte{family, bits, 0, 0}, uint32(port))
	return append(b, addr...)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestProgramBytes(t *testing.T) {
	loop6 := []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}
	mapped := []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1}
	tests := []struct {
		name  string
		build func(p *Program)
		want  []byte
	}{
		{"empty", func(p *Program) {}, []byte{}},
		{"jump to reject", func(p *Program) { p.Jump(Reject) }, op(bcJmp, 4, 8)},
		{"jump to accept", func(p *Program) { p.Jump(Accept) }, op(bcJmp, 4, 4)},
		{
			"source port at least",
			func(p *Program) { p.PortAtLeast(Source, 1024, Reject) },
			cat(op(bcSGE, 8, 12), op(0, 0, 1024)),
		},
		{
			"dest port at most",
			func(p *Program) { p.PortAtMost(Dest, 65535, Reject) },
			cat(op(bcDLE, 8, 12), op(0, 0, 65535)),
		},
		{
			"source port at most, dest at least",
			func(p *Program) {
				p.PortAtMost(Source, 1, Reject)
				p.PortAtLeast(Dest, 2, Reject)
			},
			cat(op(bcSLE, 8, 20), op(0, 0, 1), op(bcDGE, 8, 12), op(0, 0, 2)),
		},
		{
			"any address, a port",
			func(p *Program) { p.HostCond(Source, netip.Prefix{}, 80, Reject) },
			cat(op(bcSCond, 12, 16), hostcond(0, 0, 80)),
		},
		{
			"IPv4 prefix, any port",
			func(p *Program) { p.HostCond(Dest, netip.MustParsePrefix("10.1.2.3/8"), -1, Reject) },
			cat(op(bcDCond, 16, 20), hostcond(2, 8, -1, 10, 1, 2, 3)),
		},
		{
			"IPv6 address",
			func(p *Program) { p.HostCond(Source, netip.MustParsePrefix("::1/128"), 22, Reject) },
			cat(op(bcSCond, 28, 32), hostcond(10, 128, 22, loop6...)),
		},
		{
			"IPv4-mapped address is IPv6",
			func(p *Program) { p.HostCond(Dest, netip.MustParsePrefix("::ffff:127.0.0.1/120"), -1, Reject) },
			cat(op(bcDCond, 28, 32), hostcond(10, 120, -1, mapped...)),
		},
		{
			// not (sport >= 1): the condition failing jumps over the
			// jump to reject, to the end: accept.
			"label at the end",
			func(p *Program) {
				holds := p.NewLabel()
				p.PortAtLeast(Source, 1, holds)
				p.Jump(Reject)
				p.Bind(holds)
			},
			cat(op(bcSGE, 8, 12), op(0, 0, 1), op(bcJmp, 4, 8)),
		},
		{
			// sport >= 1 or dport >= 2, then sport <= 3.
			"labels inside",
			func(p *Program) {
				tryY, done := p.NewLabel(), p.NewLabel()
				p.PortAtLeast(Source, 1, tryY)
				p.Jump(done)
				p.Bind(tryY)
				p.PortAtLeast(Dest, 2, Reject)
				p.Bind(done)
				p.PortAtMost(Source, 3, Reject)
			},
			cat(op(bcSGE, 8, 12), op(0, 0, 1), op(bcJmp, 4, 12), op(bcDGE, 8, 20), op(0, 0, 2), op(bcSLE, 8, 12), op(0, 0, 3)),
		},
		{
			"two labels at one place",
			func(p *Program) {
				a, b := p.NewLabel(), p.NewLabel()
				p.HostCond(Source, netip.Prefix{}, 1, a)
				p.HostCond(Dest, netip.Prefix{}, 2, b)
				p.Bind(a)
				p.Bind(b)
				p.Jump(Reject)
			},
			cat(op(bcSCond, 12, 24), hostcond(0, 0, 1), op(bcDCond, 12, 12), hostcond(0, 0, 2), op(bcJmp, 4, 8)),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p Program
			tc.build(&p)
			got, err := p.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Errorf("Bytes()\n got % x\nwant % x", got, tc.want)
			}
		})
	}
}

func TestProgramBytesErrors(t *testing.T) {
	t.Run("unbound label", func(t *testing.T) {
		var p Program
		p.Jump(p.NewLabel())
		if b, err := p.Bytes(); err == nil {
			t.Errorf("Bytes() = % x, want an error", b)
		}
	})
	t.Run("backward jump", func(t *testing.T) {
		var p Program
		l := p.NewLabel()
		p.Bind(l)
		p.Jump(l)
		if b, err := p.Bytes(); err == nil {
			t.Errorf("Bytes() = % x, want an error", b)
		}
	})
	t.Run("too long", func(t *testing.T) {
		var p Program
		for range MaxProgramLen/28 + 1 {
			p.HostCond(Source, netip.MustParsePrefix("::/0"), -1, Reject)
		}
		if b, err := p.Bytes(); !errors.Is(err, ErrProgramTooLong) {
			t.Errorf("Bytes() = %d bytes, %v; want ErrProgramTooLong", len(b), err)
		}
	})
	t.Run("longest", func(t *testing.T) {
		var p Program
		for range MaxProgramLen / 4 {
			p.Jump(Accept)
		}
		if b, err := p.Bytes(); err != nil || len(b) != MaxProgramLen {
			t.Errorf("Bytes() = %d bytes, %v; want %d, nil", len(b), err, MaxProgramLen)
		}
	})
}
