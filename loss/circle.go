package loss

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Circle is the circle loss of SPEC section 4 on cosine similarity over
// pairs i < j. The weights a_p and a_n are constants in the gradient. A
// batch without a positive or without a negative pair gives loss 0.
type Circle struct {
	Margin float64 `json:"margin"`
	Gamma  float64 `json:"gamma"`

	pw pairwise
	g  *mat.Dense
	de *mat.Dense
}

// NewCircle returns a Circle with the SPEC defaults: margin 0.25, gamma 256.
func NewCircle() *Circle { return &Circle{Margin: 0.25, Gamma: 256} }

func (c *Circle) validate() error {
	if err := checkNonNegative("margin", c.Margin); err != nil {
		return err
	}
	return checkPositive("gamma", c.Gamma)
}

// Loss computes the circle loss of the batch and dL/de.
func (c *Circle) Loss(e *mat.Dense, groups []int) (float64, *mat.Dense, error) {
	if err := c.validate(); err != nil {
		return 0, nil, fmt.Errorf("circle: %w", err)
	}
	if err := checkGroupBatch(e, groups); err != nil {
		return 0, nil, fmt.Errorf("circle: %w", err)
	}
	n, d := e.Dims()
	dist := c.pw.compute(Cosine, e, e, true)
	m := c.Margin
	// logit and its derivative with respect to s for the pair (i, j).
	logit := func(i, j int, s float64) (float64, float64) {
		if groups[i] == groups[j] {
			ap := math.Max(1+m-s, 0)
			return -c.Gamma * ap * (s - (1 - m)), -c.Gamma * ap
		}
		an := math.Max(s+m, 0)
		return c.Gamma * an * (s - m), c.Gamma * an
	}
	maxP, maxN := math.Inf(-1), math.Inf(-1)
	rows(dist, func(i int, dr []float64) {
		for j := i + 1; j < n; j++ {
			l, _ := logit(i, j, 1-dr[j])
			if groups[i] == groups[j] {
				maxP = math.Max(maxP, l)
			} else {
				maxN = math.Max(maxN, l)
			}
		}
	})
	c.de = zeroed(c.de, n, d)
	if math.IsInf(maxP, -1) || math.IsInf(maxN, -1) {
		return 0, c.de, nil
	}
	var sumP, sumN float64
	rows(dist, func(i int, dr []float64) {
		for j := i + 1; j < n; j++ {
			l, _ := logit(i, j, 1-dr[j])
			if groups[i] == groups[j] {
				sumP += math.Exp(l - maxP)
			} else {
				sumN += math.Exp(l - maxN)
			}
		}
	})
	lseP, lseN := maxP+math.Log(sumP), maxN+math.Log(sumN)
	z := lseP + lseN
	dz := sigmoid(z)
	c.g = zeroed(c.g, n, n)
	rows(dist, func(i int, dr []float64) {
		gr := row(c.g, i)
		for j := i + 1; j < n; j++ {
			l, dl := logit(i, j, 1-dr[j])
			lse := lseN
			if groups[i] == groups[j] {
				lse = lseP
			}
			// dL/ds = dz * softmax weight * dl/ds; D = 1 - s.
			gr[j] = -dz * math.Exp(l-lse) * dl
		}
	})
	c.pw.backward(c.g, c.de, nil, false)
	return softplus(z), c.de, nil
}

// FastAP is the FastAP loss of SPEC section 4: 1 - mean average precision
// estimated with Bins soft histogram bins of squared distances between
// normalised embeddings (taken as 2 - 2 cos). Rows without positives are
// skipped; a batch without any gives loss 0.
type FastAP struct {
	Bins int `json:"bins"`

	pw                  pairwise
	g                   *mat.Dense
	de                  *mat.Dense
	hp, hn, dhp, dhn, h []float64
}

// NewFastAP returns a FastAP with the SPEC default of 10 bins.
func NewFastAP() *FastAP { return &FastAP{Bins: 10} }

func (f *FastAP) validate() error {
	if f.Bins <= 0 {
		return fmt.Errorf("bins %d, want > 0", f.Bins)
	}
	return nil
}

// Loss computes the FastAP loss of the batch and dL/de.
func (f *FastAP) Loss(e *mat.Dense, groups []int) (float64, *mat.Dense, error) {
	if err := f.validate(); err != nil {
		return 0, nil, fmt.Errorf("fast_ap: %w", err)
	}
	if err := checkGroupBatch(e, groups); err != nil {
		return 0, nil, fmt.Errorf("fast_ap: %w", err)
	}
	n, d := e.Dims()
	dist := f.pw.compute(Cosine, e, e, true)
	L := f.Bins + 1
	delta := 4 / float64(f.Bins)
	f.hp, f.hn = grow(f.hp, L), grow(f.hn, L)
	f.dhp, f.dhn = grow(f.dhp, L), grow(f.dhn, L)
	f.g = zeroed(f.g, n, n)
	f.de = zeroed(f.de, n, d)
	// pulses calls fn(l, pulse, dpulse/dv) for the bins whose pulse at v is
	// nonzero.
	pulses := func(v float64, fn func(l int, p, dp float64)) {
		lo := int(math.Floor(v / delta))
		for l := lo; l <= lo+1; l++ {
			if l < 0 || l >= L {
				continue
			}
			u := (v - float64(l)*delta) / delta
			if math.Abs(u) >= 1 {
				continue
			}
			switch {
			case u > 0:
				fn(l, 1-u, -1/delta)
			case u < 0:
				fn(l, 1+u, 1/delta)
			default:
				fn(l, 1, 0)
			}
		}
	}
	var apSum float64
	var used int
	rows(dist, func(i int, dr []float64) {
		clear(f.hp)
		clear(f.hn)
		npos := 0
		for j, v := range dr {
			if j == i {
				continue
			}
			pos := groups[j] == groups[i]
			if pos {
				npos++
			}
			pulses(2*v, func(l int, p, _ float64) {
				if pos {
					f.hp[l] += p
				} else {
					f.hn[l] += p
				}
			})
		}
		if npos == 0 {
			return
		}
		used++
		// AP_i and its partial derivatives with respect to h+ and h-, from
		// suffix sums over the bins with H > 0.
		var hPlus, hAll, ap float64
		for l := 0; l < L; l++ {
			hPlus += f.hp[l]
			hAll += f.hp[l] + f.hn[l]
			f.dhp[l], f.dhn[l] = 0, 0
			if hAll > 0 {
				ap += f.hp[l] * hPlus / hAll
				f.dhp[l] = hPlus / hAll // the [l == k] term
			}
		}
		inv := 1 / float64(npos)
		apSum += ap * inv
		var a, b float64
		hPlus, hAll = 0, 0
		for l := 0; l < L; l++ {
			hPlus += f.hp[l]
			hAll += f.hp[l] + f.hn[l]
		}
		for l := L - 1; l >= 0; l-- {
			if hAll > 0 {
				a += f.hp[l] / hAll
				b += f.hp[l] * hPlus / (hAll * hAll)
			}
			f.dhp[l] = (f.dhp[l] + a - b) * inv
			f.dhn[l] = -b * inv
			hPlus -= f.hp[l]
			hAll -= f.hp[l] + f.hn[l]
		}
		gr := row(f.g, i)
		for j, v := range dr {
			if j == i {
				continue
			}
			dh := f.dhn
			if groups[j] == groups[i] {
				dh = f.dhp
			}
			// dAP_i/dD[i,j] through D2 = 2 D.
			pulses(2*v, func(l int, _, dp float64) { gr[j] += 2 * dh[l] * dp })
		}
	})
	if used == 0 {
		return 0, f.de, nil
	}
	// loss = 1 - mean AP: dL/dAP_i = -1/used.
	scale(f.g, -1/float64(used))
	f.pw.backward(f.g, f.de, nil, false)
	return 1 - apSum/float64(used), f.de, nil
}
