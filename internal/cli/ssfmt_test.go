package cli

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

// TestAppendMSIsG requires appendMS's fast path to print what %g prints,
// over every microsecond count up to 2 s, and random ones up to days.
func TestAppendMSIsG(t *testing.T) {
	check := func(d time.Duration) {
		got := string(appendMS(nil, d))
		want := string(appendG(nil, ms(d)))
		if got != want {
			t.Fatalf("%v: appendMS %q, %%g %q", d, got, want)
		}
	}
	for us := range 2_000_000 {
		check(time.Duration(us) * time.Microsecond)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100_000 {
		check(time.Duration(rng.Int64N(1<<42)) * time.Microsecond)
		check(time.Duration(rng.Int64N(1 << 42)))
	}
}

// TestAppendBWIsPrintf requires appendBW to round as printf's %.0f does,
// halves to even.
func TestAppendBWIsPrintf(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	vals := []float64{0, 0.5, 1.5, 2.5, 174762666667, 1e15 + 0.5, float64(1 << 53), 1e19, math.MaxUint64, 1e300}
	for range 100_000 {
		vals = append(vals, rng.Float64()*1e12, float64(rng.Uint32())*8, float64(rng.IntN(1000))+0.5)
	}
	for _, v := range vals {
		want := strconv.FormatFloat(v, 'f', 0, 64) + "bps"
		if got := string(appendBW(nil, v)); got != want {
			t.Fatalf("%v: appendBW %q, %%.0f %q", v, got, want)
		}
	}
}
