//go:build !linux

package capture

import (
	"fmt"
	"runtime"
)

// Capture reads the frames of one interface that its filter keeps.
type Capture struct{}

// Open returns an error: AF_PACKET sockets are Linux's.
func Open(ifname string, port uint16) (*Capture, error) {
	return nil, fmt.Errorf("capture: AF_PACKET sockets need Linux, not %s", runtime.GOOS)
}

// Follow does nothing on a Capture that cannot be opened.
func (c *Capture) Follow(port uint16) error { return nil }

// Packets returns nothing on a Capture that cannot be opened.
func (c *Capture) Packets() []Packet { return nil }

// Stop returns nothing on a Capture that cannot be opened.
func (c *Capture) Stop() ([]Packet, Stats, error) { return nil, Stats{}, nil }
