package procnet

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
)

// FS reads tables under a root directory: "/proc", "/proc/<pid>" (the
// tables of that process's network namespace), or a directory that holds
// net/tcp and the others, such as captured test data.
type FS struct {
	root string
}

// NewFS returns an FS that reads root/net/<file>.
func NewFS(root string) FS {
	return FS{root: root}
}

// Read opens root/net/<f>, reads the whole file into memory and parses it.
// Reading everything before parsing keeps the time between the kernel's
// reads short, which makes a socket listed twice less likely; Parse drops
// any that still are. Errors from opening or reading keep the
// *os.PathError, so errors.Is(err, fs.ErrNotExist) works.
func (fs FS) Read(f File) ([]Record, error) {
	file, err := fs.open(f)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	return readAndParse(file, f)
}

// open opens root/net/<f>.
func (fs FS) open(f File) (*os.File, error) {
	if _, err := f.addrDigits(); err != nil {
		return nil, err
	}
	file, err := os.Open(filepath.Join(fs.root, "net", string(f)))
	if err != nil {
		return nil, fmt.Errorf("procnet: %w", err)
	}
	return file, nil
}

// Reader reads tables as FS.Read does, keeping its buffers from one read
// to the next, for a caller that reads the same tables again and again (a
// watcher's polls): at 10,000 sockets, allocating and clearing them anew
// cost a poll about as much as parsing. A Reader is for one goroutine.
type Reader struct {
	FS  FS
	buf bytes.Buffer
	u   uniq
}

// Read reads and parses root/net/<f> as FS.Read does. The records are
// valid until the next Read.
func (r *Reader) Read(f File) ([]Record, error) {
	file, err := r.FS.open(f)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	r.buf.Reset()
	if _, err := r.buf.ReadFrom(file); err != nil {
		return nil, fmt.Errorf("procnet: %s: %w", f, err)
	}
	return parse(r.buf.Bytes(), f, &r.u)
}
