package head

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// dense is a fully connected layer y = x W^T + b with W [out][in].
type dense struct {
	in, out int
	w, b    *Param // b is nil without bias
	x       *mat.Dense
	y, dx   *mat.Dense
}

// newDense initialises W and b uniformly in ±1/sqrt(in), as PyTorch's
// nn.Linear does, drawing W row by row and then b.
func newDense(prefix, wName, bName string, in, out int, bias bool, rng *rand.Rand) *dense {
	l := &dense{in: in, out: out, w: NewParam(prefix+wName, out, in)}
	bound := 1 / math.Sqrt(float64(in))
	fillUniform(l.w.Value.RawMatrix().Data, bound, rng)
	if bias {
		l.b = NewVectorParam(prefix+bName, out)
		fillUniform(l.b.Value.RawMatrix().Data, bound, rng)
	}
	return l
}

func fillUniform(dst []float64, bound float64, rng *rand.Rand) {
	for i := range dst {
		dst[i] = (2*rng.Float64() - 1) * bound
	}
}

func (l *dense) params() []*Param {
	if l.b == nil {
		return []*Param{l.w}
	}
	return []*Param{l.w, l.b}
}

// forward computes x W^T + b; it keeps x for backward.
func (l *dense) forward(x *mat.Dense) *mat.Dense {
	r, _ := x.Dims()
	l.x = x
	l.y = resize(l.y, r, l.out)
	beta := 0.0
	if l.b != nil {
		b := l.b.Value.RawMatrix().Data
		rows(l.y, func(_ int, yr []float64) { copy(yr, b) })
		beta = 1
	}
	blas64.Gemm(blas.NoTrans, blas.Trans, 1, x.RawMatrix(), l.w.Value.RawMatrix(), beta, l.y.RawMatrix())
	return l.y
}

// backward accumulates dW += dy^T x and db += column sums of dy; with needDx
// it returns dL/dx = dy W, otherwise nil.
func (l *dense) backward(dy *mat.Dense, needDx bool) *mat.Dense {
	blas64.Gemm(blas.Trans, blas.NoTrans, 1, dy.RawMatrix(), l.x.RawMatrix(), 1, l.w.Grad.RawMatrix())
	if l.b != nil {
		gb := l.b.Grad.RawMatrix().Data
		rows(dy, func(_ int, r []float64) { floats.Add(gb, r) })
	}
	if !needDx {
		return nil
	}
	r, _ := dy.Dims()
	l.dx = resize(l.dx, r, l.in)
	blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, dy.RawMatrix(), l.w.Value.RawMatrix(), 0, l.dx.RawMatrix())
	return l.dx
}
