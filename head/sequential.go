package head

import (
	"errors"
	"fmt"

	"gonum.org/v1/gonum/mat"
)

// Sequential composes heads left to right. The parameters of part i are
// named with the prefix "{i}.", e.g. "0.fc_0.weight".
type Sequential struct {
	cfg   Config
	drop  *dropout
	parts []Head
}

func newSequential(cfg Config, inDim int, seed uint64, drop *dropout, prefix string) (*Sequential, error) {
	if len(cfg.Heads) == 0 {
		return nil, errors.New("heads is empty, want at least one part")
	}
	h := &Sequential{cfg: cfg, drop: drop}
	in := inDim
	for i, c := range cfg.Heads {
		part, err := build(c, in, splitSeed(seed, uint64(i)), fmt.Sprintf("%s%d.", prefix, i))
		if err != nil {
			return nil, fmt.Errorf("heads[%d] (%s): %w", i, c.Kind, err)
		}
		h.parts = append(h.parts, part)
		in = part.OutDim()
	}
	return h, nil
}

// splitSeed derives the seed of part i from the sequential's seed
// (SplitMix64 finaliser, so that parts never share a stream).
func splitSeed(seed, i uint64) uint64 {
	z := seed + (i+1)*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// InDim is the first part's input width.
func (h *Sequential) InDim() int { return h.parts[0].InDim() }

// OutDim is the last part's output width.
func (h *Sequential) OutDim() int { return h.parts[len(h.parts)-1].OutDim() }

// Params lists every part's parameters, prefixed by the part's index.
func (h *Sequential) Params() []*Param {
	var ps []*Param
	for _, p := range h.parts {
		ps = append(ps, p.Params()...)
	}
	return ps
}

// Config describes the head and its parts.
func (h *Sequential) Config() Config {
	c := h.cfg
	c.Heads = make([]Config, len(h.parts))
	for i, p := range h.parts {
		c.Heads[i] = p.Config()
	}
	return c
}

// Forward applies the parts in order.
func (h *Sequential) Forward(x *mat.Dense, train bool) *mat.Dense {
	checkCols("sequential head input", x, h.InDim())
	x = h.drop.forward(x, train)
	for _, p := range h.parts {
		x = p.Forward(x, train)
	}
	return x
}

// Backward runs the parts' backward passes in reverse and returns dL/dx.
func (h *Sequential) Backward(dy *mat.Dense) *mat.Dense {
	for i := len(h.parts) - 1; i >= 0; i-- {
		dy = h.parts[i].Backward(dy)
	}
	h.drop.backward(dy)
	return dy
}

// backwardParams skips dL/dx of the first part; the sequential's own input
// dropout only affects dL/dx, so it is not needed either.
func (h *Sequential) backwardParams(dy *mat.Dense) {
	for i := len(h.parts) - 1; i > 0; i-- {
		dy = h.parts[i].Backward(dy)
	}
	BackwardParams(h.parts[0], dy)
}
