package procnet

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// Sockstat holds the counters of /proc/net/sockstat and /proc/net/sockstat6,
// which the kernel prints in sockstat_seq_show (net/ipv4/proc.c) and
// sockstat6_seq_show (net/ipv6/proc.c), one protocol a line:
//
//	sockets: used 15
//	TCP: inuse 1 orphan 0 tw 1 alloc 17 mem 256
//	UDP: inuse 0 mem 0
//	FRAG: inuse 0 memory 0
//	TCP6: inuse 0
//
// The counters are per network namespace except TCP's orphan and alloc and
// the mem ones, which count the whole host.
type Sockstat struct {
	// Sockets is the "sockets: used" count: sockets of every family.
	Sockets int64
	TCP     SockstatCounts
	UDP     SockstatCounts
	UDPLite SockstatCounts
	RAW     SockstatCounts
	FRAG    SockstatCounts
	// The IPv6 protocols, from sockstat6: only InUse, and Memory for FRAG6.
	TCP6     SockstatCounts
	UDP6     SockstatCounts
	UDPLite6 SockstatCounts
	RAW6     SockstatCounts
	FRAG6    SockstatCounts
}

// SockstatCounts is one protocol's line. A key the line does not have is 0.
type SockstatCounts struct {
	InUse  int64 // "inuse": sockets in the protocol's hash tables
	Orphan int64 // "orphan": TCP sockets no file refers to any more
	TW     int64 // "tw": TCP sockets in TIME_WAIT
	Alloc  int64 // "alloc": TCP sockets allocated, whatever their state
	Mem    int64 // "mem": pages of buffer memory in use
	Memory int64 // "memory": bytes of fragment reassembly memory (FRAG)
}

// ParseSockstat reads a sockstat or sockstat6 file from r into s, setting
// the counters its lines name and leaving the others as they are, so that
// both files can be parsed into one Sockstat. Lines of protocols it does not
// know, and keys it does not know, are skipped: newer kernels add them. A
// line that is not "NAME:" followed by key and value pairs, or a value that
// is not a decimal integer, is an error that wraps ErrMalformed and quotes
// the line; s is then unchanged.
func ParseSockstat(r io.Reader, s *Sockstat) error {
	return parseSockstat(r, "sockstat", s)
}

// parseSockstat is ParseSockstat for the file name, which errors quote.
func parseSockstat(r io.Reader, name string, s *Sockstat) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("procnet: %s: %w", name, err)
	}
	t := *s
	for n := 1; len(data) > 0; n++ {
		var line []byte
		line, data, _ = bytes.Cut(data, []byte{'\n'})
		if err := parseSockstatLine(line, &t); err != nil {
			return fmt.Errorf("procnet: %s line %d: %q: %v: %w", name, n, line, err, ErrMalformed)
		}
	}
	*s = t
	return nil
}

func parseSockstatLine(line []byte, s *Sockstat) error {
	name, rest := nextField(line)
	if len(name) == 0 {
		return nil // a blank line
	}
	if name[len(name)-1] != ':' {
		return errors.New("no colon after the protocol")
	}
	var c *SockstatCounts
	switch string(name[:len(name)-1]) {
	case "sockets":
		return parseSockstatPairs(rest, func(key string, v int64) {
			if key == "used" {
				s.Sockets = v
			}
		})
	case "TCP":
		c = &s.TCP
	case "UDP":
		c = &s.UDP
	case "UDPLITE":
		c = &s.UDPLite
	case "RAW":
		c = &s.RAW
	case "FRAG":
		c = &s.FRAG
	case "TCP6":
		c = &s.TCP6
	case "UDP6":
		c = &s.UDP6
	case "UDPLITE6":
		c = &s.UDPLite6
	case "RAW6":
		c = &s.RAW6
	case "FRAG6":
		c = &s.FRAG6
	default:
		var ignored SockstatCounts
		c = &ignored
	}
	return parseSockstatPairs(rest, func(key string, v int64) {
		switch key {
		case "inuse":
			c.InUse = v
		case "orphan":
			c.Orphan = v
		case "tw":
			c.TW = v
		case "alloc":
			c.Alloc = v
		case "mem":
			c.Mem = v
		case "memory":
			c.Memory = v
		}
	})
}

// parseSockstatPairs calls set for each "key value" pair of rest.
func parseSockstatPairs(rest []byte, set func(key string, v int64)) error {
	for len(rest) > 0 {
		var key, val []byte
		key, rest = nextField(rest)
		if len(key) == 0 {
			return nil // trailing blanks
		}
		val, rest = nextField(rest)
		if len(val) == 0 {
			return fmt.Errorf("key %q has no value", key)
		}
		v, err := strconv.ParseInt(string(val), 10, 64)
		if err != nil {
			return fmt.Errorf("key %q: value %q is not an integer", key, val)
		}
		set(string(key), v)
	}
	return nil
}

// ReadSockstat reads root/net/sockstat and, when it exists, root/net/sockstat6
// (a kernel without IPv6 has none; its counters are then 0). Errors from
// opening or reading keep the *os.PathError.
func (fsys FS) ReadSockstat() (Sockstat, error) {
	var s Sockstat
	if err := fsys.readSockstat("sockstat", &s); err != nil {
		return Sockstat{}, err
	}
	err := fsys.readSockstat("sockstat6", &s)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Sockstat{}, err
	}
	return s, nil
}

func (fsys FS) readSockstat(name string, s *Sockstat) error {
	f, err := os.Open(filepath.Join(fsys.root, "net", name))
	if err != nil {
		return fmt.Errorf("procnet: %w", err)
	}
	defer f.Close()
	return parseSockstat(f, name, s)
}
