package head

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/simlearn/simlearn/internal/mixed"
)

// dense is a fully connected layer y = x W^T + b with W [out][in].
type dense struct {
	in, out int
	w, b    *Param // b is nil without bias
	x       *mat.Dense
	y, dx   *mat.Dense

	// f32 selects float32 products (Precision Float32); fwd32 says that the
	// last forward ran in float32, so that x32 and w32 hold its operands.
	f32, fwd32             bool
	x32, w32, dy32, z32, p blas32.General // p: scratch for a float32 product
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
	if l.f32 {
		z := l.forward32(x)
		var b []float64
		if l.b != nil {
			b = l.b.Value.RawMatrix().Data
		}
		rows(l.y, func(i int, yr []float64) {
			zr := z.Data[i*z.Stride : i*z.Stride+len(yr)]
			if b == nil {
				for j, v := range zr {
					yr[j] = float64(v)
				}
				return
			}
			for j, v := range zr {
				yr[j] = b[j] + float64(v)
			}
		})
		return l.y
	}
	l.fwd32 = false
	beta := 0.0
	if l.b != nil {
		b := l.b.Value.RawMatrix().Data
		rows(l.y, func(_ int, yr []float64) { copy(yr, b) })
		beta = 1
	}
	blas64.Gemm(blas.NoTrans, blas.Trans, 1, x.RawMatrix(), l.w.Value.RawMatrix(), beta, l.y.RawMatrix())
	return l.y
}

// forward32 returns x W^T (without the bias) as a float32 product, valid
// until the next forward; it keeps x and the float32 operands for backward.
func (l *dense) forward32(x *mat.Dense) blas32.General {
	r, _ := x.Dims()
	l.x, l.fwd32 = x, true
	x32 := mixed.Narrow(&l.x32, x.RawMatrix())
	w32 := mixed.Narrow(&l.w32, l.w.Value.RawMatrix())
	z := mixed.Resize(&l.z32, r, l.out)
	mixed.Gemm32(blas.NoTrans, blas.Trans, 1, x32, w32, 0, z)
	return z
}

// backward accumulates dW += dy^T x and db += column sums of dy; with needDx
// it returns dL/dx = dy W, otherwise nil.
func (l *dense) backward(dy *mat.Dense, needDx bool) *mat.Dense {
	if l.b != nil {
		gb := l.b.Grad.RawMatrix().Data
		rows(dy, func(_ int, r []float64) { floats.Add(gb, r) })
	}
	if l.fwd32 {
		return l.backward32(mixed.Narrow(&l.dy32, dy.RawMatrix()), needDx)
	}
	blas64.Gemm(blas.Trans, blas.NoTrans, 1, dy.RawMatrix(), l.x.RawMatrix(), 1, l.w.Grad.RawMatrix())
	if !needDx {
		return nil
	}
	r, _ := dy.Dims()
	l.dx = resize(l.dx, r, l.in)
	blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, dy.RawMatrix(), l.w.Value.RawMatrix(), 0, l.dx.RawMatrix())
	return l.dx
}

// backward32 is backward after forward32, given dL/dy rounded to float32;
// the caller accumulates the bias gradient.
func (l *dense) backward32(dy32 blas32.General, needDx bool) *mat.Dense {
	mixed.Gemm(blas.Trans, blas.NoTrans, 1, dy32, l.x32, 1, l.w.Grad.RawMatrix(), &l.p)
	if !needDx {
		return nil
	}
	l.dx = resize(l.dx, dy32.Rows, l.in)
	mixed.Gemm(blas.NoTrans, blas.NoTrans, 1, dy32, l.w32, 0, l.dx.RawMatrix(), &l.p)
	return l.dx
}
