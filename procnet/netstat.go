package procnet

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"unicode"
)

// Netstat holds the counters of /proc/net/netstat, or of /proc/net/snmp,
// which has the same layout: by group (TcpExt, IpExt, Tcp, ...), then by
// name (ListenOverflows, ListenDrops, ...). The kernel prints them in
// netstat_seq_show and snmp_seq_show (net/ipv4/proc.c), each group as two
// lines, the names and then the values:
//
//	TcpExt: SyncookiesSent SyncookiesRecv ... ListenOverflows ListenDrops ...
//	TcpExt: 0 0 ... 3 3 ...
//
// The counters are per network namespace. Values are decimal and may be
// negative: snmp's Tcp MaxConn is -1.
type Netstat map[string]map[string]int64

// Get returns the counter name of group, and whether the file had it:
// older kernels lack newer counters.
func (n Netstat) Get(group, name string) (int64, bool) {
	v, ok := n[group][name]
	return v, ok
}

// ParseNetstat parses a netstat or snmp file from r. Every group is a line
// of names followed by a line of as many values, both starting with the
// group's name and a colon; anything else is an error that wraps
// ErrMalformed, quotes the line, and returns no Netstat.
func ParseNetstat(r io.Reader) (Netstat, error) {
	return parseNetstat(r, "netstat")
}

// parseNetstat is ParseNetstat for the file name, which errors quote.
func parseNetstat(r io.Reader, name string) (Netstat, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("procnet: %s: %w", name, err)
	}
	n := Netstat{}
	for line := 1; len(data) > 0; line += 2 {
		var names, values []byte
		names, data, _ = bytes.Cut(data, []byte{'\n'})
		if len(bytes.TrimSpace(names)) == 0 && len(bytes.TrimSpace(data)) == 0 {
			break // the end, perhaps with blank lines
		}
		values, data, _ = bytes.Cut(data, []byte{'\n'})
		if err := n.parseGroup(names, values); err != nil {
			return nil, fmt.Errorf("procnet: %s lines %d-%d: %q %q: %v: %w", name, line, line+1, names, values, err, ErrMalformed)
		}
	}
	return n, nil
}

// parseGroup adds the group that the names and values lines print.
func (n Netstat) parseGroup(names, values []byte) error {
	group, names := nextField(names)
	vgroup, values := nextField(values)
	if len(group) < 2 || group[len(group)-1] != ':' {
		return fmt.Errorf("no group name with a colon")
	}
	if !bytes.Equal(group, vgroup) {
		return fmt.Errorf("the values line is of group %q", vgroup)
	}
	g := string(group[:len(group)-1])
	if _, dup := n[g]; dup {
		return fmt.Errorf("group %s repeated", g)
	}
	counters := map[string]int64{}
	for {
		var key, val []byte
		key, names = nextField(names)
		val, values = nextField(values)
		switch {
		case len(key) == 0 && len(val) == 0:
			n[g] = counters
			return nil
		case len(key) == 0:
			return fmt.Errorf("value %q has no name", val)
		case len(val) == 0:
			return fmt.Errorf("name %q has no value", key)
		}
		if bytes.IndexFunc(key, unicode.IsSpace) >= 0 {
			return fmt.Errorf("name %q holds white space", key)
		}
		v, err := strconv.ParseInt(string(val), 10, 64)
		if err != nil {
			return fmt.Errorf("%s: value %q is not an integer", key, val)
		}
		if _, dup := counters[string(key)]; dup {
			return fmt.Errorf("name %q repeated", key)
		}
		counters[string(key)] = v
	}
}

// ReadNetstat reads root/net/netstat. Errors from opening or reading keep
// the *os.PathError.
func (fsys FS) ReadNetstat() (Netstat, error) {
	f, err := os.Open(filepath.Join(fsys.root, "net", "netstat"))
	if err != nil {
		return nil, fmt.Errorf("procnet: %w", err)
	}
	defer f.Close()
	return parseNetstat(f, "netstat")
}
