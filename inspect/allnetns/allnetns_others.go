//go:build !linux

package allnetns

import (
	"context"
	"fmt"
	"runtime"

	"github.com/sockstate/sockstate/inspect"
)

// Stats says what became of the namespaces a listing was given.
type Stats struct {
	Listed, Vanished, Denied int
	DeniedErr                error
}

// Discover finds the host's network namespaces. They exist on Linux only:
// elsewhere it returns an error.
func Discover(string) (Found, error) {
	return Found{}, fmt.Errorf("allnetns: network namespaces are not available on %s", runtime.GOOS)
}

// Each lists every namespace of nss. Elsewhere than on Linux it returns an
// error.
func Each(context.Context, []Namespace, inspect.Query, func(int) inspect.Source, func(*Namespace, []inspect.Socket) error) (Stats, error) {
	return Stats{}, fmt.Errorf("allnetns: network namespaces are not available on %s", runtime.GOOS)
}

// InNamespace runs fn in ns. Elsewhere than on Linux it returns an error.
func InNamespace(*Namespace, func(int) error) error {
	return fmt.Errorf("allnetns: network namespaces are not available on %s", runtime.GOOS)
}
