// Package mixed runs float64 matrix products in float32: the operands are
// rounded to float32 workspaces, multiplied (see Gemm32) and the products
// are widened back to float64. Rounding is O(rows*cols) work against the
// O(rows*cols*inner) of the product, and float32 products run about twice
// as fast as float64 ones.
//
// The heads and losses use it when their precision is set to float32
// (head.Float32); their parameters, gradients and elementwise arithmetic
// stay float64.
package mixed

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/simlearn/simlearn/internal/par"
	"github.com/simlearn/simlearn/internal/sgemm"
)

// Resize returns m shaped r×c with a dense stride, reusing its storage when
// it is large enough. The content is unspecified.
func Resize(m *blas32.General, r, c int) blas32.General {
	if cap(m.Data) < r*c {
		m.Data = make([]float32, r*c)
	}
	m.Rows, m.Cols, m.Stride, m.Data = r, c, c, m.Data[:r*c]
	return *m
}

// Narrow stores src rounded to float32 in dst (resized) and returns it.
func Narrow(dst *blas32.General, src blas64.General) blas32.General {
	d := Resize(dst, src.Rows, src.Cols)
	par.For(src.Rows, par.Grain/max(src.Cols, 1), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			narrow(d.Data[i*d.Stride:i*d.Stride+d.Cols], src.Data[i*src.Stride:i*src.Stride+src.Cols])
		}
	})
	return d
}

// Widen sets dst = src + beta*dst (dst = src when beta is 0, whatever dst
// held). The shapes must match.
func Widen(dst blas64.General, src blas32.General, beta float64) {
	if dst.Rows != src.Rows || dst.Cols != src.Cols {
		panic("mixed: widen shape mismatch")
	}
	par.For(dst.Rows, par.Grain/max(dst.Cols, 1), func(lo, hi int) { widenRows(dst, src, beta, lo, hi) })
}

func widenRows(dst blas64.General, src blas32.General, beta float64, lo, hi int) {
	for i := lo; i < hi; i++ {
		d := dst.Data[i*dst.Stride : i*dst.Stride+dst.Cols]
		s := src.Data[i*src.Stride : i*src.Stride+src.Cols]
		s = s[:len(d)]
		switch beta {
		case 0:
			widenSet(d, s)
		case 1:
			widenAdd(d, s)
		default:
			for j, v := range s {
				d[j] = float64(v) + beta*d[j]
			}
		}
	}
}

// Gemm sets c = alpha*op(a)*op(b) + beta*c with the product in float32:
// scratch receives it before it is widened into c.
func Gemm(tA, tB blas.Transpose, alpha float32, a, b blas32.General, beta float64, c blas64.General, scratch *blas32.General) {
	s := Resize(scratch, c.Rows, c.Cols)
	Gemm32(tA, tB, alpha, a, b, 0, s)
	Widen(c, s, beta)
}

// Gemm32 sets c = alpha*op(a)*op(b) + beta*c in float32, as blas32.Gemm,
// by package sgemm where sgemm.Installed says so.
func Gemm32(tA, tB blas.Transpose, alpha float32, a, b blas32.General, beta float32, c blas32.General) {
	if sgemm.Installed() {
		sgemm.Gemm(tA, tB, alpha, a, b, beta, c)
		return
	}
	blas32.Gemm(tA, tB, alpha, a, b, beta, c)
}

// Gram32 sets c = a a^T, all of it (c is n×n for a n×d): with the program's
// BLAS by a symmetric rank-k update of one triangle, mirrored; with
// sgemm's kernel by a full product, which is faster than gonum's update of
// half of it.
func Gram32(a blas32.General, c blas32.General) {
	if sgemm.Installed() {
		sgemm.Gemm(blas.NoTrans, blas.Trans, 1, a, a, 0, c)
		return
	}
	blas32.Syrk(blas.NoTrans, 1, a, 0, blas32.Symmetric{N: c.Rows, Stride: c.Stride, Data: c.Data, Uplo: blas.Upper})
	for i := 0; i < c.Rows; i++ {
		for j := i + 1; j < c.Cols; j++ {
			c.Data[j*c.Stride+i] = c.Data[i*c.Stride+j]
		}
	}
}
