package cli

import (
	"encoding/json"
	"strconv"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/owners"
)

// appendJSONUnixSocket appends a unix socket as ls -j writes it: the keys
// of an inet socket, with "local" holding the name ("path", or "abstract"
// without its leading NUL, neither when unbound) and the inode, "peer" the
// peer's inode, and for -p "peer_process", the processes holding the
// peer.
func appendJSONUnixSocket(b []byte, s *inspect.Socket, procs, peers []owners.Process, o *tableOptions) []byte {
	u := s.Unix
	b = append(b, `{"netid":`...)
	b = appendJSONString(b, s.Netid())
	b = append(b, `,"family":"unix","state":`...)
	b = appendJSONString(b, stateName(s, o.ssNames))
	b = append(b, `,"recv_q":`...)
	b = strconv.AppendUint(b, uint64(s.RecvQ), 10)
	b = append(b, `,"send_q":`...)
	b = strconv.AppendUint(b, uint64(s.SendQ), 10)
	b = append(b, `,"local":{`...)
	switch {
	case u.Abstract:
		b = appendJSONString(append(b, `"abstract":`...), u.Name)
		b = append(b, ',')
	case u.Name != "":
		b = appendJSONString(append(b, `"path":`...), u.Name)
		b = append(b, ',')
	}
	b = append(b, `"inode":`...)
	b = strconv.AppendUint(b, s.Inode, 10)
	b = append(b, `},"peer":{"inode":`...)
	b = strconv.AppendUint(b, u.PeerInode, 10)
	b = append(b, `},"uid":`...)
	b = strconv.AppendUint(b, uint64(s.UID), 10)
	b = append(b, `,"inode":`...)
	b = strconv.AppendUint(b, s.Inode, 10)
	if s.Cookie != 0 {
		b = append(b, `,"cookie":"`...)
		b = append(appendCookie(b, s.Cookie), '"')
	}
	if len(procs) > 0 {
		b = appendJSONProcs(append(b, `,"process":`...), procs)
	}
	if len(peers) > 0 {
		b = appendJSONProcs(append(b, `,"peer_process":`...), peers)
	}
	if o.extended {
		b = append(b, `,"shutdown":`...)
		b = strconv.AppendUint(b, uint64(u.Shutdown), 10)
		if u.VFSInode != 0 || u.VFSDev != 0 {
			b = strconv.AppendUint(append(b, `,"vfs":{"inode":`...), uint64(u.VFSInode), 10)
			b = strconv.AppendUint(append(b, `,"dev":`...), uint64(u.VFSDev), 10)
			b = append(b, '}')
		}
		if u.Pending != nil {
			b = append(b, `,"pending":[`...)
			for k, ino := range u.Pending {
				if k > 0 {
					b = append(b, ',')
				}
				b = strconv.AppendUint(b, ino, 10)
			}
			b = append(b, ']')
		}
	}
	if m := s.Memory; o.memory && m != nil {
		jm := jsonMemory{RmemAlloc: m.RmemAlloc, RcvBuf: m.RcvBuf, WmemAlloc: m.WmemAlloc, SndBuf: m.SndBuf,
			FwdAlloc: m.FwdAlloc, WmemQueued: m.WmemQueued, OptMem: m.OptMem}
		if m.Vars > 7 {
			jm.Backlog = &m.Backlog
		}
		if m.Vars > 8 {
			jm.Drops = &m.Drops
		}
		mb, _ := json.Marshal(jm) // plain numbers always marshal
		b = append(append(b, `,"memory":`...), mb...)
	}
	return append(b, '}')
}

// appendJSONProcs appends procs as a JSON array of {"pid","comm","fd"}.
func appendJSONProcs(b []byte, procs []owners.Process) []byte {
	b = append(b, '[')
	for i, p := range procs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"pid":`...)
		b = strconv.AppendInt(b, int64(p.PID), 10)
		b = append(b, `,"comm":`...)
		b = appendJSONString(b, p.Comm)
		b = append(b, `,"fd":`...)
		b = strconv.AppendInt(b, int64(p.FD), 10)
		if p.TID != 0 {
			b = append(b, `,"tid":`...)
			b = strconv.AppendInt(b, int64(p.TID), 10)
		}
		b = append(b, '}')
	}
	return append(b, ']')
}
