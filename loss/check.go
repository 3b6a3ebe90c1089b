package loss

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/simlearn/simlearn/internal/finite"
	"github.com/simlearn/simlearn/internal/par"
	"github.com/simlearn/simlearn/internal/vexp"
)

// ErrEmptyBatch is returned (wrapped) for a batch without rows or columns.
var ErrEmptyBatch = errors.New("empty batch")

// checkFinite returns an error naming the first NaN or infinite element of m.
func checkFinite(what string, m *mat.Dense) error {
	if i, j, v, found := finite.First(m.RawMatrix()); found {
		return fmt.Errorf("%s row %d column %d is %v", what, i, j, v)
	}
	return nil
}

// checkMatrix rejects a nil, empty or non-finite matrix.
func checkMatrix(what string, m *mat.Dense) error {
	if m == nil || m.IsEmpty() {
		return fmt.Errorf("%s: %w", what, ErrEmptyBatch)
	}
	return checkFinite(what, m)
}

// checkGroupBatch validates the input of a group loss.
func checkGroupBatch(e *mat.Dense, groups []int) error {
	if err := checkMatrix("embeddings", e); err != nil {
		return err
	}
	if n, _ := e.Dims(); len(groups) != n {
		return fmt.Errorf("%d group ids for %d embeddings", len(groups), n)
	}
	return nil
}

// checkPairBatch validates the input of a pair loss; subgroups may be nil.
func checkPairBatch(a, b *mat.Dense, scores []float64, subgroups []int) error {
	if err := checkMatrix("a", a); err != nil {
		return err
	}
	if err := checkMatrix("b", b); err != nil {
		return err
	}
	n, da := a.Dims()
	m, db := b.Dims()
	if n != m || da != db {
		return fmt.Errorf("a is %dx%d but b is %dx%d, want the same shape", n, da, m, db)
	}
	if len(scores) != n {
		return fmt.Errorf("%d scores for %d pairs", len(scores), n)
	}
	for i, s := range scores {
		if math.IsNaN(s) || math.IsInf(s, 0) {
			return fmt.Errorf("score of pair %d is %v", i, s)
		}
	}
	if subgroups != nil && len(subgroups) != n {
		return fmt.Errorf("%d subgroups for %d pairs", len(subgroups), n)
	}
	return nil
}

// checkClasses rejects group ids outside [0, classes).
func checkClasses(loss string, groups []int, classes int) error {
	for i, g := range groups {
		if g < 0 || g >= classes {
			return fmt.Errorf("%s: group id %d of sample %d is outside [0, %d)", loss, g, i, classes)
		}
	}
	return nil
}

func checkPositive(what string, v float64) error {
	if !(v > 0) || math.IsInf(v, 0) {
		return fmt.Errorf("%s %v, want a finite number > 0", what, v)
	}
	return nil
}

func checkNonNegative(what string, v float64) error {
	if !(v >= 0) || math.IsInf(v, 0) {
		return fmt.Errorf("%s %v, want a finite number >= 0", what, v)
	}
	return nil
}

// softplus is log(1 + exp(x)), computed without overflow.
func softplus(x float64) float64 {
	return math.Max(x, 0) + math.Log1p(math.Exp(-math.Abs(x)))
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// crossEntropy returns weight * mean_i -log softmax(logits_i)[target_i] and
// writes its gradient with respect to the logits into g (of the same
// shape). The rows of logits may be strided views.
func crossEntropy(logits *mat.Dense, targets []int, weight float64, g *mat.Dense) float64 {
	n, c := logits.Dims()
	scale := weight / float64(n)
	losses := make([]float64, n)
	par.For(n, 4096/max(c, 1), func(lo, hi int) {
		e := make([]float64, c)
		for i := lo; i < hi; i++ {
			losses[i] = crossEntropyRow(row(logits, i), targets[i], scale, row(g, i), e)
		}
	})
	return sumLosses(losses) * scale
}

// crossEntropyRow returns -log softmax(l)[target] and sets gr to scale
// times its gradient with respect to l; e is a workspace as long as l.
func crossEntropyRow(l []float64, target int, scale float64, gr, e []float64) float64 {
	m := math.Inf(-1)
	for _, v := range l {
		if v > m { // math.Max is a call on amd64; NaN logits give a NaN sum anyway
			m = v
		}
	}
	return crossEntropyRowMax(l, m, target, scale, gr, e)
}

// crossEntropyRowMax is crossEntropyRow given m, the largest logit of l.
func crossEntropyRowMax(l []float64, m float64, target int, scale float64, gr, e []float64) float64 {
	// e = l - m, vectorised: adding -m is the same IEEE operation as
	// subtracting m.
	copy(e, l)
	floats.AddConst(-m, e)
	vexp.Exp(e, e)
	sum := floats.Sum(e)
	floats.ScaleTo(gr, scale/sum, e)
	gr[target] -= scale
	return m + math.Log(sum) - l[target]
}

// sumLosses adds per-row losses in order, so that the total does not
// depend on how the rows were split between workers.
func sumLosses(losses []float64) float64 {
	total := 0.0
	for _, v := range losses {
		total += v
	}
	return total
}
