package socktest

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/inspect"
)

func TestSocketInode(t *testing.T) {
	for _, tc := range []struct {
		link  string
		inode uint64
		ok    bool
	}{
		{link: "socket:[2749818]", inode: 2749818, ok: true},
		{link: "socket:[18446744073709551615]", inode: 1<<64 - 1, ok: true},
		{link: "socket:[0]"},
		{link: "socket:[18446744073709551616]"},
		{link: "socket:[]"},
		{link: "socket:[-1]"},
		{link: "socket:[12"},
		{link: "socket:12]"},
		{link: "pipe:[2749818]"},
		{link: "anon_inode:[eventpoll]"},
		{link: "/dev/null"},
		{link: ""},
	} {
		t.Run(tc.link, func(t *testing.T) {
			inode, ok := socketInode(tc.link)
			if inode != tc.inode || ok != tc.ok {
				t.Errorf("socketInode(%q) = %d, %v; want %d, %v", tc.link, inode, ok, tc.inode, tc.ok)
			}
		})
	}
}

// FuzzSocketInode checks that socketInode never panics and accepts only
// "socket:[N]" with N a positive decimal number.
func FuzzSocketInode(f *testing.F) {
	for _, s := range []string{"socket:[2749818]", "socket:[0]", "pipe:[1]", "socket:[+1]", "socket:[01]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, link string) {
		inode, ok := socketInode(link)
		if !ok {
			if inode != 0 {
				t.Errorf("socketInode(%q) = %d, false; want 0 with false", link, inode)
			}
			return
		}
		num := strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")
		if inode == 0 || "socket:["+num+"]" != link || strings.TrimLeft(num, "0123456789") != "" {
			t.Errorf("socketInode(%q) = %d, true; want only socket:[N], N > 0", link, inode)
		}
		if n, err := strconv.ParseUint(num, 10, 64); err != nil || n != inode {
			t.Errorf("socketInode(%q) = %d; the number reads %d, %v", link, inode, n, err)
		}
	})
}

// TestSightings follows sockets across polls: each is listed once, in the
// order of local then peer address, with the time since it was first seen
// in its current state.
func TestSightings(t *testing.T) {
	sock := func(cookie uint64, state inspect.State, local, peer string) inspect.Socket {
		return inspect.Socket{
			Protocol: inspect.TCP, Family: inspect.INet, State: state, Cookie: cookie,
			Local: netip.MustParseAddrPort(local), Peer: netip.MustParseAddrPort(peer),
		}
	}
	listener := sock(1, inspect.Listen, "127.0.0.1:8080", "0.0.0.0:0")
	server := sock(2, inspect.Established, "127.0.0.1:8080", "127.0.0.1:51234")
	client := sock(3, inspect.Established, "127.0.0.1:51234", "127.0.0.1:8080")
	closing := server
	closing.State = inspect.CloseWait
	// The /proc fallback has no cookies: the tuple is the key.
	proc := sock(0, inspect.Established, "[::1]:443", "[::1]:40000")

	start := time.Unix(1000, 0)
	seen := make(sightings)
	for _, poll := range []struct {
		at    time.Duration
		socks []inspect.Socket
		want  []string
	}{
		{
			at: 0, socks: []inspect.Socket{client, server, listener, proc},
			want: []string{
				"tcp LISTEN 127.0.0.1:8080 -> 0.0.0.0:* (for 0s)",
				"tcp ESTABLISHED 127.0.0.1:8080 -> 127.0.0.1:51234 (for 0s)",
				"tcp ESTABLISHED 127.0.0.1:51234 -> 127.0.0.1:8080 (for 0s)",
				"tcp ESTABLISHED [::1]:443 -> [::1]:40000 (for 0s)",
			},
		},
		{
			// A repeated dump lists the server twice.
			at: 250 * time.Millisecond, socks: []inspect.Socket{server, client, server, proc},
			want: []string{
				"tcp ESTABLISHED 127.0.0.1:8080 -> 127.0.0.1:51234 (for 250ms)",
				"tcp ESTABLISHED 127.0.0.1:51234 -> 127.0.0.1:8080 (for 250ms)",
				"tcp ESTABLISHED [::1]:443 -> [::1]:40000 (for 250ms)",
			},
		},
		{
			// The server's end moves to CLOSE_WAIT: its time starts
			// again. Times are cut to 10ms.
			at: 1509 * time.Millisecond, socks: []inspect.Socket{closing, client},
			want: []string{
				"tcp CLOSE_WAIT 127.0.0.1:8080 -> 127.0.0.1:51234 (for 0s)",
				"tcp ESTABLISHED 127.0.0.1:51234 -> 127.0.0.1:8080 (for 1.5s)",
			},
		},
		{
			at: 2519 * time.Millisecond, socks: []inspect.Socket{closing},
			want: []string{"tcp CLOSE_WAIT 127.0.0.1:8080 -> 127.0.0.1:51234 (for 1.01s)"},
		},
	} {
		var got []string
		for _, s := range seen.update(poll.socks, start.Add(poll.at)) {
			got = append(got, s.String())
		}
		if diff := cmp.Diff(poll.want, got); diff != "" {
			t.Errorf("poll at %v (-want +got):\n%s", poll.at, diff)
		}
	}
}

// TestPoll checks that poll stops when done says so, and otherwise calls
// it last at the deadline, not before.
func TestPoll(t *testing.T) {
	for _, tc := range []struct {
		d      time.Duration
		doneAt int           // the call, from 1, that returns true; 0 for none
		slow   time.Duration // how long each call takes
		want   bool
	}{
		{d: 0, want: false},
		{d: -time.Second, want: false},
		{d: 0, doneAt: 1, want: true},
		{d: time.Minute, doneAt: 3, want: true},
		{d: 50 * time.Millisecond, want: false},
		// A slow done does not make poll stop before the deadline.
		{d: 50 * time.Millisecond, slow: 30 * time.Millisecond, want: false},
	} {
		t.Run(fmt.Sprintf("%v,done at %d,slow %v", tc.d, tc.doneAt, tc.slow), func(t *testing.T) {
			var calls int
			var first, last time.Time
			got := poll(tc.d, func(now time.Time) bool {
				calls++
				if calls == 1 {
					first = now
				}
				last = now
				time.Sleep(tc.slow)
				return calls == tc.doneAt
			})
			if got != tc.want {
				t.Errorf("poll returned %v after %d calls, want %v", got, calls, tc.want)
			}
			if tc.doneAt > 0 && calls != tc.doneAt {
				t.Errorf("poll called done %d times, want %d", calls, tc.doneAt)
			}
			if !tc.want && last.Sub(first) < max(tc.d, 0) {
				t.Errorf("poll called done last %v after its first call, before its %v", last.Sub(first), tc.d)
			}
			if !tc.want && tc.d <= 0 && calls != 1 {
				t.Errorf("poll with %v called done %d times, want once", tc.d, calls)
			}
		})
	}
}
