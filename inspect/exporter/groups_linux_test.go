package exporter_test

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/allnetns"
	"github.com/sockstate/sockstate/inspect/exporter"
	"github.com/sockstate/sockstate/inspect/sockdiag"
	"github.com/sockstate/sockstate/internal/testnet"
)

// namespaces lists the sockets of the test's namespaces, each tagged with
// its namespace's inode, as serve --all-netns lists every namespace of the
// host (whose other namespaces the tests do not control).
type namespaces []allnetns.Namespace

func (n namespaces) Sockets(context.Context, inspect.Query) ([]inspect.Socket, error) {
	panic("exporter lists with Each")
}

func (n namespaces) Each(ctx context.Context, q inspect.Query, fn func([]inspect.Socket) error) error {
	_, err := allnetns.Each(ctx, n, q, func(fd int) inspect.Source { return &sockdiag.Source{NetNS: fd} },
		func(_ *allnetns.Namespace, batch []inspect.Socket) error { return fn(batch) })
	return err
}

func nsOf(t *testing.T, ns *testnet.NS) allnetns.Namespace {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(ns.Path, &st); err != nil {
		t.Fatal(err)
	}
	return allnetns.Namespace{Inode: st.Ino, Name: ns.Name, Path: ns.Path}
}

// ssByGroup counts ss -tuanH's sockets in ns as sockstate_sockets series
// with the netns label value.
func ssByGroup(t *testing.T, ns *testnet.NS, value string, into series) {
	t.Helper()
	for _, line := range ns.SS(t, "-tuanH") {
		f := strings.Fields(line)
		family := "inet"
		if strings.HasPrefix(f[2], "[") {
			family = "inet6"
		}
		into[fmt.Sprintf("sockstate_sockets{family=%q,netns=%q,protocol=%q,state=%q}", family, value, f[0], f[1])]++
	}
}

// TestGroupsByNetns counts three namespaces of 11, 5 and 2 sockets by
// namespace: each namespace's series are exactly ss's counts in it, and
// with --max-series 2 the smallest is summed under netns="other", counted
// in sockstate_sockets_other_groups.
func TestGroupsByNetns(t *testing.T) {
	big, mid, small := testnet.New(t), testnet.New(t), testnet.New(t)
	settled(t, big, big.Textbook(t, "127.0.0.1"))
	for i, ns := range []*testnet.NS{mid, small} {
		ln := ns.Listen(t, "tcp", "127.0.0.1:0")
		pairs(t, ns, ln, 2-i)
	}
	nss := namespaces{nsOf(t, big), nsOf(t, mid), nsOf(t, small)}
	label := map[uint64]string{}
	for _, n := range nss {
		label[n.Inode] = n.Label()
	}
	by := &exporter.Grouping{Label: "netns", Key: func(s *inspect.Socket) uint64 { return s.NetNS }, Name: func(k uint64) string { return label[k] }}
	for _, tt := range []struct {
		max        int
		otherValue string
		others     float64
	}{
		{max: 64, otherValue: small.Name, others: 0},
		{max: 2, otherValue: "other", others: 1},
	} {
		t.Run(fmt.Sprint("max ", tt.max), func(t *testing.T) {
			want := series{}
			ssByGroup(t, big, big.Name, want)
			ssByGroup(t, mid, mid.Name, want)
			ssByGroup(t, small, tt.otherValue, want)
			if len(want) < 6 {
				t.Fatalf("ss lists too little:\n%s", want)
			}
			c, err := exporter.New(exporter.Config{Source: nss, MaxSeries: tt.max, By: by,
				OnError: func(stage string, err error) { t.Errorf("collection stage %s: %v", stage, err) }})
			if err != nil {
				t.Fatal(err)
			}
			got := gather(t, c)
			if diff := cmp.Diff(want, got.only("sockstate_sockets{")); diff != "" {
				t.Errorf("(-ss +sockstate)\n%s", diff)
			}
			if n := got["sockstate_sockets_other_groups"]; n != tt.others {
				t.Errorf("other groups %v, want %v", n, tt.others)
			}
		})
	}
}
