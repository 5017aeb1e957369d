package main

import "fmt"

// unixHelpers is the fewest processes the unix sockets are spread over, so
// that ss -p and ls -p see several.
const unixHelpers = 4

// newUnixPlan spreads n unix sockets, as n/2 socketpairs, over helpers
// that may each hold fds descriptors; none for n 0.
func newUnixPlan(n, fds int) ([]int, error) {
	if n == 0 {
		return nil, nil
	}
	if n%2 != 0 {
		return nil, fmt.Errorf("plan: -unix %d: want an even number, socketpairs", n)
	}
	perHelper := (fds - fdReserve) / 2
	if perHelper < 1 {
		return nil, fmt.Errorf("plan: %d descriptors per helper leave no room for unix sockets", fds)
	}
	pairs := n / 2
	helpers := max(unixHelpers, ceilDiv(pairs, perHelper))
	if pairs < helpers {
		return nil, fmt.Errorf("plan: -unix %d: fewer than one pair per helper", n)
	}
	out := make([]int, helpers)
	for k := range out {
		out[k] = pairs / helpers
		if k < pairs%helpers {
			out[k]++
		}
	}
	return out, nil
}

// unixGroupSpecs are the unix comparisons, timed when the plan has unix
// sockets.
func unixGroupSpecs() []groupSpec {
	sockstate := func(args ...string) command { return command{"sockstate", append([]string{"ls"}, args...)} }
	ss := func(args ...string) command { return command{"ss", args} }
	return []groupSpec{
		{"unix", []command{sockstate("-xa"), ss("-xa")}},
		{"unixprocs", []command{sockstate("-xap"), ss("-xap")}},
	}
}

// unixSockets is the number of unix sockets a plan's helpers hold.
func (p plan) unixSockets() int {
	n := 0
	for _, c := range p.UnixPairs {
		n += 2 * c
	}
	return n
}
