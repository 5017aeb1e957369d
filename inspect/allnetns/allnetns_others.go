//go:build !linux

package allnetns

import (
	"context"
	"fmt"
	"os"
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

// Poller polls every network namespace of the host. Elsewhere than on
// Linux its polls fail.
type Poller struct {
	NewSource func(nsFD int) inspect.Source
	Discover  func() (Found, error)
	Denied    func(ns *Namespace, err error)
}

// Sockets fails elsewhere than on Linux.
func (p *Poller) Sockets(context.Context, inspect.Query) ([]inspect.Socket, error) {
	return nil, fmt.Errorf("allnetns: network namespaces are not available on %s", runtime.GOOS)
}

// NewPoll returns a poll that fails elsewhere than on Linux.
func (p *Poller) NewPoll() inspect.Poll { return inspect.NewPoll(nopSource{}) }

// Namespace returns nothing elsewhere than on Linux.
func (p *Poller) Namespace(uint64) (Namespace, bool) { return Namespace{}, false }

type nopSource struct{}

func (nopSource) Sockets(context.Context, inspect.Query) ([]inspect.Socket, error) {
	return nil, fmt.Errorf("allnetns: network namespaces are not available on %s", runtime.GOOS)
}

// Index finds network namespaces by inode. Elsewhere than on Linux it
// finds none.
type Index struct {
	Discover func() (Found, error)
}

// Namespace finds nothing elsewhere than on Linux.
func (x *Index) Namespace(uint64) (Namespace, bool) { return Namespace{}, false }

// Open fails elsewhere than on Linux.
func (x *Index) Open(uint64) (*os.File, error) {
	return nil, fmt.Errorf("allnetns: network namespaces are not available on %s", runtime.GOOS)
}
