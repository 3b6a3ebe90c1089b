package finite

import (
	"math"
	"testing"

	"gonum.org/v1/gonum/blas/blas64"
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

// TestFirst finds the first non-finite element of contiguous and strided
// matrices, and of one whose finite values overflow All's sums.
func TestFirst(t *testing.T) {
	data := make([]float64, 40*30)
	for i := range data {
		data[i] = float64(i%11) - 5
	}
	for _, m := range []blas64.General{
		{Rows: 40, Cols: 30, Stride: 30, Data: data},
		{Rows: 20, Cols: 25, Stride: 60, Data: data[:19*60+25]},
	} {
		if i, j, v, found := First(m); found {
			t.Fatalf("finite matrix: found %v at [%d,%d]", v, i, j)
		}
		at := func(i, j int) *float64 { return &m.Data[i*m.Stride+j] }
		*at(7, 3), *at(12, 20) = math.Inf(-1), math.NaN()
		if i, j, v, found := First(m); !found || i != 7 || j != 3 || !math.IsInf(v, -1) {
			t.Fatalf("First = [%d,%d] %v %v, want [7,3] -Inf", i, j, v, found)
		}
		*at(7, 3), *at(12, 20) = 0, 0
	}
	big := blas64.General{Rows: 1, Cols: 2, Stride: 2, Data: []float64{math.MaxFloat64, math.MaxFloat64}}
	if _, _, _, found := First(big); found {
		t.Fatal("finite values whose sum overflows reported non-finite")
	}
}
