package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/sockstate/sockstate/internal/demo"
)

// outFile is a file demo writes after the exchange (--pcap, --svg): to a
// temporary file beside the destination, renamed over it only once
// whole, so that a run that fails or is interrupted leaves no
// half-written file.
type outFile struct {
	flag, path string
	tmp        *os.File
}

// createOut checks that path can be written before the demo runs: its
// directory exists and takes a new file, and it is no directory and no
// read-only file (root could write one anyway: it would not be asked).
func createOut(flag, path string) (*outFile, error) {
	fi, err := os.Stat(path)
	switch {
	case err == nil && fi.IsDir():
		return nil, fmt.Errorf("demo: --%s %s: is a directory: name a file", flag, path)
	case err == nil && fi.Mode().Perm()&0o222 == 0:
		return nil, fmt.Errorf("demo: --%s %s: the file is read-only: remove it or make it writable", flag, path)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("demo: --%s %s: %w", flag, path, err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("demo: --%s %s: no directory %s: create it first", flag, path, dir)
		}
		return nil, fmt.Errorf("demo: --%s %s: %w", flag, path, err)
	}
	return &outFile{flag: flag, path: path, tmp: tmp}, nil
}

// discard removes the temporary file, if it is still there.
func (f *outFile) discard() {
	if f != nil {
		f.tmp.Close()
		os.Remove(f.tmp.Name())
	}
}

// write writes l with encode and renames the file into place.
func (f *outFile) write(l *demo.Ladder, encode func(io.Writer, *demo.Ladder) error) error {
	err := encode(f.tmp, l)
	if cerr := f.tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.tmp.Name(), f.path)
	}
	if err != nil {
		os.Remove(f.tmp.Name())
		return fmt.Errorf("demo: --%s %s: %w", f.flag, f.path, err)
	}
	return nil
}
