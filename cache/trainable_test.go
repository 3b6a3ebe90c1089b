package cache

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/simlearn/simlearn"
	"github.com/simlearn/simlearn/fit"
	"github.com/simlearn/simlearn/head"
	"github.com/simlearn/simlearn/loss"
	"github.com/simlearn/simlearn/models"
)

// A frozen encoder cached on disk and a trainable embedding table, from one
// FillGroups to fit.Fit: the matrix holds the frozen columns only, the
// table is trained on the rows' objects, and the group (a function of the
// category alone; the frozen vectors are hashes, noise for this task) is
// learnt, where the frozen columns alone do not get near.
func TestFillGroupsThenFitWithTrainableTable(t *testing.T) {
	ctx := context.Background()
	const groups, catsPerGroup, frozenDim, tabDim = 4, 3, 8, 4
	var cats []string
	for c := range groups * catsPerGroup {
		cats = append(cats, fmt.Sprintf("c%02d", c))
	}
	samples := func(per int, text string) []simlearn.GroupSample {
		var out []simlearn.GroupSample
		for i := range per * len(cats) {
			c := i % len(cats)
			out = append(out, simlearn.GroupSample{
				Obj:   map[string]any{"text": fmt.Sprintf("%s %d", text, i), "cat": cats[c]},
				Group: c % groups,
			})
		}
		return out
	}
	train, val := samples(6, "train item"), samples(3, "validation item")

	text := newHashEncoder("text", frozenDim)
	table, err := models.NewEmbeddingTable(models.EmbeddingTableConfig{Name: "cat", Field: "cat", Categories: cats, Dim: tabDim, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	s := openTest(t, t.TempDir())
	m, rows, err := FillGroups(ctx, []Spec{{Encoder: text}, {Encoder: table}}, FillOptions{Store: s, Progress: ProgressOff}, train, val)
	if err != nil {
		t.Fatal(err)
	}
	if r, c := m.X.Dims(); r != len(train)+len(val) || c != frozenDim {
		t.Fatalf("matrix %dx%d, want %dx%d (frozen columns only)", r, c, len(train)+len(val), frozenDim)
	}
	var trainable []fit.TrainableEncoder
	for _, e := range m.Trainable {
		te, ok := e.(fit.TrainableEncoder)
		if !ok {
			t.Fatalf("trainable encoder %q (%T) does not satisfy fit.TrainableEncoder", e.Name(), e)
		}
		trainable = append(trainable, te)
	}
	data := func(gr GroupRows) *fit.GroupData {
		return &fit.GroupData{X: m.X, Rows: gr.Rows, Groups: gr.Groups, Objects: m.Objects}
	}
	run := func(h head.Head, trainable []fit.TrainableEncoder) *fit.Result {
		t.Helper()
		res, err := fit.Fit(ctx, fit.Config{
			Head: h, GroupLoss: loss.NewTriplet(), Optimizer: fit.NewAdam(1e-2), Trainable: trainable,
			Epochs: 40, BatchSize: 24, PerGroup: 6, Seed: 1, Logger: quiet(), Quiet: true,
			EarlyStopping: fit.EarlyStopping{Monitor: "val_r_precision", Patience: -1},
		}, data(rows[0]), data(rows[1]))
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	newHead := func(in int) head.Head {
		h, err := head.New(head.Config{Kind: head.KindLinear, Out: 8}, in, 3)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}

	frozenOnly := run(newHead(frozenDim), nil)
	w0 := slices.Clone(table.Params()[0].Value.RawMatrix().Data)
	res := run(newHead(frozenDim+tabDim), trainable)
	first := res.History[0].Values["val_r_precision"]
	t.Logf("validation R-precision: frozen only best %.3f; frozen + table %.3f after epoch 1, best %.3f at epoch %d",
		frozenOnly.Best, first, res.Best, res.BestEpoch)
	if slices.Equal(w0, table.Params()[0].Value.RawMatrix().Data) {
		t.Fatal("the table's weights did not change")
	}
	if res.Best < 0.9 {
		t.Fatalf("with the table the best validation R-precision is %.3f, want >= 0.9", res.Best)
	}
	if frozenOnly.Best > 0.5 {
		t.Fatalf("the frozen hash columns alone reach R-precision %.3f: they should be noise here", frozenOnly.Best)
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 1 || st[0].Meta.Fingerprint != text.fp || st[0].Entries != int64(len(train)+len(val)) {
		t.Fatalf("the store must hold the frozen encoder's %d vectors only: %+v", len(train)+len(val), st)
	}
}
