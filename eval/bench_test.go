package eval_test

import (
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/simlearn/simlearn/eval"
)

// benchData is n clustered float32 vectors of dimension 384 in groups of
// about n/1000 (1,000 groups for 100,000 items), like sentence embeddings
// of labelled data.
func benchData(n int) ([][]float32, []int) {
	const d, groupCount = 384, 1000
	rng := rand.New(rand.NewPCG(42, uint64(n)))
	g := min(groupCount, n/10)
	centres := make([][]float32, g)
	for i := range centres {
		centres[i] = make([]float32, d)
		for j := range centres[i] {
			centres[i][j] = float32(rng.NormFloat64())
		}
	}
	emb := make([][]float32, n)
	groups := make([]int, n)
	flat := make([]float32, n*d)
	for i := range emb {
		groups[i] = rng.IntN(g)
		emb[i] = flat[i*d : (i+1)*d : (i+1)*d]
		for j := range emb[i] {
			emb[i][j] = centres[groups[i]][j] + 2*float32(rng.NormFloat64())
		}
	}
	return emb, groups
}

var bench100k = sync.OnceValues(func() ([][]float32, []int) { return benchData(100_000) })

func benchGroups(b *testing.B, emb [][]float32, groups []int, opts eval.Options) {
	var res eval.Result
	cpu0 := cpuSeconds()
	for b.Loop() {
		var err error
		res, err = eval.Groups(ctx, emb, groups, opts)
		if err != nil {
			b.Fatal(err)
		}
	}
	queries := float64(res.Queries * res.Repeats * b.N)
	b.ReportMetric(queries/b.Elapsed().Seconds(), "queries/s")
	// On a shared machine wall time depends on the neighbours; queries per
	// CPU second (all cores together) does not.
	if cpu := cpuSeconds() - cpu0; cpu > 0 {
		b.ReportMetric(queries/cpu, "queries/cpu-s")
	}
	b.ReportMetric(res.Metrics[eval.MetricRPrecision], "r_precision")
}

// BenchmarkGroupRetrieval100k evaluates 100,000 items of dimension 384,
// every item a query against all others, k=10 (about 7.7 TFLOP of matrix
// products; run it with -benchtime 1x).
func BenchmarkGroupRetrieval100k(b *testing.B) {
	emb, groups := bench100k()
	benchGroups(b, emb, groups, eval.Options{K: 10})
}

// BenchmarkGroupRetrieval100kSample10k evaluates a sample of 10,000
// queries against the same 100,000 items (Options.SampleSize).
func BenchmarkGroupRetrieval100kSample10k(b *testing.B) {
	emb, groups := bench100k()
	benchGroups(b, emb, groups, eval.Options{K: 10, SampleSize: 10_000, Seed: 1})
}

// BenchmarkGroupRetrieval10k is the full evaluation at 10,000 items, quick
// enough to profile.
func BenchmarkGroupRetrieval10k(b *testing.B) {
	emb, groups := benchData(10_000)
	benchGroups(b, emb, groups, eval.Options{K: 10})
}

// BenchmarkNeighbors10k is the exact top-10 of 10,000 items.
func BenchmarkNeighbors10k(b *testing.B) {
	emb, _ := benchData(10_000)
	for b.Loop() {
		if _, err := eval.Neighbors(ctx, emb, 10, "cosine"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(emb)*b.N)/b.Elapsed().Seconds(), "queries/s")
}
