package fit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/simlearn/simlearn/eval"
	"github.com/simlearn/simlearn/head"
	"github.com/simlearn/simlearn/internal/finite"
	"github.com/simlearn/simlearn/internal/par"
	"github.com/simlearn/simlearn/loss"
)

// Config configures a training run. Head, one loss matching the data
// (GroupLoss for *GroupData, PairLoss for *PairData), Epochs and BatchSize
// are required; everything else has a default.
type Config struct {
	// Head is trained in place; at the end it holds the best weights seen
	// (by EarlyStopping.Monitor) when there is validation data.
	Head head.Head
	// GroupLoss trains on *GroupData, PairLoss on *PairData. A loss with
	// its own parameters (a Params() []*head.Param method, like ArcFace's
	// class matrix) is optimised together with the head.
	GroupLoss loss.GroupLoss
	PairLoss  loss.PairLoss
	// Optimizer defaults to NewAdam(1e-3).
	Optimizer Optimizer
	// Schedule scales the learning rate per step (default constant).
	Schedule Schedule
	// ClipNorm, when > 0, clips the global gradient norm (ClipGradNorm).
	ClipNorm float64
	// Epochs is the number of passes over the training data.
	Epochs int
	// BatchSize is the number of samples (pairs or objects) per batch.
	BatchSize int
	// PerGroup, for group data, makes training batches class balanced with
	// PerGroup samples of each group (see GroupLoader); 0 shuffles plainly.
	PerGroup int
	// DropLast drops a final training batch smaller than BatchSize.
	DropLast bool
	// Seed makes shuffling and sampling reproducible.
	Seed uint64
	// XBM adds a cross-batch memory loss; GroupLoss must then implement
	// MemoryLoss.
	XBM *XBM
	// EarlyStopping selects the monitored value (which also chooses the
	// best head) and when to stop.
	EarlyStopping EarlyStopping
	// Eval configures the validation metrics (default: cosine distance,
	// K 10). Metrics are recorded as "val_" + the eval metric name, e.g.
	// val_r_precision, val_mrr, val_spearman.
	Eval eval.Options
	// NoMetrics skips the validation metrics (the validation loss remains).
	NoMetrics bool
	// Dir, when set, receives checkpoint.json (atomically, every epoch and
	// on cancellation), history.json, history.csv and history.png.
	Dir string
	// Resume continues from Dir/checkpoint.json when it exists.
	Resume bool
	// Logger receives progress records (default slog.Default()).
	Logger *slog.Logger
	// Quiet hides the progress bar, which is otherwise shown when standard
	// error is a terminal.
	Quiet bool
	// Precision of the head's and the loss's matrix products during Fit
	// (see head.Precision): head.Float32 or head.Float64; empty means
	// DefaultPrecision. Fit sets it with head.SetPrecision and
	// loss.SetPrecision and leaves the head and the loss in head.Float64.
	Precision head.Precision
	// OnEpoch, when set, is called after every epoch (after the checkpoint
	// is written) with the epoch's record.
	OnEpoch func(EpochStats)
	// Trainable are encoders trained with the head (never cached), such
	// as models.EmbeddingTable: the head's input is the data's X (the
	// frozen encoders' columns) followed by each one's output for the
	// rows' Objects, so Head.InDim must be X's width plus their Dims. Like
	// the head, they hold the best weights seen at the end, and their
	// parameters are saved in checkpoints.
	Trainable []TrainableEncoder
}

// EarlyStopping stops training when the monitored value has not improved
// by more than MinDelta for Patience epochs.
type EarlyStopping struct {
	// Monitor names a history value: "val_loss" (the default with
	// validation data), "train_loss", or a metric such as
	// "val_r_precision", "val_mrr", "val_map@r", "val_spearman".
	Monitor string
	// Mode is "min" or "max"; by default "min" for names ending in "loss"
	// and "max" otherwise.
	Mode string
	// Patience is the number of epochs without improvement before stopping
	// (default 3); negative never stops early.
	Patience int
	// MinDelta is the smallest change that counts as an improvement.
	MinDelta float64
}

// XBM configures cross-batch memory (Wang et al., "Cross-Batch Memory for
// Embedding Learning"; Quaterion's XbmConfig): the embeddings of the last
// Size training samples are kept, as constants, and from optimiser step
// Start on the loss adds Weight times the loss of the current batch's
// anchors against the memory (positives and negatives from the memory only).
//
// The memory holds earlier batches only: the current batch is added after
// its memory loss. (Quaterion adds it first, which pairs every anchor with
// its own detached copy at distance 0; the batch's own pairs are covered by
// the batch loss anyway.) When Size exceeds an epoch, the memory may hold an
// earlier embedding of an anchor's own sample, which counts as a positive.
type XBM struct {
	Size   int     // buffer size in embeddings (Quaterion: 10000)
	Start  int     // first 0-based optimiser step with the memory loss (Quaterion: 1000)
	Weight float64 // multiplier of the memory loss (Quaterion: 1)
	// Loss scores the batch against the memory. By default it is a copy of
	// Config.GroupLoss when that is a *loss.Triplet (same margin, distance,
	// mining), otherwise Config.GroupLoss itself, which must then implement
	// MemoryLoss.
	Loss MemoryLoss
}

// DefaultXBM returns Quaterion's defaults: 10000 embeddings, from step 1000,
// weight 1.
func DefaultXBM() *XBM { return &XBM{Size: 10000, Start: 1000, Weight: 1} }

// MemoryLoss is a group loss that can also score a batch against reference
// embeddings, as cross-batch memory needs (loss.Triplet has it). The
// reference rows are constants: only dL/de is used.
type MemoryLoss interface {
	LossAgainst(e *mat.Dense, groups []int, ref *mat.Dense, refGroups []int) (float64, *mat.Dense, error)
}

// RandomStater is implemented by heads whose training draws random numbers
// (dropout masks). Fit saves the state in checkpoints and restores it on
// resume, so that a resumed run equals an uninterrupted one.
type RandomStater interface {
	RandomState() ([]byte, error)
	SetRandomState([]byte) error
}

// Result summarises a run.
type Result struct {
	// History has one record per completed epoch.
	History History
	// Monitor is the monitored value's name ("" when nothing was
	// monitored); Best is its best value, reached at BestEpoch (1-based),
	// whose weights the head holds at the end.
	Monitor   string
	Best      float64
	BestEpoch int
	// StoppedEarly says early stopping ended the run.
	StoppedEarly bool
}

// CheckpointFile, HistoryJSON, HistoryCSV and HistoryPNG are the names of the
// files Fit writes in Config.Dir.
const (
	CheckpointFile = "checkpoint.json"
	HistoryJSON    = "history.json"
	HistoryCSV     = "history.csv"
	HistoryPNG     = "history.png"
)

// Fit trains cfg.Head on train, validating on val (nil for none) after every
// epoch. It returns when all epochs ran, early stopping triggered, or ctx
// is cancelled; in the last case it first writes a checkpoint (when Dir is
// set) from which Resume continues exactly, and returns an error wrapping
// ctx.Err(). A non-finite loss or gradient aborts with an error naming the
// epoch and batch, before any weight changes.
func Fit(ctx context.Context, cfg Config, train, val Dataset) (*Result, error) {
	r, err := newRun(cfg, train, val)
	if err != nil {
		return nil, err
	}
	defer r.setPrecision(head.Float64)
	if err := r.resume(); err != nil {
		return nil, err
	}
	for r.epoch < r.cfg.Epochs && !r.stopped {
		if err := r.trainEpoch(ctx); err != nil {
			if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
				return r.interrupted(err)
			}
			return nil, err
		}
		if err := r.endEpoch(ctx); err != nil {
			if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
				return r.interrupted(err)
			}
			return nil, err
		}
	}
	return r.finish()
}

// DefaultPrecision is the precision of Fit's matrix products when
// Config.Precision is empty. Float32 was chosen by measurement: on
// SkipConnection(384) with batch 256 a training step (batch-hard triplet or
// MultipleNegativesRanking, Adam) ran 1.4 times as fast as in Float64 with
// OpenBLAS and 1.65 times with gonum's BLAS (scripts/bench-train, per CPU
// second), while losses and gradients moved by about 1e-6 relative. Set
// head.Float64 for bit-for-bit float64 training.
const DefaultPrecision = head.Float32

// setPrecision sets the precision of the head's and the losses' products
// (those of other packages are left as they are).
func (r *run) setPrecision(p head.Precision) {
	// p is valid here, so the errors are nil.
	_, _ = head.SetPrecision(r.cfg.Head, p)
	for _, l := range []any{r.cfg.GroupLoss, r.cfg.PairLoss, r.memLoss} {
		if l != nil {
			_, _ = loss.SetPrecision(l, p)
		}
	}
}

// run is the state of one Fit call.
type run struct {
	cfg     Config
	log     *slog.Logger
	params  []*head.Param // head then loss parameters
	names   []string      // checkpoint names of params
	pairs   *PairLoader   // one of pairs, groups is set
	groups  *GroupLoader
	val     Dataset
	opt     Optimizer
	total   int // optimiser steps of the whole run (for the schedule)
	mem     *memory
	memLoss MemoryLoss

	// Progress, saved in checkpoints.
	epoch     int // completed epochs
	batch     int // completed batches of the current epoch
	step      int // optimiser steps taken
	lossSum   float64
	lossCount int
	epochTime float64 // seconds spent in the current epoch so far
	history   History
	best      []floatsLE
	bestVal   float64
	bestEpoch int
	bad       int // epochs since the last improvement
	stopped   bool

	pb     PairBatch
	gb     GroupBatch
	backup []float64 // parameter values before the last step
	dy     *mat.Dense
	bar    *progressbar.ProgressBar
	enc    *encoders // nil without trainable encoders
}

func newRun(cfg Config, train, val Dataset) (*run, error) {
	if cfg.Head == nil {
		return nil, errors.New("fit: Config.Head is nil")
	}
	if cfg.Epochs <= 0 {
		return nil, fmt.Errorf("fit: Config.Epochs is %d, want > 0", cfg.Epochs)
	}
	if cfg.BatchSize <= 0 {
		return nil, fmt.Errorf("fit: Config.BatchSize is %d, want > 0", cfg.BatchSize)
	}
	if cfg.ClipNorm < 0 || math.IsNaN(cfg.ClipNorm) {
		return nil, fmt.Errorf("fit: Config.ClipNorm is %v, want >= 0", cfg.ClipNorm)
	}
	if err := cfg.Schedule.Validate(); err != nil {
		return nil, fmt.Errorf("fit: %w", err)
	}
	if err := checkTrainable(cfg.Trainable); err != nil {
		return nil, err
	}
	if train == nil {
		return nil, errors.New("fit: no training data")
	}
	if err := checkData("training", cfg, train); err != nil {
		return nil, err
	}
	if val != nil {
		if err := checkData("validation", cfg, val); err != nil {
			return nil, err
		}
	}
	r := &run{cfg: cfg, val: val, opt: cfg.Optimizer, bestVal: math.NaN()}
	r.log = cfg.Logger
	if r.log == nil {
		r.log = slog.Default()
	}
	if r.opt == nil {
		r.opt = NewAdam(1e-3)
	}
	for _, p := range cfg.Head.Params() {
		r.params = append(r.params, p)
		r.names = append(r.names, "head/"+p.Name)
	}
	var l any = cfg.GroupLoss
	if cfg.PairLoss != nil {
		l = cfg.PairLoss
	}
	if lp, ok := l.(interface{ Params() []*head.Param }); ok {
		for _, p := range lp.Params() {
			r.params = append(r.params, p)
			r.names = append(r.names, "loss/"+p.Name)
		}
	}
	r.addEncoders()
	switch d := train.(type) {
	case *PairData:
		r.pairs = &PairLoader{Data: d, BatchSize: cfg.BatchSize, Shuffle: true, DropLast: cfg.DropLast}
	case *GroupData:
		r.groups = &GroupLoader{Data: d, BatchSize: cfg.BatchSize, PerGroup: cfg.PerGroup, Shuffle: true, DropLast: cfg.DropLast}
	}
	if cfg.XBM != nil {
		x := cfg.XBM
		if r.groups == nil {
			return nil, errors.New("fit: cross-batch memory needs group data")
		}
		r.memLoss = x.Loss
		if r.memLoss == nil {
			switch l := cfg.GroupLoss.(type) {
			case *loss.Triplet:
				// A copy has workspaces of its own.
				r.memLoss = &loss.Triplet{Margin: l.Margin, Distance: l.Distance, Mining: l.Mining, Soft: l.Soft}
			case MemoryLoss:
				r.memLoss = l
			default:
				return nil, fmt.Errorf("fit: cross-batch memory needs a loss with a LossAgainst method (such as loss.Triplet); %T has none (set XBM.Loss)", cfg.GroupLoss)
			}
		}
		if x.Size <= 0 || x.Start < 0 || !(x.Weight > 0) || math.IsInf(x.Weight, 0) {
			return nil, fmt.Errorf("fit: XBM size %d, start %d, weight %v: want size > 0, start >= 0, finite weight > 0", x.Size, x.Start, x.Weight)
		}
		r.mem = newMemory(x.Size, cfg.Head.OutDim())
	}
	if r.cfg.Precision == "" {
		r.cfg.Precision = DefaultPrecision
	}
	if err := r.cfg.Precision.Validate(); err != nil {
		return nil, fmt.Errorf("fit: Config.Precision: %w", err)
	}
	r.setPrecision(r.cfg.Precision)
	es := &r.cfg.EarlyStopping
	if es.Monitor == "" && val != nil {
		es.Monitor = "val_loss"
	}
	if es.Monitor != "" {
		if strings.HasPrefix(es.Monitor, "val_") && val == nil {
			return nil, fmt.Errorf("fit: monitor %q needs validation data", es.Monitor)
		}
		switch es.Mode {
		case "":
			es.Mode = "max"
			if strings.HasSuffix(es.Monitor, "loss") {
				es.Mode = "min"
			}
		case "min", "max":
		default:
			return nil, fmt.Errorf("fit: EarlyStopping.Mode %q, want min or max", es.Mode)
		}
	}
	if es.Patience == 0 {
		es.Patience = 3
	}
	if es.MinDelta < 0 || math.IsNaN(es.MinDelta) {
		return nil, fmt.Errorf("fit: EarlyStopping.MinDelta %v, want >= 0", es.MinDelta)
	}
	if r.cfg.Eval.K == 0 {
		r.cfg.Eval.K = 10
	}
	first, err := r.epochBatches(0)
	if err != nil {
		return nil, err
	}
	if len(first) == 0 {
		return nil, fmt.Errorf("fit: %d training samples give no batch of %d with DropLast", train.Len(), cfg.BatchSize)
	}
	r.total = len(first) * cfg.Epochs
	return r, nil
}

func checkData(what string, cfg Config, d Dataset) error {
	switch d.(type) {
	case *PairData:
		if cfg.PairLoss == nil {
			return fmt.Errorf("fit: %s data are pairs but Config.PairLoss is nil", what)
		}
	case *GroupData:
		if cfg.GroupLoss == nil {
			return fmt.Errorf("fit: %s data are groups but Config.GroupLoss is nil", what)
		}
	default:
		return fmt.Errorf("fit: %s data: unsupported type %T", what, d)
	}
	if cfg.GroupLoss != nil && cfg.PairLoss != nil {
		return errors.New("fit: set one of Config.GroupLoss and Config.PairLoss")
	}
	if err := d.Validate(); err != nil {
		return fmt.Errorf("fit: %s data: %w", what, err)
	}
	if err := checkObjects(what, cfg, d); err != nil {
		return err
	}
	if w, tw, in := dim(d), trainableDim(cfg.Trainable), cfg.Head.InDim(); w+tw != in {
		if tw > 0 {
			return fmt.Errorf("fit: %s embeddings have %d columns plus %d from trainable encoders but the head takes %d", what, w, tw, in)
		}
		return fmt.Errorf("fit: %s embeddings have %d columns but the head takes %d", what, w, in)
	}
	return nil
}

// epochRNG is the random source of epoch e's batches: a function of the seed
// and e only, so that a resumed run sees the same batches.
func (r *run) epochRNG(e int) *rand.Rand {
	return rand.New(rand.NewPCG(r.cfg.Seed, uint64(e)+1))
}

func (r *run) epochBatches(e int) ([][]int, error) {
	if r.pairs != nil {
		return r.pairs.Epoch(r.epochRNG(e))
	}
	return r.groups.Epoch(r.epochRNG(e))
}

func (r *run) trainEpoch(ctx context.Context) error {
	batches, err := r.epochBatches(r.epoch)
	if err != nil {
		return err
	}
	start := time.Now()
	r.startBar(len(batches))
	defer r.closeBar()
	for ; r.batch < len(batches); r.batch++ {
		if err := ctx.Err(); err != nil {
			r.epochTime += time.Since(start).Seconds()
			return err
		}
		l, err := r.trainBatch(batches[r.batch])
		if err != nil {
			return fmt.Errorf("fit: epoch %d batch %d: %w", r.epoch+1, r.batch+1, err)
		}
		r.lossSum += l
		r.lossCount++
		if r.bar != nil {
			_ = r.bar.Add(1)
		}
	}
	r.epochTime += time.Since(start).Seconds()
	return nil
}

// trainBatch runs forward, loss, backward and an optimiser step on one batch.
func (r *run) trainBatch(idx []int) (float64, error) {
	h := r.cfg.Head
	head.ZeroGrad(r.params)
	var l float64
	var dy *mat.Dense // dL/dy of the head's output
	if r.pairs != nil {
		r.pairs.Batch(idx, &r.pb)
		x, err := r.pairInput(r.pb.X, r.pairs.Data, idx)
		if err != nil {
			return 0, err
		}
		y := h.Forward(x, true)
		n := len(idx)
		a, b := rowsView(y, 0, n), rowsView(y, n, 2*n)
		lv, da, db, err := r.cfg.PairLoss.Loss(a, b, r.pb.Scores, r.pb.Subgroups)
		if err != nil {
			return 0, err
		}
		l = lv
		if dy = stacked(da, db); dy == nil {
			_, c := y.Dims()
			r.dy = resize(r.dy, 2*n, c)
			r.dy.Slice(0, n, 0, c).(*mat.Dense).Copy(da)
			r.dy.Slice(n, 2*n, 0, c).(*mat.Dense).Copy(db)
			dy = r.dy
		}
	} else {
		r.groups.Batch(idx, &r.gb)
		x, err := r.groupInput(r.gb.X, r.groups.Data, idx)
		if err != nil {
			return 0, err
		}
		y := h.Forward(x, true)
		lv, ldy, err := r.cfg.GroupLoss.Loss(y, r.gb.Groups)
		if err != nil {
			return 0, err
		}
		l, dy = lv, ldy
		if r.mem != nil {
			// The memory loss may be the batch loss itself, whose workspace
			// ldy is: keep dy apart.
			_, c := y.Dims()
			r.dy = resize(r.dy, len(idx), c)
			r.dy.Copy(ldy)
			dy = r.dy
			if r.step >= r.cfg.XBM.Start && r.mem.len() > 0 {
				m, g := r.mem.contents()
				ml, mdy, err := r.memLoss.LossAgainst(y, r.gb.Groups, m, g)
				if err != nil {
					return 0, fmt.Errorf("memory loss: %w", err)
				}
				l += r.cfg.XBM.Weight * ml
				for i := range len(idx) {
					floats.AddScaled(r.dy.RawRowView(i), r.cfg.XBM.Weight, mdy.RawRowView(i))
				}
			}
			r.mem.push(y, r.gb.Groups)
		}
	}
	if math.IsNaN(l) || math.IsInf(l, 0) {
		return 0, fmt.Errorf("loss is %v", l)
	}
	if err := checkFinite("loss gradient", dy); err != nil {
		return 0, err
	}
	if err := r.backward(dy); err != nil {
		return 0, err
	}
	for k, p := range r.params {
		if err := checkFinite("gradient of "+r.names[k], p.Grad); err != nil {
			return 0, err
		}
	}
	if r.cfg.ClipNorm > 0 {
		ClipGradNorm(r.params, r.cfg.ClipNorm)
	}
	lr := r.opt.LR() * r.cfg.Schedule.Factor(r.step, r.total)
	r.backup = r.backup[:0]
	for _, p := range r.params {
		w := p.Value.RawMatrix().Data
		off := len(r.backup)
		r.backup = slices.Grow(r.backup, len(w))[:off+len(w)]
		par.For(len(w), par.Grain, func(lo, hi int) { copy(r.backup[off+lo:off+hi], w[lo:hi]) })
	}
	if err := r.opt.Step(r.params, lr); err != nil {
		return 0, err
	}
	for k, p := range r.params {
		if err := checkFinite(r.names[k]+" after the optimiser step", p.Value); err != nil {
			// Undo the step so that the head keeps finite weights.
			off := 0
			for _, q := range r.params {
				off += copy(q.Value.RawMatrix().Data, r.backup[off:])
			}
			return 0, fmt.Errorf("%w (step undone; lower the learning rate or clip gradients)", err)
		}
	}
	r.step++
	return l, nil
}

// rowsView returns rows [lo, hi) of m as a matrix sharing its storage.
func rowsView(m *mat.Dense, lo, hi int) *mat.Dense {
	_, c := m.Dims()
	return m.Slice(lo, hi, 0, c).(*mat.Dense)
}

// stacked returns the matrix whose rows are a's then b's when b's storage
// follows a's in one backing array with the same stride (a loss may return
// its gradients so), and nil otherwise.
func stacked(a, b *mat.Dense) *mat.Dense {
	ra, rb := a.RawMatrix(), b.RawMatrix()
	if ra.Stride != rb.Stride || ra.Cols != rb.Cols || ra.Rows == 0 || rb.Rows == 0 {
		return nil
	}
	end := ra.Rows * ra.Stride // where b must start, relative to a
	full := ra.Data[:cap(ra.Data)]
	if len(full) < end+len(rb.Data) || &full[end] != &rb.Data[0] {
		return nil
	}
	var m mat.Dense
	m.SetRawMatrix(blas64.General{Rows: ra.Rows + rb.Rows, Cols: ra.Cols, Stride: ra.Stride, Data: full[:end+len(rb.Data)]})
	return &m
}

func checkFinite(what string, m *mat.Dense) error {
	if i, j, v, found := finite.First(m.RawMatrix()); found {
		return fmt.Errorf("%s is %v at [%d,%d]", what, v, i, j)
	}
	return nil
}

// endEpoch validates, updates early stopping and the best weights, writes
// the checkpoint and the history, and logs.
func (r *run) endEpoch(ctx context.Context) error {
	st := EpochStats{
		Epoch:   r.epoch + 1,
		LR:      r.opt.LR() * r.cfg.Schedule.Factor(max(r.step-1, 0), r.total),
		Seconds: r.epochTime,
		Values:  map[string]float64{"train_loss": r.lossSum / float64(max(r.lossCount, 1))},
	}
	if r.val != nil {
		start := time.Now()
		if err := r.validate(ctx, st.Values); err != nil {
			return err
		}
		st.Seconds += time.Since(start).Seconds()
	}
	r.history = append(r.history, st)
	r.epoch++
	r.batch, r.lossSum, r.lossCount, r.epochTime = 0, 0, 0, 0
	if es := r.cfg.EarlyStopping; es.Monitor != "" {
		v, ok := st.Values[es.Monitor]
		if !ok {
			return fmt.Errorf("fit: monitored value %q not in the history (have %s)", es.Monitor, strings.Join(st.names(), ", "))
		}
		if r.improved(v) {
			r.bestVal, r.bestEpoch, r.bad = v, st.Epoch, 0
			r.best = r.snapshot()
		} else {
			r.bad++
			if es.Patience > 0 && r.bad >= es.Patience {
				r.stopped = true
				r.log.Info("early stopping", "epoch", st.Epoch, "monitor", es.Monitor, "best", r.bestVal, "best_epoch", r.bestEpoch)
			}
		}
	}
	attrs := []any{"epoch", st.Epoch, "of", r.cfg.Epochs, "lr", st.LR, "seconds", math.Round(st.Seconds*1000) / 1000}
	for _, n := range st.names() {
		attrs = append(attrs, n, st.Values[n])
	}
	r.log.Info("epoch done", attrs...)
	if err := r.save(); err != nil {
		return err
	}
	if r.cfg.OnEpoch != nil {
		r.cfg.OnEpoch(st)
	}
	return nil
}

func (r *run) improved(v float64) bool {
	if math.IsNaN(v) {
		return false
	}
	if math.IsNaN(r.bestVal) {
		return true
	}
	d := r.cfg.EarlyStopping.MinDelta
	if r.cfg.EarlyStopping.Mode == "min" {
		return v < r.bestVal-d
	}
	return v > r.bestVal+d
}

func (r *run) snapshot() []floatsLE {
	out := make([]floatsLE, len(r.params))
	for k, p := range r.params {
		out[k] = append(floatsLE(nil), p.Value.RawMatrix().Data...)
	}
	return out
}

func (r *run) restore(vals []floatsLE) {
	for k, p := range r.params {
		copy(p.Value.RawMatrix().Data, vals[k])
	}
}

// validate adds val_loss and the validation metrics to values.
func (r *run) validate(ctx context.Context, values map[string]float64) error {
	h := r.cfg.Head
	rng := rand.New(rand.NewPCG(r.cfg.Seed, 0x7a11da7e))
	var sum float64
	var count int
	switch d := r.val.(type) {
	case *PairData:
		ld := &PairLoader{Data: d, BatchSize: r.cfg.BatchSize}
		bs, err := ld.Epoch(rng)
		if err != nil {
			return err
		}
		var pb PairBatch
		for k, idx := range bs {
			if err := ctx.Err(); err != nil {
				return err
			}
			ld.Batch(idx, &pb)
			x, err := r.pairInput(pb.X, d, idx)
			if err != nil {
				return fmt.Errorf("fit: validation batch %d: %w", k+1, err)
			}
			y := h.Forward(x, false)
			n := len(idx)
			l, _, _, err := r.cfg.PairLoss.Loss(rowsView(y, 0, n), rowsView(y, n, 2*n), pb.Scores, pb.Subgroups)
			if err != nil {
				return fmt.Errorf("fit: validation batch %d: %w", k+1, err)
			}
			sum += l
			count++
		}
		if !r.cfg.NoMetrics {
			ya, err := r.embed(d.X, d.Objects, d.A)
			if err != nil {
				return err
			}
			yb, err := r.embed(d.X, d.Objects, d.B)
			if err != nil {
				return err
			}
			scores := d.Scores
			if scores == nil {
				scores = make([]float64, d.Len())
				for i := range scores {
					scores[i] = 1
				}
			}
			res, err := eval.Pairs(ctx, ya, yb, scores, r.cfg.Eval)
			if err != nil {
				return fmt.Errorf("fit: validation metrics: %w", err)
			}
			for n, v := range res.Metrics {
				values["val_"+n] = v
			}
		}
	case *GroupData:
		ld := &GroupLoader{Data: d, BatchSize: r.cfg.BatchSize, PerGroup: r.cfg.PerGroup, Shuffle: true}
		bs, err := ld.Epoch(rng)
		if err != nil {
			return fmt.Errorf("fit: validation data: %w", err)
		}
		var gb GroupBatch
		for k, idx := range bs {
			if err := ctx.Err(); err != nil {
				return err
			}
			ld.Batch(idx, &gb)
			x, err := r.groupInput(gb.X, d, idx)
			if err != nil {
				return fmt.Errorf("fit: validation batch %d: %w", k+1, err)
			}
			y := h.Forward(x, false)
			l, _, err := r.cfg.GroupLoss.Loss(y, gb.Groups)
			if err != nil {
				return fmt.Errorf("fit: validation batch %d: %w", k+1, err)
			}
			sum += l
			count++
		}
		if !r.cfg.NoMetrics {
			rows := d.Rows
			if rows == nil {
				rows = make([]int, d.Len())
				for i := range rows {
					rows[i] = i
				}
			}
			y, err := r.embed(d.X, d.Objects, rows)
			if err != nil {
				return err
			}
			res, err := eval.Groups(ctx, y, d.Groups, r.cfg.Eval)
			if err != nil {
				return fmt.Errorf("fit: validation metrics: %w", err)
			}
			for n, v := range res.Metrics {
				values["val_"+n] = v
			}
		}
	}
	values["val_loss"] = sum / float64(max(count, 1))
	if math.IsNaN(values["val_loss"]) || math.IsInf(values["val_loss"], 0) {
		return fmt.Errorf("fit: epoch %d: validation loss is %v", r.epoch+1, values["val_loss"])
	}
	return nil
}

// embed runs the head (not training) on the given rows of x, with their
// objects for the trainable encoders, in batches.
func (r *run) embed(x *mat.Dense, objects []any, rows []int) (*mat.Dense, error) {
	h := r.cfg.Head
	_, c := x.Dims()
	out := mat.NewDense(len(rows), h.OutDim(), nil)
	bs := max(r.cfg.BatchSize, 256)
	buf := mat.NewDense(min(bs, len(rows)), c, nil)
	for lo := 0; lo < len(rows); lo += bs {
		hi := min(lo+bs, len(rows))
		b := rowsView(buf, 0, hi-lo)
		for k, i := range rows[lo:hi] {
			copy(b.RawRowView(k), x.RawRowView(i))
		}
		in, err := r.input(b, objects, rows[lo:hi])
		if err != nil {
			return nil, fmt.Errorf("fit: validation metrics: %w", err)
		}
		y := h.Forward(in, false)
		rowsView(out, lo, hi).Copy(y)
	}
	return out, nil
}

// interrupted saves a checkpoint after cancellation and returns the error.
func (r *run) interrupted(err error) (*Result, error) {
	where := fmt.Sprintf("epoch %d after %d batches", r.epoch+1, r.batch)
	if r.cfg.Dir != "" {
		if serr := r.save(); serr != nil {
			return r.result(), fmt.Errorf("fit: cancelled at %s; saving the checkpoint failed: %v: %w", where, serr, err)
		}
		r.log.Info("cancelled; checkpoint saved", "at", where, "path", filepath.Join(r.cfg.Dir, CheckpointFile))
		return r.result(), fmt.Errorf("fit: cancelled at %s (checkpoint saved in %s): %w", where, r.cfg.Dir, err)
	}
	return r.result(), fmt.Errorf("fit: cancelled at %s: %w", where, err)
}

func (r *run) finish() (*Result, error) {
	if r.best != nil {
		r.restore(r.best)
		r.log.Info("training done; best weights restored", "monitor", r.cfg.EarlyStopping.Monitor, "best", r.bestVal, "epoch", r.bestEpoch)
	}
	if r.cfg.Dir != "" {
		if err := r.history.WritePNG(filepath.Join(r.cfg.Dir, HistoryPNG)); err != nil {
			return nil, err
		}
	}
	return r.result(), nil
}

func (r *run) result() *Result {
	res := &Result{History: append(History(nil), r.history...), Monitor: r.cfg.EarlyStopping.Monitor, StoppedEarly: r.stopped, BestEpoch: r.bestEpoch, Best: r.bestVal}
	return res
}

func (r *run) startBar(n int) {
	if r.cfg.Quiet || !term.IsTerminal(int(os.Stderr.Fd())) {
		return
	}
	r.bar = progressbar.NewOptions(n,
		progressbar.OptionSetWriter(os.Stderr),
		progressbar.OptionSetDescription(fmt.Sprintf("epoch %d/%d", r.epoch+1, r.cfg.Epochs)),
		progressbar.OptionShowCount(),
		progressbar.OptionSetItsString("batches"),
		progressbar.OptionShowIts(),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionThrottle(100*time.Millisecond),
	)
	_ = r.bar.Set(r.batch)
}

func (r *run) closeBar() {
	if r.bar != nil {
		_ = r.bar.Finish()
		r.bar = nil
	}
}
