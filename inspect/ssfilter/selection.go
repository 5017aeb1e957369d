package ssfilter

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sockstate/sockstate/inspect"
)

var stateGroups = map[string]inspect.StateSet{
	"all":          inspect.AllStates,
	"connected":    inspect.ConnectedStates,
	"synchronized": inspect.SynchronizedStates,
	"bucket":       inspect.BucketStates,
	"big":          inspect.BigStates,
}

// ErrStateSelection is wrapped by every error of ParseStateSelection.
var ErrStateSelection = errors.New("bad state selection")

// ParseStateSelection reads ss's state selection from the start of words:
// any run of "state NAME" (adds NAME) and "exclude NAME" (removes NAME from
// what is selected so far, or from all states when nothing is). NAME is a
// state (ss's "time-wait" or the kernel's "TIME_WAIT") or a group (all,
// connected, synchronized, bucket, big). It returns the set, whether any
// selection was given, and the words after it.
func ParseStateSelection(words []string) (set inspect.StateSet, given bool, rest []string, err error) {
	for len(words) > 0 && (words[0] == "state" || words[0] == "exclude" || words[0] == "excl") {
		if len(words) < 2 {
			return 0, false, nil, fmt.Errorf("ssfilter: %w: %q needs a state name after it, such as established", ErrStateSelection, words[0])
		}
		s, err := stateSetByName(words[1])
		if err != nil {
			return 0, false, nil, err
		}
		if words[0] == "state" {
			set |= s
		} else {
			if !given {
				set = inspect.AllStates
			}
			set &^= s
		}
		given = true
		words = words[2:]
	}
	return set, given, words, nil
}

func stateSetByName(name string) (inspect.StateSet, error) {
	if set, ok := stateGroups[strings.ToLower(name)]; ok {
		return set, nil
	}
	if strings.EqualFold(name, "listen") {
		return inspect.StatesOf(inspect.Listen), nil
	}
	s, err := inspect.ParseState(name)
	if err != nil {
		if near := suggestState(name); near != "" {
			return 0, fmt.Errorf("ssfilter: %w: unknown state %q; did you mean %s? (states: %s)", ErrStateSelection, name, near, stateNameList())
		}
		return 0, fmt.Errorf("ssfilter: %w: unknown state %q; use one of %s", ErrStateSelection, name, stateNameList())
	}
	return inspect.StatesOf(s), nil
}

func stateNameList() string {
	return strings.Join(StateNames(), ", ")
}

// StateNames returns the names a state selection takes, as ss lists
// them: the states, then the groups.
func StateNames() []string {
	names := make([]string, 0, int(inspect.NewSynRecv)+len(stateGroups))
	for s := inspect.Established; s < inspect.NewSynRecv; s++ {
		names = append(names, s.SSName())
	}
	return append(names, "all", "connected", "synchronized", "bucket", "big")
}
