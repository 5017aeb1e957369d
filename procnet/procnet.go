package procnet

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math"
	"net/netip"
	"slices"
	"sync"
)

// File names one of the /proc/net socket tables.
type File string

// The socket tables Parse understands.
const (
	TCP  File = "tcp"
	TCP6 File = "tcp6"
	UDP  File = "udp"
	UDP6 File = "udp6"
	// Raw and Raw6 have udp's columns (raw_sock_seq_show prints the
	// same format); a raw socket's local port is its IP protocol.
	Raw  File = "raw"
	Raw6 File = "raw6"
)

// addrDigits returns how many hex digits an address has in f: 8 for IPv4,
// 32 for IPv6.
func (f File) addrDigits() (int, error) {
	switch f {
	case TCP, UDP, Raw:
		return 8, nil
	case TCP6, UDP6, Raw6:
		return 32, nil
	}
	return 0, fmt.Errorf("procnet: unknown file %q", string(f))
}

// Record is one socket line.
type Record struct {
	// Local and Remote are decoded from the kernel's hex: each 32-bit
	// word of the address in host order, the port in plain hex.
	Local, Remote netip.AddrPort
	// State is the "st" column, numbered as in include/net/tcp_states.h.
	State uint8
	// TxQueue and RxQueue are the "tx_queue" and "rx_queue" columns. For
	// TCP they count bytes not yet acknowledged and not yet read; for a
	// listener RxQueue is the accept queue's length and TxQueue is 0. For
	// UDP they are the bytes of send and receive buffer memory in use.
	TxQueue uint32
	RxQueue uint32
	// Timer is the "tr" column: 0 none, 1 retransmit, 2 keepalive,
	// 3 TIME_WAIT, 4 zero window probe.
	Timer uint8
	// TimerExpires is the "tm->when" column, in clock ticks (USER_HZ).
	TimerExpires uint64
	// Retransmits is the "retrnsmt" column.
	Retransmits uint32
	// UID owns the socket, as seen from the reader's user namespace.
	UID uint32
	// Timeout is the "timeout" column: for TCP the unanswered zero window
	// or keepalive probes (icsk_probes_out), for UDP 0.
	Timeout uint32
	// Inode is 0 for sockets that hold no file, such as TIME_WAIT.
	Inode uint64
}

// ErrMalformed is wrapped by every error about a table's contents.
var ErrMalformed = errors.New("malformed line")

// The range of the State column: tcp_states.h's TCP_ESTABLISHED to
// TCP_NEW_SYN_RECV. TCP_BOUND_INACTIVE (13) exists for sock_diag only.
const (
	minState = 1
	maxState = 12
)

// Parse reads a whole table from r (header line first). f says which table
// it is (IPv4 vs IPv6 address width; every address must match the family).
// Duplicate rows (same line content for the same socket, which a
// line-by-line read of /proc can produce — prometheus/procfs#576) are dropped:
// a row whose ten fields, sl aside, give a Record equal to an earlier one's.
// An error about the table's contents wraps ErrMalformed and quotes the
// line; on any error Parse returns no records.
func Parse(r io.Reader, f File) ([]Record, error) {
	if _, err := f.addrDigits(); err != nil {
		return nil, err
	}
	return readAndParse(r, f)
}

// bufs holds buffers for whole tables. A table of 100,000 sockets is about
// 15 MB and a watch loop reads the same tables again and again, so reusing
// the buffer saves allocating and clearing it each time. Records are copied
// out, so none refers to a buffer after parse returns.
var bufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// readAndParse reads all of r into memory and then parses it.
func readAndParse(r io.Reader, f File) ([]Record, error) {
	buf := bufs.Get().(*bytes.Buffer)
	defer bufs.Put(buf)
	buf.Reset()
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, fmt.Errorf("procnet: %s: %w", f, err)
	}
	return parse(buf.Bytes(), f, &uniq{})
}

// parse parses a whole table held in data. Two rows are duplicates when all
// their Record fields are equal; the sl column is left out because it is
// the row's position in the kernel's walk, which differs for a socket
// listed twice. The first of the duplicates is kept. The records go into
// u, which parse empties first.
func parse(data []byte, f File, u *uniq) ([]Record, error) {
	digits, err := f.addrDigits()
	if err != nil {
		return nil, err
	}
	header, rest, _ := bytes.Cut(data, []byte{'\n'})
	if first, _ := nextField(header); string(first) != "sl" {
		return nil, fmt.Errorf("procnet: %s line 1: %q: missing header: %w", f, header, ErrMalformed)
	}
	rows := bytes.Count(rest, []byte{'\n'})
	if len(rest) > 0 && rest[len(rest)-1] != '\n' {
		rows++
	}
	u.reset(rows)
	seed := maphash.MakeSeed()
	for n := 2; len(rest) > 0; n++ {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte{'\n'})
		var rec Record
		if err := parseLine(line, digits, &rec); err != nil {
			return nil, fmt.Errorf("procnet: %s line %d: %q: %v: %w", f, n, line, err, ErrMalformed)
		}
		u.add(rec, maphash.Comparable(seed, rec))
	}
	return u.recs, nil
}

// uniq collects records in order, dropping any equal to one it has.
type uniq struct {
	recs []Record
	// first maps a hash to the index in recs of a record with that hash.
	// A record whose hash is taken by a different record takes the next
	// free key; as keys are never deleted, a later copy of it walks the
	// same keys and meets it before reaching a free key.
	first map[uint64]int32
}

// reset empties u, making room for n records.
func (u *uniq) reset(n int) {
	if u.first == nil {
		u.first = make(map[uint64]int32, n)
		u.recs = make([]Record, 0, n)
	}
	clear(u.first)
	u.recs = slices.Grow(u.recs[:0], n)
}

// add appends r unless an equal record is in u.recs; h is r's hash.
func (u *uniq) add(r Record, h uint64) {
	for ; ; h++ {
		i, ok := u.first[h]
		if !ok {
			u.first[h] = int32(len(u.recs))
			u.recs = append(u.recs, r)
			return
		}
		if u.recs[i] == r {
			return
		}
	}
}

// parseLine fills rec from the first ten fields of one row; digits is the
// width of an address in hex digits.
func parseLine(line []byte, digits int, rec *Record) error {
	var (
		fields [10][]byte
		ok     bool
	)
	rest := line
	for i := range fields {
		fields[i], rest = nextField(rest)
		if len(fields[i]) == 0 {
			return fmt.Errorf("%d fields, want at least %d", i, len(fields))
		}
	}
	sl := fields[0]
	if sl[len(sl)-1] != ':' {
		return fmt.Errorf("sl %q: no colon", sl)
	}
	if _, ok := parseDec(sl[:len(sl)-1], math.MaxInt32); !ok {
		return fmt.Errorf("sl %q: bad number", sl)
	}
	if rec.Local, ok = parseAddrPort(fields[1], digits); !ok {
		return fmt.Errorf("local address %q: want %d hex digits, colon, 4 hex digits", fields[1], digits)
	}
	if rec.Remote, ok = parseAddrPort(fields[2], digits); !ok {
		return fmt.Errorf("remote address %q: want %d hex digits, colon, 4 hex digits", fields[2], digits)
	}
	st, ok := parseHex(fields[3], 2)
	if !ok {
		return fmt.Errorf("state %q: bad hex", fields[3])
	}
	if st < minState || st > maxState {
		return fmt.Errorf("state %q: out of range %d..%d", fields[3], minState, maxState)
	}
	rec.State = uint8(st)
	tx, rx, ok := parsePair(fields[4], 8, 8)
	if !ok {
		return fmt.Errorf("queues %q: want hex tx_queue:rx_queue", fields[4])
	}
	rec.TxQueue, rec.RxQueue = uint32(tx), uint32(rx)
	tr, when, ok := parsePair(fields[5], 2, 16)
	if !ok {
		return fmt.Errorf("timer %q: want hex tr:tm->when", fields[5])
	}
	rec.Timer, rec.TimerExpires = uint8(tr), when
	retr, ok := parseHex(fields[6], 8)
	if !ok {
		return fmt.Errorf("retrnsmt %q: bad hex", fields[6])
	}
	rec.Retransmits = uint32(retr)
	uid, ok := parseDec(fields[7], math.MaxUint32)
	if !ok {
		return fmt.Errorf("uid %q: bad number", fields[7])
	}
	rec.UID = uint32(uid)
	timeout, ok := parseDec(fields[8], math.MaxUint32)
	if !ok {
		return fmt.Errorf("timeout %q: bad number", fields[8])
	}
	rec.Timeout = uint32(timeout)
	if rec.Inode, ok = parseDec(fields[9], math.MaxUint64); !ok {
		return fmt.Errorf("inode %q: bad number", fields[9])
	}
	return nil
}

// nextField returns the first space-separated field of b and what follows
// it. The kernel separates and pads fields with spaces only.
func nextField(b []byte) (field, rest []byte) {
	i := 0
	for i < len(b) && b[i] == ' ' {
		i++
	}
	j := i
	for j < len(b) && b[j] != ' ' {
		j++
	}
	return b[i:j], b[j:]
}

// parseAddrPort decodes "ADDR:PORT" where ADDR is digits hex digits (8 or
// 32). The kernel prints each __be32 word of the address with %08X, that
// is as a host-order integer, so storing the parsed word back in host
// order (binary.NativeEndian) restores the bytes in network order. The port
// is converted to host order before printing and reads as plain hex.
func parseAddrPort(b []byte, digits int) (netip.AddrPort, bool) {
	if len(b) != digits+1+4 || b[digits] != ':' {
		return netip.AddrPort{}, false
	}
	var a [16]byte
	for i := 0; i < digits; i += 8 {
		w, ok := parseHex(b[i:i+8], 8)
		if !ok {
			return netip.AddrPort{}, false
		}
		binary.NativeEndian.PutUint32(a[i/2:], uint32(w))
	}
	port, ok := parseHex(b[digits+1:], 4)
	if !ok {
		return netip.AddrPort{}, false
	}
	var addr netip.Addr
	if digits == 8 {
		addr = netip.AddrFrom4([4]byte(a[:4]))
	} else {
		addr = netip.AddrFrom16(a)
	}
	return netip.AddrPortFrom(addr, uint16(port)), true
}

// parsePair decodes "HEX:HEX" with at most maxA and maxB digits.
func parsePair(b []byte, maxA, maxB int) (a, c uint64, ok bool) {
	i := bytes.IndexByte(b, ':')
	if i < 0 {
		return 0, 0, false
	}
	if a, ok = parseHex(b[:i], maxA); !ok {
		return 0, 0, false
	}
	if c, ok = parseHex(b[i+1:], maxB); !ok {
		return 0, 0, false
	}
	return a, c, true
}

// parseHex decodes 1 to maxDigits hex digits (at most 16), so the value
// fits in maxDigits*4 bits.
func parseHex(b []byte, maxDigits int) (uint64, bool) {
	if len(b) == 0 || len(b) > maxDigits {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		default:
			return 0, false
		}
		v = v<<4 | uint64(d)
	}
	return v, true
}

// parseDec decodes an unsigned decimal number no greater than limit.
func parseDec(b []byte, limit uint64) (uint64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (limit-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}
