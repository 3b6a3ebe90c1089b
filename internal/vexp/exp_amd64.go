//go:build !purego

package vexp

import (
	"math"

	"golang.org/x/sys/cpu"
)

var (
	hasAVX   = cpu.X86.HasAVX2 && cpu.X86.HasFMA
	expConst = [6]float64{math.Log2E, 6.93147180369123816490e-01, 1.90821492927058770002e-10, -708, 709, math.Float64frombits(1023)}
)

//go:noescape
func expAVX(dst, x []float64, k *[6]float64) int

// expBlocks sets dst[i] = exp(x[i]) for a prefix of x whose length is a
// multiple of 4, and returns its length.
func expBlocks(dst, x []float64) int {
	if !hasAVX {
		return 0
	}
	return expAVX(dst, x, &expConst)
}
