//go:build !amd64 || purego

package fit

// adamKernel is adamGo where no vectorised version exists.
func adamKernel(w, g, m, v []float64, b1, b2, stepSize, bc2, eps float64) {
	adamGo(w, g, m, v, b1, b2, stepSize, bc2, eps)
}
