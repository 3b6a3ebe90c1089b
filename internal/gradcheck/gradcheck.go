// Package gradcheck holds the finite-difference checks that the heads',
// losses' and trainable encoders' tests use to verify hand-written
// gradients.
package gradcheck

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// RandNormal returns an r×c matrix of standard normal values drawn from rng
// in row-major order.
func RandNormal(rng *rand.Rand, r, c int) *mat.Dense {
	m := mat.NewDense(r, c, nil)
	for i := range m.RawMatrix().Data {
		m.RawMatrix().Data[i] = rng.NormFloat64()
	}
	return m
}

// Numeric is the central-difference gradient (step 1e-6) of f with respect
// to x, which f reads; x is restored after each probe.
func Numeric(x *mat.Dense, f func() float64) *mat.Dense {
	const h = 1e-6
	r, c := x.Dims()
	g := mat.NewDense(r, c, nil)
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			v := x.At(i, j)
			x.Set(i, j, v+h)
			fp := f()
			x.Set(i, j, v-h)
			fm := f()
			x.Set(i, j, v)
			g.Set(i, j, (fp-fm)/(2*h))
		}
	}
	return g
}

// AssertClose fails t unless got has want's shape and every element is
// within 1e-6 + rel*|want| of it (and not NaN).
func AssertClose(t testing.TB, what string, got, want *mat.Dense, rel float64) {
	t.Helper()
	r, c := want.Dims()
	if gr, gc := got.Dims(); gr != r || gc != c {
		t.Fatalf("%s: shape %dx%d, want %dx%d", what, gr, gc, r, c)
	}
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			g, w := got.At(i, j), want.At(i, j)
			if math.IsNaN(g) || math.Abs(g-w) > 1e-6+rel*math.Abs(w) {
				t.Fatalf("%s[%d][%d]: analytic %.10g, numeric %.10g", what, i, j, g, w)
			}
		}
	}
}
