package mixed

import (
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
)

// strided returns an r×c view with stride c+2 whose element (i, j) is f(i, j),
// with NaNs in the padding so that reading it shows.
func strided(r, c int, f func(i, j int) float64) blas64.General {
	m := blas64.General{Rows: r, Cols: c, Stride: c + 2, Data: make([]float64, r*(c+2))}
	for k := range m.Data {
		m.Data[k] = nan()
	}
	for i := range r {
		for j := range c {
			m.Data[i*m.Stride+j] = f(i, j)
		}
	}
	return m
}

func nan() float64 { var z float64; return z / z }

func TestNarrowWiden(t *testing.T) {
	src := strided(3, 4, func(i, j int) float64 { return float64(i) + float64(j)/3 })
	var buf blas32.General
	n := Narrow(&buf, src)
	if n.Rows != 3 || n.Cols != 4 || n.Stride != 4 {
		t.Fatalf("narrowed shape %dx%d stride %d, want 3x4 stride 4", n.Rows, n.Cols, n.Stride)
	}
	for i := range 3 {
		for j := range 4 {
			if got, want := n.Data[i*4+j], float32(src.Data[i*src.Stride+j]); got != want {
				t.Fatalf("narrowed (%d,%d) = %v, want %v", i, j, got, want)
			}
		}
	}
	for _, beta := range []float64{0, 1, 0.5} {
		dst := strided(3, 4, func(i, j int) float64 { return 10 * float64(i*4+j) })
		Widen(dst, n, beta)
		for i := range 3 {
			for j := range 4 {
				want := float64(n.Data[i*4+j]) + beta*10*float64(i*4+j)
				if got := dst.Data[i*dst.Stride+j]; got != want {
					t.Fatalf("beta %v: widened (%d,%d) = %v, want %v", beta, i, j, got, want)
				}
			}
			if v := dst.Data[i*dst.Stride+4]; v == v {
				t.Fatalf("beta %v: padding of row %d written", beta, i)
			}
		}
	}
}

func TestGemm(t *testing.T) {
	a := strided(5, 3, func(i, j int) float64 { return float64(i - j) })
	b := strided(4, 3, func(i, j int) float64 { return float64(i*j) / 2 })
	var a32, b32, s blas32.General
	c := strided(5, 4, func(i, j int) float64 { return 1 })
	Gemm(blas.NoTrans, blas.Trans, 2, Narrow(&a32, a), Narrow(&b32, b), 1, c, &s)
	want := strided(5, 4, func(i, j int) float64 { return 1 })
	blas64.Gemm(blas.NoTrans, blas.Trans, 2, a, b, 1, want)
	for i := range 5 {
		for j := range 4 {
			// Small integers and halves: exact in float32 too.
			if got, w := c.Data[i*c.Stride+j], want.Data[i*want.Stride+j]; got != w {
				t.Fatalf("(%d,%d) = %v, want %v", i, j, got, w)
			}
		}
	}
}
