package u64map

import (
	"math/rand/v2"
	"testing"
)

// TestU64Map checks Map against a Go map through puts, getOrPuts and
// gets of sequential, random and zero keys, across growth and resets.
func TestU64Map(t *testing.T) {
	tests := []struct {
		name string
		key  func(r *rand.Rand, i int) uint64
		hint int
	}{
		{"sequential", func(_ *rand.Rand, i int) uint64 { return uint64(i) }, 0},
		{"sequential, sized", func(_ *rand.Rand, i int) uint64 { return 1<<40 + uint64(i) }, 5000},
		{"random", func(r *rand.Rand, _ int) uint64 { return r.Uint64() }, 0},
		{"few, repeated", func(r *rand.Rand, _ int) uint64 { return r.Uint64N(50) }, 0},
		{"strided", func(_ *rand.Rand, i int) uint64 { return uint64(i) << 32 }, 100},
	}
	var m Map
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			m.Reset(tt.hint)
			want := map[uint64]uint64{}
			for i := range 5000 {
				k, v := tt.key(r, i), r.Uint64()
				switch i % 3 {
				case 0:
					m.Put(k, v)
					want[k] = v
				case 1:
					old, found := m.GetOrPut(k, v)
					w, ok := want[k]
					if found != ok || old != w {
						t.Fatalf("getOrPut(%d) = %d, %v; want %d, %v", k, old, found, w, ok)
					}
					if !ok {
						want[k] = v
					}
				case 2:
					got, found := m.Get(k)
					w, ok := want[k]
					if found != ok || got != w {
						t.Fatalf("get(%d) = %d, %v; want %d, %v", k, got, found, w, ok)
					}
				}
			}
			for k, w := range want {
				if got, ok := m.Get(k); !ok || got != w {
					t.Fatalf("get(%d) = %d, %v at the end; want %d, true", k, got, ok, w)
				}
			}
			if got, ok := m.Get(1<<63 + 12345); ok {
				t.Errorf("get of a key never put = %d, true", got)
			}
		})
	}
}
