package procnet

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
)

// UnixRecord is one line of /proc/net/unix, printed by unix_seq_show in
// net/unix/af_unix.c:
//
//	"%pK: %08X %08X %08X %04X %02X %5lu" and, for a bound socket, " " and its name
//
// The table has no peers and no queues: sock_diag (unix_diag) has them.
type UnixRecord struct {
	// RefCount is the socket's reference count.
	RefCount uint32
	// Flags is __SO_ACCEPTCON (UnixAcceptCon) for a listener, else 0.
	Flags uint32
	// Type is the socket type: SOCK_STREAM 1, SOCK_DGRAM 2,
	// SOCK_SEQPACKET 5.
	Type uint16
	// St is the socket's state as socket_state numbers it
	// (include/uapi/linux/net.h): SS_UNCONNECTED 1, SS_CONNECTING 2,
	// SS_CONNECTED 3, SS_DISCONNECTING 4. The kernel derives it from the
	// socket's TCP-numbered state: a socket with a file is SS_CONNECTED
	// when ESTABLISHED and SS_UNCONNECTED otherwise; one without (a
	// connection waiting in a listener's queue) SS_CONNECTING or
	// SS_DISCONNECTING.
	St uint8
	// Inode is 0 for a socket without a file.
	Inode uint64
	// Name is the bound name as the kernel prints it: a path, or for an
	// abstract name '@' and the name, each NUL in it printed as '@'; empty
	// for an unbound socket. A path that holds a newline continues on the
	// next line, which Name joins back.
	Name string
}

// The values of UnixRecord's Flags and St.
const (
	UnixAcceptCon     = 1 << 16 // __SO_ACCEPTCON
	UnixUnconnected   = 1       // SS_UNCONNECTED
	UnixConnecting    = 2       // SS_CONNECTING
	UnixConnected     = 3       // SS_CONNECTED
	UnixDisconnecting = 4       // SS_DISCONNECTING
)

// unixHeader starts /proc/net/unix.
const unixHeader = "Num       RefCount Protocol Flags    Type St Inode Path"

// ParseUnix reads a whole /proc/net/unix from r (header line first). An
// error about the table's contents wraps ErrMalformed and quotes the line;
// on any error ParseUnix returns no records.
func ParseUnix(r io.Reader) ([]UnixRecord, error) {
	buf := bufs.Get().(*bytes.Buffer)
	defer bufs.Put(buf)
	buf.Reset()
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, fmt.Errorf("procnet: unix: %w", err)
	}
	return parseUnix(buf.Bytes())
}

// ReadUnix opens root/net/unix and parses it (ParseUnix). Errors from
// opening or reading keep the *os.PathError.
func (fs FS) ReadUnix() ([]UnixRecord, error) {
	f, err := os.Open(filepath.Join(fs.root, "net", "unix"))
	if err != nil {
		return nil, fmt.Errorf("procnet: %w", err)
	}
	defer f.Close()
	return ParseUnix(f)
}

// ReadUnix reads and parses root/net/unix as FS.ReadUnix does, keeping
// the buffer for the next read.
func (r *Reader) ReadUnix() ([]UnixRecord, error) {
	f, err := os.Open(filepath.Join(r.FS.root, "net", "unix"))
	if err != nil {
		return nil, fmt.Errorf("procnet: %w", err)
	}
	defer f.Close()
	r.buf.Reset()
	if _, err := r.buf.ReadFrom(f); err != nil {
		return nil, fmt.Errorf("procnet: unix: %w", err)
	}
	return parseUnix(r.buf.Bytes())
}

func parseUnix(data []byte) ([]UnixRecord, error) {
	header, rest, _ := bytes.Cut(data, []byte{'\n'})
	if string(bytes.TrimRight(header, " ")) != unixHeader {
		return nil, fmt.Errorf("procnet: unix line 1: %q: missing header: %w", header, ErrMalformed)
	}
	recs := make([]UnixRecord, 0, bytes.Count(rest, []byte{'\n'}))
	for n := 2; len(rest) > 0; n++ {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte{'\n'})
		var rec UnixRecord
		err := parseUnixLine(line, &rec)
		if err == nil {
			recs = append(recs, rec)
			continue
		}
		// A line that is no record continues the last record's name:
		// the kernel prints a path's newline as it is.
		if k := len(recs) - 1; k >= 0 && recs[k].Name != "" {
			recs[k].Name += "\n" + string(line)
			continue
		}
		return nil, fmt.Errorf("procnet: unix line %d: %q: %v: %w", n, line, err, ErrMalformed)
	}
	return recs, nil
}

// parseUnixLine parses one record into rec.
func parseUnixLine(line []byte, rec *UnixRecord) error {
	num, rest := nextField(line)
	if len(num) < 2 || num[len(num)-1] != ':' {
		return fmt.Errorf("slot %q", num)
	}
	if _, ok := parseHex(num[:len(num)-1], 16); !ok {
		return fmt.Errorf("slot %q", num)
	}
	var fields [6]uint64
	for i, digits := range [6]int{8, 8, 8, 4, 2, 0} {
		var f []byte
		f, rest = nextField(rest)
		var ok bool
		if digits == 0 {
			fields[i], ok = parseDec(f, math.MaxUint64)
		} else {
			fields[i], ok = parseHex(f, digits)
		}
		if !ok {
			return fmt.Errorf("field %d %q", i+2, f)
		}
	}
	rec.RefCount = uint32(fields[0])
	rec.Flags = uint32(fields[2])
	rec.Type = uint16(fields[3])
	rec.St = uint8(fields[4])
	rec.Inode = fields[5]
	// The name follows the inode after one space, and may hold spaces.
	if len(rest) > 0 {
		if len(rest) < 2 {
			return fmt.Errorf("name %q", rest)
		}
		rec.Name = string(rest[1:])
	}
	return nil
}
