package loss

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// circleFrozen is the circle loss with the weights a_p, a_n taken from the
// similarities frozen (not from e), so that its derivative is the gradient
// SPEC asks for.
func circleFrozen(c *Circle, e *mat.Dense, groups []int, frozen *mat.Dense) float64 {
	s, _ := Cosine.SimilarityMatrix(e, e)
	n, _ := e.Dims()
	m := c.Margin
	var lp, ln []float64
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			v, f := s.At(i, j), frozen.At(i, j)
			if groups[i] == groups[j] {
				lp = append(lp, -c.Gamma*math.Max(1+m-f, 0)*(v-(1-m)))
			} else {
				ln = append(ln, c.Gamma*math.Max(f+m, 0)*(v-m))
			}
		}
	}
	return softplus(logSumExp(lp) + logSumExp(ln))
}

func logSumExp(v []float64) float64 {
	mx := math.Inf(-1)
	for _, x := range v {
		mx = math.Max(mx, x)
	}
	s := 0.0
	for _, x := range v {
		s += math.Exp(x - mx)
	}
	return mx + math.Log(s)
}

func TestCircleGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	for _, gamma := range []float64{1, 8, 256} {
		e := mat.NewDense(8, 4, nil)
		for i := range e.RawMatrix().Data {
			e.RawMatrix().Data[i] = rng.NormFloat64()
		}
		groups := []int{0, 1, 2, 0, 1, 2, 0, 1}
		c := NewCircle()
		c.Gamma = gamma
		got, de, err := c.Loss(e, groups)
		if err != nil {
			t.Fatal(err)
		}
		de = mat.DenseCopyOf(de)
		frozen, _ := Cosine.SimilarityMatrix(e, e)
		if want := circleFrozen(c, e, groups, frozen); math.Abs(got-want) > 1e-9*math.Max(1, want) {
			t.Fatalf("gamma %v: loss %v, reference %v", gamma, got, want)
		}
		const h = 1e-6
		r, cols := e.Dims()
		for i := 0; i < r; i++ {
			for j := 0; j < cols; j++ {
				v := e.At(i, j)
				e.Set(i, j, v+h)
				fp := circleFrozen(c, e, groups, frozen)
				e.Set(i, j, v-h)
				fm := circleFrozen(c, e, groups, frozen)
				e.Set(i, j, v)
				num := (fp - fm) / (2 * h)
				if g := de.At(i, j); math.Abs(g-num) > 1e-6+1e-4*math.Abs(num) {
					t.Fatalf("gamma %v: dL/de[%d][%d] analytic %v, numeric %v", gamma, i, j, g, num)
				}
			}
		}
	}
}
