package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

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

// open opens the namespace -N or --netns names for command cmd; nil for
// neither. A namespace that does not exist, or a path that is not one, is
// a usage error; a namespace that may not be opened is a run-time one.
func (o *netnsFlags) open(cmd string) (*os.File, error) {
	var path, what string
	switch {
	case o.name != "":
		name := o.name
		if strings.ContainsRune(name, '/') || name == "." || name == ".." {
			return nil, usagef("%s: netns %q: a namespace name has no slash; use --netns for a path", cmd, name)
		}
		path, what = netns.Dir+"/"+name, fmt.Sprintf("netns %q", name)
	case o.path != "":
		path, what = o.path, fmt.Sprintf("--netns %q", o.path)
	default:
		return nil, nil
	}
	f, err := netns.Open(path)
	switch {
	case err == nil:
		// Entering it is tried here, before any source tries, so that
		// a refusal is said once, with its fix.
		if err := netns.Do(int(f.Fd()), func() error { return nil }); err != nil {
			f.Close()
			if errors.Is(err, os.ErrPermission) {
				return nil, fmt.Errorf("%s: %s: entering a network namespace needs CAP_SYS_ADMIN (run as root)", cmd, what)
			}
			return nil, fmt.Errorf("%s: %s: %w", cmd, what, err)
		}
		return f, nil
	case errors.Is(err, fs.ErrNotExist) && o.name != "":
		return nil, usagef("%s: %s: no such namespace under %s (see 'ip netns list')", cmd, what, netns.Dir)
	case errors.Is(err, fs.ErrNotExist):
		return nil, usagef("%s: %s: no such file", cmd, what)
	case errors.Is(err, netns.ErrNotNetNS):
		return nil, usagef("%s: %s: %s is not a network namespace", cmd, what, path)
	}
	return nil, fmt.Errorf("%s: %s: %w", cmd, what, err)
}
