package inspect

import (
	"errors"
	"fmt"
	"strings"
)

// The state groups of ss(8), and the sets its -a, -l and default select.
const (
	// ConnectedStates is ss's "connected": every state but LISTEN and CLOSE.
	ConnectedStates = AllStates &^ (1<<Listen | 1<<Close)
	// SynchronizedStates is ss's "synchronized": connected but not SYN_SENT.
	SynchronizedStates = ConnectedStates &^ (1 << SynSent)
	// BucketStates is ss's "bucket": the minisockets, SYN_RECV and TIME_WAIT.
	BucketStates = StateSet(1<<SynRecv | 1<<TimeWait)
	// BigStates is ss's "big": every state but the minisockets. The kernel
	// keeps a pending connection as a request socket in NEW_SYN_RECV and
	// reports it as SYN_RECV whenever SYN_RECV is asked for.
	BigStates = AllStates &^ BucketStates &^ (1 << NewSynRecv)
	// DefaultStates is what ss lists with neither -a nor -l: connected
	// sockets without the minisockets.
	DefaultStates = ConnectedStates &^ BucketStates &^ (1 << NewSynRecv)
	// ListeningStates is what ss -l lists: TCP listeners and unconnected
	// UDP sockets, which the kernel keeps in CLOSE.
	ListeningStates = StateSet(1<<Listen | 1<<Close)
)

var stateGroups = map[string]StateSet{
	"all":          AllStates,
	"connected":    ConnectedStates,
	"synchronized": SynchronizedStates,
	"bucket":       BucketStates,
	"big":          BigStates,
}

// ErrStateSelection is wrapped by every error of ParseStateSelection.
var ErrStateSelection = errors.New("bad state selection")

// ParseStateSelection reads ss's state selection from the start of words:
// any run of "state NAME" (adds NAME) and "exclude NAME" (removes NAME from
// what is selected so far, or from all states when nothing is). NAME is a
// state (ss's "time-wait" or the kernel's "TIME_WAIT") or a group (all,
// connected, synchronized, bucket, big). It returns the set, whether any
// selection was given, and the words after it.
func ParseStateSelection(words []string) (set StateSet, given bool, rest []string, err error) {
	for len(words) > 0 && (words[0] == "state" || words[0] == "exclude" || words[0] == "excl") {
		if len(words) < 2 {
			return 0, false, nil, fmt.Errorf("inspect: %w: %q needs a state name after it, such as established", ErrStateSelection, words[0])
		}
		s, err := stateSetByName(words[1])
		if err != nil {
			return 0, false, nil, err
		}
		if words[0] == "state" {
			set |= s
		} else {
			if !given {
				set = AllStates
			}
			set &^= s
		}
		given = true
		words = words[2:]
	}
	return set, given, words, nil
}

func stateSetByName(name string) (StateSet, error) {
	if set, ok := stateGroups[strings.ToLower(name)]; ok {
		return set, nil
	}
	if strings.EqualFold(name, "listen") {
		return StatesOf(Listen), nil
	}
	s, err := ParseState(name)
	if err != nil {
		return 0, fmt.Errorf("inspect: %w: unknown state %q; use one of %s", ErrStateSelection, name, stateNameList())
	}
	return StatesOf(s), nil
}

func stateNameList() string {
	names := make([]string, 0, int(maxState)+len(stateGroups))
	for s := Established; s < NewSynRecv; s++ {
		names = append(names, s.SSName())
	}
	return strings.Join(append(names, "all", "connected", "synchronized", "bucket", "big"), ", ")
}
