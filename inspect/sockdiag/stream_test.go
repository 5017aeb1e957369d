package sockdiag

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/sockstate/sockstate/inspect"

	"github.com/sockstate/sockstate/netlinkdiag"
)

// repeatingDiag is a DiagConn whose every dump lists cookies 1 to n and,
// from the second on, n+1 too (a socket made meanwhile); the first
// interrupted dumps are interrupted.
type repeatingDiag struct {
	n, interrupted, dumps int
}

func (d *repeatingDiag) DumpOnce(ctx context.Context, req netlinkdiag.Request, fn func(*netlinkdiag.Msg) error) error {
	d.dumps++
	last := d.n
	if d.dumps > 1 {
		last++
	}
	for c := 1; c <= last; c++ {
		m := netlinkdiag.Msg{Family: req.Family, State: uint8(inspect.Established), Cookie: uint64(c),
			Src: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(c)), Dst: netip.MustParseAddrPort("127.0.0.1:80")}
		if err := fn(&m); err != nil {
			return err
		}
	}
	if d.dumps <= d.interrupted {
		return fmt.Errorf("scripted: %w", netlinkdiag.ErrDumpInterrupted)
	}
	return nil
}

func (d *repeatingDiag) Close() error { return nil }

// TestEachDumpInterrupted requires Each to hand over every socket once
// when an interrupted table is dumped again (the repeats of the retry
// dropped, the socket only the retry lists added), in batches, and to end
// with ErrDumpInterrupted when every attempt was interrupted.
func TestEachDumpInterrupted(t *testing.T) {
	n := BatchSize + 10
	for _, tt := range []struct {
		interrupted int
		err         error
	}{{0, nil}, {1, nil}, {3, netlinkdiag.ErrDumpInterrupted}} {
		for _, info := range []bool{false, true} {
			t.Run(fmt.Sprintf("interrupted %d, info %v", tt.interrupted, info), func(t *testing.T) {
				d := &repeatingDiag{n: n, interrupted: tt.interrupted}
				src := &Source{Dial: func(*netlinkdiag.Config) (DiagConn, error) { return d, nil }}
				q := inspect.Query{Protocols: []inspect.Protocol{inspect.TCP}, Families: []inspect.Family{inspect.INet}, States: inspect.AllStates, Info: info}
				var got []uint64
				err := src.Each(context.Background(), q, func(batch []inspect.Socket) error {
					if len(batch) > BatchSize {
						t.Errorf("batch of %d", len(batch))
					}
					for _, s := range batch {
						got = append(got, s.Cookie)
					}
					return nil
				})
				if !errors.Is(err, tt.err) || (err == nil) != (tt.err == nil) {
					t.Errorf("Each: %v, want %v", err, tt.err)
				}
				want := make([]uint64, 0, n+1)
				for c := 1; c <= n; c++ {
					want = append(want, uint64(c))
				}
				if tt.interrupted > 0 {
					want = append(want, uint64(n+1))
				}
				if !slices.Equal(got, want) {
					t.Errorf("%d cookies handed over, want %d, each once", len(got), len(want))
				}
			})
		}
	}
}
