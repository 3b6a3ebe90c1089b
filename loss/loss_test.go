package loss_test

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/simlearn/simlearn/head"
	"github.com/simlearn/simlearn/internal/gradcheck"
	"github.com/simlearn/simlearn/loss"
)

// assertClose compares an analytic gradient with a numeric one, within
// 1e-6 + 1e-4 relative.
func assertClose(t *testing.T, what string, got, want *mat.Dense) {
	t.Helper()
	gradcheck.AssertClose(t, what, got, want, 1e-4)
}

func spec(name, params string) loss.Spec {
	return loss.Spec{Name: name, Params: json.RawMessage(params)}
}

// groupSpecs covers every group loss and option.
func groupSpecs() []loss.Spec {
	var s []loss.Spec
	for _, d := range []string{"cosine", "euclidean", "manhattan", "dot"} {
		for _, m := range []string{"all", "hard", "semi_hard"} {
			s = append(s, spec("triplet", fmt.Sprintf(`{"distance":%q,"mining":%q,"margin":0.7}`, d, m)))
		}
		s = append(s, spec("triplet", fmt.Sprintf(`{"distance":%q,"soft":true}`, d)))
		for _, m := range []string{"all", "hard"} {
			s = append(s, spec("online_contrastive", fmt.Sprintf(`{"distance":%q,"mining":%q,"margin":1.5}`, d, m)))
		}
	}
	return append(s,
		spec("fast_ap", `{"bins":10}`), spec("fast_ap", `{"bins":4}`),
		spec("arcface", `{"scale":4}`), spec("arcface", `{"scale":2,"margin":2.8}`),
		spec("cosface", `{"scale":4}`), spec("softmax", `{"temperature":0.5}`),
		spec("center", `{}`))
}

// TestGroupFiniteDifferences checks dL/de and dL/dweights of every group
// loss against central differences on random batches. Circle, whose
// gradient treats its weights as constants, is checked in
// circle_internal_test.go.
func TestGroupFiniteDifferences(t *testing.T) {
	for k, sp := range groupSpecs() {
		t.Run(fmt.Sprintf("%d_%s_%s", k, sp.Name, sp.Params), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(k), 3))
			const n, d, classes = 9, 4, 3
			e := gradcheck.RandNormal(rng, n, d)
			groups := make([]int, n)
			for i := range groups {
				groups[i] = i % classes
			}
			l, err := loss.NewGroup(sp, loss.GroupOptions{Classes: classes, Dim: d, Seed: 5})
			if err != nil {
				t.Fatal(err)
			}
			var params []*head.Param
			if lp, ok := l.(loss.Learnable); ok {
				params = lp.Params()
				// Larger class vectors than the N(0, 0.01^2) start keep the
				// check well conditioned.
				params[0].Value.Copy(gradcheck.RandNormal(rng, classes, d))
			}
			f := func() float64 {
				v, _, err := l.Loss(e, groups)
				if err != nil {
					t.Fatal(err)
				}
				return v
			}
			head.ZeroGrad(params)
			v, de, err := l.Loss(e, groups)
			if err != nil {
				t.Fatal(err)
			}
			if v == 0 {
				t.Fatalf("loss is 0 on a random batch: the check would be vacuous")
			}
			de = mat.DenseCopyOf(de)
			var dw []*mat.Dense
			for _, p := range params {
				dw = append(dw, mat.DenseCopyOf(p.Grad))
			}
			assertClose(t, "dL/de", de, gradcheck.Numeric(e, f))
			for i, p := range params {
				assertClose(t, "dL/d"+p.Name, dw[i], gradcheck.Numeric(p.Value, f))
			}
		})
	}
}

func pairSpecs() []loss.Spec {
	var s []loss.Spec
	for _, d := range []string{"cosine", "euclidean", "manhattan", "dot"} {
		s = append(s, spec("contrastive", fmt.Sprintf(`{"distance":%q,"margin":2}`, d)))
		s = append(s, spec("multiple_negatives_ranking", fmt.Sprintf(`{"similarity":%q,"scale":3}`, d)))
		s = append(s, spec("multiple_negatives_ranking", fmt.Sprintf(`{"similarity":%q,"scale":3,"symmetric":true}`, d)))
	}
	return append(s, spec("cosent", `{"scale":5}`), spec("cosent", `{}`), spec("cosine_similarity", ``))
}

func TestPairFiniteDifferences(t *testing.T) {
	for k, sp := range pairSpecs() {
		for _, subgroups := range [][]int{nil, {1, 1, 2, 0, 2, 1}} {
			t.Run(fmt.Sprintf("%d_%s_%s_%v", k, sp.Name, sp.Params, subgroups), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(k), 4))
				const n, d = 6, 4
				a, b := gradcheck.RandNormal(rng, n, d), gradcheck.RandNormal(rng, n, d)
				scores := []float64{1, 0.2, 0.7, 0.05, 0.9, 0.4}
				l, err := loss.NewPair(sp)
				if err != nil {
					t.Fatal(err)
				}
				f := func() float64 {
					v, _, _, err := l.Loss(a, b, scores, subgroups)
					if err != nil {
						t.Fatal(err)
					}
					return v
				}
				_, da, db, err := l.Loss(a, b, scores, subgroups)
				if err != nil {
					t.Fatal(err)
				}
				da, db = mat.DenseCopyOf(da), mat.DenseCopyOf(db)
				assertClose(t, "dL/da", da, gradcheck.Numeric(a, f))
				assertClose(t, "dL/db", db, gradcheck.Numeric(b, f))
			})
		}
	}
}

func TestMNRLHardNegatives(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	a, b, neg := gradcheck.RandNormal(rng, 5, 4), gradcheck.RandNormal(rng, 5, 4), gradcheck.RandNormal(rng, 3, 4)
	scores := []float64{1, 1, 1, 1, 1}
	for _, sym := range []bool{false, true} {
		m := loss.NewMultipleNegativesRanking()
		m.Scale, m.Symmetric = 5, sym
		f := func() float64 {
			v, _, _, _, err := m.LossWithNegatives(a, b, neg, scores)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		withNeg, da, db, dn, err := m.LossWithNegatives(a, b, neg, scores)
		if err != nil {
			t.Fatal(err)
		}
		da, db, dn = mat.DenseCopyOf(da), mat.DenseCopyOf(db), mat.DenseCopyOf(dn)
		assertClose(t, "dL/da", da, gradcheck.Numeric(a, f))
		assertClose(t, "dL/db", db, gradcheck.Numeric(b, f))
		assertClose(t, "dL/dneg", dn, gradcheck.Numeric(neg, f))
		without, _, _, _ := m.Loss(a, b, scores, nil)
		if !(withNeg > without) {
			t.Errorf("symmetric=%v: extra negatives did not raise the loss (%v <= %v)", sym, withNeg, without)
		}
	}
}

func TestTripletLossAgainst(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 2))
	e, ref := gradcheck.RandNormal(rng, 6, 4), gradcheck.RandNormal(rng, 10, 4)
	groups := []int{0, 1, 2, 0, 1, 2}
	refGroups := []int{0, 1, 2, 3, 0, 1, 2, 3, 0, 1}
	for _, m := range []loss.Mining{loss.MiningAll, loss.MiningHard, loss.MiningSemiHard} {
		tr := loss.NewTriplet()
		tr.Mining = m
		f := func() float64 {
			v, _, err := tr.LossAgainst(e, groups, ref, refGroups)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		v, de, err := tr.LossAgainst(e, groups, ref, refGroups)
		if err != nil || v == 0 {
			t.Fatalf("%s: loss %v, error %v", m, v, err)
		}
		assertClose(t, string(m)+" dL/de", mat.DenseCopyOf(de), gradcheck.Numeric(e, f))
	}
	// Against itself it is the ordinary loss except for self-pairs, which
	// batch-hard mining with euclidean distance 0 cannot pick as hardest.
	tr := loss.NewTriplet()
	tr.Distance = loss.Euclidean
	self, _, _ := tr.Loss(e, groups)
	against, _, _ := tr.LossAgainst(e, groups, e, groups)
	if math.Abs(self-against) > 1e-12 {
		t.Errorf("LossAgainst(e, e) = %v, Loss(e) = %v", against, self)
	}
}

// TestDistances checks the matrix and row-wise forms against each other,
// their gradients against central differences, and the special cases.
func TestDistances(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	x, y := gradcheck.RandNormal(rng, 5, 4), gradcheck.RandNormal(rng, 5, 4)
	for _, d := range []loss.Distance{loss.Cosine, loss.Euclidean, loss.Manhattan, loss.Dot} {
		m, err := d.Matrix(x, y)
		if err != nil {
			t.Fatal(err)
		}
		r, err := d.Rows(x, y)
		if err != nil {
			t.Fatal(err)
		}
		sm, _ := d.SimilarityMatrix(x, y)
		rs, _ := d.RowSimilarities(x, y)
		for i := range r {
			if math.Abs(m.At(i, i)-r[i]) > 1e-12*(1+math.Abs(r[i])) || math.Abs(sm.At(i, i)-rs[i]) > 1e-12 {
				t.Errorf("%s: matrix form %v and row form %v differ at %d", d, m.At(i, i), r[i], i)
			}
			if math.Abs(rs[i]-d.Similarity(r[i])) > 1e-15 {
				t.Errorf("%s: similarity of row %d inconsistent", d, i)
			}
		}
		g := gradcheck.RandNormal(rng, 5, 5)
		dx, dy, err := d.MatrixGrad(x, y, g)
		if err != nil {
			t.Fatal(err)
		}
		f := func() float64 {
			m, _ := d.Matrix(x, y)
			var p mat.Dense
			p.MulElem(m, g)
			return mat.Sum(&p)
		}
		assertClose(t, string(d)+" matrix dx", dx, gradcheck.Numeric(x, f))
		assertClose(t, string(d)+" matrix dy", dy, gradcheck.Numeric(y, f))
		gr := []float64{0.3, -1, 2, 0.5, -0.7}
		rdx, rdy, err := d.RowsGrad(x, y, gr)
		if err != nil {
			t.Fatal(err)
		}
		fr := func() float64 {
			r, _ := d.Rows(x, y)
			s := 0.0
			for i, v := range r {
				s += gr[i] * v
			}
			return s
		}
		assertClose(t, string(d)+" rows dx", rdx, gradcheck.Numeric(x, fr))
		assertClose(t, string(d)+" rows dy", rdy, gradcheck.Numeric(y, fr))
	}
	// Euclidean is exactly 0 on identical rows, with gradient 0 there;
	// manhattan's subgradient at equality is 0.
	big := mat.NewDense(2, 3, []float64{1e8, 3, -2, 1e8 + 1, 3, -2})
	for _, d := range []loss.Distance{loss.Euclidean, loss.Manhattan} {
		m, _ := d.Matrix(big, big)
		if m.At(0, 0) != 0 || m.At(1, 1) != 0 || m.At(0, 1) != 1 {
			t.Errorf("%s of identical rows: %v", d, mat.Formatted(m))
		}
		dx, dy, _ := d.RowsGrad(big, big, []float64{1, 1})
		if mat.Sum(dx) != 0 || mat.Sum(dy) != 0 || mat.Norm(dx, 1) != 0 {
			t.Errorf("%s gradient at equality is not 0", d)
		}
	}
	// Cosine of a zero row divides by 1e-12, never by 0.
	zero := mat.NewDense(1, 3, nil)
	if r, _ := loss.Cosine.Rows(zero, x.Slice(0, 1, 0, 3).(*mat.Dense)); r[0] != 1 {
		t.Errorf("cosine distance to a zero row = %v, want 1", r[0])
	}
	if _, err := loss.Distance("hamming").Matrix(x, y); err == nil || !strings.Contains(err.Error(), "hamming") {
		t.Errorf("unknown distance: error %v", err)
	}
	if _, err := loss.Cosine.Matrix(x, mat.NewDense(2, 3, nil)); err == nil {
		t.Error("mismatched widths accepted")
	}
	if _, err := loss.Cosine.Rows(x, mat.NewDense(2, 4, nil)); err == nil {
		t.Error("row-wise distance of 5 and 2 rows accepted")
	}
}

// A loss used first on a batch against itself and then against a memory of
// another size must not share workspaces between the two (regression: the
// self call aliased the y buffers to the x ones).
func TestTripletLossThenLossAgainst(t *testing.T) {
	for _, d := range []loss.Distance{loss.Cosine, loss.Euclidean} {
		tr := loss.NewTriplet()
		tr.Distance = d
		rng := rand.New(rand.NewPCG(1, 2))
		e := gradcheck.RandNormal(rng, 6, 4)
		g := []int{0, 0, 1, 1, 2, 2}
		if _, _, err := tr.Loss(e, g); err != nil {
			t.Fatal(err)
		}
		ref := gradcheck.RandNormal(rng, 9, 4)
		refG := []int{0, 1, 2, 0, 1, 2, 0, 1, 2}
		got, _, err := tr.LossAgainst(e, g, ref, refG)
		if err != nil {
			t.Fatal(err)
		}
		fresh := loss.NewTriplet()
		fresh.Distance = d
		want, _, err := fresh.LossAgainst(e, g, ref, refG)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%v: LossAgainst after Loss = %v, fresh = %v", d, got, want)
		}
	}
}
