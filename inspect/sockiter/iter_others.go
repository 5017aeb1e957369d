//go:build !linux

package sockiter

import (
	"context"
	"errors"
	"fmt"
	"runtime"

	"github.com/sockstate/sockstate/inspect"
)

// ErrUnavailable wraps the reasons the iterators cannot be used.
var ErrUnavailable = errors.New("sockiter: BPF socket iterators unavailable")

// Iterators lists sockets of every namespace; only on Linux.
type Iterators struct{}

// Open fails: BPF iterators are Linux's.
func Open([]inspect.Protocol) (*Iterators, error) {
	return nil, fmt.Errorf("%w on %s", ErrUnavailable, runtime.GOOS)
}

// Close does nothing.
func (*Iterators) Close() error { return nil }

// Sockets fails: BPF iterators are Linux's.
func (*Iterators) Sockets(context.Context, inspect.Query) ([]inspect.Socket, error) {
	return nil, fmt.Errorf("%w on %s", ErrUnavailable, runtime.GOOS)
}
