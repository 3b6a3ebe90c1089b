package cache

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/simlearn/simlearn"
	"github.com/simlearn/simlearn/models"
)

func TestFillColdThenWarm(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	objs := append(texts(700), texts(300)...) // 300 duplicates
	enc := newHashEncoder("text", 16)

	s := openTest(t, dir)
	m, err := Fill(ctx, []Spec{{Encoder: enc}}, objs, FillOptions{Store: s, BatchSize: 50, Progress: ProgressOff})
	if err != nil {
		t.Fatal(err)
	}
	if r, c := m.X.Dims(); r != 700 || c != 16 {
		t.Fatalf("matrix %dx%d", r, c)
	}
	if enc.encoded.Load() != 700 || m.Blocks[0].Encoded != 700 || m.Blocks[0].Hits != 0 {
		t.Fatalf("cold: encoded %d, block %+v", enc.encoded.Load(), m.Blocks[0])
	}
	for i := range objs {
		if m.Objects[m.Rows[i]] != objs[i] {
			t.Fatalf("object %d maps to row %d holding %v", i, m.Rows[i], m.Objects[m.Rows[i]])
		}
	}
	checkRows(t, m, enc)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Warm: a fresh process would see the same; the encoder is never called.
	s2 := openTest(t, dir)
	warm := newHashEncoder("text", 16)
	m2, err := Fill(ctx, []Spec{{Encoder: warm}}, objs, FillOptions{Store: s2, Progress: ProgressOff})
	if err != nil {
		t.Fatal(err)
	}
	if warm.calls.Load() != 0 || m2.Blocks[0].Hits != 700 {
		t.Fatalf("warm run called Encode %d times, block %+v", warm.calls.Load(), m2.Blocks[0])
	}
	if !mat.Equal(m.X, m2.X) {
		t.Fatal("warm matrix differs from cold")
	}
	row, ok, err := m2.Row("sentence number 5")
	if err != nil || !ok || m2.Objects[row] != "sentence number 5" {
		t.Fatalf("Row: %d %v %v", row, ok, err)
	}
	meta, _, _ := s2.Meta(enc.fp)
	if meta.Entries != 700 || meta.Dim != 16 || meta.Encoder != "text" || meta.Created.IsZero() {
		t.Fatalf("meta %+v", meta)
	}
}

func TestFillPartialHitsAndPairs(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	enc := newHashEncoder("text", 8)
	train := []simlearn.PairSample{{A: "a", B: "b", Score: 1}, {A: "b", B: "c", Score: 0.5, Subgroup: 2}}
	if _, _, err := FillPairs(ctx, []Spec{{Encoder: enc}}, FillOptions{Store: s, Progress: ProgressOff}, train); err != nil {
		t.Fatal(err)
	}
	val := []simlearn.PairSample{{A: "c", B: "d", Score: 0}}
	enc.encoded.Store(0)
	m, rows, err := FillPairs(ctx, []Spec{{Encoder: enc}}, FillOptions{Store: s, Progress: ProgressOff}, train, val)
	if err != nil {
		t.Fatal(err)
	}
	if enc.encoded.Load() != 1 || m.Blocks[0].Hits != 3 {
		t.Fatalf("only d should be encoded: encoded %d, %+v", enc.encoded.Load(), m.Blocks[0])
	}
	if len(m.Objects) != 4 || m.Objects[rows[1].B[0]] != "d" || m.Objects[rows[0].A[1]] != "b" ||
		rows[0].Scores[1] != 0.5 || rows[0].Subgroups[1] != 2 || rows[0].A[1] != rows[0].B[0] {
		t.Fatalf("rows %+v objects %v", rows, m.Objects)
	}
	checkRows(t, m, enc)

	gm, grows, err := FillGroups(ctx, []Spec{{Encoder: enc}}, FillOptions{Store: s, Progress: ProgressOff},
		[]simlearn.GroupSample{{Obj: "a", Group: 3}, {Obj: "z", Group: 4}})
	if err != nil {
		t.Fatal(err)
	}
	if gm.Objects[grows[0].Rows[1]] != "z" || grows[0].Groups[1] != 4 {
		t.Fatalf("group rows %+v", grows)
	}
}

func TestFillModesConcatenationAndTrainable(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	disk := newHashEncoder("disk", 4)
	memEnc := newHashEncoder("mem", 3)
	none := newHashEncoder("none", 2)
	table, err := models.NewEmbeddingTable(models.EmbeddingTableConfig{Name: "cat", Categories: []string{"x"}, Dim: 5, Field: "cat"})
	if err != nil {
		t.Fatal(err)
	}
	objs := []any{
		map[string]any{"cat": "x", "text": "one"},
		map[string]any{"cat": "y", "text": "two"},
		map[string]any{"text": "one", "cat": "x"},
	}
	specs := []Spec{{Encoder: disk}, {Encoder: table}, {Encoder: memEnc, Mode: MemoryOnly}, {Encoder: none, Mode: NoCache}}
	mem := NewMemory()
	o := FillOptions{Store: s, Memory: mem, Progress: ProgressOff}
	m, err := Fill(ctx, specs, objs, o)
	if err != nil {
		t.Fatal(err)
	}
	if r, c := m.X.Dims(); r != 2 || c != 9 {
		t.Fatalf("matrix %dx%d, want 2x9 (trainable table excluded)", r, c)
	}
	if len(m.Trainable) != 1 || m.Trainable[0] != table || m.Rows[2] != 0 {
		t.Fatalf("trainable %v rows %v", m.Trainable, m.Rows)
	}
	if b := m.Blocks; len(b) != 3 || b[1].Offset != 4 || b[2].Offset != 7 || b[1].Mode != MemoryOnly {
		t.Fatalf("blocks %+v", b)
	}
	checkRows(t, m, disk, memEnc, none)
	if mem.Len() != 2 {
		t.Fatalf("memory holds %d", mem.Len())
	}
	st, _ := s.Stats(ctx)
	if len(st) != 1 || st[0].Meta.Fingerprint != disk.fp {
		t.Fatalf("only the disk encoder may reach the store: %+v", st)
	}

	// Again with the same Memory: only the NoCache encoder runs.
	for _, e := range []*hashEncoder{disk, memEnc, none} {
		e.calls.Store(0)
	}
	m2, err := Fill(ctx, specs, objs, o)
	if err != nil {
		t.Fatal(err)
	}
	if disk.calls.Load() != 0 || memEnc.calls.Load() != 0 || none.calls.Load() != 1 {
		t.Fatalf("calls disk %d mem %d none %d", disk.calls.Load(), memEnc.calls.Load(), none.calls.Load())
	}
	if !mat.Equal(m.X, m2.X) {
		t.Fatal("second fill differs")
	}
	// A fresh Memory encodes the memory-only encoder again.
	o.Memory = nil
	if _, err := Fill(ctx, specs, objs, o); err != nil {
		t.Fatal(err)
	}
	if memEnc.calls.Load() != 1 {
		t.Fatalf("fresh memory: %d calls", memEnc.calls.Load())
	}
	// Disk mode needs a store.
	if _, err := Fill(ctx, specs, objs, FillOptions{Progress: ProgressOff}); err == nil || !strings.Contains(err.Error(), "Store is nil") {
		t.Fatalf("nil store: %v", err)
	}
}

func TestDimensionMismatchIsAnError(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	a := newHashEncoder("text", 8)
	if _, err := Fill(ctx, []Spec{{Encoder: a}}, texts(10), FillOptions{Store: s, Progress: ProgressOff}); err != nil {
		t.Fatal(err)
	}
	b := newHashEncoder("text", 12)
	b.fp = a.fp // same fingerprint, other dimension
	_, err := Fill(ctx, []Spec{{Encoder: b}}, texts(10), FillOptions{Store: s, Progress: ProgressOff})
	if err == nil || !strings.Contains(err.Error(), "dimension 8") || b.calls.Load() != 0 {
		t.Fatalf("dimension mismatch: %v (calls %d)", err, b.calls.Load())
	}
	if err := s.Put(ctx, a.fp, [][]byte{[]byte("k")}, [][]float32{make([]float32, 7)}); err == nil || !strings.Contains(err.Error(), "length 7, want 8") {
		t.Fatalf("short vector: %v", err)
	}
	mem := NewMemory()
	if _, err := Fill(ctx, []Spec{{Encoder: a, Mode: MemoryOnly}}, texts(2), FillOptions{Memory: mem, Progress: ProgressOff}); err != nil {
		t.Fatal(err)
	}
	if _, err := Fill(ctx, []Spec{{Encoder: b, Mode: MemoryOnly}}, texts(2), FillOptions{Memory: mem, Progress: ProgressOff}); err == nil {
		t.Fatal("memory: dimension mismatch accepted")
	}
}

func TestFailedBatchLeavesNothingPartial(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	// A wrong-length vector in the third batch: that batch is rejected
	// whole; the error names the object.
	enc := newHashEncoder("text", 8)
	objs := texts(100)
	enc.failAfter = 0
	bad := newHashEncoder("text", 8)
	bad.badLenAt = 3
	_, err := Fill(ctx, []Spec{{Encoder: bad}}, objs, FillOptions{Store: s, BatchSize: 10, Progress: ProgressOff})
	var oe *ObjectError
	if !errors.As(err, &oe) || oe.Sample != "object 3" || !strings.Contains(err.Error(), "length 7") {
		t.Fatalf("bad length: %v", err)
	}
	// An encoder failing after 35 objects: whole batches before it are
	// written, none of the failing one.
	enc.failAfter = 35
	_, err = Fill(ctx, []Spec{{Encoder: enc}}, objs, FillOptions{Store: s, BatchSize: 10, WriteBatch: 10, Progress: ProgressOff})
	if err == nil || !strings.Contains(err.Error(), "simulated encoder failure") || !strings.Contains(err.Error(), "from object 30") {
		t.Fatalf("encoder failure: %v", err)
	}
	rep, err := s.Verify(ctx)
	if err != nil || !rep.OK() {
		t.Fatalf("verify after failures: %v %v", rep.Problems, err)
	}
	st, _ := s.Stats(ctx)
	if len(st) != 1 || st[0].Entries%10 != 0 || st[0].Entries > 30 || st[0].Entries != st[0].Meta.Entries {
		t.Fatalf("after failures: %+v", st)
	}
	// A rerun completes; every vector is right.
	enc.failAfter = 0
	m, err := Fill(ctx, []Spec{{Encoder: enc}}, objs, FillOptions{Store: s, Progress: ProgressOff})
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, m, enc)
}

func TestBadKeysNameTheSample(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	enc := newHashEncoder("text", 4)
	train := []simlearn.PairSample{{A: "a", B: "b"}}
	val := []simlearn.PairSample{{A: "c", B: "d"}, {A: "e", B: make(chan int)}}
	_, _, err := FillPairs(ctx, []Spec{{Encoder: enc}}, FillOptions{Store: s, Progress: ProgressOff}, train, val)
	if err == nil || !strings.Contains(err.Error(), "validation sample 1 field B") || !strings.Contains(err.Error(), `"text"`) {
		t.Fatalf("uncanonicalisable object: %v", err)
	}
	emptyFor := func(o any) ([]byte, error) {
		if o == "c" {
			return nil, nil
		}
		return []byte(fmt.Sprint(o)), nil
	}
	_, _, err = FillPairs(ctx, []Spec{{Encoder: enc, Key: emptyFor}}, FillOptions{Store: s, Progress: ProgressOff}, train, val[:1])
	if err == nil || !strings.Contains(err.Error(), "validation sample 0 field A") || !strings.Contains(err.Error(), "empty key") {
		t.Fatalf("empty key: %v", err)
	}
	_, _, err = FillGroups(ctx, []Spec{{Encoder: enc}}, FillOptions{Store: s, Progress: ProgressOff},
		[]simlearn.GroupSample{{Obj: "ok"}, {Obj: "bad\xff"}})
	if err == nil || !strings.Contains(err.Error(), "train sample 1") || !strings.Contains(err.Error(), "UTF-8") {
		t.Fatalf("invalid UTF-8: %v", err)
	}
	if enc.calls.Load() != 0 {
		t.Fatal("encoder called despite bad keys")
	}
	// A custom key function: objects with the same key share one entry.
	byFirst := func(o any) ([]byte, error) { return []byte(fmt.Sprint(o)[:1]), nil }
	m, err := Fill(ctx, []Spec{{Encoder: enc, Key: byFirst}}, []any{"apple", "avocado", "banana"}, FillOptions{Store: s, Progress: ProgressOff})
	if err != nil || len(m.Objects) != 2 || enc.encoded.Load() != 2 {
		t.Fatalf("custom key: %v objects %v", err, m.Objects)
	}
}

func TestConcurrentFillsInOneProcess(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	enc := newHashEncoder("text", 8)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Overlapping sets: objects g*50 .. g*50+199.
			objs := texts(200 + g*50)[g*50:]
			e := newHashEncoder("text", 8)
			m, err := Fill(ctx, []Spec{{Encoder: e}}, objs, FillOptions{Store: s, BatchSize: 16, Progress: ProgressOff})
			if err == nil {
				for r, o := range m.Objects {
					v, _ := enc.vector(o)
					if m.X.At(r, 0) != float64(v[0]) {
						err = fmt.Errorf("goroutine %d row %d wrong", g, r)
					}
				}
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	rep, err := s.Verify(ctx)
	if err != nil || !rep.OK() || rep.Entries != 550 {
		t.Fatalf("verify: %+v %v", rep, err)
	}
}

func TestProgressLogLines(t *testing.T) {
	var buf strings.Builder
	var mu sync.Mutex
	log := slogTo(&buf, &mu)
	s := openTest(t, t.TempDir())
	enc := newHashEncoder("text", 4)
	if _, err := Fill(context.Background(), []Spec{{Encoder: enc}}, texts(30), FillOptions{Store: s, Progress: ProgressLog, Logger: log}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if out := buf.String(); !strings.Contains(out, "msg=encoded") || !strings.Contains(out, "done=30 total=30") || !strings.Contains(out, "rate_per_s=") {
		t.Fatalf("progress log: %q", out)
	}
}

func TestFillStopsBeforeTheDiskIsFull(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	free, err := freeBytes(dir)
	if err != nil {
		t.Fatal(err)
	}
	// A reserve above the free space: as if the disk were full.
	s, err := Open(dir, Options{Logger: quiet(), ReserveBytes: free + 1<<40})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	enc := newHashEncoder("text", 8)
	_, err = Fill(ctx, []Spec{{Encoder: enc}}, texts(40), FillOptions{Store: s, BatchSize: 10, Progress: ProgressOff})
	if !errors.Is(err, ErrDiskFull) || !strings.Contains(err.Error(), "bytes free") {
		t.Fatalf("fill on a full disk: %v", err)
	}
	rep, err := s.Verify(ctx)
	if err != nil || !rep.OK() || rep.Entries != 0 {
		t.Fatalf("verify: %+v %v", rep, err)
	}
}

func TestPacksServeRepeatRuns(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	enc := newHashEncoder("text", 8)
	objs := texts(packMinKeys + 300)
	o := FillOptions{Store: s, Progress: ProgressOff}
	cold, err := Fill(ctx, []Spec{{Encoder: enc}}, objs, o)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := s.Stats(ctx)
	if st[0].Packs != 1 || st[0].PackBytes < int64(len(objs)*8*4) {
		t.Fatalf("after the cold run: %+v", st[0])
	}
	// The same objects again: served by the pack, bit for bit.
	warm, err := Fill(ctx, []Spec{{Encoder: enc}}, objs, o)
	if err != nil {
		t.Fatal(err)
	}
	if !mat.Equal(cold.X, warm.X) || warm.Blocks[0].Hits != len(objs) {
		t.Fatal("pack load differs")
	}
	checkRows(t, warm, enc)
	// Other orders: per-key loads, each leaving a pack; four are kept.
	for r := range 5 {
		rot := append(append([]any{}, objs[r+1:]...), objs[:r+1]...)
		m, err := Fill(ctx, []Spec{{Encoder: enc}}, rot, o)
		if err != nil {
			t.Fatal(err)
		}
		checkRows(t, m, enc)
	}
	st, _ = s.Stats(ctx)
	rep, err := s.Verify(ctx)
	if st[0].Packs != packsKept || err != nil || !rep.OK() || rep.Packs != packsKept {
		t.Fatalf("packs kept: %+v, verify %+v %v", st[0], rep, err)
	}
	if enc.encoded.Load() != int64(len(objs)) {
		t.Fatalf("encoded %d", enc.encoded.Load())
	}
	// NoPack leaves none for a new order.
	o.NoPack = true
	if _, err := Fill(ctx, []Spec{{Encoder: enc}}, objs[7:], o); err != nil {
		t.Fatal(err)
	}
	if st, _ = s.Stats(ctx); st[0].Packs != packsKept {
		t.Fatalf("NoPack wrote a pack: %+v", st[0])
	}
	if _, err := s.Remove(ctx, enc.fp); err != nil {
		t.Fatal(err)
	}
	if st, _ = s.Stats(ctx); len(st) != 0 {
		t.Fatalf("after Remove: %+v", st)
	}
}

// prepEncoder splits its work like a tokenizer and a model.
type prepEncoder struct {
	*hashEncoder
	prepared atomic.Int64
}

func (p *prepEncoder) Prepare(_ context.Context, objs []any) (any, error) {
	p.prepared.Add(int64(len(objs)))
	return objs, nil
}

func (p *prepEncoder) EncodePrepared(ctx context.Context, prepared any) ([][]float32, error) {
	return p.hashEncoder.Encode(ctx, prepared.([]any))
}

func TestPreparerPipeline(t *testing.T) {
	s := openTest(t, t.TempDir())
	enc := &prepEncoder{hashEncoder: newHashEncoder("text", 8)}
	m, err := Fill(context.Background(), []Spec{{Encoder: enc}}, texts(333), FillOptions{Store: s, BatchSize: 32, Progress: ProgressOff})
	if err != nil {
		t.Fatal(err)
	}
	if enc.prepared.Load() != 333 || enc.calls.Load() != 11 {
		t.Fatalf("prepared %d, model calls %d", enc.prepared.Load(), enc.calls.Load())
	}
	checkRows(t, m, enc.hashEncoder)
}
