//go:build !linux

package trace

import (
	"fmt"
	"runtime"
)

// Tracer reports TCP state changes as the kernel makes them; it exists on
// Linux only.
type Tracer struct{}

// Open fails: eBPF tracepoints exist on Linux only.
func Open(opts *Options) (*Tracer, error) {
	return nil, fmt.Errorf("trace: eBPF tracing is not available on %s", runtime.GOOS)
}

// Read fails: see Open.
func (t *Tracer) Read() (Transition, error) {
	return Transition{}, fmt.Errorf("trace: eBPF tracing is not available on %s", runtime.GOOS)
}

// Lost returns 0.
func (t *Tracer) Lost() uint64 { return 0 }

// Close does nothing.
func (t *Tracer) Close() error { return nil }
