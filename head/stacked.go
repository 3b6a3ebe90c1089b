package head

import (
	"fmt"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
)

// StackedProjection is a stack of linear layers "layers_{i}" with an
// activation between consecutive layers and none after the last. A widening
// head is a StackedProjection with sizes [int(d*expansion), d].
type StackedProjection struct {
	cfg    Config
	act    Activation
	drop   *dropout
	layers []*dense
	a      []*mat.Dense // activation outputs, one per hidden layer
	dz     []*mat.Dense // dL/d(pre-activation), one per hidden layer
}

func newStacked(cfg Config, inDim int, sizes []int, drop *dropout, rng *rand.Rand, prefix string) (*StackedProjection, error) {
	if cfg.Activation == "" {
		cfg.Activation = string(ReLU)
	}
	if cfg.Kind == KindWidening && cfg.Expansion == 0 {
		cfg.Expansion = 4
	}
	act := Activation(cfg.Activation)
	if err := act.Validate(); err != nil {
		return nil, err
	}
	if len(sizes) == 0 {
		return nil, fmt.Errorf("sizes is empty, want at least one layer size")
	}
	h := &StackedProjection{cfg: cfg, act: act, drop: drop}
	in := inDim
	for i, out := range sizes {
		if out <= 0 {
			return nil, fmt.Errorf("sizes[%d] = %d, want > 0", i, out)
		}
		h.layers = append(h.layers, newDense(prefix, fmt.Sprintf("layers_%d.weight", i), fmt.Sprintf("layers_%d.bias", i), in, out, true, rng))
		in = out
	}
	h.a = make([]*mat.Dense, len(sizes)-1)
	h.dz = make([]*mat.Dense, len(sizes)-1)
	return h, nil
}

// InDim is the input width.
func (h *StackedProjection) InDim() int { return h.layers[0].in }

// OutDim is the last layer's size.
func (h *StackedProjection) OutDim() int { return h.layers[len(h.layers)-1].out }

// Params lists layers_i.weight and layers_i.bias.
func (h *StackedProjection) Params() []*Param {
	var ps []*Param
	for _, l := range h.layers {
		ps = append(ps, l.params()...)
	}
	return ps
}

// Config describes the head.
func (h *StackedProjection) Config() Config { return h.cfg }

// Forward applies the layers with activations between them.
func (h *StackedProjection) Forward(x *mat.Dense, train bool) *mat.Dense {
	checkCols(h.cfg.Kind+" head input", x, h.InDim())
	x = h.drop.forward(x, train)
	for i, l := range h.layers {
		z := l.forward(x)
		if i == len(h.layers)-1 {
			return z
		}
		r, c := z.Dims()
		h.a[i] = resize(h.a[i], r, c)
		rows(z, func(k int, zr []float64) { h.act.apply(row(h.a[i], k), zr) })
		x = h.a[i]
	}
	return x
}

func (h *StackedProjection) backward(dy *mat.Dense, needDx bool) *mat.Dense {
	checkCols(h.cfg.Kind+" head gradient", dy, h.OutDim())
	for i := len(h.layers) - 1; i >= 0; i-- {
		dx := h.layers[i].backward(dy, i > 0 || needDx)
		if i == 0 {
			return dx
		}
		// dx is dL/da of layer i-1's activation; turn it into dL/dz.
		r, c := dx.Dims()
		dz := resize(h.dz[i-1], r, c)
		h.dz[i-1] = dz
		z, a := h.layers[i-1].y, h.a[i-1]
		rows(dx, func(k int, dr []float64) { h.act.grad(row(dz, k), dr, row(z, k), row(a, k)) })
		dy = dz
	}
	return nil
}

// Backward accumulates every layer's gradients and returns dL/dx.
func (h *StackedProjection) Backward(dy *mat.Dense) *mat.Dense {
	dx := h.backward(dy, true)
	h.drop.backward(dx)
	return dx
}

func (h *StackedProjection) backwardParams(dy *mat.Dense) { h.backward(dy, false) }
