package fit

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestAdamKernelMatchesGo checks the vectorised Adam kernel (where the CPU
// has one) against the plain Go loop over several steps, on a length that
// leaves a remainder for the Go tail, with moments and gradients that span
// many magnitudes.
func TestAdamKernelMatchesGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 1027
	w1, m1, v1 := make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range w1 {
		w1[i] = rng.NormFloat64()
	}
	w2, m2, v2 := append([]float64(nil), w1...), make([]float64, n), make([]float64, n)
	g := make([]float64, n)
	for step := 1; step <= 5; step++ {
		for i := range g {
			g[i] = rng.NormFloat64() * math.Pow(10, float64(rng.IntN(13)-8))
		}
		stepSize := 1e-3 / (1 - math.Pow(0.9, float64(step)))
		bc2 := math.Sqrt(1 - math.Pow(0.999, float64(step)))
		adamKernel(w1, g, m1, v1, 0.9, 0.999, stepSize, bc2, 1e-8)
		adamGo(w2, g, m2, v2, 0.9, 0.999, stepSize, bc2, 1e-8)
	}
	for i := range w1 {
		// The same operations in the same order: equal, up to the fused
		// multiply-adds a GOAMD64=v3 build may use in the Go loop.
		for _, c := range [][2]float64{{w1[i], w2[i]}, {m1[i], m2[i]}, {v1[i], v2[i]}} {
			if math.Abs(c[0]-c[1]) > 1e-15*math.Abs(c[1]) {
				t.Fatalf("element %d: kernel %.17g, Go %.17g", i, c[0], c[1])
			}
		}
	}
}
