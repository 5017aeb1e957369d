//go:build !linux

package tunlink

import (
	"fmt"
	"runtime"
	"time"
)

// Link is a delayed link between two network namespaces. Network
// namespaces exist on Linux only.
type Link struct {
	Server, Client Side
}

// Open returns an error: network namespaces exist on Linux only.
func Open(rtt time.Duration) (*Link, error) {
	return nil, fmt.Errorf("tunlink: network namespaces need Linux, not %s", runtime.GOOS)
}

// Close does nothing.
func (l *Link) Close() error { return nil }

// Stats returns nothing.
func (l *Link) Stats() Stats { return Stats{} }
