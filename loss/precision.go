package loss

import "github.com/simlearn/simlearn/head"

// withPairwise is implemented by the losses built on a distance matrix.
type withPairwise interface {
	pairwiseOf() *pairwise
}

// SetPrecision sets the precision of l's distance-matrix products from its
// next call on: with head.Float32, the Gram matrix of the cosine and dot
// distances and its gradient products run in float32 (Euclidean and
// Manhattan distances stay float64). The losses of this package with a
// distance matrix (Triplet, OnlineContrastive, Contrastive,
// MultipleNegativesRanking, Circle, FastAP) support it and report ok true;
// others (pair losses on row distances, proxy losses) and losses of other
// packages are left as they are.
func SetPrecision(l any, p head.Precision) (ok bool, err error) {
	if err := p.Validate(); err != nil {
		return false, err
	}
	w, ok := l.(withPairwise)
	if !ok {
		return false, nil
	}
	w.pairwiseOf().f32 = p == head.Float32
	return true, nil
}

func (t *Triplet) pairwiseOf() *pairwise                  { return &t.pw }
func (o *OnlineContrastive) pairwiseOf() *pairwise        { return &o.pw }
func (c *Contrastive) pairwiseOf() *pairwise              { return &c.pw }
func (m *MultipleNegativesRanking) pairwiseOf() *pairwise { return &m.pw }
func (c *Circle) pairwiseOf() *pairwise                   { return &c.pw }
func (f *FastAP) pairwiseOf() *pairwise                   { return &f.pw }
