// Package vexp computes exp over slices of float64, four elements at a
// time with AVX2 and FMA where the CPU has them: the softmax of the
// classification-style losses spends most of its time there.
package vexp

import "math"

// Exp sets dst[i] = exp(x[i]) for every i; dst must be at least as long as
// x and may be x itself. Results are within 2 ulp of math.Exp's, and equal
// to them for ±Inf, NaN, overflow and underflow (values outside [-708,
// 709] are computed by math.Exp).
func Exp(dst, x []float64) {
	dst = dst[:len(x)]
	i := 0
	for i < len(x) {
		i += expBlocks(dst[i:], x[i:])
		// The next block (or the tail) is out of range, holds a NaN or is
		// shorter than the vector width.
		end := min(i+4, len(x))
		for ; i < end; i++ {
			dst[i] = math.Exp(x[i])
		}
	}
}
