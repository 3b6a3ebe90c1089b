package serve

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// gateModel blocks every Encode until release is closed.
type gateModel struct {
	entered chan struct{}
	release chan struct{}
}

func (g *gateModel) Dim() int { return 2 }

func (g *gateModel) Encode(ctx context.Context, objs []any) ([][]float32, error) {
	g.entered <- struct{}{}
	<-g.release
	return unitVectors(len(objs)), nil
}

// unitVectors returns n copies of the vector (1, 0), the test models' output.
func unitVectors(n int) [][]float32 {
	out := make([][]float32, n)
	for i := range out {
		out[i] = []float32{1, 0}
	}
	return out
}

// Parts still queued when the batcher closes are failed, never left to their
// handler's timeout.
func TestBatcherCloseFailsQueuedParts(t *testing.T) {
	ctx := context.Background()
	for range 20 {
		m := &gateModel{entered: make(chan struct{}, 4), release: make(chan struct{})}
		b := newBatcher(m, 1, 0, 8, 1, newMetrics())
		first, err := b.submit(ctx, []string{"a"})
		if err != nil {
			t.Fatal(err)
		}
		<-m.entered // the only worker is busy with the first job
		queued, err := b.submit(ctx, []string{"b", "c"})
		if err != nil {
			t.Fatal(err)
		}
		closed := make(chan struct{})
		go func() { b.close(); close(closed) }()
		// Let close begin before the model returns, so that the worker
		// sees the stop signal with parts still queued.
		time.Sleep(time.Millisecond)
		close(m.release)
		for _, j := range []*job{first, queued} {
			select {
			case <-j.done:
			case <-time.After(5 * time.Second):
				t.Fatal("a job never completed after close")
			}
		}
		<-closed
		if first.err != nil {
			t.Fatalf("the running job failed: %v", first.err)
		}
		if queued.err != nil && !errors.Is(queued.err, errStopped) {
			t.Fatalf("queued job: %v", queued.err)
		}
	}
}

// sizeModel blocks its first Encode until release is closed and records the
// size of every later call.
type sizeModel struct {
	first   atomic.Bool
	entered chan struct{}
	release chan struct{}
	sizes   chan int
}

func (m *sizeModel) Dim() int { return 2 }

func (m *sizeModel) Encode(ctx context.Context, objs []any) ([][]float32, error) {
	if m.first.CompareAndSwap(false, true) {
		close(m.entered)
		<-m.release
	} else {
		m.sizes <- len(objs)
	}
	return unitVectors(len(objs)), nil
}

// While one worker is busy, the other waits for its share of the texts in
// the service instead of running the single text queued when it frees up;
// a lone request never waits.
func TestBatcherWaitsForItsShare(t *testing.T) {
	ctx := context.Background()
	m := &sizeModel{entered: make(chan struct{}), release: make(chan struct{}), sizes: make(chan int, 16)}
	b := newBatcher(m, 8, 5*time.Second, 16, 2, newMetrics())
	defer b.close()
	defer func() {
		select {
		case <-m.release:
		default:
			close(m.release)
		}
	}()

	start := time.Now()
	lone, err := b.submit(ctx, []string{"a", "b", "c"})
	if err != nil {
		t.Fatal(err)
	}
	<-m.entered // the lone request runs at once, in the gated call
	if d := time.Since(start); d > time.Second {
		t.Fatalf("a lone request waited %v", d)
	}
	// One worker is busy with 3 texts. Texts queued one at a time gather
	// until the free worker holds its share, ceil((3+3)/2) = 3.
	var jobs []*job
	for _, s := range []string{"x", "y", "z"} {
		j, err := b.submit(ctx, []string{s})
		if err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, j)
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case got := <-m.sizes:
		if got != 3 {
			t.Errorf("the free worker encoded %d text(s) while the other was busy; want its share, 3", got)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the free worker never ran its batch")
	}
	close(m.release)
	for _, j := range append(jobs, lone) {
		<-j.done
		if j.err != nil {
			t.Fatal(j.err)
		}
	}
}
