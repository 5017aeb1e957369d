//go:build linux

package trace

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/sockstate/sockstate/netns"
	"github.com/sockstate/sockstate/procnet"
)

// overflowFile is the namespace's TcpExt counters: /proc/net/netstat as
// the thread that opens it sees it, and so of its namespace, whichever
// thread reads it later.
const overflowFile = "/proc/thread-self/net/netstat"

// openOverflow opens the TcpExt counters of the namespace open at fd (0:
// the calling thread's).
func openOverflow(fd int) (*os.File, error) {
	if fd == 0 {
		return os.Open(overflowFile)
	}
	var f *os.File
	err := netns.Do(fd, func() (err error) {
		f, err = os.Open(overflowFile)
		return err
	})
	return f, err
}

// overflowReader returns a function that reads TCPTimeWaitOverflow from f,
// reusing one buffer.
func overflowReader(f *os.File) overflowFunc {
	var buf []byte
	return func() (uint64, error) {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return 0, err
		}
		b := bytes.NewBuffer(buf[:0])
		if _, err := b.ReadFrom(f); err != nil {
			return 0, err
		}
		buf = b.Bytes()
		n, err := procnet.ParseNetstat(bytes.NewReader(buf))
		if err != nil {
			return 0, err
		}
		v, ok := n.Get("TcpExt", "TCPTimeWaitOverflow")
		if !ok || v < 0 {
			return 0, fmt.Errorf("%s: no TcpExt TCPTimeWaitOverflow", overflowFile)
		}
		return uint64(v), nil
	}
}
