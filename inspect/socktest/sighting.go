package socktest

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/sockstate/sockstate/inspect"
)

// sighting is when a check first saw a socket in its current state.
type sighting struct {
	state inspect.State
	since time.Time
}

// sightings follows sockets across the polls of one check, by the key that
// identifies a socket across snapshots (inspect.KeyOf: the cookie from
// sock_diag, the tuple from /proc).
type sightings map[inspect.Key]sighting

// sighted is a socket and how long a check has seen it in its state.
type sighted struct {
	inspect.Socket
	seenFor time.Duration
}

// update records the sockets of a poll made at now and returns them, once
// each, in a stable order, with how long each has been seen in its state.
func (seen sightings) update(socks []inspect.Socket, now time.Time) []sighted {
	out := make([]sighted, 0, len(socks))
	polled := make(map[inspect.Key]bool, len(socks))
	for _, s := range socks {
		k := inspect.KeyOf(&s)
		if polled[k] {
			// A dump the kernel interrupted and netlinkdiag
			// repeated can list a socket twice.
			continue
		}
		polled[k] = true
		sg, ok := seen[k]
		if !ok || sg.state != s.State {
			sg = sighting{state: s.State, since: now}
			seen[k] = sg
		}
		out = append(out, sighted{Socket: s, seenFor: now.Sub(sg.since)})
	}
	slices.SortFunc(out, func(a, b sighted) int {
		if c := a.Local.Compare(b.Local); c != 0 {
			return c
		}
		if c := a.Peer.Compare(b.Peer); c != 0 {
			return c
		}
		return int(a.State) - int(b.State)
	})
	return out
}

// String returns s as the failure messages show it, as ss would with the
// time seen in the state after it:
// "tcp CLOSE_WAIT 127.0.0.1:8080 -> 127.0.0.1:51234 (for 1s)". The time is
// cut to 10ms, below the precision of polling.
func (s sighted) String() string {
	return fmt.Sprintf("%s %s %s -> %s (for %s)", s.Protocol, s.State,
		addrPort(s.Local), addrPort(s.Peer), s.seenFor.Truncate(10*time.Millisecond))
}

// addrPort prints port 0, which a listener's peer has, as ss does: "*".
func addrPort(ap netip.AddrPort) string {
	if ap.Port() != 0 {
		return ap.String()
	}
	if ap.Addr().Is4() {
		return ap.Addr().String() + ":*"
	}
	return "[" + ap.Addr().String() + "]:*"
}

// maxPollWait is the longest pause between two polls.
const maxPollWait = 20 * time.Millisecond

// poll calls done, with the time of the call, until it returns true or d
// has passed: at once, then after pauses growing from 1ms to maxPollWait,
// and last at d or just after, however long done takes. It reports whether
// done returned true.
func poll(d time.Duration, done func(now time.Time) bool) bool {
	start := time.Now()
	deadline := start.Add(d)
	wait := time.Millisecond
	// Time passes in every round, so the deadline ends the loop.
	for now := start; ; now = time.Now() {
		if done(now) {
			return true
		}
		if !now.Before(deadline) {
			return false
		}
		time.Sleep(min(wait, time.Until(deadline)))
		wait = min(2*wait, maxPollWait)
	}
}
