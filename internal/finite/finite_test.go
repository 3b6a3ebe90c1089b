package finite

import (
	"math"
	"testing"
)

func TestAll(t *testing.T) {
	for _, n := range []int{0, 1, 100, 3*16384 + 7} {
		s := make([]float64, n)
		for i := range s {
			s[i] = float64(i%7) - 3
		}
		if !All(s) {
			t.Fatalf("n=%d: finite data reported non-finite", n)
		}
		for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
			for _, at := range []int{0, n / 2, n - 1} {
				if n == 0 {
					continue
				}
				old := s[at]
				s[at] = bad
				if All(s) {
					t.Fatalf("n=%d: %v at %d not found", n, bad, at)
				}
				s[at] = old
			}
		}
	}
	// Finite values whose sum overflows read as non-finite: the caller's
	// scan then finds nothing to name.
	if All([]float64{math.MaxFloat64, math.MaxFloat64}) {
		t.Fatal("an overflowing sum reported finite")
	}
}
