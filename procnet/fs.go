package procnet

import (
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
	if _, err := f.addrDigits(); err != nil {
		return nil, err
	}
	file, err := os.Open(filepath.Join(fs.root, "net", string(f)))
	if err != nil {
		return nil, fmt.Errorf("procnet: %w", err)
	}
	defer file.Close()
	return readAndParse(file, f)
}
