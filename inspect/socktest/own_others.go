//go:build !linux

package socktest

import (
	"fmt"
	"runtime"
)

// ownSockets needs /proc/self/fd, which only Linux has.
func ownSockets() ([]ownedSocket, error) {
	return nil, fmt.Errorf("socktest: no /proc/self/fd on %s", runtime.GOOS)
}

// nameOf needs Linux's SO_PROTOCOL.
func nameOf(ownedSocket) (sockName, error) {
	return sockName{}, fmt.Errorf("socktest: no SO_PROTOCOL on %s", runtime.GOOS)
}
