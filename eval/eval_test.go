package eval_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/simlearn/simlearn/eval"
)

var ctx = context.Background()

func near(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-12 || math.IsNaN(got) {
		t.Errorf("%s = %.15g, want %.15g", what, got, want)
	}
}

// points turns 1-D positions into embeddings.
func points(xs ...float64) [][]float64 {
	out := make([][]float64, len(xs))
	for i, x := range xs {
		out[i] = []float64{x}
	}
	return out
}

// TestGroupsHandChecked: positions 0..4, groups A B A A C under euclidean,
// k=2. Items 1 (B) and 4 (C) are alone in their groups and skipped. Query 0
// ranks 1,2,3,4: relevant at 2,3. Query 2 has 1 and 3 at distance 1 and 0
// and 4 at distance 2: ties by index give 1,3,0,4, relevant at 2,3. Query 3
// ranks 2,4 (tie, by index),1,0: relevant at 1,4.
func TestGroupsHandChecked(t *testing.T) {
	res, err := eval.Groups(ctx, points(0, 1, 2, 3, 4), []int{7, 8, 7, 7, 9}, eval.Options{Distance: "euclidean", K: 2})
	if err != nil {
		t.Fatal(err)
	}
	if res.Queries != 3 || res.Skipped != 2 || res.K != 2 || res.Repeats != 1 || res.Std != nil {
		t.Errorf("queries %d skipped %d k %d repeats %d std %v; want 3, 2, 2, 1, nil", res.Queries, res.Skipped, res.K, res.Repeats, res.Std)
	}
	g := 1 / math.Log2(3) // discount at rank 2
	m := res.Metrics
	near(t, "precision@k", m[eval.MetricPrecisionAtK], 0.5)
	near(t, "recall@k", m[eval.MetricRecallAtK], 0.5)
	near(t, "mrr", m[eval.MetricMRR], (0.5+0.5+1)/3)
	near(t, "r_precision", m[eval.MetricRPrecision], 0.5)
	near(t, "r_precision_micro", m[eval.MetricRPrecisionMicro], 3.0/6)
	near(t, "map@r", m[eval.MetricMAPAtR], (0.25+0.25+0.5)/3)
	near(t, "ndcg@k", m[eval.MetricNDCGAtK], (2*g+1)/(3*(1+g)))
	if len(m) != 7 {
		t.Errorf("metrics %v, want the 7 retrieval metrics", m)
	}
}

// TestSelfExcludedAndTies: four identical vectors (d=3, not a multiple of
// the SIMD width) in groups 0 1 0 1 tie everywhere, so each query ranks the
// others by index: query 0 sees 1,2,3 (relevant 2 at rank 2), query 1 sees
// 0,2,3 (rank 3), query 2 sees 0,1,3 (rank 1), query 3 sees 0,1,2 (rank 2).
// Counting the query itself would put it first.
func TestSelfExcludedAndTies(t *testing.T) {
	v := []float32{0.3, -1.2, 2.5}
	emb := [][]float32{v, v, v, v}
	for _, dist := range []string{"cosine", "euclidean", "manhattan", "dot"} {
		res, err := eval.Groups(ctx, emb, []int{0, 1, 0, 1}, eval.Options{Distance: dist, K: 1})
		if err != nil {
			t.Fatal(err)
		}
		near(t, dist+" mrr", res.Metrics[eval.MetricMRR], (0.5+1.0/3+1+0.5)/4)
		near(t, dist+" precision@1", res.Metrics[eval.MetricPrecisionAtK], 0.25)
	}
	nb, err := eval.Neighbors(ctx, emb, 3, "cosine")
	if err != nil {
		t.Fatal(err)
	}
	want := [][]int{{1, 2, 3}, {0, 2, 3}, {0, 1, 3}, {0, 1, 2}}
	for q := range nb {
		var got []int
		for _, n := range nb[q] {
			got = append(got, n.Index)
			if math.Abs(n.Distance) > 1e-6 {
				t.Errorf("query %d: distance to a copy %g, want 0", q, n.Distance)
			}
		}
		if !slices.Equal(got, want[q]) {
			t.Errorf("query %d neighbours %v, want %v", q, got, want[q])
		}
	}
}

// TestPairsHandChecked: a = 0, 10, 20 and b = 1, 16, 30 (1-D, euclidean),
// scores 1, 0.5, 0. Pair 2 scores 0, so its items are skipped. Queries a0,
// b0 and a1 find their partner first; b1 (16) has a2 (20) before a1 (10).
func TestPairsHandChecked(t *testing.T) {
	for _, k := range []int{1, 2} {
		res, err := eval.Pairs(ctx, points(0, 10, 20), points(1, 16, 30), []float64{1, 0.5, 0}, eval.Options{Distance: "euclidean", K: k})
		if err != nil {
			t.Fatal(err)
		}
		if res.Queries != 4 || res.Skipped != 2 {
			t.Errorf("queries %d skipped %d, want 4 and 2", res.Queries, res.Skipped)
		}
		m := res.Metrics
		hits := 3.0
		ndcg := 3.0 / 4 // R = 1: the gain cancels; b1's partner is at rank 2
		if k == 2 {
			hits = 4
			ndcg = (3 + 1/math.Log2(3)) / 4
		}
		near(t, "precision@k", m[eval.MetricPrecisionAtK], hits/4/float64(k))
		near(t, "recall@k", m[eval.MetricRecallAtK], hits/4)
		near(t, "mrr", m[eval.MetricMRR], 3.5/4)
		near(t, "r_precision", m[eval.MetricRPrecision], 0.75)
		near(t, "r_precision_micro", m[eval.MetricRPrecisionMicro], 0.75)
		near(t, "map@r", m[eval.MetricMAPAtR], 0.75)
		near(t, "ndcg@k", m[eval.MetricNDCGAtK], ndcg)
		// similarities 1/(1+d): 1/2, 1/7, 1/11 against 1, 0.5, 0.
		near(t, "spearman", m[eval.MetricSpearman], 1)
		near(t, "pearson", m[eval.MetricPearson], 0.9184284999966631)
	}
}

// TestPairsGradedNDCG: with pairs every query has one relevant item, so its
// gain cancels in DCG / ideal DCG and NDCG@k is 1/log2(rank+1) of the
// partner when within the top k, whatever the score.
func TestPairsGradedNDCG(t *testing.T) {
	// a0=0 b0=5 (score 0.2), a1=1 b1=2 (score 0.9), k=3.
	// a0: a1(1) b1(2) b0(5): partner at rank 3 -> 0.5.
	// b0: b1(3) a1(4) a0(5): rank 3 -> 0.5. a1: a0(1) b1(1): tie by index,
	// a0 first -> rank 2 -> 1/log2(3). b1: a1(1) -> 1.
	res, err := eval.Pairs(ctx, points(0, 1), points(5, 2), []float64{0.2, 0.9}, eval.Options{Distance: "manhattan", K: 3})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "ndcg@k", res.Metrics[eval.MetricNDCGAtK], (0.5+0.5+1/math.Log2(3)+1)/4)
	near(t, "mrr", res.Metrics[eval.MetricMRR], (1.0/3+1.0/3+0.5+1)/4)
}

func TestCorrelationHandChecked(t *testing.T) {
	s, err := eval.Spearman([]float64{1, 2, 2, 3}, []float64{1, 2, 3, 4})
	if err != nil {
		t.Fatal(err)
	}
	// ranks 1, 2.5, 2.5, 4 against 1..4: 4.5 / sqrt(4.5 * 5).
	near(t, "spearman with ties", s, 4.5/math.Sqrt(4.5*5))
	p, err := eval.Pearson([]float64{1, 2, 3}, []float64{2, 4, 7})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "pearson", p, 5/math.Sqrt(2*114.0/9)) // centred: (-1,0,1) and (-7,-1,8)/3
	if _, err := eval.Pearson([]float64{1, 1, 1}, []float64{1, 2, 3}); !errors.Is(err, eval.ErrConstant) {
		t.Errorf("constant input: err %v, want ErrConstant", err)
	}
	if _, err := eval.Spearman([]float64{1, 2}, []float64{1, 2, 3}); err == nil {
		t.Error("length mismatch: no error")
	}
	if _, err := eval.Spearman([]float64{1, math.NaN()}, []float64{1, 2}); err == nil {
		t.Error("NaN: no error")
	}
}

func TestBadInput(t *testing.T) {
	ok := [][]float32{{1, 0}, {0, 1}, {1, 1}}
	groups := []int{0, 0, 1}
	k := eval.Options{K: 1}
	cases := []struct {
		name string
		run  func() error
		want string
	}{
		{"k=0", func() error { _, err := eval.Groups(ctx, ok, groups, eval.Options{}); return err }, "K must be > 0"},
		{"k<0", func() error { _, err := eval.Groups(ctx, ok, groups, eval.Options{K: -3}); return err }, "K must be > 0, got -3"},
		{"distance", func() error {
			_, err := eval.Groups(ctx, ok, groups, eval.Options{K: 1, Distance: "hamming"})
			return err
		}, `unknown distance "hamming"`},
		{"empty", func() error { _, err := eval.Groups(ctx, [][]float32{}, nil, k); return err }, "no embeddings"},
		{"empty dense", func() error { _, err := eval.Groups(ctx, &mat.Dense{}, nil, k); return err }, "no embeddings"},
		{"dim 0", func() error { _, err := eval.Groups(ctx, [][]float32{{}, {}}, []int{1, 1}, k); return err }, "dimension 0"},
		{"ragged", func() error { _, err := eval.Groups(ctx, [][]float32{{1, 2}, {1}}, []int{1, 1}, k); return err }, "embedding 1 has dimension 1, embedding 0 has 2"},
		{"groups length", func() error { _, err := eval.Groups(ctx, ok, []int{0, 0}, k); return err }, "2 group ids for 3 embeddings"},
		{"NaN", func() error {
			_, err := eval.Groups(ctx, [][]float64{{1, 0}, {0, math.NaN()}}, []int{0, 0}, k)
			return err
		}, "embedding 1, component 1 is NaN"},
		{"Inf", func() error {
			_, err := eval.Groups(ctx, [][]float64{{math.Inf(1), 0}, {0, 1}}, []int{0, 0}, k)
			return err
		}, "embedding 0, component 0 is +Inf"},
		{"all singletons", func() error { _, err := eval.Groups(ctx, ok, []int{1, 2, 3}, k); return err }, "none of the 3 items has a relevant item"},
		{"repeats without sample", func() error {
			_, err := eval.Groups(ctx, ok, groups, eval.Options{K: 1, Repeats: 3})
			return err
		}, "set SampleSize"},
		{"sample too big", func() error {
			_, err := eval.Groups(ctx, ok, groups, eval.Options{K: 1, SampleSize: 3})
			return err
		}, "SampleSize 3 exceeds the 2 items"},
		{"pairs b length", func() error { _, err := eval.Pairs(ctx, ok, ok[:2], []float64{1, 1, 1}, k); return err }, "3 a embeddings but 2 b embeddings"},
		{"pairs scores length", func() error { _, err := eval.Pairs(ctx, ok, ok, []float64{1}, k); return err }, "1 scores for 3 pairs"},
		{"pairs score range", func() error { _, err := eval.Pairs(ctx, ok, ok, []float64{1, 4, 0}, k); return err }, "score of pair 1 is 4"},
		{"pairs score NaN", func() error { _, err := eval.Pairs(ctx, ok, ok, []float64{1, 1, math.NaN()}, k); return err }, "score of pair 2 is NaN"},
		{"neighbors k", func() error { _, err := eval.Neighbors(ctx, ok, 0, ""); return err }, "k must be > 0"},
	}
	for _, c := range cases {
		err := c.run()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

func TestCancelled(t *testing.T) {
	c, cancel := context.WithCancel(ctx)
	cancel()
	_, err := eval.Groups(c, [][]float32{{1, 0}, {0, 1}}, []int{0, 0}, eval.Options{K: 1})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err %v, want context.Canceled", err)
	}
}

// TestInputForms: [][]float32, [][]float64 and *mat.Dense give the same
// result, and so do 1 and 3 workers.
func TestInputForms(t *testing.T) {
	emb, groups := clustered(300, 12, 10, 1)
	f32 := make([][]float32, len(emb))
	for i, r := range emb {
		for _, v := range r {
			f32[i] = append(f32[i], float32(v))
		}
	}
	dense := mat.NewDense(len(emb), len(emb[0]), slices.Concat(emb...))
	opts := eval.Options{K: 5, Workers: 1}
	a, err := eval.Groups(ctx, emb, groups, opts)
	if err != nil {
		t.Fatal(err)
	}
	opts.Workers = 3
	b, err := eval.Groups(ctx, f32, groups, opts)
	if err != nil {
		t.Fatal(err)
	}
	c, err := eval.Groups(ctx, dense, groups, opts)
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range a.Metrics {
		if b.Metrics[name] != v || c.Metrics[name] != v {
			t.Errorf("%s: %v (float64), %v (float32), %v (dense)", name, v, b.Metrics[name], c.Metrics[name])
		}
	}
}

func TestSampled(t *testing.T) {
	emb, groups := clustered(400, 16, 20, 2)
	full, err := eval.Groups(ctx, emb, groups, eval.Options{K: 5})
	if err != nil {
		t.Fatal(err)
	}
	opts := eval.Options{K: 5, SampleSize: 100, Repeats: 4, Seed: 7}
	a, err := eval.Groups(ctx, emb, groups, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := eval.Groups(ctx, emb, groups, opts)
	if err != nil {
		t.Fatal(err)
	}
	if a.Queries != 100 || a.Repeats != 4 || len(a.Std) != 7 {
		t.Fatalf("queries %d repeats %d std %v; want 100, 4 and 7 deviations", a.Queries, a.Repeats, a.Std)
	}
	spread := false
	for name, v := range a.Metrics {
		if b.Metrics[name] != v || b.Std[name] != a.Std[name] {
			t.Errorf("%s not reproducible: %v±%v then %v±%v", name, v, a.Std[name], b.Metrics[name], b.Std[name])
		}
		if a.Std[name] > 0 {
			spread = true
		}
		if math.Abs(v-full.Metrics[name]) > 4*a.Std[name]+0.05 {
			t.Errorf("%s: sampled %v±%v far from full %v", name, v, a.Std[name], full.Metrics[name])
		}
	}
	if !spread {
		t.Error("no metric varies between samples")
	}
	// Samples as large as the query set are the full evaluation.
	all, err := eval.Groups(ctx, emb, groups, eval.Options{K: 5, SampleSize: full.Queries, Repeats: 2})
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range full.Metrics {
		near(t, name+" of full-size samples", all.Metrics[name], v)
		near(t, name+" deviation of full-size samples", all.Std[name], 0)
	}
}

func TestTables(t *testing.T) {
	emb, groups := clustered(200, 8, 10, 3)
	a, err := eval.Groups(ctx, emb, groups, eval.Options{K: 10})
	if err != nil {
		t.Fatal(err)
	}
	b, err := eval.Groups(ctx, emb, groups, eval.Options{K: 10, Distance: "dot", SampleSize: 50, Repeats: 3})
	if err != nil {
		t.Fatal(err)
	}
	s := a.String()
	for _, want := range []string{"precision@10", "ndcg@10", "map@r", "200 queries, 0 skipped"} {
		if !strings.Contains(s, want) {
			t.Errorf("String() lacks %q:\n%s", want, s)
		}
	}
	c := eval.Compare("before", a, "after", b)
	lines := strings.Split(c, "\n")
	if !strings.Contains(lines[0], "before") || !strings.Contains(lines[0], "after") || !strings.Contains(lines[0], "delta") {
		t.Errorf("header %q", lines[0])
	}
	row := lines[3]
	if !regexp.MustCompile(`^ *mrr +0\.\d{4} +0\.\d{4} ± 0\.\d{4} +[+-]0\.\d{4} *$`).MatchString(row) {
		t.Errorf("mrr row %q, want name, value, value ± deviation, signed delta", row)
	}
	if !strings.Contains(c, "50 queries x 3 samples") {
		t.Errorf("footer lacks the sample count:\n%s", c)
	}
}

// clustered draws n points of dimension d around g random centres.
func clustered(n, d, g int, seed uint64) ([][]float64, []int) {
	rng := rand.New(rand.NewPCG(seed, 99))
	centres := make([][]float64, g)
	for i := range centres {
		centres[i] = make([]float64, d)
		for j := range centres[i] {
			centres[i][j] = rng.NormFloat64()
		}
	}
	emb := make([][]float64, n)
	groups := make([]int, n)
	for i := range emb {
		groups[i] = rng.IntN(g)
		emb[i] = make([]float64, d)
		for j := range emb[i] {
			emb[i][j] = centres[groups[i]][j] + 0.8*rng.NormFloat64()
		}
	}
	return emb, groups
}

func TestProgress(t *testing.T) {
	emb, groups := clustered(700, 4, 7, 6) // 700 queries: several strips
	var calls [][2]int
	opts := eval.Options{K: 3, Workers: 2, Progress: func(done, total int) { calls = append(calls, [2]int{done, total}) }}
	if _, err := eval.Groups(ctx, emb, groups, opts); err != nil {
		t.Fatal(err)
	}
	if len(calls) < 2 || calls[len(calls)-1] != [2]int{700, 700} {
		t.Fatalf("progress calls %v, want several ending at 700 of 700", calls)
	}
	for i := 1; i < len(calls); i++ {
		if calls[i][0] <= calls[i-1][0] {
			t.Errorf("progress not increasing: %v", calls)
		}
	}
}
