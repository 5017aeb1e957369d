package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/sockstate/sockstate/internal/demo"
)

// pcapFile is demo --pcap's output: written to a temporary file beside
// the destination and renamed over it only once whole, so that a run
// that fails or is interrupted leaves no half-written capture.
type pcapFile struct {
	path string
	tmp  *os.File
}

// createPcap checks that path can be written before the demo runs: its
// directory exists and takes a new file, and it is no directory and no
// read-only file (root could write one anyway: it would not be asked).
func createPcap(path string) (*pcapFile, error) {
	fi, err := os.Stat(path)
	switch {
	case err == nil && fi.IsDir():
		return nil, fmt.Errorf("demo: --pcap %s: is a directory: name a file", path)
	case err == nil && fi.Mode().Perm()&0o222 == 0:
		return nil, fmt.Errorf("demo: --pcap %s: the file is read-only: remove it or make it writable", path)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("demo: --pcap %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("demo: --pcap %s: no directory %s: create it first", path, dir)
		}
		return nil, fmt.Errorf("demo: --pcap %s: %w", path, err)
	}
	return &pcapFile{path: path, tmp: tmp}, nil
}

// discard removes the temporary file.
func (f *pcapFile) discard() {
	f.tmp.Close()
	os.Remove(f.tmp.Name())
}

// write writes l's packets as pcapng, each one that changed a state with
// a comment naming the changes, and renames the file into place.
func (f *pcapFile) write(l *demo.Ladder) error {
	err := f.encode(l)
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
		return fmt.Errorf("demo: --pcap %s: %w", f.path, err)
	}
	return nil
}

func (f *pcapFile) encode(l *demo.Ladder) error {
	caused := "placed by a poll, not tied to packets"
	if l.Caused {
		caused = "each packet that changed a state names the change in its comment"
	}
	intf := pcapgo.NgInterface{
		Name:        l.Interface,
		Description: fmt.Sprintf("loopback: the sockstate demo's connection %v <-> %v; %s", l.Client, l.Server, caused),
		Filter:      fmt.Sprintf("tcp port %d", l.Server.Port()),
		OS:          runtime.GOOS,
		LinkType:    layers.LinkTypeEthernet,
		SnapLength:  0x40000,
	}
	w, err := pcapgo.NewNgWriterInterface(f.tmp, intf, pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{
		Hardware: runtime.GOARCH, OS: runtime.GOOS, Application: "sockstate demo",
	}})
	if err != nil {
		return err
	}
	for _, p := range l.Packets() {
		ci := gopacket.CaptureInfo{Timestamp: p.Time, CaptureLength: len(p.Frame), Length: len(p.Frame)}
		var opts pcapgo.NgPacketOptions
		if c := p.Comment(); c != "" {
			opts.Comments = []string{c}
		}
		if err := w.WritePacketWithOptions(ci, p.Frame, opts); err != nil {
			return err
		}
	}
	return w.Flush()
}
