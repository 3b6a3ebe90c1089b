package fit

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/simlearn/simlearn/head"
	"github.com/simlearn/simlearn/loss"
)

func smallGroups(t *testing.T) (train, val *GroupData) {
	t.Helper()
	return newHidden(5, 16, 4, 0.5).clusters(6, 12, 4, 0.2)
}

// baseConfig exercises most of the loop: AdamW, a schedule, clipping, XBM.
func baseConfig(t *testing.T, dir string) Config {
	return Config{
		Head:      skipHead(t, 16),
		GroupLoss: loss.NewTriplet(),
		Optimizer: NewAdamW(1e-2, 0.01),
		Schedule:  Schedule{Kind: Linear, Warmup: 3},
		ClipNorm:  1,
		Epochs:    5, BatchSize: 12, PerGroup: 3, Seed: 42,
		XBM:    &XBM{Size: 30, Start: 2, Weight: 0.5},
		Dir:    dir,
		Logger: quiet, Quiet: true,
		EarlyStopping: EarlyStopping{Monitor: "val_r_precision", Patience: -1},
	}
}

func weights(h head.Head) []float64 {
	var out []float64
	for _, p := range h.Params() {
		out = append(out, p.Value.RawMatrix().Data...)
	}
	return out
}

func sameBits(t *testing.T, what string, a, b []float64) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%s: %d vs %d values", what, len(a), len(b))
	}
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			t.Fatalf("%s: value %d differs: %v vs %v", what, i, a[i], b[i])
		}
	}
}

func stripTimes(h History) History {
	out := append(History(nil), h...)
	for i := range out {
		out[i].Seconds = 0
	}
	return out
}

// cancelAfter is the triplet loss, cancelling ctx on its n-th training call.
type cancelAfter struct {
	*loss.Triplet
	n      int
	cancel context.CancelFunc
}

func (c *cancelAfter) Loss(e *mat.Dense, groups []int) (float64, *mat.Dense, error) {
	c.n--
	if c.n == 0 {
		c.cancel()
	}
	return c.Triplet.Loss(e, groups)
}

// A run stopped after epoch 2 (or in the middle of epoch 3) and resumed ends
// with the same weights, bit for bit, and the same history as a run that was
// never interrupted.
func TestResumeBitExact(t *testing.T) {
	train, val := smallGroups(t)
	ref := baseConfig(t, t.TempDir())
	want, err := Fit(context.Background(), ref, train, val)
	if err != nil {
		t.Fatal(err)
	}
	wantW := weights(ref.Head)

	t.Run("after epoch 2", func(t *testing.T) {
		dir := t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		cfg := baseConfig(t, dir)
		cfg.OnEpoch = func(s EpochStats) {
			if s.Epoch == 2 {
				cancel()
			}
		}
		res, err := Fit(ctx, cfg, train, val)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("want a cancellation error, got %v", err)
		}
		if len(res.History) != 2 {
			t.Fatalf("cancelled run has %d epochs", len(res.History))
		}
		resumed := baseConfig(t, dir)
		resumed.Head, _ = head.New(head.Config{Kind: head.KindSkipConnection}, 16, 999) // other init: the checkpoint must win
		resumed.Resume = true
		got, err := Fit(context.Background(), resumed, train, val)
		if err != nil {
			t.Fatal(err)
		}
		sameBits(t, "weights", wantW, weights(resumed.Head))
		checkSameHistory(t, want, got)
	})
	t.Run("mid epoch", func(t *testing.T) {
		dir := t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		cfg := baseConfig(t, dir)
		// 6 groups of 12 in batches of 4 groups x 3: 6 batches per epoch,
		// and validation calls the loss too; stop inside epoch 3.
		// Arm the loss once epoch 2 is done: it cancels on its third
		// call, in epoch 3's third batch, which completes.
		ca := &cancelAfter{Triplet: loss.NewTriplet(), n: -1, cancel: cancel}
		cfg.GroupLoss = ca
		cfg.XBM.Loss = loss.NewTriplet()
		cfg.OnEpoch = func(s EpochStats) {
			if s.Epoch == 2 {
				ca.n = 3
			}
		}
		_, err := Fit(ctx, cfg, train, val)
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "epoch 3 after 3 batches") {
			t.Fatalf("want a cancellation inside epoch 3, got %v", err)
		}
		resumed := baseConfig(t, dir)
		resumed.Resume = true
		got, err := Fit(context.Background(), resumed, train, val)
		if err != nil {
			t.Fatal(err)
		}
		sameBits(t, "weights", wantW, weights(resumed.Head))
		checkSameHistory(t, want, got)
	})
}

func checkSameHistory(t *testing.T, want, got *Result) {
	t.Helper()
	a, _ := json.Marshal(stripTimes(want.History))
	b, _ := json.Marshal(stripTimes(got.History))
	if !bytes.Equal(a, b) {
		t.Fatalf("histories differ:\n%s\n%s", a, b)
	}
	if want.BestEpoch != got.BestEpoch || want.Best != got.Best {
		t.Fatalf("best %v@%d vs %v@%d", want.Best, want.BestEpoch, got.Best, got.BestEpoch)
	}
}

func TestCheckpointMismatch(t *testing.T) {
	train, val := smallGroups(t)
	dir := t.TempDir()
	cfg := baseConfig(t, dir)
	cfg.Epochs = 1
	if _, err := Fit(context.Background(), cfg, train, val); err != nil {
		t.Fatal(err)
	}
	cfg = baseConfig(t, dir)
	cfg.Resume, cfg.BatchSize = true, 18
	if _, err := Fit(context.Background(), cfg, train, val); err == nil || !strings.Contains(err.Error(), "batch size") {
		t.Fatalf("want a batch size mismatch, got %v", err)
	}
	cfg = baseConfig(t, dir)
	cfg.Resume, cfg.Optimizer = true, NewSGD(0.1)
	if _, err := Fit(context.Background(), cfg, train, val); err == nil || !strings.Contains(err.Error(), "optimiser state") {
		t.Fatalf("want an optimiser mismatch, got %v", err)
	}
}

func TestOutputFiles(t *testing.T) {
	train, val := smallGroups(t)
	dir := filepath.Join(t.TempDir(), "run")
	cfg := baseConfig(t, dir)
	cfg.Epochs = 3
	res, err := Fit(context.Background(), cfg, train, val)
	if err != nil {
		t.Fatal(err)
	}
	var h History
	b, err := os.ReadFile(filepath.Join(dir, HistoryJSON))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &h); err != nil || len(h) != 3 {
		t.Fatalf("history.json: %v, %d epochs", err, len(h))
	}
	for _, n := range []string{"train_loss", "val_loss", "val_r_precision", "val_mrr", "val_map@r"} {
		if _, ok := h[2].Values[n]; !ok {
			t.Fatalf("history lacks %s: %v", n, h[2].Values)
		}
	}
	f, _ := os.Open(filepath.Join(dir, HistoryCSV))
	recs, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(recs) != 4 || recs[0][0] != "epoch" || recs[0][3] != "train_loss" || recs[0][4] != "val_loss" {
		t.Fatalf("history.csv: %v %v", err, recs)
	}
	f, _ = os.Open(filepath.Join(dir, HistoryPNG))
	img, err := png.Decode(f)
	f.Close()
	if err != nil || img.Bounds().Dx() < 100 {
		t.Fatalf("history.png: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, CheckpointFile)); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 4 {
		t.Fatalf("left temporary files: %v", entries)
	}
	if res.Monitor != "val_r_precision" || res.BestEpoch == 0 {
		t.Fatalf("result %+v", res)
	}
}

// With a zero learning rate nothing improves: training stops after the
// first epoch plus Patience epochs.
func TestEarlyStopping(t *testing.T) {
	train, val := smallGroups(t)
	cfg := baseConfig(t, "")
	cfg.XBM, cfg.Optimizer, cfg.Epochs = nil, NewSGD(0), 20
	cfg.EarlyStopping = EarlyStopping{}
	res, err := Fit(context.Background(), cfg, train, val)
	if err != nil {
		t.Fatal(err)
	}
	if !res.StoppedEarly || len(res.History) != 4 || res.Monitor != "val_loss" || res.BestEpoch != 1 {
		t.Fatalf("stopped %v after %d epochs, monitor %s, best epoch %d", res.StoppedEarly, len(res.History), res.Monitor, res.BestEpoch)
	}
}

// A loss's own parameters (ArcFace's class matrix) are trained too.
func TestLossParamsTrained(t *testing.T) {
	train, _ := smallGroups(t)
	arc := loss.NewArcFace(6, 16, 3)
	before := mat.DenseCopyOf(arc.W.Value)
	cfg := Config{Head: skipHead(t, 16), GroupLoss: arc, Epochs: 2, BatchSize: 16, Logger: quiet, Quiet: true}
	if _, err := Fit(context.Background(), cfg, train, nil); err != nil {
		t.Fatal(err)
	}
	if mat.Equal(before, arc.W.Value) {
		t.Fatal("ArcFace's class matrix did not change")
	}
}

func TestXBMChangesTraining(t *testing.T) {
	train, val := smallGroups(t)
	a, b := baseConfig(t, ""), baseConfig(t, "")
	a.XBM = nil
	if _, err := Fit(context.Background(), a, train, val); err != nil {
		t.Fatal(err)
	}
	if _, err := Fit(context.Background(), b, train, val); err != nil {
		t.Fatal(err)
	}
	wa, wb := weights(a.Head), weights(b.Head)
	same := true
	for i := range wa {
		same = same && wa[i] == wb[i]
	}
	if same {
		t.Fatal("the memory loss had no effect")
	}
}

// The memory fills like Quaterion's XbmBuffer: a batch that does not fit
// is written over the last rows and the pointer returns to 0.
func TestMemoryRing(t *testing.T) {
	m := newMemory(5, 1)
	batch := func(vals ...float64) *mat.Dense { return mat.NewDense(len(vals), 1, vals) }
	m.push(batch(1, 2), []int{1, 2})
	m.push(batch(3, 4), []int{3, 4})
	if m.len() != 4 {
		t.Fatalf("len %d", m.len())
	}
	m.push(batch(5, 6), []int{5, 6})
	x, g := m.contents()
	if !m.full || m.ptr != 0 || !mat.Equal(x, batch(1, 2, 3, 5, 6)) || g[4] != 6 {
		t.Fatalf("after wrap: %v %v ptr %d", mat.Formatted(x.T()), g, m.ptr)
	}
	m.push(batch(7), []int{7})
	x, _ = m.contents()
	if !mat.Equal(x, batch(7, 2, 3, 5, 6)) {
		t.Fatalf("after refill: %v", mat.Formatted(x.T()))
	}
	m.push(batch(8, 9, 10, 11, 12, 13), []int{8, 9, 10, 11, 12, 13})
	if x, _ = m.contents(); !mat.Equal(x, batch(9, 10, 11, 12, 13)) {
		t.Fatalf("oversized batch: %v", mat.Formatted(x.T()))
	}
}

func TestBadInput(t *testing.T) {
	train, val := smallGroups(t)
	good := func() Config {
		return Config{Head: skipHead(t, 16), GroupLoss: loss.NewTriplet(), Epochs: 1, BatchSize: 8, Logger: quiet, Quiet: true}
	}
	nan := &GroupData{X: mat.DenseCopyOf(train.X), Groups: train.Groups}
	nan.X.Set(5, 3, math.NaN())
	inf := &GroupData{X: mat.DenseCopyOf(train.X), Groups: train.Groups}
	inf.X.Set(7, 0, math.Inf(-1))
	wide := &GroupData{X: mat.NewDense(4, 8, nil), Groups: []int{0, 0, 1, 1}}
	pairs := &PairData{X: train.X, A: []int{0, 1}, B: []int{2, 3}}
	cases := []struct {
		name  string
		cfg   func(*Config)
		train Dataset
		val   Dataset
		want  string
	}{
		{"batch size 0", func(c *Config) { c.BatchSize = 0 }, train, nil, "BatchSize is 0"},
		{"epochs 0", func(c *Config) { c.Epochs = 0 }, train, nil, "Epochs is 0"},
		{"no head", func(c *Config) { c.Head = nil }, train, nil, "Head is nil"},
		{"empty", nil, &GroupData{X: mat.NewDense(1, 16, nil), Rows: []int{}, Groups: []int{}}, nil, "empty dataset"},
		{"nil data", nil, nil, nil, "no training data"},
		{"dimension", nil, wide, nil, "8 columns but the head takes 16"},
		{"val dimension", nil, train, wide, "validation embeddings have 8 columns"},
		{"nan", nil, nan, nil, "sample 5: embedding row 5 column 3 is NaN"},
		{"inf in val", nil, train, inf, "validation data: group data: sample 7: embedding row 7 column 0 is -Inf"},
		{"row out of range", nil, &GroupData{X: train.X, Rows: []int{0, 999}, Groups: []int{0, 1}}, nil, "row 999 outside"},
		{"lengths", nil, &GroupData{X: train.X, Rows: []int{0, 1}, Groups: []int{0}}, nil, "2 rows but 1 groups"},
		{"pairs without pair loss", nil, pairs, nil, "Config.PairLoss is nil"},
		{"pair score", func(c *Config) { c.GroupLoss, c.PairLoss = nil, loss.NewCoSENT() },
			&PairData{X: train.X, A: []int{0}, B: []int{1}, Scores: []float64{1.5}}, nil, "score 1.5"},
		{"monitor without val", func(c *Config) { c.EarlyStopping.Monitor = "val_mrr" }, train, nil, "needs validation data"},
		{"xbm loss", func(c *Config) { c.GroupLoss, c.XBM = loss.NewCircle(), DefaultXBM() }, train, nil, "LossAgainst"},
		{"xbm size", func(c *Config) { c.XBM = &XBM{Weight: 1} }, train, nil, "XBM size 0"},
		{"per group", func(c *Config) { c.PerGroup = 3 }, train, nil, "multiple of 3"},
		{"resume without dir", func(c *Config) { c.Resume = true }, train, nil, "Resume needs Config.Dir"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := good()
			if c.cfg != nil {
				c.cfg(&cfg)
			}
			_, err := Fit(context.Background(), cfg, c.train, c.val)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
	_ = val
}

// A step that would make weights non-finite aborts, naming the epoch and
// batch, and the head keeps finite weights.
func TestNonFiniteGuard(t *testing.T) {
	train, _ := smallGroups(t)
	h := skipHead(t, 16)
	cfg := Config{Head: h, GroupLoss: loss.NewTriplet(), Optimizer: NewAdam(math.MaxFloat64), Epochs: 3, BatchSize: 12, PerGroup: 3, Logger: quiet, Quiet: true}
	_, err := Fit(context.Background(), cfg, train, nil)
	if err == nil || !strings.Contains(err.Error(), "epoch 1 batch 1: head/fc_0.weight after the optimiser step is +Inf") {
		t.Fatalf("want a non-finite error naming the batch, got %v", err)
	}
	t.Log(err)
	for _, v := range weights(h) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatal("the head has non-finite weights")
		}
	}
}

// A damaged checkpoint (best weights of the wrong length, a cross-batch memory
// position out of range) is refused with an error, never a panic or a
// partly restored model.
func TestCheckpointDamaged(t *testing.T) {
	train, val := smallGroups(t)
	dir := t.TempDir()
	cfg := baseConfig(t, dir)
	cfg.Epochs = 3
	if _, err := Fit(context.Background(), cfg, train, val); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, CheckpointFile)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, want string
		edit       func(c map[string]any)
	}{
		{"short best weights", "best weights of", func(c map[string]any) { c["best"].([]any)[0] = "" }},
		{"memory position", "memory position", func(c map[string]any) { c["memory"].(map[string]any)["ptr"] = 1000 }},
		{"negative memory position", "memory position", func(c map[string]any) { c["memory"].(map[string]any)["ptr"] = -1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c map[string]any
			if err := json.Unmarshal(orig, &c); err != nil {
				t.Fatal(err)
			}
			if c["best"] == nil || c["memory"] == nil {
				t.Fatalf("checkpoint lacks best weights or memory: %v", c["best"] == nil)
			}
			tc.edit(c)
			b, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			cfg := baseConfig(t, dir)
			cfg.Epochs, cfg.Resume = 4, true
			if _, err := Fit(context.Background(), cfg, train, val); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an error containing %q, got %v", tc.want, err)
			}
		})
	}
}

func TestStacked(t *testing.T) {
	m := mat.NewDense(5, 3, nil)
	for i := range m.RawMatrix().Data {
		m.RawMatrix().Data[i] = float64(i)
	}
	a, b := rowsView(m, 0, 2), rowsView(m, 2, 5)
	s := stacked(a, b)
	if s == nil || !mat.Equal(s, m) {
		t.Fatalf("stacked(rows 0-1, rows 2-4) = %v, want the whole matrix", s)
	}
	for _, c := range []struct {
		name string
		a, b *mat.Dense
	}{
		{"gap", rowsView(m, 0, 2), rowsView(m, 3, 5)},
		{"reversed", rowsView(m, 2, 5), rowsView(m, 0, 2)},
		{"other matrix", rowsView(m, 0, 2), mat.NewDense(3, 3, nil)},
	} {
		if s := stacked(c.a, c.b); s != nil {
			t.Errorf("%s: stacked = %v, want nil", c.name, s)
		}
	}
	// Column views with the same stride do follow each other: the result is
	// the 5x2 view.
	if s := stacked(m.Slice(0, 2, 0, 2).(*mat.Dense), m.Slice(2, 5, 0, 2).(*mat.Dense)); s == nil || !mat.Equal(s, m.Slice(0, 5, 0, 2)) {
		t.Errorf("stacked column views = %v, want the 5x2 view", s)
	}
}
