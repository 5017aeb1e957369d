//go:build linux

package allnetns

import (
	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/netns"
	"github.com/sockstate/sockstate/procnet"
)

// holdsNone reports whether the namespace open at fd (0: the caller's)
// holds no socket q could list, by its sockstat and sockstat6 counters,
// which are the namespace's own (proc(5); the kernel counts TCP's
// TIME_WAIT per namespace too, net->ipv4.tcp_death_row): q lists TCP
// and UDP sockets only, and none of q's protocols is in use or, for TCP,
// in TIME_WAIT. A dump walks
// the host's whole TCP table for every namespace, so an empty one costs
// as much as a full one; this read costs a setns and two small files. It
// reports false when it cannot tell.
func holdsNone(fd int, q *inspect.Query) bool {
	for _, p := range q.ProtocolsOrDefault() {
		if p != inspect.TCP && p != inspect.UDP {
			return false
		}
	}
	if len(q.UnixTypes) > 0 {
		return false
	}
	var st procnet.Sockstat
	read := func() error {
		var err error
		st, err = procnet.NewFS("/proc/thread-self").ReadSockstat()
		return err
	}
	var err error
	if fd == 0 {
		err = read()
	} else {
		err = netns.Do(fd, read)
	}
	if err != nil {
		return false
	}
	for _, p := range q.ProtocolsOrDefault() {
		switch {
		case p == inspect.TCP && (st.TCP.InUse != 0 || st.TCP.TW != 0 || st.TCP6.InUse != 0):
			return false
		case p == inspect.UDP && (st.UDP.InUse != 0 || st.UDP6.InUse != 0 || st.UDPLite.InUse != 0 || st.UDPLite6.InUse != 0):
			return false
		}
	}
	return true
}
