package head

import (
	"fmt"

	"gonum.org/v1/gonum/mat"

	"github.com/simlearn/simlearn/internal/par"
)

// Param is one named trainable tensor of a head (or of a loss with learnable
// weights). Value and Grad have the same shape; Backward accumulates into Grad.
//
// A vector parameter (a bias or a gate) is held as a 1×n matrix with Vector
// set; it is saved with shape [n], as PyTorch would save it.
type Param struct {
	Name   string
	Value  *mat.Dense
	Grad   *mat.Dense
	Vector bool
}

// NewParam returns a zero rows×cols matrix parameter with a zero gradient.
func NewParam(name string, rows, cols int) *Param {
	return &Param{Name: name, Value: mat.NewDense(rows, cols, nil), Grad: mat.NewDense(rows, cols, nil)}
}

// NewVectorParam returns a zero vector parameter of length n (held as 1×n).
func NewVectorParam(name string, n int) *Param {
	p := NewParam(name, 1, n)
	p.Vector = true
	return p
}

// Shape is the parameter's saved shape: [n] for a vector, [rows, cols]
// otherwise.
func (p *Param) Shape() []int {
	r, c := p.Value.Dims()
	if p.Vector {
		return []int{c}
	}
	return []int{r, c}
}

// ZeroGrad sets the gradient of every parameter to zero.
func ZeroGrad(params []*Param) {
	for _, p := range params {
		par.Clear(p.Grad)
	}
}

// Head is a trainable layer applied to the concatenated encoder output.
//
// A head owns its workspaces: the matrices returned by Forward and Backward
// stay valid only until the next call of the same method, and the input given
// to Forward must not change before the matching Backward. A head is not safe
// for concurrent use. Forward and Backward panic when given a matrix whose
// width is not InDim (respectively OutDim), a programming error like a gonum
// dimension mismatch.
type Head interface {
	InDim() int
	OutDim() int
	// Forward maps x [B, InDim] to y [B, OutDim]. With train set, dropout is
	// active. The head keeps what Backward needs in either mode.
	Forward(x *mat.Dense, train bool) *mat.Dense
	// Backward takes dL/dy of the last Forward and returns dL/dx,
	// accumulating parameter gradients.
	Backward(dy *mat.Dense) *mat.Dense
	// Params lists the trainable parameters with their saved names.
	Params() []*Param
	// Config is the configuration that New turns back into this head.
	Config() Config
}

// paramsOnly is implemented by heads that can skip computing dL/dx.
type paramsOnly interface {
	backwardParams(dy *mat.Dense)
}

// BackwardParams accumulates h's parameter gradients for dL/dy without
// computing dL/dx, which saves a matrix product per layer when the input is
// frozen (the encoder output in training). It falls back to h.Backward for
// heads of other packages.
func BackwardParams(h Head, dy *mat.Dense) {
	if p, ok := h.(paramsOnly); ok {
		p.backwardParams(dy)
		return
	}
	h.Backward(dy)
}

// resize returns m reshaped to r×c, reusing its storage when it is large
// enough. The content is unspecified unless the shape changed (then zero).
func resize(m *mat.Dense, r, c int) *mat.Dense {
	if m == nil {
		return mat.NewDense(r, c, nil)
	}
	if rr, cc := m.Dims(); rr == r && cc == c {
		return m
	}
	m.Reset()
	m.ReuseAs(r, c)
	return m
}

// checkCols panics with a clear message when x is not as wide as want.
func checkCols(what string, x *mat.Dense, want int) {
	if _, c := x.Dims(); c != want {
		panic(fmt.Sprintf("head: %s has %d columns, want %d", what, c, want))
	}
}

// rows calls f with each row of m as a slice of its backing data.
func rows(m *mat.Dense, f func(i int, row []float64)) {
	raw := m.RawMatrix()
	for i := 0; i < raw.Rows; i++ {
		f(i, raw.Data[i*raw.Stride:i*raw.Stride+raw.Cols])
	}
}

// row returns row i of m as a slice of its backing data.
func row(m *mat.Dense, i int) []float64 {
	raw := m.RawMatrix()
	return raw.Data[i*raw.Stride : i*raw.Stride+raw.Cols]
}
