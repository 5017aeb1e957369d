package cli

import (
	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/owners"
)

// kinds are ls's flags that choose socket kinds beyond -t and -u, as ss
// takes them: -x (unix).
type kinds struct {
	unix bool
}

// specs returns the flags.
func (k *kinds) specs() []flagSpec {
	return []flagSpec{
		{short: 'x', long: "unix", set: boolFlag(&k.unix)},
	}
}

// allUnixTypes are the unix socket types in the order ss lists them.
var allUnixTypes = []inspect.UnixType{inspect.UnixStream, inspect.UnixDgram, inspect.UnixSeqPacket}

// apply adds the kinds chosen to q.
func (k *kinds) apply(q *inspect.Query) {
	if k.unix {
		q.UnixTypes = allUnixTypes
	}
}

// netids counts the netids q can list: ss prints the Netid column unless
// there is one.
func netids(q *inspect.Query) int {
	return len(q.ProtocolsOrDefault()) + len(q.UnixTypes)
}

// setOwners sets o's processes (-p) for batch from the process table, and
// the processes holding each unix socket's peer when q lists unix sockets.
func setOwners(o *tableOptions, t *owners.ProcessTable, batch []inspect.Socket, q *inspect.Query) {
	o.processes = t.Owners(batch)
	if len(q.UnixTypes) > 0 {
		o.peers = t.PeerOwners(batch)
	}
}
