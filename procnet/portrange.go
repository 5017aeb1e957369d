package procnet

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
)

// ParsePortRange parses net.ipv4.ip_local_port_range
// (/proc/sys/net/ipv4/ip_local_port_range, ip-sysctl.rst): the first and
// last local port the kernel picks from for connect() and bind(0), two
// decimal numbers separated by blanks. It applies to IPv6 too, and is per
// network namespace. Anything else, or a first port above the last, is an
// error that wraps ErrMalformed and quotes the text.
func ParsePortRange(r io.Reader) (lo, hi uint16, err error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return 0, 0, fmt.Errorf("procnet: ip_local_port_range: %w", err)
	}
	fields := bytes.Fields(data)
	bad := func(why string) error {
		return fmt.Errorf("procnet: ip_local_port_range %q: %s: %w", data, why, ErrMalformed)
	}
	if len(fields) != 2 {
		return 0, 0, bad("want two ports")
	}
	first, err1 := strconv.ParseUint(string(fields[0]), 10, 16)
	last, err2 := strconv.ParseUint(string(fields[1]), 10, 16)
	switch {
	case err1 != nil || err2 != nil:
		return 0, 0, bad("a port is not a number from 0 to 65535")
	case first > last:
		return 0, 0, bad("the first port is above the last")
	}
	return uint16(first), uint16(last), nil
}
