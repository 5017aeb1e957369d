package main

import (
	"fmt"
	"strconv"
)

// netnsPlan spreads a run's sockets over many network namespaces (-netns),
// for the comparison of sockstate ls --all-netns with the same sockets in
// one namespace and with ss run in each namespace in turn. Each namespace
// holds Ports listeners and Pairs connections to them, both ends in it; a
// helper process holds the sockets of PerHelper namespaces.
type netnsPlan struct {
	Namespaces int `json:"namespaces"`
	Ports      int `json:"ports_per_namespace"`
	Pairs      int `json:"pairs_per_namespace"`
	PerHelper  int `json:"namespaces_per_helper"`
	// ChildHash, when above 0, gives every namespace its own TCP
	// established hash and UDP hash of that many buckets
	// (net.ipv4.tcp_child_ehash_entries and udp_child_hash_entries, set
	// in the harness's namespace before it makes them; Linux 6.1/6.2),
	// instead of the host's tables, which every namespace's dump walks.
	ChildHash int `json:"child_hash_entries,omitempty"`
}

// netnsName is the ip netns name of the i-th namespace.
func netnsName(i int) string { return "sockbench-" + strconv.Itoa(i) }

// newNetnsPlan spreads n sockets over ns namespaces, each with one or two
// listeners (so that the count comes out exact) and the rest in
// connections, in helpers that may each hold fds descriptors.
func newNetnsPlan(n, ns, fds int) (netnsPlan, error) {
	per := n / ns
	if per < 3 {
		return netnsPlan{}, fmt.Errorf("plan: %d sockets over %d namespaces leave fewer than 3 each", n, ns)
	}
	p := netnsPlan{Namespaces: ns, Ports: 1 + (per+1)%2}
	p.Pairs = (per - p.Ports) / 2
	p.PerHelper = (fds - fdReserve) / per
	if p.PerHelper < 1 {
		return netnsPlan{}, fmt.Errorf("plan: %d descriptors per helper leave no room for a namespace's %d sockets", fds, per)
	}
	return p, nil
}

// sockets is the number of TCP sockets the plan makes.
func (p netnsPlan) sockets() int { return p.Namespaces * (p.Ports + 2*p.Pairs) }

// netnsGroups are the comparisons of a -netns run: ls --all-netns over the
// namespaces against ss in each, by ip netns exec, in a shell loop.
func netnsGroups(only []string) []groupSpec {
	loop := command{"sh", []string{"-c", `for ns in $(ls /run/netns); do ip netns exec "$ns" ss -tan; done`}}
	return selectGroups([]groupSpec{
		{"allnetns", []command{{"sockstate", []string{"ls", "-tan", "--all-netns"}}, loop}},
	}, append(only, "sh"))
}
