package cli

import (
	"context"
	"slices"
	"strings"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/owners"
)

// kinds are ls's flags that choose socket kinds beyond -t, -u, -4 and -6,
// as ss(8) takes them: -x (unix), -w (raw), -M (MPTCP), -f FAMILY,
// -A QUERY and -B (TCP sockets bound but inactive).
type kinds struct {
	unix, raw, mptcp, boundInactive bool
	families, queries               []string
	// filterFile is -F's file, - for standard input: the filter comes
	// from there (filterWords).
	filterFile string
	// oneline is -O: -m and -i on the socket's line.
	oneline bool
	// resolve is -r: host and service names.
	resolve bool
	// threads is -T: -p's processes listed by thread.
	threads bool
}

// specs returns ls's flags.
func (k *kinds) specs() []flagSpec {
	return append(k.kindSpecs(), []flagSpec{
		{short: 'B', long: "bound-inactive", set: boolFlag(&k.boundInactive)},
		{short: 'F', long: "filter", hasValue: true, set: func(v string) error { k.filterFile = v; return nil }},
		{short: 'O', long: "oneline", set: boolFlag(&k.oneline)},
		{short: 'r', long: "resolve", set: boolFlag(&k.resolve)},
		{short: 'T', long: "threads", set: boolFlag(&k.threads)},
	}...)
}

// kindSpecs returns the flags that choose kinds of socket, which watch
// takes too: -x -w -M -f -A.
func (k *kinds) kindSpecs() []flagSpec {
	return []flagSpec{
		{short: 'x', long: "unix", set: boolFlag(&k.unix)},
		{short: 'w', long: "raw", set: boolFlag(&k.raw)},
		{short: 'M', long: "mptcp", set: boolFlag(&k.mptcp)},
		{short: 'f', long: "family", hasValue: true, set: func(v string) error { k.families = append(k.families, v); return nil }},
		{short: 'A', long: "query", hasValue: true, set: func(v string) error { k.queries = append(k.queries, v); return nil }},
		{long: "socket", hasValue: true, set: func(v string) error { k.queries = append(k.queries, v); return nil }},
	}
}

// allUnixTypes are the unix socket types in the order ss lists them.
var allUnixTypes = []inspect.UnixType{inspect.UnixStream, inspect.UnixDgram, inspect.UnixSeqPacket}

// ssOrder is the order ss lists the IP protocols in.
var ssOrder = []inspect.Protocol{inspect.Raw, inspect.UDP, inspect.TCP, inspect.MPTCP}

// queryKinds are -A's names, as ss(8) has them, and what each lists.
var queryKinds = map[string]struct {
	protos []inspect.Protocol
	unix   []inspect.UnixType
}{
	"all":            {ssOrder, allUnixTypes},
	"inet":           {ssOrder, nil},
	"tcp":            {[]inspect.Protocol{inspect.TCP}, nil},
	"udp":            {[]inspect.Protocol{inspect.UDP}, nil},
	"raw":            {[]inspect.Protocol{inspect.Raw}, nil},
	"mptcp":          {[]inspect.Protocol{inspect.MPTCP}, nil},
	"unix":           {nil, allUnixTypes},
	"unix_stream":    {nil, []inspect.UnixType{inspect.UnixStream}},
	"unix_dgram":     {nil, []inspect.UnixType{inspect.UnixDgram}},
	"unix_seqpacket": {nil, []inspect.UnixType{inspect.UnixSeqPacket}},
}

// ssOnlyKinds are names ss takes for -A and -f that sockstate does not
// list.
var ssOnlyKinds = []string{"packet", "packet_raw", "packet_dgram", "netlink", "dccp", "sctp",
	"vsock_stream", "vsock_dgram", "tipc", "xdp", "link", "vsock"}

// apply adds the kinds chosen to q, which holds what -t -u -4 -6 and the
// state selection chose, as ss combines them: the kinds named are listed
// together, in ss's order (unix, raw, udp, tcp, mptcp); -f inet, inet6
// and unix choose families, and with no kind named, every kind of them.
// With every set and no kind or family chosen at all, every kind is
// listed, as ss lists them with no kind flag (-4 and -6 leave unix out),
// and q.EveryKind is set. cmd names the command in errors.
func (k *kinds) apply(q *inspect.Query, cmd string, every bool) error {
	protos := slices.Clone(q.Protocols)
	var unixTypes []inspect.UnixType
	addUnix := func(ts []inspect.UnixType) {
		for _, t := range ts {
			if !slices.Contains(unixTypes, t) {
				unixTypes = append(unixTypes, t)
			}
		}
	}
	if k.unix {
		addUnix(allUnixTypes)
	}
	if k.raw {
		protos = append(protos, inspect.Raw)
	}
	if k.mptcp {
		protos = append(protos, inspect.MPTCP)
	}
	for _, list := range k.queries {
		for _, name := range strings.Split(list, ",") {
			kind, ok := queryKinds[name]
			switch {
			case !ok && slices.Contains(ssOnlyKinds, name):
				return usagef("%s: -A %s: sockstate lists tcp, udp, raw, mptcp and unix sockets only", cmd, name)
			case !ok:
				return usagef("%s: -A %q: unknown socket kind; use all, inet, tcp, udp, raw, mptcp, unix, unix_stream, unix_dgram or unix_seqpacket", cmd, name)
			}
			protos = append(protos, kind.protos...)
			addUnix(kind.unix)
		}
	}
	named := len(protos) > 0 || len(unixTypes) > 0
	if every && !named && len(k.families) == 0 && !k.boundInactive {
		q.EveryKind = true
		protos = slices.Clone(ssOrder)
		if len(q.Families) == 0 {
			addUnix(allUnixTypes)
		}
	}
	for _, f := range k.families {
		switch f {
		case "inet", "inet6":
			fam := inspect.INet
			if f == "inet6" {
				fam = inspect.INet6
			}
			if !slices.Contains(q.Families, fam) {
				q.Families = append(q.Families, fam)
			}
			if !named {
				protos = append(protos, ssOrder...)
			}
		case "unix":
			if !named {
				addUnix(allUnixTypes)
			}
		default:
			if slices.Contains(ssOnlyKinds, f) || f == "help" {
				return usagef("%s: -f %s: sockstate lists the families inet, inet6 and unix only", cmd, f)
			}
			return usagef("%s: -f %q: unknown family; use inet, inet6 or unix", cmd, f)
		}
	}
	// -f chose families: a kind outside them is not listed.
	if len(k.families) > 0 && !slices.Contains(k.families, "unix") {
		unixTypes = nil
	}
	if len(k.families) > 0 && len(q.Families) == 0 {
		protos = nil
	}
	if k.boundInactive {
		// ss -B lists TCP sockets in that state alone.
		q.States = inspect.StatesOf(inspect.BoundInactive)
		if len(protos) == 0 && len(unixTypes) == 0 {
			protos = []inspect.Protocol{inspect.TCP}
		}
	}
	q.Protocols = nil
	for _, p := range ssOrder {
		if slices.Contains(protos, p) {
			q.Protocols = append(q.Protocols, p)
		}
	}
	slices.SortFunc(unixTypes, func(a, b inspect.UnixType) int {
		return slices.Index(allUnixTypes, a) - slices.Index(allUnixTypes, b)
	})
	q.UnixTypes = unixTypes
	return nil
}

// netids counts the netids q can list: ss prints the Netid column unless
// there is one.
func netids(q *inspect.Query) int {
	return len(q.ProtocolsOrDefault()) + len(q.UnixTypes)
}

// withNames returns o with the names of batch's hosts and ports for -r,
// looked up with n, which keeps them for the next batches.
func withNames(ctx context.Context, o tableOptions, n *names, batch []inspect.Socket) tableOptions {
	if n != nil {
		n.resolve(ctx, batch)
		o.names = n
	}
	return o
}

// setOwners sets o's processes (-p) for batch from the process table, and
// with peers the processes holding each unix socket's peer; with threads
// (-T) each process's threads.
func setOwners(o *tableOptions, t *owners.ProcessTable, batch []inspect.Socket, peers, threads bool) {
	o.processes = t.Owners(batch)
	if peers {
		o.peers = t.PeerOwners(batch)
	}
	if threads {
		o.processes = owners.Threads(o.processes, "")
		if peers {
			o.peers = owners.Threads(o.peers, "")
		}
	}
}
