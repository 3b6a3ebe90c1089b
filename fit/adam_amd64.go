//go:build !purego

package fit

import "golang.org/x/sys/cpu"

// hasAVX says whether adamAVX can run (AVX2 implies the 256-bit float
// instructions it uses).
var hasAVX = cpu.X86.HasAVX2

//go:noescape
func adamAVX(w, g, m, v []float64, k *[7]float64)

// adamKernel is adamGo, vectorised with AVX2 where the CPU has it.
func adamKernel(w, g, m, v []float64, b1, b2, stepSize, bc2, eps float64) {
	n := 0
	if hasAVX {
		n = len(w) &^ 3
		if n > 0 {
			k := [7]float64{b1, 1 - b1, b2, 1 - b2, stepSize, bc2, eps}
			adamAVX(w[:n], g[:n], m[:n], v[:n], &k)
		}
	}
	adamGo(w[n:], g[n:], m[n:], v[n:], b1, b2, stepSize, bc2, eps)
}
