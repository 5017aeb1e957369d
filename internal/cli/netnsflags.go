package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/sockstate/sockstate/netns"
)

// netnsFlags are -N/--net and --netns, which name the network namespace
// whose sockets ls and watch inspect.
type netnsFlags struct {
	name string // -N: a name under netns.Dir
	path string // --netns: a path
}

func (o *netnsFlags) specs() []flagSpec {
	return []flagSpec{
		{short: 'N', long: "net", hasValue: true, set: func(v string) error { o.name = v; return nil }},
		{long: "netns", hasValue: true, set: func(v string) error { o.path = v; return nil }},
	}
}

// check rejects both flags at once, for command cmd.
func (o *netnsFlags) check(cmd string) error {
	if o.name != "" && o.path != "" {
		return usagef("%s: -N and --netns both name a namespace; give one", cmd)
	}
	return nil
}

// openFD opens the namespace -N or --netns names for command cmd, as open
// does, and returns its descriptor, 0 for neither, and the function that
// closes it.
func (o *netnsFlags) openFD(cmd string) (fd int, closeNS func(), err error) {
	f, err := o.open(cmd)
	if err != nil || f == nil {
		return 0, func() {}, err
	}
	return int(f.Fd()), func() { f.Close() }, nil
}

// open opens the namespace -N or --netns names for command cmd; nil for
// neither. A namespace that does not exist, or a path that is not one, is
// a usage error; a namespace that may not be opened or entered is a
// run-time one, found here, before any source tries it, so that it is
// said once.
func (o *netnsFlags) open(cmd string) (*os.File, error) {
	var path, what string
	switch {
	case o.name != "":
		name := o.name
		if strings.ContainsRune(name, '/') || name == "." || name == ".." {
			return nil, usagef("%s: netns %s: a namespace name has no slash; use --netns for a path", cmd, shortQuote(name))
		}
		path, what = netns.Dir+"/"+name, "netns "+shortQuote(name)
	case o.path != "":
		path, what = o.path, "--netns "+shortQuote(o.path)
	default:
		return nil, nil
	}
	f, err := netns.Open(path)
	switch {
	case err == nil:
	case errors.Is(err, fs.ErrNotExist) && o.name != "":
		return nil, usagef("%s: %s: no such namespace under %s (see 'ip netns list')", cmd, what, netns.Dir)
	case errors.Is(err, fs.ErrNotExist):
		return nil, usagef("%s: %s: no such file", cmd, what)
	case errors.Is(err, syscall.ENAMETOOLONG):
		return nil, usagef("%s: %s: name too long (at most 255 bytes a name)", cmd, what)
	case errors.Is(err, netns.ErrNotNetNS), errors.Is(err, syscall.ENXIO), errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.ELOOP):
		return nil, usagef("%s: %s: %s is not a network namespace", cmd, what, shortPath(path))
	default:
		return nil, fmt.Errorf("%s: %s: %w", cmd, what, err)
	}
	if err := netns.Do(int(f.Fd()), func() error { return nil }); err != nil {
		f.Close()
		if errors.Is(err, os.ErrPermission) {
			return nil, fmt.Errorf("%s: %s: entering a network namespace needs CAP_SYS_ADMIN (run as root)", cmd, what)
		}
		return nil, fmt.Errorf("%s: %s: %w", cmd, what, err)
	}
	return f, nil
}

// shortQuote quotes s, cut to 60 bytes, so that a line naming it stays
// one readable line.
func shortQuote(s string) string {
	if len(s) > 60 {
		return strconv.Quote(s[:60]) + "..."
	}
	return strconv.Quote(s)
}

// shortPath is path cut as shortQuote cuts it, quoted only if it holds
// what a line cannot show as it is.
func shortPath(path string) string {
	q := shortQuote(path)
	if len(path) <= 60 && q[1:len(q)-1] == path {
		return path
	}
	return q
}
