package eval

import (
	"context"
	"fmt"
	"runtime"
	"slices"
)

// Neighbor is one retrieved item.
type Neighbor struct {
	Index    int     // row of the item
	Distance float64 // distance to the query (SPEC section 1)
}

// Neighbors returns the k nearest items of every item among the others
// (an item never retrieves itself), nearest first, ties by index, under the
// named distance ("" means cosine). It is exact: blocked matrix products and
// a bounded heap per query, no full sort. When fewer than k other items
// exist every other item is returned.
func Neighbors[E Embeddings](ctx context.Context, emb E, k int, distance string) ([][]Neighbor, error) {
	if distance == "" {
		distance = Cosine
	}
	if err := checkDistance(distance); err != nil {
		return nil, err
	}
	if k <= 0 {
		return nil, fmt.Errorf("eval: neighbors: k must be > 0, got %d", k)
	}
	r, err := asRows("neighbors", emb)
	if err != nil {
		return nil, err
	}
	ix, err := newIndex("neighbors", r, distance)
	if err != nil {
		return nil, err
	}
	queries := make([]int, r.n)
	for i := range queries {
		queries[i] = i
	}
	out := make([][]Neighbor, r.n)
	err = ix.scan(ctx, queries, runtime.GOMAXPROCS(0), nil, func() rowFunc {
		var h topK
		return func(q int, row []float32) error {
			h.reset(k)
			for j, s := range row {
				if j == q {
					continue
				}
				if s != s {
					return fmt.Errorf("eval: similarity of query %d and item %d is NaN (overflow in the embeddings?)", q, j)
				}
				h.offer(cand{s, int32(j)})
			}
			best := h.sorted()
			nb := make([]Neighbor, len(best))
			for i, c := range best {
				nb[i] = Neighbor{Index: int(c.i), Distance: ix.distance(q, c.s)}
			}
			out[q] = nb
			return nil
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// topK keeps the k best candidates seen in a heap whose root is the worst
// kept one, so a candidate that does not make the cut costs one comparison.
type topK struct {
	k int
	h []cand
}

func (t *topK) reset(k int) { t.k, t.h = k, t.h[:0] }

func (t *topK) offer(c cand) {
	if len(t.h) < t.k {
		t.h = append(t.h, c)
		// sift up: a parent must rank after (be worse than) its children.
		i := len(t.h) - 1
		for i > 0 {
			p := (i - 1) / 2
			if !before(t.h[p], t.h[i]) {
				break
			}
			t.h[p], t.h[i] = t.h[i], t.h[p]
			i = p
		}
		return
	}
	if !before(c, t.h[0]) {
		return
	}
	t.h[0] = c
	i, n := 0, len(t.h)
	for {
		w, l, r := i, 2*i+1, 2*i+2
		if l < n && before(t.h[w], t.h[l]) {
			w = l
		}
		if r < n && before(t.h[w], t.h[r]) {
			w = r
		}
		if w == i {
			return
		}
		t.h[i], t.h[w] = t.h[w], t.h[i]
		i = w
	}
}

// sorted returns the kept candidates best first (sorting only k items).
func (t *topK) sorted() []cand {
	slices.SortFunc(t.h, compareCand)
	return t.h
}
