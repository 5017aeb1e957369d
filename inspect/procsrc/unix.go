package procsrc

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/procnet"
)

// readUnix appends to out the sockets of /proc/net/unix that q selects.
//
// The table has neither peers nor queues, so PeerInode, RecvQ and SendQ
// stay 0, as ss prints them when it reads /proc (PROC_ROOT set). A
// connection waiting in a listener's queue has no file and inode 0; it is
// left out, as sock_diag leaves it out: both count it in its listener's
// Recv-Q.
func readUnix(t tables, q inspect.Query, out []inspect.Socket) ([]inspect.Socket, error) {
	recs, err := t.ReadUnix()
	if err != nil {
		return out, fmt.Errorf("inspect: %w", err)
	}
	// One socket for the table: Match's pointer escapes through the
	// Filter interface.
	var s inspect.Socket
	for i := range recs {
		r := &recs[i]
		if r.Inode == 0 || !slices.Contains(q.UnixTypes, inspect.UnixType(r.Type)) {
			continue
		}
		s = socketFromUnixRecord(r)
		if !q.States.Has(s.State) || (q.Filter != nil && !q.Filter.Match(&s)) {
			continue
		}
		out = append(out, s)
	}
	return out, nil
}

// socketFromUnixRecord turns a record into the model. The kernel prints
// the state as a socket_state derived from the socket's TCP-numbered one
// (unix_seq_show), which this undoes: a listener has __SO_ACCEPTCON, a
// socket with a file is SS_CONNECTED exactly when ESTABLISHED, and every
// other state the kernel gives a unix socket is CLOSE.
func socketFromUnixRecord(r *procnet.UnixRecord) inspect.Socket {
	state := inspect.Close
	switch {
	case r.Flags&procnet.UnixAcceptCon != 0:
		state = inspect.Listen
	case r.St == procnet.UnixConnected || r.St == procnet.UnixConnecting:
		state = inspect.Established
	}
	u := &inspect.UnixEnd{Type: inspect.UnixType(r.Type)}
	// An abstract name is printed with '@' for its leading NUL (and for
	// any NUL in it); a path bound relative to the binder's directory may
	// start with '@' too, which the table cannot tell apart.
	if name, ok := strings.CutPrefix(r.Name, "@"); ok {
		u.Name, u.Abstract = name, true
	} else {
		u.Name = r.Name
	}
	return inspect.Socket{Family: inspect.Unix, State: state, Unix: u, Inode: r.Inode}
}
