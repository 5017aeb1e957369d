package ssfilter

import (
	"strings"

	"github.com/sockstate/sockstate/inspect"
)

// suggestState returns the state or group name closest to name, ss's
// spelling, when a typo of at most two letters away (establised,
// listenning); "" when none is that close.
func suggestState(name string) string {
	name = strings.ToLower(name)
	best, bestDist := "", 3
	consider := func(candidate, spelling string) {
		if d := editDistance(name, strings.ToLower(candidate)); d < bestDist {
			best, bestDist = spelling, d
		}
	}
	for s := inspect.Established; s < inspect.NewSynRecv; s++ {
		consider(s.SSName(), s.SSName())
		consider(s.String(), s.SSName())
	}
	consider("listen", "listening")
	for _, g := range []string{"all", "connected", "synchronized", "bucket", "big"} {
		consider(g, g)
	}
	// A name of one or two letters is as close to too many names.
	if len(name) < 4 {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
