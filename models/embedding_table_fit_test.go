package models_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/simlearn/simlearn/eval"
	"github.com/simlearn/simlearn/fit"
	"github.com/simlearn/simlearn/head"
	"github.com/simlearn/simlearn/loss"
	"github.com/simlearn/simlearn/models"
)

// These tests train a models.EmbeddingTable with fit.Fit, beside frozen
// columns, with the gradient reaching the table through the head.

var _ fit.TrainableEncoder = (*models.EmbeddingTable)(nil)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// catData is group data whose label is a function of a categorical field
// only: category c belongs to group c % groups, and the frozen columns are
// independent noise.
type catData struct {
	cats   []string
	groups int
	noise  int // frozen columns
	rng    *rand.Rand
}

func newCatData(seed uint64, groups, catsPerGroup, noise int) *catData {
	d := &catData{groups: groups, noise: noise, rng: rand.New(rand.NewPCG(seed, 17))}
	for c := range groups * catsPerGroup {
		d.cats = append(d.cats, fmt.Sprintf("c%02d", c))
	}
	return d
}

// samples returns per samples of every category: frozen noise X, the
// objects of its rows, and their groups.
func (d *catData) samples(per int) *fit.GroupData {
	n := per * len(d.cats)
	x := mat.NewDense(n, d.noise, nil)
	g := &fit.GroupData{X: x}
	scale := 1 / math.Sqrt(float64(d.noise))
	for i := range n {
		c := i % len(d.cats)
		for j := range d.noise {
			x.Set(i, j, d.rng.NormFloat64()*scale)
		}
		g.Objects = append(g.Objects, map[string]any{"id": float64(i), "cat": d.cats[c]})
		g.Groups = append(g.Groups, c%d.groups)
	}
	return g
}

func newTable(t testing.TB, cats []string, dim int, seed uint64) *models.EmbeddingTable {
	t.Helper()
	tab, err := models.NewEmbeddingTable(models.EmbeddingTableConfig{Name: "cat", Field: "cat", Categories: cats, Dim: dim, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

func newHead(t testing.TB, cfg head.Config, in int, seed uint64) head.Head {
	t.Helper()
	h, err := head.New(cfg, in, seed)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// heldOutRPrecision embeds d the way a served model would (the table's
// float32 Encode output after the frozen columns, then the head) and scores
// retrieval by group.
func heldOutRPrecision(t *testing.T, h head.Head, tab *models.EmbeddingTable, d *fit.GroupData) float64 {
	t.Helper()
	n, c := d.X.Dims()
	in := d.X
	if tab != nil {
		vs, err := tab.Encode(context.Background(), d.Objects)
		if err != nil {
			t.Fatal(err)
		}
		in = mat.NewDense(n, c+tab.Dim(), nil)
		for i := range n {
			row := in.RawRowView(i)
			copy(row, d.X.RawRowView(i))
			for j, v := range vs[i] {
				row[c+j] = float64(v)
			}
		}
	}
	res, err := eval.Groups(context.Background(), h.Forward(in, false), d.Groups, eval.Options{K: 10})
	if err != nil {
		t.Fatal(err)
	}
	return res.Metrics[eval.MetricRPrecision]
}

func tableWeights(tab *models.EmbeddingTable) []float64 {
	return append([]float64(nil), tab.Params()[0].Value.RawMatrix().Data...)
}

// The group is only predictable from the category: trained with the table,
// held-out R-precision rises far above a run with the frozen columns alone.
func TestFitTrainsEmbeddingTable(t *testing.T) {
	const groups, tabDim, outDim = 8, 8, 16
	d := newCatData(1, groups, 3, 16)
	train, test := d.samples(10), d.samples(4)
	cfg := func(h head.Head) fit.Config {
		return fit.Config{
			Head: h, GroupLoss: loss.NewTriplet(), Optimizer: fit.NewAdam(1e-2),
			Epochs: 25, BatchSize: 32, PerGroup: 4, Seed: 3, Logger: quiet, Quiet: true,
			EarlyStopping: fit.EarlyStopping{Monitor: "val_r_precision", Patience: -1},
		}
	}

	// Frozen columns only.
	frozenHead := newHead(t, head.Config{Kind: head.KindLinear, Out: outDim}, d.noise, 5)
	if _, err := fit.Fit(context.Background(), cfg(frozenHead), train, test); err != nil {
		t.Fatal(err)
	}
	frozen := heldOutRPrecision(t, frozenHead, nil, test)

	// Frozen columns plus the trainable table.
	tab := newTable(t, d.cats, tabDim, 9)
	h := newHead(t, head.Config{Kind: head.KindLinear, Out: outDim}, d.noise+tabDim, 5)
	before := heldOutRPrecision(t, h, tab, test)
	c := cfg(h)
	c.Trainable = []fit.TrainableEncoder{tab}
	res, err := fit.Fit(context.Background(), c, train, test)
	if err != nil {
		t.Fatal(err)
	}
	after := heldOutRPrecision(t, h, tab, test)
	t.Logf("held-out R-precision: frozen only %.3f; with the table %.3f -> %.3f (Fit's best %.3f at epoch %d)", frozen, before, after, res.Best, res.BestEpoch)
	if after < 0.9 {
		t.Fatalf("with the trained table R-precision is %.3f, want >= 0.9", after)
	}
	if frozen > 0.4 {
		t.Fatalf("frozen-only R-precision %.3f: the noise columns should not predict the group", frozen)
	}
	if after-before < 0.4 {
		t.Fatalf("training raised R-precision only from %.3f to %.3f", before, after)
	}
	// Fit's own validation (float64 table rows) agrees with the served path.
	if math.Abs(res.Best-after) > 0.02 {
		t.Fatalf("Fit's best val_r_precision %.4f but the restored model scores %.4f", res.Best, after)
	}
}

// composedLoss is the loss of one batch computed outside Fit: frozen X rows
// and the table's rows side by side, through the head, into the loss.
type composedLoss func() float64

// One SGD step at learning rate 1 moves each table entry by minus its
// gradient, which must equal a central finite difference of the composed
// loss (frozen X + table -> head -> loss) with respect to that entry;
// entries of unused rows must not move.
func TestFitTableGradientMatchesNumeric(t *testing.T) {
	const tabDim, outDim = 4, 6
	d := newCatData(2, 3, 2, 5) // 6 categories; row 0 (unknown) is never used
	hcfg := head.Config{Kind: head.KindLinear, Out: outDim}

	cases := []struct {
		name string
		// setup returns the data, the config's loss fields set on cfg, and
		// the composed loss of the whole data set for the given head and
		// table.
		setup func(cfg *fit.Config) (fit.Dataset, func(h head.Head, tab *models.EmbeddingTable) composedLoss)
	}{
		{"groups, triplet all", func(cfg *fit.Config) (fit.Dataset, func(head.Head, *models.EmbeddingTable) composedLoss) {
			g := d.samples(3)
			tr := loss.NewTriplet()
			tr.Mining = loss.MiningAll
			cfg.GroupLoss = tr
			return g, func(h head.Head, tab *models.EmbeddingTable) composedLoss {
				lf := loss.NewTriplet()
				lf.Mining = loss.MiningAll
				return func() float64 {
					y := h.Forward(compose(t, g.X, tab, g.Objects), false)
					l, _, err := lf.Loss(y, g.Groups)
					if err != nil {
						t.Fatal(err)
					}
					return l
				}
			}
		}},
		{"pairs, multiple negatives ranking", func(cfg *fit.Config) (fit.Dataset, func(head.Head, *models.EmbeddingTable) composedLoss) {
			g := d.samples(2)
			n, _ := g.X.Dims()
			p := &fit.PairData{X: g.X, Objects: g.Objects}
			for i := 0; i+1 < n; i += 2 {
				p.A, p.B = append(p.A, i), append(p.B, i+1)
			}
			cfg.PairLoss = loss.NewMultipleNegativesRanking()
			return p, func(h head.Head, tab *models.EmbeddingTable) composedLoss {
				lf := loss.NewMultipleNegativesRanking()
				m := len(p.A)
				ones, zeros := make([]float64, m), make([]int, m)
				for i := range ones {
					ones[i] = 1
				}
				objs := make([]any, 0, 2*m)
				x := mat.NewDense(2*m, d.noise, nil)
				for k, r := range append(append([]int(nil), p.A...), p.B...) {
					objs = append(objs, p.Objects[r])
					x.SetRow(k, p.X.RawRowView(r))
				}
				return func() float64 {
					y := h.Forward(compose(t, x, tab, objs), false)
					l, _, _, err := lf.Loss(y.Slice(0, m, 0, outDim).(*mat.Dense), y.Slice(m, 2*m, 0, outDim).(*mat.Dense), ones, zeros)
					if err != nil {
						t.Fatal(err)
					}
					return l
				}
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := fit.Config{Optimizer: fit.NewSGD(1), Epochs: 1, Seed: 4, Logger: quiet, Quiet: true, Precision: head.Float64}
			data, lossOf := tc.setup(&cfg)
			cfg.BatchSize = data.Len() // one batch: the step's gradient is the whole set's
			tab := newTable(t, d.cats, tabDim, 11)
			cfg.Head = newHead(t, hcfg, d.noise+tabDim, 12)
			cfg.Trainable = []fit.TrainableEncoder{tab}
			w0 := tableWeights(tab)
			if _, err := fit.Fit(context.Background(), cfg, data, nil); err != nil {
				t.Fatal(err)
			}
			w1 := tableWeights(tab)

			// The same initial head and table, outside Fit.
			ref := newTable(t, d.cats, tabDim, 11)
			L := lossOf(newHead(t, hcfg, d.noise+tabDim, 12), ref)
			w := ref.Params()[0].Value.RawMatrix().Data
			const eps = 1e-5
			var worst float64
			moved := 0
			for i := range w {
				applied := w0[i] - w1[i] // lr 1: minus the gradient
				orig := w[i]
				w[i] = orig + eps
				lp := L()
				w[i] = orig - eps
				lm := L()
				w[i] = orig
				num := (lp - lm) / (2 * eps)
				if i < tabDim { // row 0, unknown: never used
					if applied != 0 {
						t.Fatalf("entry %d of the unused unknown row moved by %v", i, applied)
					}
					continue
				}
				if applied != 0 {
					moved++
				}
				diff := math.Abs(applied - num)
				worst = max(worst, diff/max(1, math.Abs(num)))
				if diff > 1e-6*max(1, math.Abs(num)) {
					t.Fatalf("entry %d (row %d): gradient applied %.10g, numeric %.10g", i, i/tabDim, applied, num)
				}
			}
			t.Logf("%d of %d used entries moved; worst relative difference to the numeric gradient %.2g", moved, len(w)-tabDim, worst)
			if moved < (len(w)-tabDim)/2 {
				t.Fatalf("only %d of %d table entries changed: the gradient does not reach the table", moved, len(w)-tabDim)
			}
		})
	}
}

// compose returns [x | tab.Forward(objs)].
func compose(t *testing.T, x *mat.Dense, tab *models.EmbeddingTable, objs []any) *mat.Dense {
	t.Helper()
	y, err := tab.Forward(objs)
	if err != nil {
		t.Fatal(err)
	}
	n, c := x.Dims()
	out := mat.NewDense(n, c+tab.Dim(), nil)
	out.Slice(0, n, 0, c).(*mat.Dense).Copy(x)
	out.Slice(0, n, c, c+tab.Dim()).(*mat.Dense).Copy(y)
	return out
}

// cancelAfter is the triplet loss, cancelling ctx on its n-th call.
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

// A run with a trainable table stopped after epoch 2, or inside epoch 3,
// and resumed (with a head and a table initialised differently: the
// checkpoint must win) ends with the same head and table, bit for bit, and
// the same history as an uninterrupted run.
func TestFitTableResumeBitExact(t *testing.T) {
	d := newCatData(3, 4, 2, 6)
	train, val := d.samples(6), d.samples(2)
	const tabDim = 4
	base := func(dir string, seed uint64) (fit.Config, *models.EmbeddingTable) {
		tab := newTable(t, d.cats, tabDim, seed)
		return fit.Config{
			Head:      newHead(t, head.Config{Kind: head.KindSkipConnection}, d.noise+tabDim, seed),
			GroupLoss: loss.NewTriplet(), Optimizer: fit.NewAdamW(1e-2, 0.01),
			Schedule: fit.Schedule{Kind: fit.Linear, Warmup: 3}, ClipNorm: 1,
			Epochs: 4, BatchSize: 12, PerGroup: 3, Seed: 42,
			Trainable: []fit.TrainableEncoder{tab}, Dir: dir, Logger: quiet, Quiet: true,
			EarlyStopping: fit.EarlyStopping{Monitor: "val_r_precision", Patience: -1},
		}, tab
	}
	ref, refTab := base(t.TempDir(), 1)
	want, err := fit.Fit(context.Background(), ref, train, val)
	if err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, cfg fit.Config, tab *models.EmbeddingTable, got *fit.Result) {
		t.Helper()
		sameBits(t, "head", weights(ref.Head), weights(cfg.Head))
		sameBits(t, "table", tableWeights(refTab), tableWeights(tab))
		a, _ := json.Marshal(stripTimes(want.History))
		b, _ := json.Marshal(stripTimes(got.History))
		if !bytes.Equal(a, b) {
			t.Fatalf("histories differ:\n%s\n%s", a, b)
		}
	}
	if slices.Equal(tableWeights(refTab), tableWeights(newTable(t, d.cats, tabDim, 1))) {
		t.Fatal("training left the table unchanged")
	}

	t.Run("after epoch 2", func(t *testing.T) {
		dir := t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		cfg, _ := base(dir, 1)
		cfg.OnEpoch = func(s fit.EpochStats) {
			if s.Epoch == 2 {
				cancel()
			}
		}
		if _, err := fit.Fit(ctx, cfg, train, val); !errors.Is(err, context.Canceled) {
			t.Fatalf("want a cancellation, got %v", err)
		}
		resumed, tab := base(dir, 99)
		resumed.Resume = true
		got, err := fit.Fit(context.Background(), resumed, train, val)
		if err != nil {
			t.Fatal(err)
		}
		check(t, resumed, tab, got)
	})
	t.Run("mid epoch", func(t *testing.T) {
		dir := t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		cfg, _ := base(dir, 1)
		ca := &cancelAfter{Triplet: loss.NewTriplet(), n: -1, cancel: cancel}
		cfg.GroupLoss = ca
		cfg.OnEpoch = func(s fit.EpochStats) {
			if s.Epoch == 2 {
				ca.n = 2 // the second training batch of epoch 3
			}
		}
		_, err := fit.Fit(ctx, cfg, train, val)
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "epoch 3 after 2 batches") {
			t.Fatalf("want a cancellation inside epoch 3, got %v", err)
		}
		resumed, tab := base(dir, 99)
		resumed.Resume = true
		got, err := fit.Fit(context.Background(), resumed, train, val)
		if err != nil {
			t.Fatal(err)
		}
		check(t, resumed, tab, got)
	})
	t.Run("other table", func(t *testing.T) {
		// A checkpoint made with a table is refused by a run whose table
		// has another shape.
		dir := t.TempDir()
		cfg, _ := base(dir, 1)
		cfg.Epochs = 1
		if _, err := fit.Fit(context.Background(), cfg, train, val); err != nil {
			t.Fatal(err)
		}
		other, _ := base(dir, 1)
		other.Trainable = []fit.TrainableEncoder{newTable(t, d.cats[:len(d.cats)-1], tabDim, 1)}
		other.Resume = true
		_, err := fit.Fit(context.Background(), other, train, val)
		if err == nil || !strings.Contains(err.Error(), "encoder/cat/cat.weight") {
			t.Fatalf("want an error naming the table's parameter, got %v", err)
		}
	})
}

// Configuration and data errors name what is wrong.
func TestFitTrainableBadInput(t *testing.T) {
	d := newCatData(4, 2, 2, 3)
	train := d.samples(4)
	tab := newTable(t, d.cats, 2, 1)
	good := func() fit.Config {
		return fit.Config{
			Head: newHead(t, head.Config{Kind: head.KindLinear, Out: 4}, d.noise+2, 1), GroupLoss: loss.NewTriplet(),
			Epochs: 1, BatchSize: 8, Trainable: []fit.TrainableEncoder{tab}, Logger: quiet, Quiet: true,
		}
	}
	noObjects := *train
	noObjects.Objects = nil
	shortObjects := *train
	shortObjects.Objects = train.Objects[1:]
	badObject := *train
	badObject.Objects = append([]any(nil), train.Objects...)
	badObject.Objects[5] = map[string]any{"id": 5.0} // no "cat" field
	for _, tc := range []struct {
		name string
		cfg  func() fit.Config
		data *fit.GroupData
		want string
	}{
		{"no objects", good, &noObjects, `training data have no Objects, which trainable encoder "cat" needs`},
		{"objects per row", good, &shortObjects, "15 objects for X's 16 rows"},
		{"head width", func() fit.Config {
			c := good()
			c.Head = newHead(t, head.Config{Kind: head.KindLinear, Out: 4}, d.noise, 1)
			return c
		}, train, "have 3 columns plus 2 from trainable encoders but the head takes 3"},
		{"duplicate names", func() fit.Config {
			c := good()
			c.Trainable = []fit.TrainableEncoder{tab, tab}
			return c
		}, train, `Config.Trainable[0] and [1] are both named "cat"`},
		{"nil encoder", func() fit.Config {
			c := good()
			c.Trainable = []fit.TrainableEncoder{nil}
			return c
		}, train, "Config.Trainable[0] is nil"},
		{"object without the field", good, &badObject, `trainable encoder "cat": object of row 5 of X: `},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := fit.Fit(context.Background(), tc.cfg(), tc.data, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an error containing %q, got %v", tc.want, err)
			}
		})
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

func stripTimes(h fit.History) fit.History {
	out := append(fit.History(nil), h...)
	for i := range out {
		out[i].Seconds = 0
	}
	return out
}

// An embedding table for a categorical field trained beside a frozen
// encoder's columns: the objects of X's rows go in the data's Objects, the
// table in Config.Trainable, and the head takes both widths.
func ExampleEmbeddingTable_training() {
	colors := []string{"red", "orange", "blue", "teal"} // warm: group 0, cool: group 1
	rng := rand.New(rand.NewPCG(1, 2))
	const frozen = 3 // columns of a frozen encoder: noise for this task
	data := &fit.GroupData{X: mat.NewDense(40, frozen, nil)}
	for i := range 40 {
		for j := range frozen {
			data.X.Set(i, j, rng.NormFloat64())
		}
		data.Objects = append(data.Objects, map[string]any{"color": colors[i%4]})
		data.Groups = append(data.Groups, i%4/2)
	}
	table, _ := models.NewEmbeddingTable(models.EmbeddingTableConfig{Name: "color", Field: "color", Categories: colors, Dim: 2, Seed: 1})
	h, _ := head.New(head.Config{Kind: head.KindLinear, Out: 4}, frozen+table.Dim(), 1)
	res, err := fit.Fit(context.Background(), fit.Config{
		Head: h, Trainable: []fit.TrainableEncoder{table},
		GroupLoss: loss.NewTriplet(), Optimizer: fit.NewAdam(0.05),
		Epochs: 30, BatchSize: 20, Seed: 1, Logger: quiet, Quiet: true,
		EarlyStopping: fit.EarlyStopping{Monitor: "val_r_precision", Patience: -1},
	}, data, data)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("best R-precision %.2f\n", res.Best)
	fmt.Println("the table is saved as", table.Params()[0].Name)
	// Output:
	// best R-precision 1.00
	// the table is saved as color.weight
}
