package serve

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// job is one request's texts and the vectors they become.
type job struct {
	ctx       context.Context // the request's context: parts of a gone request are skipped
	out       [][]float32
	remaining atomic.Int32
	done      chan struct{}

	mu  sync.Mutex
	err error
}

func (j *job) fail(err error) {
	j.mu.Lock()
	if j.err == nil {
		j.err = err
	}
	j.mu.Unlock()
}

func (j *job) finishPart() {
	if j.remaining.Add(-1) == 0 {
		close(j.done)
	}
}

// part is a slice of a job's texts, never longer than the maximum batch, so
// that a large request cannot monopolise a batch and small ones can share.
type part struct {
	j     *job
	off   int
	texts []string
}

// batcher collects parts from concurrent requests into batches and encodes
// each batch with one model call.
type batcher struct {
	model    Model
	maxBatch int
	maxWait  time.Duration
	queue    chan part
	stop     chan struct{}
	wg       sync.WaitGroup
	metrics  *metrics
	// A worker waits (up to maxWait) for more texts only while requests are
	// arriving, or while another worker is encoding and its batch holds
	// less than its share of the texts in the service. A lone client
	// never pays the wait. Under load the share keeps the workers' batches
	// even: without it a worker that frees up takes the one or two texts
	// queued at that moment, and small model runs cost the most per text
	// (a run streams all the weights; see onnx.planBatches).
	//
	// arriving counts requests that are being read or decoded and will
	// soon queue texts; running counts the workers encoding a batch;
	// pending counts the texts queued or being encoded.
	arriving atomic.Int64
	running  atomic.Int64
	pending  atomic.Int64
	workers  int64
}

func newBatcher(m Model, maxBatch int, maxWait time.Duration, queue, workers int, met *metrics) *batcher {
	b := &batcher{
		model: m, maxBatch: maxBatch, maxWait: maxWait,
		queue: make(chan part, queue), stop: make(chan struct{}), metrics: met,
		workers: int64(workers),
	}
	b.wg.Add(workers)
	for range workers {
		go b.work()
	}
	return b
}

// submit queues texts and returns the job that completes when all are
// encoded. It blocks while the queue is full, until ctx ends.
func (b *batcher) submit(ctx context.Context, texts []string) (*job, error) {
	n := (len(texts) + b.maxBatch - 1) / b.maxBatch
	j := &job{ctx: ctx, out: make([][]float32, len(texts)), done: make(chan struct{})}
	j.remaining.Store(int32(n))
	for off := 0; off < len(texts); off += b.maxBatch {
		end := min(off+b.maxBatch, len(texts))
		b.pending.Add(int64(end - off))
		select {
		case b.queue <- part{j: j, off: off, texts: texts[off:end]}:
		case <-ctx.Done():
			b.pending.Add(-int64(end - off))
			return nil, ctx.Err()
		case <-b.stop:
			b.pending.Add(-int64(end - off))
			return nil, errStopped
		}
	}
	return j, nil
}

var errStopped = fmt.Errorf("batcher stopped")

// close stops the workers after the batches they hold and fails the parts
// still queued, so that no handler waits for them; call it once no handler
// can submit any more.
func (b *batcher) close() {
	close(b.stop)
	b.wg.Wait()
	for {
		select {
		case p := <-b.queue:
			b.pending.Add(-int64(len(p.texts)))
			p.j.fail(errStopped)
			p.j.finishPart()
		default:
			return
		}
	}
}

func (b *batcher) work() {
	defer b.wg.Done()
	var carry *part
	for {
		var first part
		if carry != nil {
			first, carry = *carry, nil
		} else {
			select {
			case first = <-b.queue:
			case <-b.stop:
				return
			}
		}
		batch := []part{first}
		n := len(first.texts)
		var deadline time.Time
	collect:
		for n < b.maxBatch {
			select {
			case p := <-b.queue:
				if n+len(p.texts) > b.maxBatch {
					carry = &p
					break collect
				}
				batch = append(batch, p)
				n += len(p.texts)
				continue
			default:
			}
			if b.maxWait <= 0 || (b.arriving.Load() == 0 && (b.running.Load() == 0 || int64(n) >= b.share())) {
				break
			}
			if deadline.IsZero() {
				deadline = time.Now().Add(b.maxWait)
			}
			rem := time.Until(deadline)
			if rem <= 0 {
				break
			}
			t := time.NewTimer(min(rem, 200*time.Microsecond))
			select {
			case p := <-b.queue:
				t.Stop()
				if n+len(p.texts) > b.maxBatch {
					carry = &p
					break collect
				}
				batch = append(batch, p)
				n += len(p.texts)
			case <-t.C:
			}
		}
		b.running.Add(1)
		b.run(batch)
		b.running.Add(-1)
		b.pending.Add(-int64(n))
	}
}

// share is a worker's fair share of the texts waiting or being encoded.
func (b *batcher) share() int64 {
	return (b.pending.Load() + b.arriving.Load() + b.workers - 1) / b.workers
}

// run encodes one batch. If the batch fails and holds several requests'
// texts, each part is retried alone so one bad request cannot fail others.
func (b *batcher) run(batch []part) {
	live := batch[:0]
	for _, p := range batch {
		if p.j.ctx.Err() != nil {
			p.j.finishPart()
			continue
		}
		live = append(live, p)
	}
	if len(live) == 0 {
		return
	}
	err := b.encode(live)
	if err != nil && len(live) > 1 {
		for _, p := range live {
			if err := b.encode([]part{p}); err != nil {
				p.j.fail(err)
			}
			p.j.finishPart()
		}
		return
	}
	for _, p := range live {
		if err != nil {
			p.j.fail(err)
		}
		p.j.finishPart()
	}
}

// encode runs the model on the texts of parts and stores the vectors in
// their jobs. A panic in the model becomes an error: the service survives.
func (b *batcher) encode(parts []part) (err error) {
	var objs []any
	for _, p := range parts {
		for _, t := range p.texts {
			objs = append(objs, t)
		}
	}
	vecs, err := encodeSafely(context.Background(), b.model, objs)
	b.metrics.observeBatch(len(objs), err)
	if err != nil {
		return err
	}
	i := 0
	for _, p := range parts {
		copy(p.j.out[p.off:], vecs[i:i+len(p.texts)])
		i += len(p.texts)
	}
	return nil
}

// encodeSafely calls m.Encode, turning a panic into an error and checking
// that one vector per object came back.
func encodeSafely(ctx context.Context, m Model, objs []any) (vecs [][]float32, err error) {
	defer func() {
		if r := recover(); r != nil {
			vecs, err = nil, fmt.Errorf("model panicked: %v", r)
		}
	}()
	vecs, err = m.Encode(ctx, objs)
	if err == nil && len(vecs) != len(objs) {
		err = fmt.Errorf("model returned %d vectors for %d texts", len(vecs), len(objs))
	}
	return vecs, err
}
