package eval_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/simlearn/simlearn/eval"
)

// refDistance is SPEC section 1 in float64.
func refDistance(dist string, x, y []float64) float64 {
	var dot, nx, ny, l1, l2 float64
	for i := range x {
		dot += x[i] * y[i]
		nx += x[i] * x[i]
		ny += y[i] * y[i]
		l1 += math.Abs(x[i] - y[i])
		l2 += (x[i] - y[i]) * (x[i] - y[i])
	}
	switch dist {
	case "cosine":
		return 1 - dot/(max(math.Sqrt(nx), 1e-12)*max(math.Sqrt(ny), 1e-12))
	case "euclidean":
		return math.Sqrt(l2)
	case "manhattan":
		return l1
	}
	return -dot
}

// refRanking ranks every other item for query q by a full sort: distance,
// then index.
func refRanking(dist string, emb [][]float64, q int) ([]int, []float64) {
	var idx []int
	d := make([]float64, len(emb))
	for j := range emb {
		if j != q {
			idx = append(idx, j)
			d[j] = refDistance(dist, emb[q], emb[j])
		}
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case d[a] < d[b]:
			return -1
		case d[a] > d[b]:
			return 1
		}
		return a - b
	})
	return idx, d
}

// refMetrics computes the group metrics of SPEC section 5 from full sorts.
func refMetrics(dist string, emb [][]float64, groups []int, k int) map[string]float64 {
	var p, rec, rr, rp, ap, ndcg float64
	var hitsR, sumR, nq int
	for q := range emb {
		r := 0
		for j, g := range groups {
			if j != q && g == groups[q] {
				r++
			}
		}
		if r == 0 {
			continue
		}
		nq++
		ranking, _ := refRanking(dist, emb, q)
		var hk, hr, first int
		var qap, dcg, idcg float64
		for i, j := range ranking {
			rank := i + 1
			if groups[j] != groups[q] {
				continue
			}
			if first == 0 {
				first = rank
			}
			if rank <= k {
				hk++
				dcg += 1 / math.Log2(float64(rank)+1)
			}
			if rank <= r {
				hr++
				qap += float64(hr) / float64(rank)
			}
		}
		for i := 1; i <= min(k, r); i++ {
			idcg += 1 / math.Log2(float64(i)+1)
		}
		p += float64(hk) / float64(k)
		rec += float64(hk) / float64(r)
		rr += 1 / float64(first)
		rp += float64(hr) / float64(r)
		ap += qap / float64(r)
		ndcg += dcg / idcg
		hitsR += hr
		sumR += r
	}
	n := float64(nq)
	return map[string]float64{
		"precision@k": p / n, "recall@k": rec / n, "mrr": rr / n, "r_precision": rp / n,
		"r_precision_micro": float64(hitsR) / float64(sumR), "map@r": ap / n, "ndcg@k": ndcg / n,
	}
}

// smallInts draws n rows of dimension d with components in -2..2: float32
// products of these are exact, and distances tie often, which exercises the
// tie rule.
func smallInts(n, d int, seed uint64) [][]float64 {
	rng := rand.New(rand.NewPCG(seed, 5))
	emb := make([][]float64, n)
	for i := range emb {
		emb[i] = make([]float64, d)
		for j := range emb[i] {
			emb[i][j] = float64(rng.IntN(5) - 2)
		}
	}
	return emb
}

// TestMetricsAgainstFullSort compares Groups with a full-sort reference on
// data with many exact ties and large groups (R up to ~150 > k), across
// several strips (n > 256 queries per strip) and workers.
func TestMetricsAgainstFullSort(t *testing.T) {
	emb := smallInts(600, 6, 1)
	rng := rand.New(rand.NewPCG(2, 2))
	groups := make([]int, len(emb))
	for i := range groups {
		groups[i] = rng.IntN(4)
	}
	groups[17] = 99 // a singleton: skipped
	for _, dist := range []string{"euclidean", "manhattan", "dot"} {
		for _, k := range []int{1, 10} {
			res, err := eval.Groups(ctx, emb, groups, eval.Options{Distance: dist, K: k, Workers: 3})
			if err != nil {
				t.Fatal(err)
			}
			if res.Skipped != 1 || res.Queries != 599 {
				t.Errorf("%s: queries %d skipped %d, want 599 and 1", dist, res.Queries, res.Skipped)
			}
			for name, want := range refMetrics(dist, emb, groups, k) {
				if got := res.Metrics[name]; math.Abs(got-want) > 1e-12 {
					t.Errorf("%s k=%d %s = %.15g, full sort %.15g", dist, k, name, got, want)
				}
			}
		}
	}
	// Cosine on continuous data (no exact ties; float32 scores must give
	// the float64 ranking).
	cemb, cgroups := clustered(500, 24, 5, 4)
	res, err := eval.Groups(ctx, cemb, cgroups, eval.Options{K: 10})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range refMetrics("cosine", cemb, cgroups, 10) {
		if got := res.Metrics[name]; math.Abs(got-want) > 1e-12 {
			t.Errorf("cosine %s = %.15g, full sort %.15g", name, got, want)
		}
	}
}

// TestNeighborsAgainstFullSort compares the blocked top-k with a full
// sort of float64 distances. Integer data must match exactly, ties
// included; for cosine on continuous data a different index is accepted
// only where the two distances agree to float32 precision.
func TestNeighborsAgainstFullSort(t *testing.T) {
	check := func(dist string, emb [][]float64, k int, exact bool) {
		t.Helper()
		nb, err := eval.Neighbors(ctx, emb, k, dist)
		if err != nil {
			t.Fatal(err)
		}
		for q := range emb {
			ranking, d := refRanking(dist, emb, q)
			want := ranking[:min(k, len(ranking))]
			if len(nb[q]) != len(want) {
				t.Fatalf("%s query %d: %d neighbours, want %d", dist, q, len(nb[q]), len(want))
			}
			for i, n := range nb[q] {
				if math.Abs(n.Distance-d[want[i]]) > 1e-5*(1+math.Abs(d[want[i]])) {
					t.Errorf("%s query %d rank %d: distance %g, want %g", dist, q, i+1, n.Distance, d[want[i]])
				}
				if n.Index != want[i] && (exact || math.Abs(d[n.Index]-d[want[i]]) > 1e-6) {
					t.Errorf("%s query %d rank %d: item %d, full sort has %d", dist, q, i+1, n.Index, want[i])
				}
			}
		}
	}
	ints := smallInts(300, 5, 3)
	for _, dist := range []string{"euclidean", "manhattan", "dot"} {
		check(dist, ints, 7, true)
	}
	cont, _ := clustered(300, 20, 6, 5)
	check("cosine", cont, 7, false)
	check("euclidean", cont, 7, false)
	check("dot", ints[:5], 10, true) // k larger than the other items
}
