package eval

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/simlearn/simlearn/internal/sgemm"
)

// stripBytes bounds the score strip each worker holds: a strip is
// rows x n float32 scores, so memory is O(workers * stripBytes) whatever n.
const stripBytes = 32 << 20

// gonumRows x gonumCols is the largest product gonum's Sgemm computes
// serially (fewer than four 64x64 blocks).
const (
	gonumRows = 64
	gonumCols = 192
)

// rowFunc consumes the scores of query q against every item; row is only
// valid during the call.
type rowFunc func(q int, row []float32) error

// stripRows is the number of query rows in a strip for n items. It depends
// only on n, so results do not depend on the number of workers.
func stripRows(n int) int {
	r := stripBytes / (4 * n)
	if r >= gonumRows {
		return min(r&^(gonumRows-1), 256) // whole gonum tiles
	}
	return max(r, 8)
}

// scan scores every query in queries against all items, strip by strip,
// with workers goroutines; each worker calls the rowFunc made for it by
// newRow (so scratch space need not be shared), and reports each finished
// strip to progress when it is not nil. It stops at the first error or when
// ctx is done.
func (ix *index) scan(ctx context.Context, queries []int, workers int, progress func(done, total int), newRow func() rowFunc) error {
	bq := stripRows(ix.n)
	strips := (len(queries) + bq - 1) / bq
	workers = max(min(workers, strips), 1)
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		done     int
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
	}
	failed := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return firstErr != nil
	}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			consume := newRow()
			a := make([]float32, bq*ix.ld)
			c := make([]float32, bq*ix.n)
			for {
				s := int(next.Add(1) - 1)
				if s >= strips || failed() {
					return
				}
				if err := ctx.Err(); err != nil {
					fail(fmt.Errorf("eval: scoring stopped after %d of %d query strips: %w", s, strips, err))
					return
				}
				lo, hi := s*bq, min((s+1)*bq, len(queries))
				qs := queries[lo:hi]
				ix.scores(qs, a, c)
				for i, q := range qs {
					if err := consume(q, c[i*ix.n:(i+1)*ix.n]); err != nil {
						fail(err)
						return
					}
				}
				if progress != nil {
					mu.Lock()
					done += len(qs)
					progress(done, len(queries))
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// scores fills c (len(qs) x n) with the scores of the queries qs against
// every item; a is scratch for the gathered query rows.
func (ix *index) scores(qs []int, a, c []float32) {
	m, n, d, ld := len(qs), ix.n, ix.d, ix.ld
	if ix.dist == Manhattan {
		for i, q := range qs {
			x := ix.row(q)
			ci := c[i*n : (i+1)*n]
			for j := range n {
				y := ix.row(j)
				var s float64
				for l, v := range x {
					s += abs32(v - y[l])
				}
				ci[j] = -float32(s)
			}
		}
		return
	}
	for i, q := range qs {
		copy(a[i*ld:i*ld+d], ix.row(q))
	}
	impl := blas32.Implementation()
	_, native := impl.(gonum.Implementation)
	switch {
	case sgemm.Installed():
		// The workers run strips in parallel already; every score comes
		// out the same whatever strip holds its query (see SerialGemm).
		sgemm.SerialGemm(blas.NoTrans, blas.Trans, 1,
			blas32.General{Rows: m, Cols: d, Stride: ld, Data: a[:(m-1)*ld+d]},
			blas32.General{Rows: n, Cols: d, Stride: ld, Data: ix.x[:(n-1)*ld+d]},
			0, blas32.General{Rows: m, Cols: n, Stride: n, Data: c[:m*n]})
	case native:
		// gonum's Sgemm splits a product of more than three 64x64 blocks
		// over goroutines and sums each dot product in 64-long pieces.
		// Tiles of at most 64 x 192 stay serial with one full-length dot
		// product per score: faster here (workers already run strips in
		// parallel) and every score is computed the same way.
		for i0 := 0; i0 < m; i0 += gonumRows {
			mm := min(gonumRows, m-i0)
			for j0 := 0; j0 < n; j0 += gonumCols {
				nn := min(gonumCols, n-j0)
				impl.Sgemm(blas.NoTrans, blas.Trans, mm, nn, d, 1, a[i0*ld:], ld, ix.x[j0*ld:], ld, 0, c[i0*n+j0:], n)
			}
		}
	default:
		impl.Sgemm(blas.NoTrans, blas.Trans, m, n, d, 1, a, ld, ix.x, ld, 0, c, n)
	}
	if ix.dist == Euclidean {
		// score = 2 x.y - |y|^2 = |x|^2 - |x - y|^2: the query's own
		// norm is left out so that it adds no rounding to the ranking.
		for i := range m {
			ci := c[i*n : (i+1)*n]
			for j, v := range ci {
				ci[j] = 2*v - ix.sq[j]
			}
		}
	}
}

func abs32(v float32) float64 {
	if v < 0 {
		return -float64(v)
	}
	return float64(v)
}
