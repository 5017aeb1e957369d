package trace

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/internal/testnet"
)

// TestNSConns holds the lookups of a Tracer of every namespace: a lookup
// finds a socket through the sock_diag socket of the socket's own
// namespace, opened once and kept while used; a namespace gone finds
// nothing (ENOENT); one that may not be entered is said once and finds
// nothing, without a loss counted; an idle socket is closed by the sweep
// and opened again when needed; nothing opens after close.
func TestNSConns(t *testing.T) {
	ns := testnet.New(t)
	var st syscall.Stat_t
	if err := syscall.Fstat(ns.FD(), &st); err != nil {
		t.Fatal(err)
	}
	ino := st.Ino
	ln := ns.Listen(t, "tcp", "127.0.0.1:0")
	const gone, denied = 1, 2
	opened := map[uint64]int{}
	open := func(inode uint64) (*os.File, error) {
		opened[inode]++
		switch inode {
		case ino:
			return os.Open(ns.Path)
		case denied:
			return nil, fmt.Errorf("opening net:[2]: %w", fs.ErrPermission)
		}
		return nil, fmt.Errorf("net:[%d]: %w", inode, fs.ErrNotExist)
	}
	var unreachable []uint64
	n := newNSConns(0, open, func(inode uint64, err error) {
		if !errors.Is(err, fs.ErrPermission) {
			t.Errorf("unreachable net:[%d]: %v, want a permission error", inode, err)
		}
		unreachable = append(unreachable, inode)
	})
	look, gapLook := n.lookups()
	// A listener is found by its addresses alone, cookie 0.
	tr := Transition{Family: inspect.INet, Local: netip.MustParseAddrPort(ln.Addr().String()), NetNS: ino, To: inspect.Listen}
	for range 2 {
		if state, _, err := look(&tr); err != nil || state != inspect.Listen {
			t.Errorf("lookup in net:[%d]: %v, %v; want LISTEN", ino, state, err)
		}
	}
	if opened[ino] != 1 {
		t.Errorf("net:[%d] opened %d times, want once", ino, opened[ino])
	}
	// The caller's own namespace is dialled without opening it, and holds
	// no such listener.
	own := newNSConns(ownInode(t), open, nil)
	ownTr := tr
	ownTr.NetNS = uint64(ownInode(t))
	if c, err := own.conn(ownTr.NetNS, time.Now()); err != nil || opened[ownTr.NetNS] != 0 {
		t.Errorf("own namespace: %v, opened %d times; want dialled without opening", err, opened[ownTr.NetNS])
	} else if _, err := lookupSocket(c, &ownTr); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("own namespace's lookup of net:[%d]'s listener: %v, want ENOENT", ino, err)
	}
	own.close()

	goneTr := tr
	goneTr.NetNS = gone
	if _, _, err := look(&goneTr); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("lookup in a namespace gone: %v, want ENOENT", err)
	}
	deniedTr := tr
	deniedTr.NetNS = denied
	for range 2 {
		if _, _, err := look(&deniedTr); !errors.Is(err, syscall.ENOENT) {
			t.Errorf("lookup in a namespace not entered: %v, want ENOENT", err)
		}
		if state, timeWait, err := gapLook(&deniedTr); state != inspect.Listen || timeWait || err != nil {
			t.Errorf("gap lookup in a namespace not entered: %v %v %v, want its last state", state, timeWait, err)
		}
	}
	if len(unreachable) != 1 || unreachable[0] != denied || opened[denied] != 1 {
		t.Errorf("unreachable said for %v, net:[2] opened %d times; want once each", unreachable, opened[denied])
	}

	now := time.Now()
	n.sweep(now.Add(connIdle - time.Second))
	if _, ok := n.byInode[ino]; !ok {
		t.Errorf("sweep before connIdle closed net:[%d]", ino)
	}
	n.sweep(now.Add(connIdle + time.Second))
	if _, ok := n.byInode[ino]; ok {
		t.Errorf("sweep after connIdle kept net:[%d]", ino)
	}
	if state, _, err := look(&tr); err != nil || state != inspect.Listen || opened[ino] != 2 {
		t.Errorf("lookup after the sweep: %v, %v, opened %d times; want LISTEN, opened twice", state, err, opened[ino])
	}
	if err := n.close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := look(&tr); !errors.Is(err, os.ErrClosed) {
		t.Errorf("lookup after close: %v, want os.ErrClosed", err)
	}
}

func ownInode(t *testing.T) uint32 {
	t.Helper()
	ino, err := netnsInode(0)
	if err != nil {
		t.Fatal(err)
	}
	return ino
}
