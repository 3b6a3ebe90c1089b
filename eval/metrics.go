package eval

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Result holds the metrics of one evaluation.
type Result struct {
	// K is the cutoff of precision@k, recall@k and ndcg@k.
	K int
	// Metrics maps a metric name (MetricPrecisionAtK, MetricMRR, ...) to its value: the
	// mean over queries, or over samples when Repeats > 1.
	Metrics map[string]float64
	// Std maps a metric name to its sample standard deviation over the
	// repeated query samples; nil unless Repeats > 1. Correlations do not
	// depend on the query sample and have no entry.
	Std map[string]float64
	// Queries is the number of queries averaged over (per sample).
	Queries int
	// Skipped is the number of items with no relevant item, left out of
	// the queries (they still take part as retrievable items).
	Skipped int
	// Repeats is the number of query samples (1 for a full evaluation).
	Repeats int
}

// Groups evaluates retrieval by group: every item is a query (or a sampled
// one, see Options), and item j is relevant to query q when groups[j] ==
// groups[q] and j != q. The result holds precision@k, recall@k, mrr,
// r_precision, r_precision_micro, map@r and ndcg@k (gain 1 per relevant
// item).
func Groups[E Embeddings](ctx context.Context, emb E, groups []int, opts Options) (Result, error) {
	opts, err := opts.normalized()
	if err != nil {
		return Result{}, err
	}
	r, err := asRows("groups", emb)
	if err != nil {
		return Result{}, err
	}
	if len(groups) != r.n {
		return Result{}, fmt.Errorf("eval: %d group ids for %d embeddings", len(groups), r.n)
	}
	ix, err := newIndex("groups", r, opts.Distance)
	if err != nil {
		return Result{}, err
	}
	rv := &relevance{label: make([]int32, r.n)}
	ids := make(map[int]int32)
	for i, g := range groups {
		l, ok := ids[g]
		if !ok {
			l = int32(len(rv.members))
			ids[g] = l
			rv.members = append(rv.members, nil)
		}
		rv.label[i] = l
		rv.members[l] = append(rv.members[l], int32(i))
	}
	return retrieval(ctx, ix, rv, opts)
}

// Pairs evaluates N pairs (a[i], b[i]) with gold scores in [0,1]. The items
// are the 2N embeddings a[0..N-1], b[0..N-1] (positions, not distinct
// objects: an object that occurs in several pairs is several items); every
// item is a query, and a[i] and b[i] are relevant to each other with gain
// scores[i] when scores[i] > 0 (a pair scored 0 relates nothing, and its
// items are skipped as queries). Besides the retrieval metrics of Groups
// (with R = 1; ndcg@k uses the gain, which with a single relevant item
// cancels to 1/log2(rank+1) within the top k) the result holds spearman and
// pearson between the pair similarities s(a[i], b[i]) of SPEC section 1 and
// the scores, over all pairs; they are left out when either side is
// constant.
func Pairs[E Embeddings](ctx context.Context, a, b E, scores []float64, opts Options) (Result, error) {
	opts, err := opts.normalized()
	if err != nil {
		return Result{}, err
	}
	ra, err := asRows("pairs a", a)
	if err != nil {
		return Result{}, err
	}
	rb, err := asRows("pairs b", b)
	if err != nil {
		return Result{}, err
	}
	n := ra.n
	switch {
	case rb.n != n:
		return Result{}, fmt.Errorf("eval: %d a embeddings but %d b embeddings", n, rb.n)
	case rb.d != ra.d:
		return Result{}, fmt.Errorf("eval: a embeddings have dimension %d, b embeddings %d", ra.d, rb.d)
	case len(scores) != n:
		return Result{}, fmt.Errorf("eval: %d scores for %d pairs", len(scores), n)
	}
	for i, y := range scores {
		if !(y >= 0 && y <= 1) {
			return Result{}, fmt.Errorf("eval: score of pair %d is %v, want a value in [0,1] (scale gold scores first)", i, y)
		}
	}
	both := rows{n: 2 * n, d: ra.d, at: func(i, j int) float64 {
		if i < n {
			return ra.at(i, j)
		}
		return rb.at(i-n, j)
	}}
	ix, err := newIndex("pairs", both, opts.Distance)
	if err != nil {
		return Result{}, err
	}
	rv := &relevance{label: make([]int32, 2*n), gain: make([]float64, 2*n)}
	for i, y := range scores {
		rv.gain[i], rv.gain[n+i] = y, y
		if y > 0 {
			l := int32(len(rv.members))
			rv.label[i], rv.label[n+i] = l, l
			rv.members = append(rv.members, []int32{int32(i), int32(n + i)})
			continue
		}
		for _, j := range []int{i, n + i} {
			rv.label[j] = int32(len(rv.members))
			rv.members = append(rv.members, []int32{int32(j)})
		}
	}
	res, err := retrieval(ctx, ix, rv, opts)
	if err != nil {
		return Result{}, err
	}
	sim := make([]float64, n)
	x, y := make([]float64, ra.d), make([]float64, ra.d)
	for i := range n {
		for j := range ra.d {
			x[j], y[j] = ra.at(i, j), rb.at(i, j)
		}
		sim[i] = similarity(opts.Distance, x, y)
	}
	if v, err := Spearman(sim, scores); err == nil {
		res.Metrics[MetricSpearman] = v
	}
	if v, err := Pearson(sim, scores); err == nil {
		res.Metrics[MetricPearson] = v
	}
	return res, nil
}

// similarity is s(x, y) of SPEC section 1, in float64.
func similarity(dist string, x, y []float64) float64 {
	var dot, nx, ny, l1, l2 float64
	for i := range x {
		dot += x[i] * y[i]
		nx += x[i] * x[i]
		ny += y[i] * y[i]
		d := x[i] - y[i]
		l1 += math.Abs(d)
		l2 += d * d
	}
	switch dist {
	case Dot:
		return dot
	case Euclidean:
		return 1 / (1 + math.Sqrt(l2))
	case Manhattan:
		return 1 / (1 + l1)
	default:
		return dot / (max(math.Sqrt(nx), 1e-12) * max(math.Sqrt(ny), 1e-12))
	}
}

// retrieval ranks the queries chosen by opts against every item of ix and
// reduces the per-query statistics to a Result.
func retrieval(ctx context.Context, ix *index, rv *relevance, opts Options) (Result, error) {
	var eligible []int
	for q := range ix.n {
		if rv.relevantCount(q) > 0 {
			eligible = append(eligible, q)
		}
	}
	res := Result{K: opts.K, Skipped: ix.n - len(eligible), Repeats: opts.Repeats}
	if len(eligible) == 0 {
		return Result{}, fmt.Errorf("eval: none of the %d items has a relevant item (every group has one member, or every pair scores 0)", ix.n)
	}
	samples := [][]int{eligible}
	if opts.SampleSize > 0 {
		if opts.SampleSize > len(eligible) {
			return Result{}, fmt.Errorf("eval: Options.SampleSize %d exceeds the %d items that have a relevant item", opts.SampleSize, len(eligible))
		}
		samples = samples[:0]
		for rep := range opts.Repeats {
			rng := rand.New(rand.NewPCG(opts.Seed, uint64(rep)))
			pool := slices.Clone(eligible)
			for i := range opts.SampleSize {
				j := i + rng.IntN(len(pool)-i)
				pool[i], pool[j] = pool[j], pool[i]
			}
			s := pool[:opts.SampleSize]
			slices.Sort(s)
			samples = append(samples, s)
		}
	}
	queries := samples[0]
	if len(samples) > 1 {
		queries = slices.Compact(slices.Sorted(slices.Values(slices.Concat(samples...))))
	}

	stats := make([]queryStats, ix.n)
	err := ix.scan(ctx, queries, opts.Workers, opts.Progress, func() rowFunc {
		rk := newRanker(rv, opts.K)
		return func(q int, row []float32) error {
			st, err := rk.stats(q, row)
			stats[q] = st
			return err
		}
	})
	if err != nil {
		return Result{}, err
	}

	per := make([]map[string]float64, len(samples))
	for i, s := range samples {
		per[i] = reduce(stats, s, opts.K)
	}
	res.Queries = len(samples[0])
	res.Metrics = make(map[string]float64)
	for name := range per[0] {
		var sum float64
		for _, m := range per {
			sum += m[name]
		}
		res.Metrics[name] = sum / float64(len(per))
	}
	if len(per) > 1 {
		res.Std = make(map[string]float64)
		for name, mean := range res.Metrics {
			var ss float64
			for _, m := range per {
				ss += (m[name] - mean) * (m[name] - mean)
			}
			res.Std[name] = math.Sqrt(ss / float64(len(per)-1))
		}
	}
	return res, nil
}

// reduce averages the statistics of the queries qs.
func reduce(stats []queryStats, qs []int, k int) map[string]float64 {
	var p, rec, rr, rp, ap, ndcg float64
	var hitsR, sumR int
	for _, q := range qs {
		st := stats[q]
		p += float64(st.hitsK) / float64(k)
		rec += float64(st.hitsK) / float64(st.r)
		rr += st.rr
		rp += float64(st.hitsR) / float64(st.r)
		ap += st.ap
		ndcg += st.ndcg
		hitsR += st.hitsR
		sumR += st.r
	}
	n := float64(len(qs))
	return map[string]float64{
		MetricPrecisionAtK:    p / n,
		MetricRecallAtK:       rec / n,
		MetricMRR:             rr / n,
		MetricRPrecision:      rp / n,
		MetricRPrecisionMicro: float64(hitsR) / float64(sumR),
		MetricMAPAtR:          ap / n,
		MetricNDCGAtK:         ndcg / n,
	}
}
