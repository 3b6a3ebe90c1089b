package sgemm

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// spinFor is how long a helper waits for the next product before it
// sleeps. Waking a sleeping goroutine costs tens of microseconds on these
// virtual machines, as much as a small product, and a training step runs
// its products a fraction of a millisecond apart; OpenBLAS's threads spin
// for the same reason (and much longer).
const spinFor = 500 * time.Microsecond

// team runs the shares of one product at a time on the calling goroutine
// and GOMAXPROCS-1 helpers, started on first use.
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

// run calls task(0) ... task(shares-1), on the team when it is free and
// with go statements otherwise (a product started while another runs).
func run(shares int, task func(share int)) {
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
		if i%64 == 0 {
			runtime.Gosched()
		}
	}
	t.task = nil
	t.busy.Store(false)
}
