package fit

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
)

// hidden builds points whose similarity lives in a few signal coordinates
// while large nuisance noise fills the others, mixed by a random rotation:
// cosine similarity on the raw vectors mostly sees the noise. A linear map
// that suppresses the nuisance directions recovers the structure.
type hidden struct {
	dim, signal int
	noise       float64 // nuisance scale
	rot         *mat.Dense
	rng         *rand.Rand
}

func newHidden(seed uint64, dim, signal int, noise float64) *hidden {
	h := &hidden{dim: dim, signal: signal, noise: noise, rng: rand.New(rand.NewPCG(seed, 99))}
	// A random rotation: QR of a Gaussian matrix.
	g := mat.NewDense(dim, dim, nil)
	for i := range dim {
		for j := range dim {
			g.Set(i, j, h.rng.NormFloat64())
		}
	}
	var qr mat.QR
	qr.Factorize(g)
	h.rot = mat.NewDense(dim, dim, nil)
	qr.QTo(h.rot)
	return h
}

// point returns rotation * [s + jitter*N(0,1); noise*N(0,1)].
func (h *hidden) point(s []float64, jitter float64) []float64 {
	v := make([]float64, h.dim)
	for i := range h.dim {
		if i < h.signal {
			v[i] = s[i] + jitter*h.rng.NormFloat64()
		} else {
			v[i] = h.noise * h.rng.NormFloat64()
		}
	}
	out := make([]float64, h.dim)
	mat.NewVecDense(h.dim, out).MulVec(h.rot, mat.NewVecDense(h.dim, v))
	return out
}

func (h *hidden) centre() []float64 {
	s := make([]float64, h.signal)
	var n float64
	for i := range s {
		s[i] = h.rng.NormFloat64()
		n += s[i] * s[i]
	}
	for i := range s {
		s[i] *= 2 / math.Sqrt(n)
	}
	return s
}

// clusters returns train and held-out group data: k clusters, per samples
// each in train and held per cluster held out.
func (h *hidden) clusters(k, per, held int, jitter float64) (train, test *GroupData) {
	centres := make([][]float64, k)
	for c := range centres {
		centres[c] = h.centre()
	}
	build := func(n int) *GroupData {
		x := mat.NewDense(k*n, h.dim, nil)
		groups := make([]int, 0, k*n)
		for c := range k {
			for j := range n {
				x.SetRow(c*n+j, h.point(centres[c], jitter))
				groups = append(groups, c)
			}
		}
		return &GroupData{X: x, Groups: groups}
	}
	return build(per), build(held)
}

// pairs returns n pairs (a_i, b_i) sharing a random signal point each.
func (h *hidden) pairs(n int, jitter float64) *PairData {
	x := mat.NewDense(2*n, h.dim, nil)
	d := &PairData{X: x}
	for i := range n {
		s := h.centre()
		x.SetRow(2*i, h.point(s, jitter))
		x.SetRow(2*i+1, h.point(s, jitter))
		d.A = append(d.A, 2*i)
		d.B = append(d.B, 2*i+1)
	}
	return d
}
