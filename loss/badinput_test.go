package loss_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/simlearn/simlearn/loss"
)

func allGroupLosses(t *testing.T) map[string]loss.GroupLoss {
	t.Helper()
	out := map[string]loss.GroupLoss{}
	for _, name := range []string{"triplet", "online_contrastive", "circle", "fast_ap", "arcface", "cosface", "softmax", "center"} {
		l, err := loss.NewGroup(loss.Spec{Name: name}, loss.GroupOptions{Classes: 3, Dim: 2, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		out[name] = l
	}
	return out
}

func allPairLosses(t *testing.T) map[string]loss.PairLoss {
	t.Helper()
	out := map[string]loss.PairLoss{}
	for _, name := range []string{"contrastive", "multiple_negatives_ranking", "cosent", "cosine_similarity"} {
		l, err := loss.NewPair(loss.Spec{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		out[name] = l
	}
	return out
}

func TestGroupBadInput(t *testing.T) {
	good := mat.NewDense(3, 2, []float64{1, 0, 0, 1, 1, 1})
	nan := mat.NewDense(3, 2, []float64{1, 0, 0, 1, math.NaN(), 1})
	inf := mat.NewDense(3, 2, []float64{1, 0, 0, math.Inf(-1), 1, 1})
	for name, l := range allGroupLosses(t) {
		cases := []struct {
			what   string
			e      *mat.Dense
			groups []int
			want   string
		}{
			{"nil batch", nil, nil, "empty batch"},
			{"empty batch", &mat.Dense{}, []int{}, "empty batch"},
			{"too few groups", good, []int{0, 1}, "2 group ids for 3 embeddings"},
			{"NaN", nan, []int{0, 1, 2}, "embeddings row 2 column 0 is NaN"},
			{"Inf", inf, []int{0, 1, 2}, "embeddings row 1 column 1 is -Inf"},
		}
		for _, c := range cases {
			_, _, err := l.Loss(c.e, c.groups)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), name) {
				t.Errorf("%s, %s: error %v, want one naming the loss and containing %q", name, c.what, err, c.want)
			}
			if c.want == "empty batch" && !errors.Is(err, loss.ErrEmptyBatch) {
				t.Errorf("%s, %s: error %v is not ErrEmptyBatch", name, c.what, err)
			}
		}
	}
}

func TestProxyBadInput(t *testing.T) {
	e := mat.NewDense(2, 2, []float64{1, 0, 0, 1})
	for _, name := range []string{"arcface", "cosface", "softmax", "center"} {
		l := allGroupLosses(t)[name]
		for _, g := range [][]int{{0, 3}, {-1, 0}} {
			_, _, err := l.Loss(e, g)
			if err == nil || !strings.Contains(err.Error(), "outside [0, 3)") {
				t.Errorf("%s, groups %v: error %v", name, g, err)
			}
		}
		_, _, err := l.Loss(mat.NewDense(2, 3, nil), []int{0, 1})
		if err == nil || !strings.Contains(err.Error(), "3 columns, the class matrix 2") {
			t.Errorf("%s, wrong width: error %v", name, err)
		}
		if _, err := loss.NewGroup(loss.Spec{Name: name}, loss.GroupOptions{}); err == nil {
			t.Errorf("%s without classes accepted", name)
		}
	}
}

func TestPairBadInput(t *testing.T) {
	a := mat.NewDense(2, 2, []float64{1, 0, 0, 1})
	b := mat.NewDense(2, 2, []float64{1, 1, 0, 1})
	nan := mat.NewDense(2, 2, []float64{1, 0, math.NaN(), 1})
	for name, l := range allPairLosses(t) {
		cases := []struct {
			what      string
			a, b      *mat.Dense
			scores    []float64
			subgroups []int
			want      string
		}{
			{"nil a", nil, b, []float64{1, 1}, nil, "empty batch"},
			{"shape", a, mat.NewDense(2, 3, nil), []float64{1, 1}, nil, "a is 2x2 but b is 2x3"},
			{"rows", a, mat.NewDense(3, 2, nil), []float64{1, 1}, nil, "a is 2x2 but b is 3x2"},
			{"scores", a, b, []float64{1}, nil, "1 scores for 2 pairs"},
			{"NaN score", a, b, []float64{1, math.NaN()}, nil, "score of pair 1 is NaN"},
			{"subgroups", a, b, []float64{1, 1}, []int{1}, "1 subgroups for 2 pairs"},
			{"NaN in b", a, nan, []float64{1, 1}, nil, "b row 1 column 0 is NaN"},
		}
		for _, c := range cases {
			_, _, _, err := l.Loss(c.a, c.b, c.scores, c.subgroups)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), name) {
				t.Errorf("%s, %s: error %v, want one naming the loss and containing %q", name, c.what, err, c.want)
			}
		}
	}
	mnrl := allPairLosses(t)["multiple_negatives_ranking"]
	for _, s := range []float64{0, -0.5} {
		_, _, _, err := mnrl.Loss(a, b, []float64{1, s}, nil)
		if err == nil || !strings.Contains(err.Error(), "score of pair 1") || !strings.Contains(err.Error(), "positive pairs only") {
			t.Errorf("MNRL with score %v: error %v", s, err)
		}
	}
}

func TestSpecErrors(t *testing.T) {
	cases := []struct {
		spec loss.Spec
		pair bool
		want string
	}{
		{spec("tripplet", `{}`), false, `unknown group loss "tripplet"`},
		{spec("triplet", `{"margn":1}`), false, `unknown field "margn"`},
		{spec("triplet", `{"mining":"easy"}`), false, `unknown mining "easy"`},
		{spec("triplet", `{"distance":"cos"}`), false, `unknown distance "cos"`},
		{spec("triplet", `{"margin":-1}`), false, "margin -1"},
		{spec("triplet", `{"soft":true,"mining":"all"}`), false, "soft triplet needs hard mining"},
		{spec("online_contrastive", `{"mining":"semi_hard"}`), false, `unknown mining "semi_hard"`},
		{spec("circle", `{"gamma":0}`), false, "gamma 0"},
		{spec("fast_ap", `{"bins":0}`), false, "bins 0"},
		{spec("softmax", `{"temperature":0}`), false, "temperature 0"},
		{spec("contrastiv", `{}`), true, `unknown pair loss "contrastiv"`},
		{spec("multiple_negatives_ranking", `{"scale":"x"}`), true, "params"},
		{spec("cosent", `{"scale":-2}`), true, "scale -2"},
	}
	for _, c := range cases {
		var err error
		if c.pair {
			_, err = loss.NewPair(c.spec)
		} else {
			_, err = loss.NewGroup(c.spec, loss.GroupOptions{Classes: 2, Dim: 2})
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %s: error %v, want one containing %q", c.spec.Name, c.spec.Params, err, c.want)
		}
	}
}

// TestDocumentedZeros checks the zero losses of SPEC: a batch of one group
// (no negatives) or of singletons (no positives) gives loss 0 and a zero
// gradient, never NaN.
func TestDocumentedZeros(t *testing.T) {
	e := mat.NewDense(4, 3, []float64{1, 2, 0, -1, 0.5, 2, 0, 1, 1, 3, -2, 1})
	oneGroup := []int{7, 7, 7, 7}
	singletons := []int{0, 1, 2, 3}
	check := func(what string, l loss.GroupLoss, groups []int) {
		t.Helper()
		v, de, err := l.Loss(e, groups)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if v != 0 || mat.Norm(de, 1) != 0 {
			t.Errorf("%s: loss %v, |grad| %v, want 0 and 0", what, v, mat.Norm(de, 1))
		}
	}
	for _, m := range []loss.Mining{loss.MiningAll, loss.MiningHard, loss.MiningSemiHard} {
		for _, d := range []loss.Distance{loss.Cosine, loss.Euclidean} {
			tr := loss.NewTriplet()
			tr.Mining, tr.Distance = m, d
			check("triplet "+string(m)+" one group", tr, oneGroup)
			check("triplet "+string(m)+" singletons", tr, singletons)
		}
	}
	soft := loss.NewTriplet()
	soft.Soft = true
	check("soft triplet one group", soft, oneGroup)
	oc := loss.NewOnlineContrastive()
	check("online_contrastive hard one group", oc, oneGroup)
	check("online_contrastive hard singletons", oc, singletons)
	oc.Mining = loss.MiningAll
	check("online_contrastive all singletons, margin below every distance", &loss.OnlineContrastive{Margin: 0, Distance: loss.Cosine, Mining: loss.MiningAll}, singletons)
	check("circle one group", loss.NewCircle(), oneGroup)
	check("circle singletons", loss.NewCircle(), singletons)
	check("fast_ap singletons", loss.NewFastAP(), singletons)
	// One group for FastAP: every retrieved item is relevant, AP = 1.
	v, de, err := loss.NewFastAP().Loss(e, oneGroup)
	if err != nil || math.Abs(v) > 1e-12 || mat.Norm(de, 1) > 1e-9 {
		t.Errorf("fast_ap one group: loss %v, |grad| %v, error %v", v, mat.Norm(de, 1), err)
	}
	// Identical rows: distances and gradients stay finite.
	same := mat.NewDense(4, 3, []float64{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1})
	for name, l := range allGroupLosses(t) {
		if name == "arcface" || name == "cosface" || name == "softmax" || name == "center" {
			continue
		}
		v, de, err := l.Loss(same, []int{0, 0, 1, 1})
		if err != nil || math.IsNaN(v) || math.IsNaN(mat.Sum(de)) {
			t.Errorf("%s on identical rows: loss %v, grad sum %v, error %v", name, v, mat.Sum(de), err)
		}
	}
	// Contrastive with a single subgroup is the base term only.
	a := mat.NewDense(2, 2, []float64{1, 0, 0, 1})
	b := mat.NewDense(2, 2, []float64{1, 0, 1, 0})
	c := loss.NewContrastive()
	v1, _, _, _ := c.Loss(a, b, []float64{1, 0}, []int{4, 4})
	v0, _, _, _ := c.Loss(a, b, []float64{1, 0}, nil)
	if v1 != v0 || v0 != 0 {
		t.Errorf("contrastive one subgroup %v, none %v, want both 0 (d = 0 for the positive, d = 1 > margin for the negative)", v1, v0)
	}
}
