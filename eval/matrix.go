package eval

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Embeddings is the accepted form of an embedding matrix: one row per item.
type Embeddings interface {
	[][]float32 | [][]float64 | *mat.Dense
}

// rows gives uniform access to the rows of an embedding matrix.
type rows struct {
	n, d int
	at   func(i, j int) float64
}

// asRows checks the shape of emb (what names the argument in errors) and
// returns accessors for it. Every row must have the same non-zero dimension.
func asRows[E Embeddings](what string, emb E) (rows, error) {
	switch e := any(emb).(type) {
	case [][]float32:
		d, err := sliceDim(what, e)
		return rows{n: len(e), d: d, at: func(i, j int) float64 { return float64(e[i][j]) }}, err
	case [][]float64:
		d, err := sliceDim(what, e)
		return rows{n: len(e), d: d, at: func(i, j int) float64 { return e[i][j] }}, err
	case *mat.Dense:
		if e == nil || e.IsEmpty() {
			return rows{}, fmt.Errorf("eval: %s: no embeddings", what)
		}
		raw := e.RawMatrix()
		return rows{n: raw.Rows, d: raw.Cols, at: func(i, j int) float64 { return raw.Data[i*raw.Stride+j] }}, nil
	}
	panic("unreachable: Embeddings constraint")
}

// sliceDim returns the dimension shared by every row of e, which must be
// non-empty with the same non-zero length in every row.
func sliceDim[T float32 | float64](what string, e [][]T) (int, error) {
	if len(e) == 0 {
		return 0, fmt.Errorf("eval: %s: no embeddings", what)
	}
	d := len(e[0])
	for i, r := range e {
		if len(r) != d {
			return 0, fmt.Errorf("eval: %s: embedding %d has dimension %d, embedding 0 has %d", what, i, len(r), d)
		}
	}
	if d == 0 {
		return 0, fmt.Errorf("eval: %s: embeddings have dimension 0", what)
	}
	return d, nil
}

// index is an embedding matrix prepared for scoring with one distance: a
// query q ranks item j before item m when score(q,j) > score(q,m), or when
// the scores are equal and j < m.
type index struct {
	dist string
	n, d int
	ld   int       // row stride of x, a multiple of 4 so that every row has the same alignment
	x    []float32 // n rows of length d at stride ld (unit rows for cosine)
	sq   []float32 // euclidean: squared norms of the rows of x
}

// newIndex copies r into float32 rows prepared for dist, and rejects
// non-finite components.
func newIndex(what string, r rows, dist string) (*index, error) {
	ix := &index{dist: dist, n: r.n, d: r.d, ld: (r.d + 3) &^ 3}
	ix.x = make([]float32, r.n*ix.ld)
	if dist == Euclidean {
		ix.sq = make([]float32, r.n)
	}
	row := make([]float64, r.d)
	for i := range r.n {
		for j := range r.d {
			v := r.at(i, j)
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("eval: %s: embedding %d, component %d is %v", what, i, j, v)
			}
			row[j] = v
		}
		norm := 1.0
		if dist == Cosine {
			var s float64
			for _, v := range row {
				s += v * v
			}
			norm = max(math.Sqrt(s), 1e-12)
		}
		dst := ix.x[i*ix.ld : i*ix.ld+r.d]
		var sq float64
		for j, v := range row {
			f := float32(v / norm)
			if math.IsInf(float64(f), 0) {
				return nil, fmt.Errorf("eval: %s: embedding %d, component %d (%g) overflows float32", what, i, j, v)
			}
			dst[j] = f
			sq += float64(f) * float64(f)
		}
		if ix.sq != nil {
			ix.sq[i] = float32(sq)
		}
	}
	return ix, nil
}

// row returns item i's prepared row.
func (ix *index) row(i int) []float32 { return ix.x[i*ix.ld : i*ix.ld+ix.d] }

// distance converts the score of item j for query q back to the distance
// of SPEC section 1.
func (ix *index) distance(q int, score float32) float64 {
	s := float64(score)
	switch ix.dist {
	case Cosine:
		return 1 - s
	case Dot:
		return -s
	case Euclidean:
		return math.Sqrt(max(float64(ix.sq[q])-s, 0))
	default: // manhattan
		return -s
	}
}
