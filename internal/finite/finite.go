// Package finite tells whether float64 data holds a NaN or an infinity, and
// where, quickly enough to check every batch, gradient and weight of a
// training step.
package finite

import (
	"math"
	"sync/atomic"

	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/floats"

	"github.com/simlearn/simlearn/internal/par"
)

// All reports whether every element of s is finite. A sum is finite when
// every term is (NaN and ±Inf propagate), and floats.Sum is vectorised, so
// All sums parts of s on par's team; it also reports false when a sum of
// finite values overflows, so a false needs an element-by-element scan to
// name the culprit.
func All(s []float64) bool {
	var bad atomic.Bool
	par.For(len(s), par.Grain, func(lo, hi int) {
		if v := floats.Sum(s[lo:hi]); math.IsNaN(v) || math.IsInf(v, 0) {
			bad.Store(true)
		}
	})
	return !bad.Load()
}

// First returns the row, column and value of m's first NaN or infinite
// element in row-major order, with found false when every element is
// finite. It tries All first, on rows that are contiguous in memory, and
// scans element by element only to name the culprit (or when a sum of
// finite values overflowed).
func First(m blas64.General) (i, j int, v float64, found bool) {
	if m.Stride == m.Cols && All(m.Data[:m.Rows*m.Cols]) {
		return 0, 0, 0, false
	}
	for i := range m.Rows {
		for j, v := range m.Data[i*m.Stride : i*m.Stride+m.Cols] {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return i, j, v, true
			}
		}
	}
	return 0, 0, 0, false
}
