//go:build linux

package owners

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

// TestReadRecords: the iterator's records decode the same however its
// reads cut them, and a stream that ends inside a record is an error
// with no table.
func TestReadRecords(t *testing.T) {
	want := []fdHit{{inode: 11, pid: 7, fd: 3}, {inode: 12, pid: 7, fd: 4}, {inode: 11, pid: 9, fd: 0}}
	var stream []byte
	for range iterReadSize/fdRecordSize + 5 {
		for _, h := range want {
			stream = binary.NativeEndian.AppendUint64(stream, h.inode)
			stream = binary.NativeEndian.AppendUint32(stream, uint32(h.pid))
			stream = binary.NativeEndian.AppendUint32(stream, uint32(h.fd))
		}
	}
	n := len(stream) / fdRecordSize
	for _, r := range []struct {
		name string
		r    io.Reader
	}{
		{"whole", bytes.NewReader(stream)},
		{"one byte at a time", iotest.OneByteReader(bytes.NewReader(stream))},
		{"halves", iotest.HalfReader(bytes.NewReader(stream))},
		{"EOF with data", iotest.DataErrReader(bytes.NewReader(stream))},
	} {
		t.Run(r.name, func(t *testing.T) {
			hits, comms, err := readRecords(r.r)
			if err != nil {
				t.Fatal(err)
			}
			if len(hits) != n {
				t.Fatalf("%d records, want %d", len(hits), n)
			}
			for i, h := range hits {
				if h != want[i%len(want)] {
					t.Fatalf("record %d: %+v, want %+v", i, h, want[i%len(want)])
				}
			}
			if diff := cmp.Diff(map[int32]string{7: "", 9: ""}, comms); diff != "" {
				t.Errorf("comms (-want +got):\n%s", diff)
			}
		})
	}
	hits, comms, err := readRecords(bytes.NewReader(stream[:len(stream)-3]))
	if err == nil || hits != nil || comms != nil {
		t.Errorf("cut short: %d records, %v, error %v; want no table and an error", len(hits), comms, err)
	}
	failed := errors.New("read failed")
	if _, _, err := readRecords(iotest.ErrReader(failed)); !errors.Is(err, failed) {
		t.Errorf("failing reader: %v, want %v", err, failed)
	}
}
