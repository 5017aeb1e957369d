package allnetns_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/allnetns"
	"github.com/sockstate/sockstate/inspect/sockdiag"
	"github.com/sockstate/sockstate/internal/testnet"
)

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// bindMounted makes a namespace held only by a bind mount outside
// /run/netns, as docker holds its containers' (/var/run/docker/netns):
// a child of unshare -n holds it until it is bind-mounted, then ends. The
// function returned unmounts it, which ends the namespace once nothing
// else holds it: lazily, as a listing in progress may have it open.
func bindMounted(t *testing.T) (ino uint64, path string, unmount func()) {
	t.Helper()
	ns := testnet.NewUnnamed(t)
	path = filepath.Join(t.TempDir(), "netns")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "--bind", ns.Path, path).CombinedOutput(); err != nil {
		t.Fatalf("mount --bind %s %s: %v: %s", ns.Path, path, err, out)
	}
	mounted := true
	unmount = func() {
		if mounted {
			mounted = false
			if out, err := exec.Command("umount", "--lazy", path).CombinedOutput(); err != nil {
				t.Errorf("umount %s: %v: %s", path, err, out)
			}
		}
	}
	t.Cleanup(unmount)
	ino = inode(t, ns.Path)
	ns.Kill(t)
	return ino, path, unmount
}

// TestDiscover finds namespaces held by a name (/run/netns), by a process
// only (unshare -n), and by a bind mount only (found in mountinfo), each
// once, named where ip netns names it.
func TestDiscover(t *testing.T) {
	named := testnet.New(t)
	unnamed := testnet.NewUnnamed(t)
	mountedIno, mountedPath, _ := bindMounted(t)

	found, err := allnetns.Discover("/proc")
	if err != nil {
		t.Fatal(err)
	}
	ns := found.Namespaces
	if len(ns) == 0 || !ns[0].Own || ns[0].Inode != inode(t, "/proc/self/ns/net") {
		t.Fatalf("first namespace %+v, want the caller's", ns[:min(1, len(ns))])
	}
	seen := map[uint64]int{}
	for _, n := range ns {
		seen[n.Inode]++
	}
	for ino, n := range seen {
		if n != 1 {
			t.Errorf("net:[%d] found %d times", ino, n)
		}
	}
	find := func(ino uint64) allnetns.Namespace {
		i := slices.IndexFunc(ns, func(n allnetns.Namespace) bool { return n.Inode == ino })
		if i < 0 {
			t.Fatalf("net:[%d] not found among %+v", ino, ns)
		}
		return ns[i]
	}
	if got := find(inode(t, named.Path)); got.Name != named.Name || got.Label() != named.Name {
		t.Errorf("named namespace found as %+v, label %q", got, got.Label())
	}
	if got := find(inode(t, unnamed.Path)); got.Name != "" || got.Label() != "net:["+itoa(inode(t, unnamed.Path))+"]" {
		t.Errorf("unnamed namespace found as %+v, label %q", got, got.Label())
	}
	got := find(mountedIno)
	if got.Name != "" || filepath.Base(got.Path) != filepath.Base(mountedPath) {
		t.Errorf("bind-mounted namespace found as %+v, want it through its mount %s", got, mountedPath)
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

// TestEachVanished lists three namespaces, two of which end after they
// were found: one by its process ending, one by its bind mount going.
// Both are skipped without an error, and the first is listed whole. When
// they end during the listing, they are listed or skipped, never an error.
func TestEachVanished(t *testing.T) {
	for _, during := range []bool{false, true} {
		t.Run(map[bool]string{false: "before", true: "during"}[during], func(t *testing.T) {
			first := testnet.New(t)
			ln := first.Listen(t, "tcp", "127.0.0.1:0")
			holder := testnet.NewUnnamed(t)
			mountedIno, mountedPath, unmount := bindMounted(t)
			nss := []allnetns.Namespace{
				{Inode: inode(t, first.Path), Name: first.Name, Path: first.Path},
				{Inode: inode(t, holder.Path), Path: holder.Path},
				{Inode: mountedIno, Path: mountedPath},
			}
			end := func() {
				holder.Kill(t)
				unmount()
			}
			if !during {
				end()
			}
			q := inspect.Query{Protocols: []inspect.Protocol{inspect.TCP}, States: inspect.AllStates}
			var got []string
			st, err := allnetns.Each(context.Background(), nss, q, func(fd int) inspect.Source { return &sockdiag.Source{NetNS: fd} },
				func(ns *allnetns.Namespace, batch []inspect.Socket) error {
					for _, s := range batch {
						if s.NetNS != ns.Inode {
							t.Errorf("socket %v tagged net:[%d] in %s", s.Local, s.NetNS, ns.Label())
						}
						got = append(got, ns.Label()+" "+s.State.String()+" "+s.Local.String())
					}
					if during && ns.Name == first.Name {
						end()
					}
					return nil
				})
			if err != nil {
				t.Fatal(err)
			}
			if during {
				if st.Listed+st.Vanished != 3 || st.Listed < 1 || st.Denied != 0 {
					t.Errorf("stats %+v, want 3 listed or vanished", st)
				}
			} else if diff := cmp.Diff(allnetns.Stats{Listed: 1, Vanished: 2}, st); diff != "" {
				t.Errorf("stats (-want +got):\n%s", diff)
			}
			want := []string{first.Name + " LISTEN " + ln.Addr().String()}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("sockets (-want +got):\n%s", diff)
			}
		})
	}
}

// TestEachOrder lists namespaces concurrently and hands them over in
// order, and stops at the caller's first error.
func TestEachOrder(t *testing.T) {
	var nss []allnetns.Namespace
	want := []string{}
	for range 6 {
		ns := testnet.New(t)
		for range 3 {
			ns.Listen(t, "tcp", "127.0.0.1:0")
		}
		nss = append(nss, allnetns.Namespace{Inode: inode(t, ns.Path), Name: ns.Name, Path: ns.Path})
		want = append(want, ns.Name, ns.Name, ns.Name)
	}
	q := inspect.Query{Protocols: []inspect.Protocol{inspect.TCP}, States: inspect.AllStates}
	src := func(fd int) inspect.Source { return &sockdiag.Source{NetNS: fd} }
	var got []string
	st, err := allnetns.Each(context.Background(), nss, q, src, func(ns *allnetns.Namespace, batch []inspect.Socket) error {
		for range batch {
			got = append(got, ns.Name)
		}
		return nil
	})
	if err != nil || st.Listed != len(nss) {
		t.Fatalf("stats %+v, %v", st, err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	stop := errors.New("stop")
	calls := 0
	_, err = allnetns.Each(context.Background(), nss, q, src, func(*allnetns.Namespace, []inspect.Socket) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("after the caller's error: %v, %d calls", err, calls)
	}
}
