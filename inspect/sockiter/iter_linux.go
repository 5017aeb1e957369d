//go:build linux

package sockiter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"

	"github.com/sockstate/sockstate/inspect"
)

// ErrUnavailable wraps the reasons the iterators cannot be used: no
// kernel BTF, no iter/tcp or iter/udp, no CAP_BPF and CAP_PERFMON.
var ErrUnavailable = errors.New("sockiter: BPF socket iterators unavailable")

// Iterators holds the loaded iterator programs. It lists sockets of every
// namespace, each with its Socket.NetNS set.
type Iterators struct {
	progs map[inspect.Protocol]*ebpf.Program
}

var _ inspect.Source = (*Iterators)(nil)

// Open loads the iterators of protos (TCP, UDP). Its error wraps
// ErrUnavailable when the kernel does not allow them.
func Open(protos []inspect.Protocol) (*Iterators, error) {
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		return nil, fmt.Errorf("%w: kernel BTF: %w", ErrUnavailable, err)
	}
	l, err := newLayout(spec)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	it := &Iterators{progs: map[inspect.Protocol]*ebpf.Program{}}
	for _, p := range protos {
		var insns asm.Instructions
		var target string
		switch p {
		case inspect.TCP:
			insns, target = tcpProgram(l), "tcp"
		case inspect.UDP:
			insns, target = udpProgram(l), "udp"
		default:
			it.Close()
			return nil, fmt.Errorf("%w: no iterator for %s", ErrUnavailable, p)
		}
		prog, err := ebpf.NewProgramWithOptions(&ebpf.ProgramSpec{
			Name:         "sockstate_" + target,
			Type:         ebpf.Tracing,
			AttachType:   ebpf.AttachTraceIter,
			AttachTo:     target,
			Instructions: insns,
			License:      "GPL",
		}, ebpf.ProgramOptions{KernelTypes: spec})
		if err != nil {
			it.Close()
			return nil, fmt.Errorf("%w: load iter/%s: %w", ErrUnavailable, target, err)
		}
		it.progs[p] = prog
	}
	return it, nil
}

// Close unloads the programs.
func (it *Iterators) Close() error {
	for _, p := range it.progs {
		p.Close()
	}
	return nil
}

// Sockets lists the sockets q selects in every namespace. The kernel
// filters nothing: q's families, states and Filter are applied here, by
// Filter.Match. q.Info, q.Memory and q.Cgroup are not supported (sock_diag
// has them), nor protocols Open was not given.
func (it *Iterators) Sockets(ctx context.Context, q inspect.Query) ([]inspect.Socket, error) {
	if q.Info || q.Memory || q.Cgroup {
		return nil, fmt.Errorf("%w: tcp_info, memory and cgroups come from sock_diag", ErrUnavailable)
	}
	var out []inspect.Socket
	for _, p := range q.ProtocolsOrDefault() {
		prog, ok := it.progs[p]
		if !ok {
			return nil, fmt.Errorf("%w: %s was not loaded", ErrUnavailable, p)
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		data, err := run(prog)
		if err != nil {
			return nil, fmt.Errorf("sockiter: iter/%s: %w", p, err)
		}
		if len(data)%recordSize != 0 {
			return nil, fmt.Errorf("%w: iter/%s returned %d bytes", errShort, p, len(data))
		}
		families := q.FamiliesOrDefault()
		var s inspect.Socket
		for b := data; len(b) > 0; b = b[recordSize:] {
			ok, err := decode(b, p, &s)
			if err != nil {
				return nil, err
			}
			if !ok || !slices.Contains(families, s.Family) || !q.States.Has(s.State) {
				continue
			}
			if q.Filter != nil && !q.Filter.Match(&s) {
				continue
			}
			out = append(out, s)
		}
	}
	return out, nil
}

// run attaches prog as an iterator and reads one pass of it.
func run(prog *ebpf.Program) ([]byte, error) {
	l, err := link.AttachIter(link.IterOptions{Program: prog})
	if err != nil {
		return nil, fmt.Errorf("attach: %w", err)
	}
	defer l.Close()
	rd, err := l.Open()
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	defer rd.Close()
	return readAll(rd)
}

// readAll reads r to its end into a buffer that starts at room for 13,000
// records and doubles as it fills: io.ReadAll's grows a quarter at a time
// and copies 100,000 sockets' records over and over.
func readAll(r io.Reader) ([]byte, error) {
	b := make([]byte, 0, 1<<20)
	for {
		if len(b) == cap(b) {
			b = slices.Grow(b, cap(b))
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
	}
}
