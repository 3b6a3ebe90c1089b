package serve

import (
	"context"
	"errors"
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
	out := make([][]float32, len(objs))
	for i := range out {
		out[i] = []float32{1, 0}
	}
	return out, nil
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
