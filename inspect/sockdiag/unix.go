package sockdiag

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/procsrc"
	"github.com/sockstate/sockstate/netlinkdiag"
)

// unixDumper is what a DiagConn needs to list unix sockets; a
// *netlinkdiag.Conn has it. It is apart from DiagConn so that a test's
// scripted connection for inet sockets needs none.
type unixDumper interface {
	DumpUnixOnce(ctx context.Context, req netlinkdiag.UnixRequest, fn func(*netlinkdiag.UnixMsg) error) error
}

// unixShow is what a unix dump asks the kernel for: ss's name, peer and
// queues, and for -e the owner, the bound file and a listener's pending
// connections, which cost little.
const unixShow = netlinkdiag.UnixShowName | netlinkdiag.UnixShowPeer | netlinkdiag.UnixShowRQLen |
	netlinkdiag.UnixShowUID | netlinkdiag.UnixShowVFS | netlinkdiag.UnixShowIcons

// dumpUnix lists the unix sockets of the types q.UnixTypes names in the
// states q.States holds. The kernel has no filter for unix sockets: q's
// Filter runs here, as ss runs its own.
func (d *dumper) dumpUnix(ctx context.Context) error {
	ud, ok := d.c.(unixDumper)
	if !ok {
		return errors.New("inspect: netlink: this connection cannot list unix sockets")
	}
	req := netlinkdiag.UnixRequest{States: uint32(d.q.States), Show: unixShow}
	if d.q.Memory {
		req.Show |= netlinkdiag.UnixShowMemInfo
	}
	d.mark(markTable)
	// One socket for the whole dump, as dump has: Match's pointer escapes
	// through the Filter interface.
	var s inspect.Socket
	var err error
	for attempt := range maxDumpAttempts {
		if attempt > 0 {
			d.mark(markRetry)
		}
		err = ud.DumpUnixOnce(ctx, req, func(m *netlinkdiag.UnixMsg) error {
			if !slices.Contains(d.q.UnixTypes, inspect.UnixType(m.Type)) {
				return nil
			}
			var err error
			if s, err = socketFromUnixMsg(m, d.q.Memory); err != nil {
				return err
			}
			if d.q.Filter != nil && !d.q.Filter.Match(&s) {
				return nil
			}
			// Everything is decoded: the pipeline has no attributes
			// left to decode.
			if d.pl != nil {
				return d.pl.add(&s, nil)
			}
			return d.k.put(&s)
		})
		if !errors.Is(err, netlinkdiag.ErrDumpInterrupted) {
			break
		}
	}
	switch {
	case errors.Is(err, netlinkdiag.ErrDumpInterrupted):
		d.interrupted = append(d.interrupted, "unix")
	case err != nil:
		return fmt.Errorf("inspect: netlink unix dump: %w", err)
	}
	return nil
}

// socketFromUnixMsg copies what the model keeps out of m, whose attributes
// alias the receive buffer; memory says whether to keep UNIX_DIAG_MEMINFO.
func socketFromUnixMsg(m *netlinkdiag.UnixMsg, memory bool) (inspect.Socket, error) {
	u := &inspect.UnixEnd{Type: inspect.UnixType(m.Type)}
	s := inspect.Socket{
		Family: inspect.Unix,
		State:  inspect.State(m.State),
		Unix:   u,
		Inode:  uint64(m.Inode),
		Cookie: m.Cookie,
	}
	ad := netlinkdiag.NewAttrDecoder(m.Attrs)
	for ad.Next() {
		var err error
		switch ad.Type() {
		case netlinkdiag.UnixAttrName:
			n := netlinkdiag.DecodeUnixName(ad.Bytes())
			u.Name, u.Abstract = n.Name, n.Abstract
		case netlinkdiag.UnixAttrPeer:
			u.PeerInode = uint64(ad.Uint32())
		case netlinkdiag.UnixAttrRQLen:
			var rq netlinkdiag.UnixRQLen
			rq, err = netlinkdiag.DecodeUnixRQLen(ad.Bytes())
			s.RecvQ, s.SendQ = rq.RQueue, rq.WQueue
		case netlinkdiag.UnixAttrUID:
			s.UID = ad.Uint32()
		case netlinkdiag.UnixAttrShutdown:
			u.Shutdown = ad.Uint8()
		case netlinkdiag.UnixAttrVFS:
			var vfs netlinkdiag.UnixVFS
			vfs, err = netlinkdiag.DecodeUnixVFS(ad.Bytes())
			u.VFSInode, u.VFSDev = vfs.Ino, vfs.Dev
		case netlinkdiag.UnixAttrIcons:
			var icons []uint32
			icons, err = netlinkdiag.AppendUnixIcons(nil, ad.Bytes())
			u.Pending = make([]uint64, len(icons))
			for i, ino := range icons {
				u.Pending[i] = uint64(ino)
			}
		case netlinkdiag.UnixAttrMemInfo:
			if memory {
				var mem netlinkdiag.SkMemInfo
				if err = netlinkdiag.DecodeSkMemInfo(ad.Bytes(), &mem); err == nil {
					s.Memory = new(inspect.Memory)
					*s.Memory = memoryFrom(&mem)
				}
			}
		}
		if err != nil {
			return s, fmt.Errorf("inspect: unix socket %d: %w", m.Inode, err)
		}
	}
	if err := ad.Err(); err != nil {
		return s, fmt.Errorf("inspect: unix socket %d: %w", m.Inode, err)
	}
	return s, nil
}

// dumpRawProc lists the raw sockets of family f from /proc/net/raw or raw6,
// as ss does, for a kernel without raw_diag (CONFIG_INET_RAW_DIAG), which
// answers a raw dump with ENOENT. The kernel's filter does not run on
// them: q's Filter runs here.
func (d *dumper) dumpRawProc(ctx context.Context, f inspect.Family) error {
	q := inspect.Query{Protocols: []inspect.Protocol{inspect.Raw}, Families: []inspect.Family{f}, States: d.q.States, Filter: d.q.Filter}
	socks, err := (&procsrc.Source{NetNS: d.netNS}).Sockets(ctx, q)
	if err != nil {
		return fmt.Errorf("inspect: raw/%s from /proc, as this kernel has no raw_diag: %w", f, err)
	}
	for i := range socks {
		if d.pl != nil {
			err = d.pl.add(&socks[i], nil)
		} else {
			err = d.k.put(&socks[i])
		}
		if err != nil {
			return err
		}
	}
	return nil
}
