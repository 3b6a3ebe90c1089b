package head

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/simlearn/simlearn/internal/mixed"
	"github.com/simlearn/simlearn/internal/par"
)

// SkipConnection stacks NLayers gated residual layers:
// x <- (skip_dropout(x) W_i^T + b_i) * sigmoid(g_i) + x, with parameters
// "fc_{i}.weight", "fc_{i}.bias" and "gates_{i}" (gates initialised to -4,
// so that a fresh head is close to the identity).
type SkipConnection struct {
	cfg    Config
	dim    int
	drop   *dropout
	layers []*skipLayer
}

type skipLayer struct {
	fc     *dense
	g      *Param
	drop   *dropout
	s      []float64 // sigmoid(g) of the last forward
	x      *mat.Dense
	z      *mat.Dense // fc output (before gating), in float64 precision
	y      *mat.Dense
	dz, dx *mat.Dense
	dz32   blas32.General // dL/dz in float32 precision
	// sums holds, for each block of sumBlock rows, the column sums of dy
	// and of dy ⊙ z (float32 backward).
	sums []float64
}

// sumBlock is how many rows the float32 backward of a skip layer sums at a
// time. The blocks' sums are added in order, so the gradients do not depend
// on how many goroutines shared the rows.
const sumBlock = 64

func newSkip(cfg Config, dim int, drop *dropout, rng *rand.Rand, prefix string) (*SkipConnection, error) {
	if cfg.NLayers == 0 {
		cfg.NLayers = 1
	}
	if cfg.NLayers < 0 {
		return nil, fmt.Errorf("n_layers %d, want > 0", cfg.NLayers)
	}
	if math.IsNaN(cfg.SkipDropout) || cfg.SkipDropout < 0 || cfg.SkipDropout >= 1 {
		return nil, fmt.Errorf("skip_dropout %v, want in [0, 1)", cfg.SkipDropout)
	}
	h := &SkipConnection{cfg: cfg, dim: dim, drop: drop}
	for i := 0; i < cfg.NLayers; i++ {
		l := &skipLayer{
			fc:   newDense(prefix, fmt.Sprintf("fc_%d.weight", i), fmt.Sprintf("fc_%d.bias", i), dim, dim, true, rng),
			g:    NewVectorParam(fmt.Sprintf("%sgates_%d", prefix, i), dim),
			drop: &dropout{p: cfg.SkipDropout, rng: drop.rng},
			s:    make([]float64, dim),
		}
		fill(l.g.Value.RawMatrix().Data, -4)
		h.layers = append(h.layers, l)
	}
	return h, nil
}

// InDim is the input width.
func (h *SkipConnection) InDim() int { return h.dim }

// OutDim equals InDim.
func (h *SkipConnection) OutDim() int { return h.dim }

// Params lists fc_i.weight, fc_i.bias, gates_i for each layer.
func (h *SkipConnection) Params() []*Param {
	var ps []*Param
	for _, l := range h.layers {
		ps = append(ps, l.fc.w, l.fc.b, l.g)
	}
	return ps
}

// Config describes the head.
func (h *SkipConnection) Config() Config { return h.cfg }

// Forward applies the layers in order.
func (h *SkipConnection) Forward(x *mat.Dense, train bool) *mat.Dense {
	checkCols("skip_connection head input", x, h.dim)
	x = h.drop.forward(x, train)
	r, _ := x.Dims()
	for _, l := range h.layers {
		for j, g := range l.g.Value.RawMatrix().Data {
			l.s[j] = 1 / (1 + math.Exp(-g))
		}
		l.x = x
		l.y = resize(l.y, r, h.dim)
		if l.fc.f32 {
			// z = x W^T + b is only kept as the float32 product.
			z, b := l.fc.forward32(l.drop.forward(x, train)), l.fc.b.Value.RawMatrix().Data
			par.For(r, 16, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					mixed.GateAdd(row(l.y, i), z.Data[i*z.Stride:], b, l.s, row(x, i))
				}
			})
			x = l.y
			continue
		}
		l.z = l.fc.forward(l.drop.forward(x, train))
		rows(l.z, func(i int, zr []float64) {
			yr, xr := row(l.y, i), row(x, i)
			for j, v := range zr {
				yr[j] = v*l.s[j] + xr[j]
			}
		})
		x = l.y
	}
	return x
}

// Backward accumulates every layer's gradients and returns dL/dx.
func (h *SkipConnection) Backward(dy *mat.Dense) *mat.Dense {
	checkCols("skip_connection head gradient", dy, h.dim)
	for i := len(h.layers) - 1; i >= 0; i-- {
		dy = h.layers[i].backward(dy, true)
	}
	h.drop.backward(dy)
	return dy
}

func (h *SkipConnection) backwardParams(dy *mat.Dense) {
	checkCols("skip_connection head gradient", dy, h.dim)
	for i := len(h.layers) - 1; i >= 0; i-- {
		dy = h.layers[i].backward(dy, i > 0)
	}
}

// backward takes dL/dy of the layer; with needDx it returns dL/dx.
func (l *skipLayer) backward(dy *mat.Dense, needDx bool) *mat.Dense {
	r, c := dy.Dims()
	gg := l.g.Grad.RawMatrix().Data
	var dxd *mat.Dense
	if l.fc.fwd32 {
		// One pass for the gate and bias gradients and dL/dz in float32.
		z, b, gb := l.fc.z32, l.fc.b.Value.RawMatrix().Data, l.fc.b.Grad.RawMatrix().Data
		dz := mixed.Resize(&l.dz32, r, c)
		// Column sums of dy and dy ⊙ z give both vector gradients:
		// dL/db_j = s_j sum_i dy_ij and dL/dg_j = s_j (1-s_j) sum_i dy_ij (b_j + z_ij).
		blocks := (r + sumBlock - 1) / sumBlock
		if cap(l.sums) < 2*blocks*c {
			l.sums = make([]float64, 2*blocks*c)
		}
		l.sums = l.sums[:2*blocks*c]
		par.For(blocks, 1, func(lo, hi int) {
			for k := lo; k < hi; k++ {
				sum, sumZ := l.sums[2*k*c:(2*k+1)*c], l.sums[(2*k+1)*c:(2*k+2)*c]
				clear(sum)
				clear(sumZ)
				for i := k * sumBlock; i < min((k+1)*sumBlock, r); i++ {
					mixed.GateBack(row(dy, i), z.Data[i*z.Stride:], l.s, sum, sumZ, dz.Data[i*dz.Stride:])
				}
			}
		})
		for k := 1; k < blocks; k++ {
			floats.Add(l.sums[:c], l.sums[2*k*c:(2*k+1)*c])
			floats.Add(l.sums[c:2*c], l.sums[(2*k+1)*c:(2*k+2)*c])
		}
		sum, sumZ := l.sums[:c], l.sums[c:2*c]
		for j, s := range l.s[:c] {
			gb[j] += s * sum[j]
			gg[j] += s * (1 - s) * (b[j]*sum[j] + sumZ[j])
		}
		dxd = l.fc.backward32(dz, needDx)
	} else {
		l.dz = resize(l.dz, r, c)
		rows(dy, func(i int, dr []float64) {
			zr, dzr := row(l.z, i), row(l.dz, i)
			for j, v := range dr {
				s := l.s[j]
				gg[j] += v * zr[j] * s * (1 - s)
				dzr[j] = v * s
			}
		})
		dxd = l.fc.backward(l.dz, needDx)
	}
	if !needDx {
		return nil
	}
	l.drop.backward(dxd)
	l.dx = resize(l.dx, r, c)
	rows(dy, func(i int, dr []float64) {
		xr, dd := row(l.dx, i), row(dxd, i)
		for j, v := range dr {
			xr[j] = v + dd[j]
		}
	})
	return l.dx
}
