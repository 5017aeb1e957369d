package exporter

import (
	"cmp"
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sockstate/sockstate/inspect"
)

// Grouping splits sockstate_sockets by a label of its own: the network
// namespace, cgroup or container of each socket.
type Grouping struct {
	// Label is the label's name: netns, cgroup or container.
	Label string
	// Key returns the group of a socket as a number: the namespace's
	// inode, the cgroup's id. It is called once per socket, so it must
	// be cheap.
	Key func(s *inspect.Socket) uint64
	// Name returns the label's value for a key. Keys whose names are
	// equal are one group (two cgroups of one container).
	Name func(key uint64) string
	// Cgroup asks the source for each socket's cgroup id
	// (inspect.Query.Cgroup), which Key reads.
	Cgroup bool
	// NetNS says the groups are network namespaces (Key is Socket.NetNS):
	// with Config.EachNetNS the listen counters and ports available are
	// by namespace too.
	NetNS bool
}

// otherGroupsDesc is the count of the groups folded into "other".
var otherGroupsDesc = prometheus.NewDesc("sockstate_sockets_other_groups",
	"Groups of --by (namespaces, cgroups or containers) counted under the value \"other\" of sockstate_sockets, those beyond --max-series.",
	nil, nil)

// stateCounts counts sockets by kind (a row of kinds) and state.
type stateCounts [numKinds][numStates]int64

// groupCount is one group's sockets.
type groupCount struct {
	name    string
	sockets stateCounts
	total   int64
}

// groupSockets returns sockstate_sockets's description with the
// grouping's label first.
func groupSockets(g *Grouping) *prometheus.Desc {
	return prometheus.NewDesc("sockstate_sockets",
		"Sockets by "+g.Label+", protocol (tcp, udp, unix), address family (inet, inet6, unix) and the kernel's state name (UNCONN for an unconnected UDP or unix socket); the "+g.Label+"s beyond --max-series are summed under \"other\".",
		[]string{g.Label, "protocol", "family", "state"}, nil)
}

// countGroup adds s, whose indexes count has checked, to its group's
// counts.
func (t *tally) countGroup(s *inspect.Socket, k int) {
	key := t.by.Key(s)
	g := t.groups[key]
	if g == nil {
		g = new(stateCounts)
		t.groups[key] = g
	}
	g[k][s.State]++
}

// finishGroups names the groups, merges those of one name, and keeps the
// max largest (ties by name) in the snapshot, summing the rest as other.
func (t *tally) finishGroups(max int) {
	byName := map[string]*groupCount{}
	for k, counts := range t.groups {
		name := t.by.Name(k)
		g := byName[name]
		if g == nil {
			g = &groupCount{name: name}
			byName[name] = g
		}
		for k := range counts {
			for st, n := range counts[k] {
				g.sockets[k][st] += n
				g.total += n
			}
		}
	}
	clear(t.groups)
	all := make([]*groupCount, 0, len(byName))
	for _, g := range byName {
		all = append(all, g)
	}
	slices.SortFunc(all, func(a, b *groupCount) int {
		return cmp.Or(cmp.Compare(b.total, a.total), cmp.Compare(a.name, b.name))
	})
	snap := t.snap
	for i, g := range all {
		if i < max {
			snap.groups = append(snap.groups, *g)
			continue
		}
		if snap.otherGroup == nil {
			snap.otherGroup = &groupCount{name: "other"}
		}
		snap.otherGroups++
		for k := range g.sockets {
			for st, n := range g.sockets[k] {
				snap.otherGroup.sockets[k][st] += n
			}
		}
	}
}

// emitGroups sends sockstate_sockets by group: the states a group has
// sockets in, for each group kept and for other.
func (s *snapshot) emitGroups(d *prometheus.Desc, gauge func(*prometheus.Desc, float64, ...string)) {
	groups := s.groups
	if s.otherGroup != nil {
		groups = append(groups[:len(groups):len(groups)], *s.otherGroup)
	}
	for i := range groups {
		g := &groups[i]
		for k := range kinds {
			for st, n := range g.sockets[k] {
				if n > 0 {
					gauge(d, float64(n), g.name, kinds[k].protocol, kinds[k].family, kinds[k].stateLabel(inspect.State(st)))
				}
			}
		}
	}
	gauge(otherGroupsDesc, float64(s.otherGroups))
}
