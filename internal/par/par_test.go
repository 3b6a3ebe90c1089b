package par

import (
	"sync"
	"sync/atomic"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// cover runs For and checks that every index was visited exactly once.
func cover(t *testing.T, n, grain int, inner func()) {
	t.Helper()
	seen := make([]atomic.Int32, n)
	For(n, grain, func(lo, hi int) {
		if lo > hi || lo < 0 || hi > n {
			t.Errorf("range [%d, %d) of %d", lo, hi, n)
			return
		}
		if inner != nil {
			inner()
		}
		for i := lo; i < hi; i++ {
			seen[i].Add(1)
		}
	})
	for i := range seen {
		if c := seen[i].Load(); c != 1 {
			t.Fatalf("n=%d grain=%d: index %d visited %d times", n, grain, i, c)
		}
	}
}

func TestForCoversEveryIndexOnce(t *testing.T) {
	for _, n := range []int{0, 1, 7, 64, 1000, 4097} {
		for _, grain := range []int{0, 1, 16, 5000} {
			cover(t, n, grain, nil)
		}
	}
}

// A For inside a For's task, and Fors from several goroutines at once,
// fall back to go statements for all but one and stay correct.
func TestNestedAndConcurrentFor(t *testing.T) {
	cover(t, 100, 1, func() { cover(t, 50, 1, nil) })
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				cover(t, 300, 8, nil)
			}
		})
	}
	wg.Wait()
}

func TestDoRunsEveryShare(t *testing.T) {
	for _, shares := range []int{1, 2, 3, 17} {
		var got [17]atomic.Int32
		Do(shares, func(s int) { got[s].Add(1) })
		for s := range shares {
			if got[s].Load() != 1 {
				t.Fatalf("%d shares: share %d ran %d times", shares, s, got[s].Load())
			}
		}
	}
}

// TestClear clears a matrix with contiguous rows (split over the team) and
// a view with a wider stride, whose elements outside the view must stay.
func TestClear(t *testing.T) {
	m := mat.NewDense(300, 200, nil)
	for i := range m.RawMatrix().Data {
		m.RawMatrix().Data[i] = float64(i + 1)
	}
	view := m.Slice(10, 20, 5, 15).(*mat.Dense)
	Clear(view)
	for i := range 300 {
		for j := range 200 {
			inView := i >= 10 && i < 20 && j >= 5 && j < 15
			if v := m.At(i, j); (v == 0) != inView {
				t.Fatalf("after clearing the view, [%d,%d] = %v", i, j, v)
			}
		}
	}
	Clear(m)
	for i, v := range m.RawMatrix().Data {
		if v != 0 {
			t.Fatalf("element %d = %v after Clear", i, v)
		}
	}
}
