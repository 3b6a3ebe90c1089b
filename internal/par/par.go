// Package par runs the parts of a loop on a team: the calling goroutine
// and GOMAXPROCS-1 helpers, started on first use, that spin for a while
// after each task before they sleep.
//
// A training step is a chain of matrix products and element-wise passes,
// each a fraction of a millisecond. Waking a sleeping goroutine costs tens
// of microseconds on these virtual machines (90 µs measured), as much as a
// pass, so a go statement per pass loses time; a helper that is still
// spinning from the last product takes a pass in about a microsecond.
// OpenBLAS's threads spin for the same reason.
package par

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/gonum"
	"gonum.org/v1/gonum/mat"
)

// Grain is the fewest elements an element-wise pass over float64 data
// (a copy, a clear, a conversion, an optimiser step) gives each worker:
// below it, handing a share to a helper costs more than it saves.
const Grain = 16384

// Clear sets every element of m to zero, split over the team when m's rows
// are contiguous in memory.
func Clear(m *mat.Dense) {
	raw := m.RawMatrix()
	if raw.Stride != raw.Cols {
		m.Zero()
		return
	}
	s := raw.Data[:raw.Rows*raw.Cols]
	For(len(s), Grain, func(lo, hi int) { clear(s[lo:hi]) })
}

// spinFor is how long a helper waits for the next task before it sleeps.
const spinFor = 500 * time.Microsecond

// team runs the shares of one task at a time.
type team struct {
	busy    atomic.Bool
	size    int
	shares  int             // shares of the current task
	task    func(share int) // the current task
	seq     atomic.Uint64   // numbers the tasks
	done    atomic.Int64    // helpers finished with the current task
	helpers []teamHelper
}

type teamHelper struct {
	asleep atomic.Bool
	wake   chan struct{}
}

var (
	theTeam  *team
	teamOnce sync.Once
)

func getTeam() *team {
	teamOnce.Do(func() {
		t := &team{size: runtime.GOMAXPROCS(0)}
		t.helpers = make([]teamHelper, t.size)
		for h := 1; h < t.size; h++ {
			t.helpers[h].wake = make(chan struct{}, 1)
			go t.help(h)
		}
		theTeam = t
	})
	return theTeam
}

func (t *team) help(h int) {
	me := &t.helpers[h]
	var last uint64
	for {
		deadline := time.Now().Add(spinFor)
		for i := 1; t.seq.Load() == last; i++ {
			if i%256 != 0 || time.Now().Before(deadline) {
				continue
			}
			me.asleep.Store(true)
			if t.seq.Load() == last {
				<-me.wake
			}
			me.asleep.Store(false)
			deadline = time.Now().Add(spinFor)
		}
		last = t.seq.Load()
		if h < t.shares {
			t.task(h)
		}
		t.done.Add(1)
	}
}

// Do calls task(0) ... task(shares-1) and returns when all are done: on
// the team when it is free, and with go statements otherwise (a task
// started from inside another, or while another goroutine's runs).
func Do(shares int, task func(share int)) {
	if shares < 2 {
		task(0)
		return
	}
	t := getTeam()
	if shares > t.size || !t.busy.CompareAndSwap(false, true) {
		var wg sync.WaitGroup
		for s := 1; s < shares; s++ {
			wg.Go(func() { task(s) })
		}
		task(0)
		wg.Wait()
		return
	}
	t.shares, t.task = shares, task
	t.done.Store(0)
	t.seq.Add(1)
	for h := 1; h < t.size; h++ {
		if me := &t.helpers[h]; me.asleep.Load() {
			select {
			case me.wake <- struct{}{}:
			default:
			}
		}
	}
	task(0)
	for i := 1; t.done.Load() < int64(t.size-1); i++ {
		if i%1024 == 0 {
			runtime.Gosched()
		}
	}
	t.task = nil
	t.busy.Store(false)
}

// For calls f on contiguous ranges [lo, hi) that cover [0, n), each of at
// least grain items, on the team; f must be safe to run on disjoint ranges
// at once. It runs f(0, n) on the calling goroutine when there are fewer
// than 2*grain items, and when the program's BLAS is not gonum's pure-Go
// one: another BLAS (OpenBLAS under the openblas build tag) keeps threads
// of its own spinning between products, and helpers spinning beside them
// would take their cores (that halved a training step's speed).
func For(n, grain int, f func(lo, hi int)) {
	shares := min(runtime.GOMAXPROCS(0), n/max(grain, 1))
	if shares < 2 || !ownBLAS() {
		f(0, n)
		return
	}
	Do(shares, func(s int) { f(s*n/shares, (s+1)*n/shares) })
}

// ownBLAS reports whether the program's float32 BLAS is gonum's pure-Go
// one, whose products this module replaces with package sgemm's.
func ownBLAS() bool {
	_, native := blas32.Implementation().(gonum.Implementation)
	return native
}
