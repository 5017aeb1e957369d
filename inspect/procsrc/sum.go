package procsrc

// Sum returns the summary of several namespaces together. Most counters
// are the namespace's own and add up; the kernel keeps two host-wide,
// TCP sockets allocated and orphaned, which every namespace reports
// alike and which count once: ss's "TCP:" total (allocated plus
// TIME_WAIT) and "closed" are then made from the sums as for one
// namespace.
func Sum(sums []Summary) Summary {
	var t Summary
	if len(sums) == 0 {
		return t
	}
	alloc := sums[0].TCPAll - sums[0].TCPTimeWait
	t.TCPOrphaned = sums[0].TCPOrphaned
	for i := range sums {
		s := &sums[i]
		t.Sockets += s.Sockets
		t.TCPEstablished += s.TCPEstablished
		t.TCPTimeWait += s.TCPTimeWait
		t.RAW = t.RAW.add(s.RAW)
		t.UDP = t.UDP.add(s.UDP)
		t.TCP = t.TCP.add(s.TCP)
		t.FRAG = t.FRAG.add(s.FRAG)
	}
	t.TCPAll = alloc + t.TCPTimeWait
	t.TCPClosed = alloc - (t.TCP.Total() - t.TCPTimeWait)
	return t
}

func (c Counts) add(d Counts) Counts {
	return Counts{IPv4: c.IPv4 + d.IPv4, IPv6: c.IPv6 + d.IPv6}
}
