package loss

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Mining selects which pairs or triplets a loss uses.
type Mining string

// Mining strategies.
const (
	// MiningAll uses every valid triplet or pair.
	MiningAll Mining = "all"
	// MiningHard uses the hardest positive and negative per anchor
	// (Triplet) or the pairs that violate the other side's extreme
	// (OnlineContrastive).
	MiningHard Mining = "hard"
	// MiningSemiHard pairs each positive pair with the nearest negative
	// farther than the positive (Triplet only).
	MiningSemiHard Mining = "semi_hard"
)

// Triplet is the triplet loss of SPEC section 4 with all, batch-hard (and
// soft-margin) or anchor-aligned semi-hard mining. A batch without a valid
// triplet (one group, or no positives) gives loss 0 and a zero gradient.
type Triplet struct {
	Margin   float64  `json:"margin"`
	Distance Distance `json:"distance"`
	Mining   Mining   `json:"mining"`
	// Soft replaces relu(hp - hn + margin) by softplus(hp - hn) in batch-hard
	// mining.
	Soft bool `json:"soft"`

	pw       pairwise
	g        *mat.Dense
	de, dref *mat.Dense
}

// NewTriplet returns a Triplet with the SPEC defaults: margin 0.5, cosine,
// batch-hard mining.
func NewTriplet() *Triplet {
	return &Triplet{Margin: 0.5, Distance: Cosine, Mining: MiningHard}
}

func (t *Triplet) validate() error {
	if err := t.Distance.Validate(); err != nil {
		return err
	}
	if err := checkNonNegative("margin", t.Margin); err != nil {
		return err
	}
	switch t.Mining {
	case MiningAll, MiningHard, MiningSemiHard:
	default:
		return fmt.Errorf("unknown mining %q for triplet (want all, hard or semi_hard)", t.Mining)
	}
	if t.Soft && t.Mining != MiningHard {
		return fmt.Errorf("soft triplet needs hard mining, not %q", t.Mining)
	}
	return nil
}

// Loss computes the triplet loss of the batch and dL/de.
func (t *Triplet) Loss(e *mat.Dense, groups []int) (float64, *mat.Dense, error) {
	if err := t.validate(); err != nil {
		return 0, nil, fmt.Errorf("triplet: %w", err)
	}
	if err := checkGroupBatch(e, groups); err != nil {
		return 0, nil, fmt.Errorf("triplet: %w", err)
	}
	n, d := e.Dims()
	dist := t.pw.compute(t.Distance, e, e, true)
	t.g = zeroed(t.g, n, n)
	loss := t.mine(dist, groups, groups, true)
	if loss == 0 {
		t.de = zeroed(t.de, n, d)
		return 0, t.de, nil
	}
	t.de = resize(t.de, n, d)
	t.pw.backward(t.g, t.de, nil, true)
	return loss, t.de, nil
}

// LossAgainst computes the triplet loss of anchors e against reference rows
// ref with their own groups (a cross-batch memory): positives and negatives
// are taken from ref only, and the gradient is with respect to e alone.
func (t *Triplet) LossAgainst(e *mat.Dense, groups []int, ref *mat.Dense, refGroups []int) (float64, *mat.Dense, error) {
	if err := t.validate(); err != nil {
		return 0, nil, fmt.Errorf("triplet: %w", err)
	}
	if err := checkGroupBatch(e, groups); err != nil {
		return 0, nil, fmt.Errorf("triplet: %w", err)
	}
	if err := checkGroupBatch(ref, refGroups); err != nil {
		return 0, nil, fmt.Errorf("triplet reference: %w", err)
	}
	n, d := e.Dims()
	m, dr := ref.Dims()
	if dr != d {
		return 0, nil, fmt.Errorf("triplet: embeddings have %d columns, reference %d", d, dr)
	}
	dist := t.pw.compute(t.Distance, e, ref, false)
	t.g = zeroed(t.g, n, m)
	loss := t.mine(dist, groups, refGroups, false)
	t.de = zeroed(t.de, n, d)
	t.dref = zeroed(t.dref, m, d)
	if loss != 0 {
		t.pw.backward(t.g, t.de, t.dref, false)
	}
	return loss, t.de, nil
}

// mine computes the loss over anchors (rows of dist, groups ga) and
// candidates (columns, groups gb) and writes dL/dD into t.g. With self, row i
// and column i are the same sample.
func (t *Triplet) mine(dist *mat.Dense, ga, gb []int, self bool) float64 {
	switch t.Mining {
	case MiningAll:
		return t.mineAll(dist, ga, gb, self)
	case MiningSemiHard:
		return t.mineSemiHard(dist, ga, gb, self)
	}
	return t.mineHard(dist, ga, gb, self)
}

func (t *Triplet) mineAll(dist *mat.Dense, ga, gb []int, self bool) float64 {
	sum, count := 0.0, 0
	rows(dist, func(a int, dr []float64) {
		gr := row(t.g, a)
		for p, dp := range dr {
			if gb[p] != ga[a] || (self && p == a) {
				continue
			}
			for n, dn := range dr {
				if gb[n] == ga[a] {
					continue
				}
				v := dp - dn + t.Margin
				if v <= 0 {
					continue
				}
				sum += v
				if v > 1e-16 {
					count++
				}
				gr[p]++
				gr[n]--
			}
		}
	})
	if count == 0 {
		t.g.Zero()
		return 0
	}
	scale(t.g, 1/float64(count))
	return sum / float64(count)
}

func (t *Triplet) mineHard(dist *mat.Dense, ga, gb []int, self bool) float64 {
	sum, count := 0.0, 0
	rows(dist, func(a int, dr []float64) {
		ip, in := -1, -1
		for j, v := range dr {
			if gb[j] == ga[a] {
				if !(self && j == a) && (ip < 0 || v > dr[ip]) {
					ip = j
				}
			} else if in < 0 || v < dr[in] {
				in = j
			}
		}
		if ip < 0 || in < 0 {
			return
		}
		count++
		x := dr[ip] - dr[in]
		var grad float64
		if t.Soft {
			sum += softplus(x)
			grad = sigmoid(x)
		} else if x+t.Margin > 0 {
			sum += x + t.Margin
			grad = 1
		}
		gr := row(t.g, a)
		gr[ip] += grad
		gr[in] -= grad
	})
	if count == 0 {
		return 0
	}
	scale(t.g, 1/float64(count))
	return sum / float64(count)
}

func (t *Triplet) mineSemiHard(dist *mat.Dense, ga, gb []int, self bool) float64 {
	sum, count := 0.0, 0
	rows(dist, func(a int, dr []float64) {
		gr := row(t.g, a)
		for p, dp := range dr {
			if gb[p] != ga[a] || (self && p == a) {
				continue
			}
			semi, far := -1, -1
			for n, dn := range dr {
				if gb[n] == ga[a] {
					continue
				}
				if dn > dp && (semi < 0 || dn < dr[semi]) {
					semi = n
				}
				if far < 0 || dn > dr[far] {
					far = n
				}
			}
			if far < 0 {
				continue // no negative for this anchor
			}
			n := semi
			if n < 0 {
				n = far
			}
			count++
			if v := dp - dr[n] + t.Margin; v > 0 {
				sum += v
				gr[p]++
				gr[n]--
			}
		}
	})
	if count == 0 {
		return 0
	}
	scale(t.g, 1/float64(count))
	return sum / float64(count)
}

// OnlineContrastive is the online contrastive loss of SPEC section 4:
// mean over positive pairs of D^2 plus mean over negative pairs of
// relu(margin - D)^2, over ordered pairs i != j, all pairs or the hard ones.
type OnlineContrastive struct {
	Margin   float64  `json:"margin"`
	Distance Distance `json:"distance"`
	Mining   Mining   `json:"mining"`

	pw pairwise
	g  *mat.Dense
	de *mat.Dense
}

// NewOnlineContrastive returns an OnlineContrastive with the SPEC defaults:
// margin 0.5, cosine, hard mining.
func NewOnlineContrastive() *OnlineContrastive {
	return &OnlineContrastive{Margin: 0.5, Distance: Cosine, Mining: MiningHard}
}

func (o *OnlineContrastive) validate() error {
	if err := o.Distance.Validate(); err != nil {
		return err
	}
	if err := checkNonNegative("margin", o.Margin); err != nil {
		return err
	}
	if o.Mining != MiningAll && o.Mining != MiningHard {
		return fmt.Errorf("unknown mining %q for online_contrastive (want all or hard)", o.Mining)
	}
	return nil
}

// Loss computes the loss of the batch and dL/de.
func (o *OnlineContrastive) Loss(e *mat.Dense, groups []int) (float64, *mat.Dense, error) {
	if err := o.validate(); err != nil {
		return 0, nil, fmt.Errorf("online_contrastive: %w", err)
	}
	if err := checkGroupBatch(e, groups); err != nil {
		return 0, nil, fmt.Errorf("online_contrastive: %w", err)
	}
	n, d := e.Dims()
	dist := o.pw.compute(o.Distance, e, e, true)
	o.g = zeroed(o.g, n, n)
	posMax, negMin := math.Inf(-1), math.Inf(1)
	if o.Mining == MiningHard {
		rows(dist, func(i int, dr []float64) {
			for j, v := range dr {
				switch {
				case i == j:
				case groups[i] == groups[j]:
					posMax = math.Max(posMax, v)
				default:
					negMin = math.Min(negMin, v)
				}
			}
		})
	}
	keepPos := func(v float64) bool { return o.Mining == MiningAll || v > negMin }
	keepNeg := func(v float64) bool { return o.Mining == MiningAll || v < posMax }
	var posSum, negSum float64
	var posN, negN int
	rows(dist, func(i int, dr []float64) {
		for j, v := range dr {
			switch {
			case i == j:
			case groups[i] == groups[j]:
				if keepPos(v) {
					posSum += v * v
					posN++
				}
			default:
				if keepNeg(v) {
					r := math.Max(o.Margin-v, 0)
					negSum += r * r
					negN++
				}
			}
		}
	})
	loss := 0.0
	if posN > 0 {
		loss += posSum / float64(posN)
	}
	if negN > 0 {
		loss += negSum / float64(negN)
	}
	rows(dist, func(i int, dr []float64) {
		gr := row(o.g, i)
		for j, v := range dr {
			switch {
			case i == j:
			case groups[i] == groups[j]:
				if keepPos(v) {
					gr[j] = 2 * v / float64(posN)
				}
			default:
				if keepNeg(v) {
					gr[j] = -2 * math.Max(o.Margin-v, 0) / float64(negN)
				}
			}
		}
	})
	o.de = resize(o.de, n, d)
	o.pw.backward(o.g, o.de, nil, true)
	return loss, o.de, nil
}
