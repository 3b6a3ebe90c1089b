package loss

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/simlearn/simlearn/internal/gradcheck"
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
		num := gradcheck.Numeric(e, func() float64 { return circleFrozen(c, e, groups, frozen) })
		gradcheck.AssertClose(t, fmt.Sprintf("gamma %v: dL/de", gamma), de, num, 1e-4)
	}
}
