package fit

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/mat"

	"github.com/simlearn/simlearn/internal/par"
)

// PairBatch is a batch of N pairs laid out as X = [a_1..a_N, b_1..b_N]
// (2N rows), with each pair's score and subgroup. Index holds the pairs'
// positions in the dataset.
type PairBatch struct {
	X         *mat.Dense
	Scores    []float64
	Subgroups []int
	Index     []int
}

// GroupBatch is a batch of objects: row i of X is sample Index[i], in group
// Groups[i].
type GroupBatch struct {
	X      *mat.Dense
	Groups []int
	Index  []int
}

// PairLoader splits a PairData into batches.
type PairLoader struct {
	Data      *PairData
	BatchSize int
	// Shuffle reorders the pairs every epoch from the given random source.
	Shuffle bool
	// DropLast drops a final batch smaller than BatchSize.
	DropLast bool
}

// Epoch returns the pair indices of each batch of one epoch.
func (l *PairLoader) Epoch(rng *rand.Rand) ([][]int, error) {
	if l.BatchSize <= 0 {
		return nil, fmt.Errorf("pair loader: batch size %d, want > 0", l.BatchSize)
	}
	return batches(l.Data.Len(), l.BatchSize, l.Shuffle, rng, l.DropLast), nil
}

// Batch gathers the pairs idx into b, reusing b's storage.
func (l *PairLoader) Batch(idx []int, b *PairBatch) {
	d := l.Data
	n := len(idx)
	_, c := d.X.Dims()
	b.X = resize(b.X, 2*n, c)
	b.Scores = b.Scores[:0]
	b.Subgroups = b.Subgroups[:0]
	par.For(n, 8192/max(c, 1), func(lo, hi int) {
		for k, i := range idx[lo:hi] {
			copy(b.X.RawRowView(lo+k), d.X.RawRowView(d.A[i]))
			copy(b.X.RawRowView(n+lo+k), d.X.RawRowView(d.B[i]))
		}
	})
	for _, i := range idx {
		b.Scores = append(b.Scores, d.score(i))
		b.Subgroups = append(b.Subgroups, d.subgroup(i))
	}
	b.Index = append(b.Index[:0], idx...)
}

// GroupLoader splits a GroupData into batches, either plainly or class
// balanced.
type GroupLoader struct {
	Data      *GroupData
	BatchSize int
	// PerGroup, when > 0, makes batches class balanced: each batch holds
	// BatchSize/PerGroup distinct groups with PerGroup samples each (fewer
	// for a group that has fewer), as batch-hard mining needs. BatchSize
	// must then be a multiple of PerGroup with at least two groups.
	PerGroup int
	// Shuffle reorders the samples every epoch; class-balanced batches are
	// always drawn at random.
	Shuffle bool
	// DropLast drops a final batch smaller than BatchSize.
	DropLast bool
}

// Epoch returns the sample indices of each batch of one epoch.
func (l *GroupLoader) Epoch(rng *rand.Rand) ([][]int, error) {
	if l.BatchSize <= 0 {
		return nil, fmt.Errorf("group loader: batch size %d, want > 0", l.BatchSize)
	}
	if l.PerGroup <= 0 {
		return batches(l.Data.Len(), l.BatchSize, l.Shuffle, rng, l.DropLast), nil
	}
	if l.BatchSize%l.PerGroup != 0 || l.BatchSize/l.PerGroup < 2 {
		return nil, fmt.Errorf("group loader: batch size %d must be a multiple of %d items per group, with at least two groups", l.BatchSize, l.PerGroup)
	}
	return balanced(l.Data.Groups, l.BatchSize, l.PerGroup, rng, l.DropLast)
}

// Batch gathers the samples idx into b, reusing b's storage.
func (l *GroupLoader) Batch(idx []int, b *GroupBatch) {
	d := l.Data
	_, c := d.X.Dims()
	b.X = resize(b.X, len(idx), c)
	b.Groups = b.Groups[:0]
	for k, i := range idx {
		copy(b.X.RawRowView(k), d.X.RawRowView(d.row(i)))
		b.Groups = append(b.Groups, d.Groups[i])
	}
	b.Index = append(b.Index[:0], idx...)
}

// batches splits 0..n-1, optionally shuffled, into consecutive batches.
func batches(n, size int, shuffle bool, rng *rand.Rand, dropLast bool) [][]int {
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	if shuffle {
		rng.Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
	}
	var out [][]int
	for lo := 0; lo < n; lo += size {
		hi := min(lo+size, n)
		if hi-lo < size && dropLast {
			break
		}
		out = append(out, order[lo:hi])
	}
	return out
}

// balanced builds class-balanced batches: every group's samples, shuffled,
// are cut into chunks of m (a short last chunk is topped up from the start
// of its group when the group has at least m samples); the chunks, shuffled,
// are packed into batches without putting two chunks of a group together.
// Every sample appears at least once per epoch.
func balanced(groups []int, size, m int, rng *rand.Rand, dropLast bool) ([][]int, error) {
	members := make(map[int][]int)
	for i, g := range groups {
		members[g] = append(members[g], i)
	}
	if len(members) < 2 {
		return nil, fmt.Errorf("group loader: %d group(s) in the data; class-balanced batches need at least two", len(members))
	}
	ids := make([]int, 0, len(members))
	for g := range members {
		ids = append(ids, g)
	}
	slices.Sort(ids)
	type chunk struct {
		group int
		items []int
	}
	var chunks []chunk
	for _, g := range ids {
		items := members[g]
		rng.Shuffle(len(items), func(i, j int) { items[i], items[j] = items[j], items[i] })
		for lo := 0; lo < len(items); lo += m {
			hi := min(lo+m, len(items))
			c := append([]int(nil), items[lo:hi]...)
			if len(c) < m && len(items) >= m {
				c = append(c, items[:m-len(c)]...)
			}
			chunks = append(chunks, chunk{g, c})
		}
	}
	rng.Shuffle(len(chunks), func(i, j int) { chunks[i], chunks[j] = chunks[j], chunks[i] })
	var out [][]int
	var outGroups [][]int
	var cur, curGroups []int
	used := make([]bool, len(chunks))
	first := 0 // chunks before first are all used
	closeBatch := func() {
		out = append(out, cur)
		outGroups = append(outGroups, curGroups)
		cur, curGroups = nil, nil
	}
	for first < len(chunks) {
		// Take the first unused chunk that fits and whose group is not in
		// the batch yet.
		pick := -1
		for k := first; k < len(chunks); k++ {
			if !used[k] && !slices.Contains(curGroups, chunks[k].group) && len(cur)+len(chunks[k].items) <= size {
				pick = k
				break
			}
		}
		if pick < 0 {
			closeBatch()
			continue
		}
		used[pick] = true
		for first < len(chunks) && used[first] {
			first++
		}
		cur = append(cur, chunks[pick].items...)
		curGroups = append(curGroups, chunks[pick].group)
		if len(cur) == size {
			closeBatch()
		}
	}
	if len(cur) > 0 {
		closeBatch()
	}
	// A batch left with a single group (the tail of a large group) has no
	// negatives: top it up with random chunks of other groups.
	for b, gs := range outGroups {
		for tries := 0; len(gs) == 1 && tries < 100*len(chunks); tries++ {
			c := chunks[rng.IntN(len(chunks))]
			if c.group != gs[0] && len(out[b])+len(c.items) <= size {
				out[b] = append(out[b], c.items...)
				gs = append(gs, c.group)
			}
		}
	}
	if n := len(out); dropLast && n > 0 && len(out[n-1]) < size {
		out = out[:n-1]
	}
	return out, nil
}

// resize returns m as an r×c matrix, reusing its storage when possible.
func resize(m *mat.Dense, r, c int) *mat.Dense {
	if m == nil {
		return mat.NewDense(r, c, nil)
	}
	if rr, cc := m.Dims(); rr == r && cc == c {
		return m
	}
	raw := m.RawMatrix()
	if cap(raw.Data) >= r*c {
		return mat.NewDense(r, c, raw.Data[:r*c])
	}
	return mat.NewDense(r, c, nil)
}
