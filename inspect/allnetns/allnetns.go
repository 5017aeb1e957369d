package allnetns

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
)

// Namespace is one network namespace of the host.
type Namespace struct {
	// Inode is the namespace's inode on nsfs, as ls -L /proc/PID/ns/net
	// and ip netns identify it: net:[Inode].
	Inode uint64
	// Name is its name under /run/netns; empty when it has none.
	Name string
	// Container names the container whose processes hold a namespace
	// without a Name, read from the cgroup path of the first of its
	// processes found in a recognised container (cgroups.Recognize):
	// pod:UID for a Kubernetes pod, whose containers share one
	// namespace, else RUNTIME:ID12 (docker:0123456789ab). Empty for none.
	Container string
	// Path opens it: /run/netns/NAME, /proc/PID/ns/net, or a bind mount
	// seen through /proc/PID/root.
	Path string
	// Own is set for the namespace of the caller.
	Own bool
}

// Label returns the namespace's name, else its container, else
// net:[INODE].
func (n *Namespace) Label() string {
	if n.Name != "" {
		return n.Name
	}
	if n.Container != "" {
		return n.Container
	}
	return "net:[" + strconv.FormatUint(n.Inode, 10) + "]"
}

// Found is what Discover found.
type Found struct {
	// Namespaces has one entry per namespace: the caller's first, then
	// the others by inode.
	Namespaces []Namespace
	// Unreadable counts the processes whose namespace could not be read
	// (another user's, without root): their namespaces are missing
	// unless something else holds them.
	Unreadable int
}

// set collects namespaces by inode, keeping the first path found for each
// and the first name.
type set struct {
	byInode map[uint64]*Namespace
}

func (s *set) add(n Namespace) {
	if s.byInode == nil {
		s.byInode = map[uint64]*Namespace{}
	}
	have, ok := s.byInode[n.Inode]
	if !ok {
		s.byInode[n.Inode] = &n
		return
	}
	if have.Name == "" {
		have.Name = n.Name
	}
	if have.Container == "" {
		have.Container = n.Container
	}
	have.Own = have.Own || n.Own
}

// unnamed reports whether the namespace of inode is not known yet, or
// known without a name or container and not the caller's: whether a
// container may name it.
func (s *set) unnamed(inode uint64) bool {
	have, ok := s.byInode[inode]
	return !ok || have.Name == "" && have.Container == "" && !have.Own
}

// sorted returns the namespaces, the caller's first, then by inode.
func (s *set) sorted() []Namespace {
	out := make([]Namespace, 0, len(s.byInode))
	for _, n := range s.byInode {
		out = append(out, *n)
	}
	slices.SortFunc(out, func(a, b Namespace) int {
		if a.Own != b.Own {
			if a.Own {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.Inode, b.Inode)
	})
	return out
}

// nsfsInode returns N of a namespace file's name, net:[N].
func nsfsInode(root string) (uint64, error) {
	s, ok := strings.CutPrefix(root, "net:[")
	if !ok {
		return 0, fmt.Errorf("allnetns: %q is not a network namespace", root)
	}
	s, ok = strings.CutSuffix(s, "]")
	if !ok {
		return 0, fmt.Errorf("allnetns: %q is not a network namespace", root)
	}
	return strconv.ParseUint(s, 10, 64)
}

var (
	errVanished = fmt.Errorf("allnetns: the namespace is gone: %w", fs.ErrNotExist)
	errDenied   = errors.New("allnetns: the namespace may not be entered")
)

// Vanished reports whether InNamespace's err says the namespace was gone.
func Vanished(err error) bool { return errors.Is(err, errVanished) }

// Denied reports whether InNamespace's err says the namespace could not be
// opened or entered.
func Denied(err error) bool { return errors.Is(err, errDenied) }

// Count counts what InNamespace's err says of one namespace: listed (nil),
// gone or not entered. Any other error is returned, not counted.
func (st *Stats) Count(err error) error {
	switch {
	case err == nil:
		st.Listed++
	case Vanished(err):
		st.Vanished++
	case Denied(err):
		st.Denied++
		if st.DeniedErr == nil {
			st.DeniedErr = err
		}
	default:
		return err
	}
	return nil
}
