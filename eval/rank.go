package eval

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// cand is an item with its score for one query.
type cand struct {
	s float32
	i int32
}

// before reports whether a ranks before b: higher score first, then lower
// index (stable ties).
func before(a, b cand) bool {
	return a.s > b.s || (a.s == b.s && a.i < b.i)
}

func compareCand(a, b cand) int {
	if before(a, b) {
		return -1
	}
	if before(b, a) {
		return 1
	}
	return 0
}

// relevance says which items are relevant to which: items with the same
// label are relevant to each other (an item is never relevant to itself),
// with gain gain[j] for item j (nil means gain 1 for all).
type relevance struct {
	label   []int32   // per item
	members [][]int32 // per label, ascending item indices
	gain    []float64 // per item, or nil
}

// relevantCount is R for query q.
func (rv *relevance) relevantCount(q int) int { return len(rv.members[rv.label[q]]) - 1 }

// queryStats are the per-query quantities the metrics are reduced from.
type queryStats struct {
	r     int     // relevant count R
	hitsK int     // relevant among the top k
	hitsR int     // relevant among the top R
	rr    float64 // 1 / rank of the first relevant item
	ap    float64 // MAP@R term
	ndcg  float64 // NDCG@k
}

// ranker finds, for one query row at a time, the exact rank of every
// relevant item without sorting the row: it sorts the R relevant items,
// then for every other item that ranks before the last relevant one counts,
// by binary search, how many relevant items it precedes. Cost O(n + R log R
// + m log R) where m is the number of irrelevant items ranked before the
// last relevant one; memory O(R).
type ranker struct {
	rv    *relevance
	k     int
	rel   []cand
	cnt   []int
	gains []float64
	disc  []float64 // disc[i] = 1/log2(i+2)
}

func newRanker(rv *relevance, k int) *ranker {
	return &ranker{rv: rv, k: k}
}

// discount returns 1/log2(rank+1) for a 1-based rank.
func (rk *ranker) discount(rank int) float64 {
	for len(rk.disc) < rank {
		rk.disc = append(rk.disc, 1/math.Log2(float64(len(rk.disc)+2)))
	}
	return rk.disc[rank-1]
}

// stats computes queryStats for query q from its score row.
func (rk *ranker) stats(q int, row []float32) (queryStats, error) {
	rv := rk.rv
	lq := rv.label[q]
	rk.rel = rk.rel[:0]
	for _, j := range rv.members[lq] {
		if int(j) == q {
			continue
		}
		s := row[j]
		if s != s {
			return queryStats{}, fmt.Errorf("eval: similarity of query %d and item %d is NaN (overflow in the embeddings?)", q, j)
		}
		rk.rel = append(rk.rel, cand{s, j})
	}
	r := len(rk.rel)
	if r == 0 {
		return queryStats{}, fmt.Errorf("eval: query %d has no relevant item", q)
	}
	slices.SortFunc(rk.rel, compareCand)
	rk.cnt = slices.Grow(rk.cnt[:0], r)[:r]
	clear(rk.cnt)
	worst := rk.rel[r-1]
	for j, s := range row {
		// Fast path: items ranked after every relevant item do not move
		// any relevant rank.
		if s < worst.s || (s == worst.s && int32(j) > worst.i) {
			continue
		}
		if rv.label[j] == lq { // relevant, or the query itself
			continue
		}
		if s != s {
			return queryStats{}, fmt.Errorf("eval: similarity of query %d and item %d is NaN (overflow in the embeddings?)", q, j)
		}
		c := cand{s, int32(j)}
		// p = number of relevant items ranked before c.
		lo, hi := 0, r
		for lo < hi {
			mid := int(uint(lo+hi) >> 1)
			if before(rk.rel[mid], c) {
				lo = mid + 1
			} else {
				hi = mid
			}
		}
		rk.cnt[lo]++
	}

	st := queryStats{r: r}
	var dcg float64
	ahead := 0 // irrelevant items ranked before the current relevant one
	for t, c := range rk.rel {
		ahead += rk.cnt[t]
		rank := t + 1 + ahead
		if t == 0 {
			st.rr = 1 / float64(rank)
		}
		if rank <= rk.k {
			st.hitsK++
			dcg += rk.gain(c.i) * rk.discount(rank)
		}
		if rank <= r {
			st.hitsR++
			st.ap += float64(t+1) / float64(rank)
		}
	}
	st.ap /= float64(r)
	if idcg := rk.idealDCG(); idcg > 0 {
		st.ndcg = dcg / idcg
	}
	return st, nil
}

func (rk *ranker) gain(j int32) float64 {
	if rk.rv.gain == nil {
		return 1
	}
	return rk.rv.gain[j]
}

// idealDCG is the DCG@k of the current relevant items in the best order.
func (rk *ranker) idealDCG() float64 {
	n := min(rk.k, len(rk.rel))
	var s float64
	if rk.rv.gain == nil {
		for i := 1; i <= n; i++ {
			s += rk.discount(i)
		}
		return s
	}
	rk.gains = rk.gains[:0]
	for _, c := range rk.rel {
		rk.gains = append(rk.gains, rk.rv.gain[c.i])
	}
	slices.SortFunc(rk.gains, func(a, b float64) int { return cmp.Compare(b, a) })
	for i := range n {
		s += rk.gains[i] * rk.discount(i+1)
	}
	return s
}
