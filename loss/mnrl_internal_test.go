package loss

import (
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/simlearn/simlearn/head"
)

// TestMNRLRowLossMatchesMatrixLoss checks that MNRL's row-by-row route
// (float32 products, cosine or dot, not symmetric) gives exactly what its
// route through whole matrices gives: the same loss and gradients, bit for
// bit, with and without extra negatives.
func TestMNRLRowLossMatchesMatrixLoss(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	randDense := func(r, c int) *mat.Dense {
		m := mat.NewDense(r, c, nil)
		for i := range m.RawMatrix().Data {
			m.RawMatrix().Data[i] = rng.NormFloat64()
		}
		return m
	}
	const n, k, d = 70, 13, 40
	scores := make([]float64, n)
	for i := range scores {
		scores[i] = 1
	}
	for _, sim := range []Distance{Cosine, Dot} {
		for _, withNeg := range []bool{false, true} {
			a, b := randDense(n, d), randDense(n, d)
			var neg *mat.Dense
			cand, kk := b, 0
			if withNeg {
				neg, kk = randDense(k, d), k
				cand = mat.NewDense(n+k, d, nil)
				cand.Stack(b, neg)
			}
			r := &MultipleNegativesRanking{Scale: 20, Similarity: sim}
			m := &MultipleNegativesRanking{Scale: 20, Similarity: sim}
			for _, l := range []*MultipleNegativesRanking{r, m} {
				if _, err := SetPrecision(l, head.Float32); err != nil {
					t.Fatal(err)
				}
			}
			if _, ok := r.rowProducts(a, cand); !ok {
				t.Fatalf("%v: the row route is not taken", sim)
			}
			lossR, da, db, dn, err := r.LossWithNegatives(a, b, neg, scores)
			if err != nil {
				t.Fatal(err)
			}
			lossM := m.matrixLoss(a, cand, n+kk)
			grad := mat.NewDense(2*n+kk, d, nil)
			m.pw.backward(m.g, grad.Slice(0, n, 0, d).(*mat.Dense), grad.Slice(n, 2*n+kk, 0, d).(*mat.Dense), true)
			if lossR != lossM {
				t.Errorf("%v, negatives %v: loss %v by rows, %v by matrices", sim, withNeg, lossR, lossM)
			}
			want := []*mat.Dense{grad.Slice(0, n, 0, d).(*mat.Dense), grad.Slice(n, 2*n, 0, d).(*mat.Dense)}
			got := []*mat.Dense{da, db}
			if withNeg {
				want = append(want, grad.Slice(2*n, 2*n+k, 0, d).(*mat.Dense))
				got = append(got, dn)
			}
			for q := range want {
				if !mat.Equal(got[q], want[q]) {
					t.Errorf("%v, negatives %v: gradient %d differs between the routes", sim, withNeg, q)
				}
			}
		}
	}
}
