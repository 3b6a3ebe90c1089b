// Package finite tells whether float64 data holds a NaN or an infinity,
// quickly enough to check every batch, gradient and weight of a training
// step.
package finite

import (
	"math"
	"sync/atomic"

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
