package head

import (
	"math"

	"gonum.org/v1/gonum/mat"
)

// Empty is the identity head y = x (with optional input dropout).
type Empty struct {
	dim   int
	drop  *dropout
	y, dx *mat.Dense
}

// InDim is the input width.
func (h *Empty) InDim() int { return h.dim }

// OutDim equals InDim.
func (h *Empty) OutDim() int { return h.dim }

// Params is empty.
func (h *Empty) Params() []*Param { return nil }

// Config describes the head.
func (h *Empty) Config() Config { return Config{Kind: KindEmpty, Dropout: h.drop.p} }

// Forward returns a copy of x (dropped out in training).
func (h *Empty) Forward(x *mat.Dense, train bool) *mat.Dense {
	checkCols("empty head input", x, h.dim)
	xd := h.drop.forward(x, train)
	r, _ := x.Dims()
	h.y = resize(h.y, r, h.dim)
	h.y.Copy(xd)
	return h.y
}

// Backward returns dy (masked as the input was).
func (h *Empty) Backward(dy *mat.Dense) *mat.Dense {
	checkCols("empty head gradient", dy, h.dim)
	r, _ := dy.Dims()
	h.dx = resize(h.dx, r, h.dim)
	h.dx.Copy(dy)
	h.drop.backward(h.dx)
	return h.dx
}

func (h *Empty) backwardParams(*mat.Dense) {}

// Linear is the head y = x W^T + b.
type Linear struct {
	cfg  Config
	drop *dropout
	lin  *dense
}

// InDim is the input width.
func (h *Linear) InDim() int { return h.lin.in }

// OutDim is Config.Out.
func (h *Linear) OutDim() int { return h.lin.out }

// Params are weight [out][in] and, with a bias, bias [out].
func (h *Linear) Params() []*Param { return h.lin.params() }

// Config describes the head.
func (h *Linear) Config() Config {
	c := h.cfg
	b := h.lin.b != nil
	c.Bias = &b
	return c
}

// Forward computes dropout(x) W^T + b.
func (h *Linear) Forward(x *mat.Dense, train bool) *mat.Dense {
	checkCols("linear head input", x, h.lin.in)
	return h.lin.forward(h.drop.forward(x, train))
}

// Backward accumulates dW, db and returns dL/dx.
func (h *Linear) Backward(dy *mat.Dense) *mat.Dense {
	checkCols("linear head gradient", dy, h.lin.out)
	dx := h.lin.backward(dy, true)
	h.drop.backward(dx)
	return dx
}

func (h *Linear) backwardParams(dy *mat.Dense) {
	checkCols("linear head gradient", dy, h.lin.out)
	h.lin.backward(dy, false)
}

// Gated is the head y = x * tanh(g) with a learnable gate vector g
// (parameter "gates"), initialised to 2.
type Gated struct {
	dim   int
	drop  *dropout
	g     *Param
	t     []float64 // tanh(g) of the last forward
	x     *mat.Dense
	y, dx *mat.Dense
}

func newGated(cfg Config, dim int, drop *dropout, prefix string) *Gated {
	h := &Gated{dim: dim, drop: drop, g: NewVectorParam(prefix+"gates", dim), t: make([]float64, dim)}
	fill(h.g.Value.RawMatrix().Data, 2)
	return h
}

func fill(dst []float64, v float64) {
	for i := range dst {
		dst[i] = v
	}
}

// InDim is the input width.
func (h *Gated) InDim() int { return h.dim }

// OutDim equals InDim.
func (h *Gated) OutDim() int { return h.dim }

// Params is the gate vector "gates".
func (h *Gated) Params() []*Param { return []*Param{h.g} }

// Config describes the head.
func (h *Gated) Config() Config { return Config{Kind: KindGated, Dropout: h.drop.p} }

// Forward computes dropout(x) * tanh(g).
func (h *Gated) Forward(x *mat.Dense, train bool) *mat.Dense {
	checkCols("gated head input", x, h.dim)
	for j, g := range h.g.Value.RawMatrix().Data {
		h.t[j] = math.Tanh(g)
	}
	h.x = h.drop.forward(x, train)
	r, _ := x.Dims()
	h.y = resize(h.y, r, h.dim)
	rows(h.x, func(i int, xr []float64) {
		yr := row(h.y, i)
		for j, v := range xr {
			yr[j] = v * h.t[j]
		}
	})
	return h.y
}

// Backward accumulates dL/dg and returns dL/dx.
func (h *Gated) Backward(dy *mat.Dense) *mat.Dense {
	h.backwardParams(dy)
	r, _ := dy.Dims()
	h.dx = resize(h.dx, r, h.dim)
	rows(dy, func(i int, dr []float64) {
		xr := row(h.dx, i)
		for j, v := range dr {
			xr[j] = v * h.t[j]
		}
	})
	h.drop.backward(h.dx)
	return h.dx
}

func (h *Gated) backwardParams(dy *mat.Dense) {
	checkCols("gated head gradient", dy, h.dim)
	gg := h.g.Grad.RawMatrix().Data
	rows(dy, func(i int, dr []float64) {
		xr := row(h.x, i)
		for j, v := range dr {
			gg[j] += v * xr[j] * (1 - h.t[j]*h.t[j])
		}
	})
}

// SoftmaxEmbeddings projects x to Groups×Size values and applies a softmax
// within each group of Size (parameters "projection.weight", "projection.bias").
type SoftmaxEmbeddings struct {
	cfg  Config
	drop *dropout
	lin  *dense
	y    *mat.Dense
	dz   *mat.Dense
}

// InDim is the input width.
func (h *SoftmaxEmbeddings) InDim() int { return h.lin.in }

// OutDim is Groups*Size.
func (h *SoftmaxEmbeddings) OutDim() int { return h.lin.out }

// Params are the projection's weight and bias.
func (h *SoftmaxEmbeddings) Params() []*Param { return h.lin.params() }

// Config describes the head.
func (h *SoftmaxEmbeddings) Config() Config { return h.cfg }

// Forward computes the grouped softmax of the projection.
func (h *SoftmaxEmbeddings) Forward(x *mat.Dense, train bool) *mat.Dense {
	checkCols("softmax_embeddings head input", x, h.lin.in)
	z := h.lin.forward(h.drop.forward(x, train))
	r, c := z.Dims()
	h.y = resize(h.y, r, c)
	s := h.cfg.Size
	rows(z, func(i int, zr []float64) {
		yr := row(h.y, i)
		for g := 0; g < h.cfg.Groups; g++ {
			softmax(yr[g*s:(g+1)*s], zr[g*s:(g+1)*s])
		}
	})
	return h.y
}

// softmax writes the softmax of z into y.
func softmax(y, z []float64) {
	m := math.Inf(-1)
	for _, v := range z {
		m = math.Max(m, v)
	}
	sum := 0.0
	for k, v := range z {
		y[k] = math.Exp(v - m)
		sum += y[k]
	}
	for k := range y {
		y[k] /= sum
	}
}

func (h *SoftmaxEmbeddings) softmaxBackward(dy *mat.Dense) *mat.Dense {
	checkCols("softmax_embeddings head gradient", dy, h.lin.out)
	r, c := dy.Dims()
	h.dz = resize(h.dz, r, c)
	s := h.cfg.Size
	rows(dy, func(i int, dr []float64) {
		yr, zr := row(h.y, i), row(h.dz, i)
		for g := 0; g < h.cfg.Groups; g++ {
			dot := 0.0
			for k := g * s; k < (g+1)*s; k++ {
				dot += dr[k] * yr[k]
			}
			for k := g * s; k < (g+1)*s; k++ {
				zr[k] = yr[k] * (dr[k] - dot)
			}
		}
	})
	return h.dz
}

// Backward accumulates the projection's gradients and returns dL/dx.
func (h *SoftmaxEmbeddings) Backward(dy *mat.Dense) *mat.Dense {
	dx := h.lin.backward(h.softmaxBackward(dy), true)
	h.drop.backward(dx)
	return dx
}

func (h *SoftmaxEmbeddings) backwardParams(dy *mat.Dense) {
	h.lin.backward(h.softmaxBackward(dy), false)
}
