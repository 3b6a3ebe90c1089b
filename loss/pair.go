package loss

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/simlearn/simlearn/internal/par"
)

// Contrastive is the contrastive pair loss of SPEC section 3. When the
// batch holds more than one distinct subgroup, each of the 2N embeddings
// also gets its hardest negative from the other subgroups.
type Contrastive struct {
	Margin   float64  `json:"margin"`
	Distance Distance `json:"distance"`

	d, gd  []float64
	e      *mat.Dense // [a; b]
	sg     []int
	pw     pairwise
	g, de  *mat.Dense
	da, db *mat.Dense
}

// NewContrastive returns a Contrastive with the SPEC defaults: margin 0.5,
// cosine distance.
func NewContrastive() *Contrastive { return &Contrastive{Margin: 0.5, Distance: Cosine} }

func (c *Contrastive) validate() error {
	if err := c.Distance.Validate(); err != nil {
		return err
	}
	return checkNonNegative("margin", c.Margin)
}

// Loss computes the loss of the pairs and dL/da, dL/db.
func (c *Contrastive) Loss(a, b *mat.Dense, scores []float64, subgroups []int) (float64, *mat.Dense, *mat.Dense, error) {
	if err := c.validate(); err != nil {
		return 0, nil, nil, fmt.Errorf("contrastive: %w", err)
	}
	if err := checkPairBatch(a, b, scores, subgroups); err != nil {
		return 0, nil, nil, fmt.Errorf("contrastive: %w", err)
	}
	n, dim := a.Dims()
	c.d, c.gd = grow(c.d, n), grow(c.gd, n)
	rowDistances(c.Distance, c.d, a, b)
	loss := 0.0
	for i, d := range c.d {
		y, r := scores[i], math.Max(c.Margin-d, 0)
		loss += 0.5 * (y*d*d + (1-y)*r*r)
		c.gd[i] = (y*d - (1-y)*r) / float64(n)
	}
	loss /= float64(n)
	c.da, c.db = zeroed(c.da, n, dim), zeroed(c.db, n, dim)
	rowDistancesGrad(c.Distance, c.gd, a, b, c.da, c.db)
	if !manySubgroups(subgroups) {
		return loss, c.da, c.db, nil
	}
	// Hardest negative of each of the 2N embeddings among other subgroups.
	c.e = resize(c.e, 2*n, dim)
	c.e.Slice(0, n, 0, dim).(*mat.Dense).Copy(a)
	c.e.Slice(n, 2*n, 0, dim).(*mat.Dense).Copy(b)
	c.sg = grow(c.sg, 2*n)
	copy(c.sg, subgroups)
	copy(c.sg[n:], subgroups)
	dist := c.pw.compute(c.Distance, c.e, c.e, true)
	c.g = zeroed(c.g, 2*n, 2*n)
	rows(dist, func(j int, dr []float64) {
		k := -1
		for i, v := range dr {
			if c.sg[i] != c.sg[j] && (k < 0 || v < dr[k]) {
				k = i
			}
		}
		r := math.Max(c.Margin-dr[k], 0)
		loss += 0.5 * r * r / float64(2*n)
		row(c.g, j)[k] = -r / float64(2*n)
	})
	c.de = resize(c.de, 2*n, dim)
	c.pw.backward(c.g, c.de, nil, true)
	c.da.Add(c.da, c.de.Slice(0, n, 0, dim))
	c.db.Add(c.db, c.de.Slice(n, 2*n, 0, dim))
	return loss, c.da, c.db, nil
}

// manySubgroups reports whether more than one distinct subgroup occurs.
func manySubgroups(sg []int) bool {
	for _, s := range sg {
		if s != sg[0] {
			return true
		}
	}
	return false
}

// MultipleNegativesRanking is the in-batch negatives ranking loss of SPEC
// section 3: cross-entropy of scale * s(a_i, b_j) with target i. Every pair
// must be positive (score > 0).
type MultipleNegativesRanking struct {
	Scale float64 `json:"scale"`
	// Similarity is the distance whose similarity scores the candidates.
	Similarity Distance `json:"similarity"`
	// Symmetric adds the loss of b_j retrieving a_i and averages the two.
	Symmetric bool `json:"symmetric"`

	cand, lt          *mat.Dense
	pw                pairwise
	logits, g, gt     *mat.Dense
	grad              *mat.Dense // [da; dcand]
	da, dcand, db, dn *mat.Dense
	targets           []int
	losses            []float64
}

// NewMultipleNegativesRanking returns the loss with the SPEC defaults:
// scale 20, cosine similarity, not symmetric.
func NewMultipleNegativesRanking() *MultipleNegativesRanking {
	return &MultipleNegativesRanking{Scale: 20, Similarity: Cosine}
}

func (m *MultipleNegativesRanking) validate() error {
	if err := m.Similarity.Validate(); err != nil {
		return err
	}
	return checkPositive("scale", m.Scale)
}

// Loss computes the loss of the pairs and dL/da, dL/db.
func (m *MultipleNegativesRanking) Loss(a, b *mat.Dense, scores []float64, subgroups []int) (float64, *mat.Dense, *mat.Dense, error) {
	if subgroups != nil && len(subgroups) != len(scores) {
		return 0, nil, nil, fmt.Errorf("multiple_negatives_ranking: %d subgroups for %d pairs", len(subgroups), len(scores))
	}
	loss, da, db, _, err := m.LossWithNegatives(a, b, nil, scores)
	return loss, da, db, err
}

// LossWithNegatives is Loss with extra hard-negative candidates neg [K, d]
// (nil for none) appended as further columns; it also returns dL/dneg
// (nil without negatives). The symmetric term ranks a for each b_j among the
// N anchors only.
func (m *MultipleNegativesRanking) LossWithNegatives(a, b, neg *mat.Dense, scores []float64) (float64, *mat.Dense, *mat.Dense, *mat.Dense, error) {
	if err := m.validate(); err != nil {
		return 0, nil, nil, nil, fmt.Errorf("multiple_negatives_ranking: %w", err)
	}
	if err := checkPairBatch(a, b, scores, nil); err != nil {
		return 0, nil, nil, nil, fmt.Errorf("multiple_negatives_ranking: %w", err)
	}
	for i, s := range scores {
		if !(s > 0) {
			return 0, nil, nil, nil, fmt.Errorf("multiple_negatives_ranking: score of pair %d is %v, but this loss takes positive pairs only (score > 0)", i, s)
		}
	}
	n, dim := a.Dims()
	cand, k := b, 0
	if neg != nil {
		if err := checkMatrix("negatives", neg); err != nil {
			return 0, nil, nil, nil, fmt.Errorf("multiple_negatives_ranking: %w", err)
		}
		var dn int
		k, dn = neg.Dims()
		if dn != dim {
			return 0, nil, nil, nil, fmt.Errorf("multiple_negatives_ranking: negatives have %d columns, pairs %d", dn, dim)
		}
		m.cand = resize(m.cand, n+k, dim)
		m.cand.Slice(0, n, 0, dim).(*mat.Dense).Copy(b)
		m.cand.Slice(n, n+k, 0, dim).(*mat.Dense).Copy(neg)
		cand = m.cand
	}
	var loss float64
	if s, ok := m.rowProducts(a, cand); ok {
		loss = m.rowLoss(s, n+k)
	} else {
		loss = m.matrixLoss(a, cand, n+k)
	}
	// dL/da and dL/dcand share one matrix, so that a caller holding a and b
	// as consecutive rows of one matrix finds their gradients laid out the
	// same way (fit then skips a copy).
	m.grad = resize(m.grad, 2*n+k, dim)
	m.da = m.grad.Slice(0, n, 0, dim).(*mat.Dense)
	m.dcand = m.grad.Slice(n, 2*n+k, 0, dim).(*mat.Dense)
	m.pw.backward(m.g, m.da, m.dcand, true)
	if neg == nil {
		return loss, m.da, m.dcand, nil, nil
	}
	m.db = resize(m.db, n, dim)
	m.db.Copy(m.dcand.Slice(0, n, 0, dim))
	m.dn = resize(m.dn, k, dim)
	m.dn.Copy(m.dcand.Slice(n, n+k, 0, dim))
	return loss, m.da, m.db, m.dn, nil
}

// rowProducts returns the float32 products of the similarity matrix when
// rowLoss can take them: float32 precision, the cosine or dot similarity,
// and not Symmetric (whose second term needs the whole logits matrix).
func (m *MultipleNegativesRanking) rowProducts(a, cand *mat.Dense) (blas32.General, bool) {
	if m.Symmetric {
		return blas32.General{}, false
	}
	return m.pw.products32(m.Similarity, a, cand)
}

// rowLoss is matrixLoss from the float32 similarity products s (n rows of
// c columns) of the cosine or dot similarity, one row at a time: each row's
// distances, logits, softmax cross-entropy and dL/dD are computed while the
// row is in cache, with the same operations in the same order as
// matrixLoss's passes over whole matrices.
func (m *MultipleNegativesRanking) rowLoss(s blas32.General, c int) float64 {
	n := s.Rows
	one := 0.0 // D = one - s
	if m.Similarity == Cosine {
		one = 1
	}
	m.logits = resize(m.logits, n, c)
	m.g = resize(m.g, n, c)
	m.losses = grow(m.losses, n)
	scale := 1 / float64(n)
	par.For(n, 4096/max(c, 1), func(lo, hi int) {
		e := make([]float64, c)
		for i := lo; i < hi; i++ {
			lr, gr := row(m.logits, i), row(m.g, i)
			mx := math.Inf(-1)
			for j, v := range s.Data[i*s.Stride : i*s.Stride+c] {
				l := m.Scale * m.Similarity.Similarity(one-float64(v))
				lr[j] = l
				if l > mx { // as crossEntropyRow finds it
					mx = l
				}
			}
			m.losses[i] = crossEntropyRowMax(lr, mx, i, scale, gr, e)
			// dL/dD = dL/dlogits * scale * ds/dd, and ds/dd is -1.
			floats.Scale(-m.Scale, gr)
		}
	})
	return sumLosses(m.losses) * scale
}

// matrixLoss computes the distance matrix of a and the c candidates, the
// logits, the cross-entropy (both ways when Symmetric) and dL/dD into m.g,
// each as a pass over a whole matrix, and returns the loss.
func (m *MultipleNegativesRanking) matrixLoss(a, cand *mat.Dense, c int) float64 {
	n, _ := a.Dims()
	dist := m.pw.compute(m.Similarity, a, cand, false)
	m.logits = resize(m.logits, n, c)
	prows(dist, func(i int, dr []float64) {
		lr := row(m.logits, i)
		for j, v := range dr {
			lr[j] = m.Scale * m.Similarity.Similarity(v)
		}
	})
	m.targets = grow(m.targets, n)
	for i := range m.targets {
		m.targets[i] = i
	}
	m.g = resize(m.g, n, c)
	weight := 1.0
	if m.Symmetric {
		weight = 0.5
	}
	loss := crossEntropy(m.logits, m.targets, weight, m.g)
	if m.Symmetric {
		m.lt = resize(m.lt, n, n)
		m.lt.Copy(m.logits.Slice(0, n, 0, n).T())
		m.gt = resize(m.gt, n, n)
		loss += crossEntropy(m.lt, m.targets, weight, m.gt)
		sq := m.g.Slice(0, n, 0, n).(*mat.Dense)
		sq.Add(sq, m.gt.T())
	}
	// dL/dD = dL/dlogits * scale * ds/dd.
	prows(m.g, func(i int, gr []float64) {
		dr := row(dist, i)
		if m.Similarity == Cosine || m.Similarity == Dot {
			// ds/dd is -1.
			floats.Scale(-m.Scale, gr)
			return
		}
		for j := range gr {
			gr[j] *= m.Scale * m.Similarity.simGrad(dr[j])
		}
	})
	return loss
}

// CoSENT is the CoSENT pair loss of SPEC section 3:
// log(1 + sum over (i,j) with y_i > y_j of exp(scale*(cos_j - cos_i))).
type CoSENT struct {
	Scale float64 `json:"scale"`

	c, gc  []float64
	da, db *mat.Dense
}

// NewCoSENT returns a CoSENT with the SPEC default scale 20.
func NewCoSENT() *CoSENT { return &CoSENT{Scale: 20} }

func (c *CoSENT) validate() error { return checkPositive("scale", c.Scale) }

// Loss computes the loss of the pairs and dL/da, dL/db.
func (c *CoSENT) Loss(a, b *mat.Dense, scores []float64, subgroups []int) (float64, *mat.Dense, *mat.Dense, error) {
	if err := c.validate(); err != nil {
		return 0, nil, nil, fmt.Errorf("cosent: %w", err)
	}
	if err := checkPairBatch(a, b, scores, subgroups); err != nil {
		return 0, nil, nil, fmt.Errorf("cosent: %w", err)
	}
	n, dim := a.Dims()
	c.c, c.gc = grow(c.c, n), growZero(c.gc, n)
	rowDistances(Cosine, c.c, a, b)
	for i, d := range c.c {
		c.c[i] = 1 - d
	}
	// log-sum-exp over {0} and every term, with the maximum factored out.
	mx := 0.0
	for i := range c.c {
		for j := range c.c {
			if scores[i] > scores[j] {
				mx = math.Max(mx, c.Scale*(c.c[j]-c.c[i]))
			}
		}
	}
	sum := math.Exp(-mx)
	for i := range c.c {
		for j := range c.c {
			if scores[i] > scores[j] {
				sum += math.Exp(c.Scale*(c.c[j]-c.c[i]) - mx)
			}
		}
	}
	lse := mx + math.Log(sum)
	for i := range c.c {
		for j := range c.c {
			if scores[i] > scores[j] {
				w := c.Scale * math.Exp(c.Scale*(c.c[j]-c.c[i])-lse)
				c.gc[j] += w
				c.gc[i] -= w
			}
		}
	}
	// cos = 1 - d: dL/dd = -dL/dcos.
	for i := range c.gc {
		c.gc[i] = -c.gc[i]
	}
	c.da, c.db = zeroed(c.da, n, dim), zeroed(c.db, n, dim)
	rowDistancesGrad(Cosine, c.gc, a, b, c.da, c.db)
	return lse, c.da, c.db, nil
}

// CosineSimilarity is the regression loss mean_i (cos(a_i, b_i) - y_i)^2.
type CosineSimilarity struct {
	c, gc  []float64
	da, db *mat.Dense
}

// NewCosineSimilarity returns a CosineSimilarity loss.
func NewCosineSimilarity() *CosineSimilarity { return &CosineSimilarity{} }

func (c *CosineSimilarity) validate() error { return nil }

// Loss computes the loss of the pairs and dL/da, dL/db.
func (c *CosineSimilarity) Loss(a, b *mat.Dense, scores []float64, subgroups []int) (float64, *mat.Dense, *mat.Dense, error) {
	if err := checkPairBatch(a, b, scores, subgroups); err != nil {
		return 0, nil, nil, fmt.Errorf("cosine_similarity: %w", err)
	}
	n, dim := a.Dims()
	c.c, c.gc = grow(c.c, n), grow(c.gc, n)
	rowDistances(Cosine, c.c, a, b)
	loss := 0.0
	for i, d := range c.c {
		diff := 1 - d - scores[i]
		loss += diff * diff
		c.gc[i] = -2 * diff / float64(n) // dL/dd = -dL/dcos
	}
	c.da, c.db = zeroed(c.da, n, dim), zeroed(c.db, n, dim)
	rowDistancesGrad(Cosine, c.gc, a, b, c.da, c.db)
	return loss / float64(n), c.da, c.db, nil
}
