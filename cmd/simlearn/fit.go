package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/simlearn/simlearn"
	"github.com/simlearn/simlearn/cache"
	"github.com/simlearn/simlearn/eval"
	"github.com/simlearn/simlearn/fit"
	"github.com/simlearn/simlearn/head"
	"github.com/simlearn/simlearn/loss"
	"github.com/simlearn/simlearn/models"
	"github.com/simlearn/simlearn/onnx"
)

const fitSynopsis = `
Usage: simlearn fit [flags] --train FILE [--val FILE] --out DIR
       simlearn fit --config FILE [flags]

Fine-tunes a head on top of a frozen ONNX text encoder and saves encoder and
head as a servable model directory (for eval, embed, serve and export).

The samples are read from JSONL (.jsonl, .ndjson) or CSV (.csv, .tsv, .tab)
files: groups (an object and its label) or pairs (two objects and an optional
score). Every distinct object is encoded once through the embedding cache, so
a repeated run never runs the encoder again. The head is trained with the
chosen loss and optimiser; with validation data the metrics are computed
every epoch, early stopping watches --monitor, the best head is kept, and the
validation metrics before (frozen encoder) and after (trained head) are
printed. Checkpoints, history.json/.csv/.png, config.json (the effective
configuration, reusable with --config) and labels.json go to --run-dir.

A configuration file is the JSON that --print-config writes; flags given on
the command line override it, and its relative paths are relative to the
file. SIGINT or SIGTERM stops training after saving a checkpoint (exit code
130 or 143); run the same command with --resume to continue.
`

const fitExamples = `
  # 60 descriptions with a label each; a skip-connection head, triplet loss
  simlearn fit --train train.jsonl --val val.jsonl --obj description --group label \
      --epochs 20 --out models/products

  # STS Benchmark pairs (scores 0-5), CoSENT loss, linear head
  simlearn fit --preset stsb --train sts-train.csv --val sts-dev.csv \
      --head '{"kind":"linear","out":256}' --loss cosent --lr 1e-3 --out models/sts

  # write the effective configuration, edit it, train from it
  simlearn fit --train train.jsonl --out models/m --print-config > fit.json
  simlearn fit --config fit.json --epochs 5

  # continue an interrupted run
  simlearn fit --config fit.json --resume
`

// fitConfig is the configuration of a fit run: the flags, or a JSON file.
type fitConfig struct {
	// Train and Val are sample files; Val is optional.
	Train string `json:"train"`
	Val   string `json:"val,omitempty"`
	// Data maps the files' fields to samples.
	Data dataConfig `json:"data"`
	// Encoder is the frozen ONNX text encoder.
	Encoder encoderConfig `json:"encoder"`
	// Head is the trained head.
	Head head.Config `json:"head"`
	// Loss names the loss and its parameters; an empty name is triplet
	// for groups, cosent for scored pairs and multiple_negatives_ranking
	// for pairs without scores.
	Loss      loss.Spec       `json:"loss"`
	Optimizer optimizerConfig `json:"optimizer"`
	Schedule  fit.Schedule    `json:"schedule"`
	Epochs    int             `json:"epochs"`
	BatchSize int             `json:"batch_size"`
	// PerGroup > 0 makes group batches class balanced.
	PerGroup      int           `json:"per_group"`
	ClipNorm      float64       `json:"clip_norm"`
	Seed          uint64        `json:"seed"`
	EarlyStopping earlyStopping `json:"early_stopping"`
	Eval          evalConfig    `json:"eval"`
	Cache         cacheConfig   `json:"cache"`
	// Out is the servable directory written at the end.
	Out string `json:"out"`
	// RunDir receives checkpoints, history and config.json (default
	// Out + ".run").
	RunDir string `json:"run_dir"`
	// Resume continues from RunDir's checkpoint.
	Resume bool `json:"resume"`
}

// optimizerConfig selects the optimiser.
type optimizerConfig struct {
	// Name is adam, adamw or sgd.
	Name string  `json:"name"`
	LR   float64 `json:"lr"`
	// WeightDecay is L2 decay (adam, sgd) or decoupled decay (adamw);
	// nil means 0, or 0.01 for adamw (PyTorch's defaults).
	WeightDecay *float64 `json:"weight_decay,omitempty"`
	// Momentum is SGD's momentum.
	Momentum float64 `json:"momentum"`
}

// earlyStopping mirrors fit.EarlyStopping.
type earlyStopping struct {
	Monitor  string  `json:"monitor"`
	Mode     string  `json:"mode"`
	Patience int     `json:"patience"`
	MinDelta float64 `json:"min_delta"`
}

// evalConfig sets the validation metrics.
type evalConfig struct {
	Distance string `json:"distance"`
	K        int    `json:"k"`
}

// cacheConfig sets the embedding cache.
type cacheConfig struct {
	// Dir is the cache directory ("" means the default under
	// SIMLEARN_HOME).
	Dir string `json:"dir"`
	// Mode is disk, memory or none.
	Mode string `json:"mode"`
}

// defaultFitConfig is the configuration before files and flags.
func defaultFitConfig() fitConfig {
	return fitConfig{
		Data:          defaultData(),
		Encoder:       defaultEncoder(),
		Head:          head.Config{Kind: head.KindSkipConnection},
		Optimizer:     optimizerConfig{Name: "adam", LR: 1e-3},
		Schedule:      fit.Schedule{Kind: fit.Constant},
		Epochs:        10,
		BatchSize:     64,
		Seed:          1,
		EarlyStopping: earlyStopping{Patience: 3},
		Eval:          evalConfig{Distance: eval.Cosine, K: 10},
		Cache:         cacheConfig{Mode: "disk"},
	}
}

// register adds the fit flags, bound to c's fields.
func (c *fitConfig) register(f *flagSet) {
	f.StringVar(&c.Train, "train", c.Train, "training samples `file` (.jsonl, .ndjson, .csv, .tsv, .tab)")
	f.StringVar(&c.Val, "val", c.Val, "validation samples `file` (optional): metrics, early stopping, best head")
	c.Data.register(f)
	c.Encoder.register(f, true)
	f.Var(headValue{&c.Head}, "head", "head `kind` (empty, linear, gated, skip_connection, softmax_embeddings, stacked_projection, widening, sequential) or JSON config, e.g. {\"kind\":\"linear\",\"out\":128}")
	f.StringVar(&c.Loss.Name, "loss", c.Loss.Name, "loss `name`: triplet, online_contrastive, circle, fast_ap, arcface, cosface, softmax, center (groups); contrastive, multiple_negatives_ranking, cosent, cosine_similarity (pairs). Default: triplet for groups, cosent for scored pairs, multiple_negatives_ranking otherwise")
	f.Var(rawJSONValue{&c.Loss.Params}, "loss-params", "loss parameters as a JSON `object`, e.g. {\"margin\":0.3,\"mining\":\"semi_hard\"}")
	f.StringVar(&c.Optimizer.Name, "optimizer", c.Optimizer.Name, "optimiser: adam, adamw or sgd")
	f.Float64Var(&c.Optimizer.LR, "lr", c.Optimizer.LR, "learning `rate`")
	f.Func("weight-decay", "weight `decay` (default 0, or 0.01 for adamw)", func(s string) error {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return err
		}
		c.Optimizer.WeightDecay = &v
		return nil
	})
	f.Float64Var(&c.Optimizer.Momentum, "momentum", c.Optimizer.Momentum, "SGD momentum")
	f.Func("schedule", "learning-rate schedule: constant, linear or cosine (default constant)", func(s string) error {
		c.Schedule.Kind = fit.ScheduleKind(s)
		return nil
	})
	f.IntVar(&c.Schedule.Warmup, "warmup", c.Schedule.Warmup, "linear warm-up `steps`")
	f.Float64Var(&c.Schedule.WarmupRatio, "warmup-ratio", c.Schedule.WarmupRatio, "linear warm-up as a `fraction` of all steps (when --warmup is 0)")
	f.IntVar(&c.Epochs, "epochs", c.Epochs, "most training epochs")
	f.IntVar(&c.BatchSize, "batch-size", c.BatchSize, "samples (objects or pairs) per training batch")
	f.IntVar(&c.PerGroup, "per-group", c.PerGroup, "groups: class-balanced batches with this many samples per label (0: plain shuffling)")
	f.Float64Var(&c.ClipNorm, "clip-norm", c.ClipNorm, "clip the global gradient norm to this `value` (0: off)")
	f.Uint64Var(&c.Seed, "seed", c.Seed, "random seed: head initialisation, shuffling, sampling, dropout")
	f.StringVar(&c.EarlyStopping.Monitor, "monitor", c.EarlyStopping.Monitor, "`value` early stopping watches and the best head is chosen by: val_loss (default with --val), train_loss, val_r_precision, val_mrr, val_map@r, val_spearman, ...")
	f.StringVar(&c.EarlyStopping.Mode, "monitor-mode", c.EarlyStopping.Mode, "min or max (default: min for losses, max for metrics)")
	f.IntVar(&c.EarlyStopping.Patience, "patience", c.EarlyStopping.Patience, "stop after this many `epochs` without improvement (negative: never)")
	f.Float64Var(&c.EarlyStopping.MinDelta, "min-delta", c.EarlyStopping.MinDelta, "smallest change that counts as an improvement")
	f.StringVar(&c.Eval.Distance, "distance", c.Eval.Distance, "distance of the validation metrics: cosine, euclidean, manhattan or dot")
	f.IntVar(&c.Eval.K, "k", c.Eval.K, "cutoff of precision@k, recall@k and ndcg@k")
	f.StringVar(&c.Cache.Dir, "cache-dir", c.Cache.Dir, "embedding cache `directory` (default ${SIMLEARN_HOME:-$HOME/.cache/simlearn}/cache)")
	f.StringVar(&c.Cache.Mode, "cache", c.Cache.Mode, "cache `mode`: disk (kept across runs), memory (this run only) or none")
	f.StringVar(&c.Out, "out", c.Out, "servable model `directory` to write")
	f.StringVar(&c.RunDir, "run-dir", c.RunDir, "`directory` for checkpoints, history, config.json and labels.json (default OUT.run)")
	f.BoolVar(&c.Resume, "resume", c.Resume, "continue from the checkpoint in --run-dir")
}

// load reads a configuration file over c. Unknown fields are an error;
// relative paths are taken relative to the file's directory.
func (c *fitConfig) load(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	base := filepath.Dir(path)
	for _, p := range []*string{&c.Train, &c.Val, &c.Encoder.Model, &c.Cache.Dir, &c.Out, &c.RunDir} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
	}
	return nil
}

// check validates c, fills in the defaults that depend on other settings
// and makes paths absolute.
func (c *fitConfig) check() error {
	if c.Train == "" {
		return usagef("missing --train (or a config file naming it)")
	}
	if c.Out == "" {
		return usagef("missing --out (the servable directory to write)")
	}
	if err := c.Data.check(); err != nil {
		return err
	}
	if c.Loss.Name == "" {
		switch {
		case c.Data.Kind == "groups":
			c.Loss.Name = "triplet"
		case c.Data.Score != "" || c.Data.Preset != "":
			c.Loss.Name = "cosent"
		default:
			c.Loss.Name = "multiple_negatives_ranking"
		}
	}
	switch c.Optimizer.Name {
	case "adam", "adamw", "sgd":
	default:
		return usagef("--optimizer %q: want adam, adamw or sgd", c.Optimizer.Name)
	}
	if c.Optimizer.LR <= 0 {
		return usagef("--lr %v: want a positive learning rate", c.Optimizer.LR)
	}
	if err := c.Schedule.Validate(); err != nil {
		return usageError{err}
	}
	if c.Epochs <= 0 || c.BatchSize <= 0 || c.PerGroup < 0 || c.Eval.K <= 0 {
		return usagef("--epochs, --batch-size and --k must be positive, --per-group not negative")
	}
	switch c.Cache.Mode {
	case "disk", "memory", "none":
	default:
		return usagef("--cache %q: want disk, memory or none", c.Cache.Mode)
	}
	if c.RunDir == "" {
		c.RunDir = filepath.Clean(c.Out) + ".run"
	}
	for _, p := range []*string{&c.Train, &c.Val, &c.Encoder.Model, &c.Cache.Dir, &c.Out, &c.RunDir} {
		if *p == "" {
			continue
		}
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		*p = abs
	}
	if rel, err := filepath.Rel(c.Out, c.RunDir); err == nil && filepath.IsLocal(rel) {
		return usagef("--run-dir %s is inside --out %s, which saving the model replaces", c.RunDir, c.Out)
	}
	return nil
}

// checkOut refuses, before any training, an output directory that saving
// the model would refuse: one that exists and is neither empty nor a
// servable.
func (c *fitConfig) checkOut() error {
	entries, err := os.ReadDir(c.Out)
	if errors.Is(err, fs.ErrNotExist) || err == nil && len(entries) == 0 {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(c.Out, models.ManifestFile)); err != nil {
		return fmt.Errorf("--out %s exists and is not a servable model directory; choose a new or empty directory", c.Out)
	}
	return nil
}

// optimizer builds the configured optimiser.
func (c optimizerConfig) optimizer() fit.Optimizer {
	var wd float64
	if c.WeightDecay != nil {
		wd = *c.WeightDecay
	} else if c.Name == "adamw" {
		wd = 0.01
	}
	switch c.Name {
	case "adamw":
		return fit.NewAdamW(c.LR, wd)
	case "sgd":
		o := fit.NewSGD(c.LR)
		o.Momentum, o.WeightDecay = c.Momentum, wd
		return o
	default:
		o := fit.NewAdam(c.LR)
		o.WeightDecay = wd
		return o
	}
}

// cacheMode is the cache.Mode of the configured mode name.
func (c cacheConfig) cacheMode() cache.Mode {
	switch c.Mode {
	case "memory":
		return cache.MemoryOnly
	case "none":
		return cache.NoCache
	default:
		return cache.Disk
	}
}

func runFit(ctx context.Context, e *env, args []string) error {
	cfg := defaultFitConfig()
	f := newFlagSet("fit", fitSynopsis, fitExamples)
	configPath := f.String("config", "", "JSON configuration `file` (see --print-config); flags override it")
	printConfig := f.Bool("print-config", false, "print the effective configuration as JSON and exit")
	cfg.register(f)
	pos, err := f.parse(e, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos); err != nil {
		return err
	}
	if *configPath != "" {
		// The file replaces the defaults; the flags, parsed again, win.
		cfg = defaultFitConfig()
		if err := cfg.load(*configPath); err != nil {
			return err
		}
		if _, err := f.parse(e, args); err != nil {
			return err
		}
	}
	if err := cfg.check(); err != nil {
		return err
	}
	if *printConfig {
		return writeJSON(e.stdout, cfg)
	}
	return cfg.run(ctx, e.stdout)
}

// writeJSON writes v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// trainingSets is the data of a run as matrix rows.
type trainingSets struct {
	train, val fit.Dataset      // val is nil without validation data
	labels     *simlearn.Labels // groups: the label of each group id
	x          *mat.Dense
	groups     []cache.GroupRows
	pairs      []cache.PairRows
}

// run trains and saves the servable; w receives the summary.
func (c *fitConfig) run(ctx context.Context, w io.Writer) error {
	start := time.Now()
	if err := c.checkOut(); err != nil {
		return err
	}
	if c.Resume {
		if _, err := os.Stat(filepath.Join(c.RunDir, fit.CheckpointFile)); err != nil {
			slog.Warn("--resume: no checkpoint to resume from; starting afresh", "run_dir", c.RunDir)
		}
	}
	if err := os.MkdirAll(c.RunDir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	if err := fit.WriteFileAtomic(filepath.Join(c.RunDir, "config.json"), append(b, '\n')); err != nil {
		return err
	}

	enc, err := onnx.NewTextEncoder(c.Encoder.options()...)
	if err != nil {
		return err
	}
	defer enc.Close()
	sets, err := c.fill(ctx, enc)
	if err != nil {
		return err
	}
	if sets.labels != nil {
		lb, err := json.Marshal(sets.labels)
		if err != nil {
			return err
		}
		if err := fit.WriteFileAtomic(filepath.Join(c.RunDir, "labels.json"), append(lb, '\n')); err != nil {
			return err
		}
	}

	h, err := head.New(c.Head, enc.Dim(), c.Seed)
	if err != nil {
		return fmt.Errorf("head: %w", err)
	}
	fc := fit.Config{
		Head:      h,
		Optimizer: c.Optimizer.optimizer(),
		Schedule:  c.Schedule,
		ClipNorm:  c.ClipNorm,
		Epochs:    c.Epochs,
		BatchSize: c.BatchSize,
		PerGroup:  c.PerGroup,
		Seed:      c.Seed,
		EarlyStopping: fit.EarlyStopping{
			Monitor: c.EarlyStopping.Monitor, Mode: c.EarlyStopping.Mode,
			Patience: c.EarlyStopping.Patience, MinDelta: c.EarlyStopping.MinDelta,
		},
		Eval:   eval.Options{Distance: c.Eval.Distance, K: c.Eval.K},
		Dir:    c.RunDir,
		Resume: c.Resume,
	}
	if c.Data.Kind == "groups" {
		fc.GroupLoss, err = loss.NewGroup(c.Loss, loss.GroupOptions{Classes: sets.labels.Len(), Dim: h.OutDim(), Seed: c.Seed})
	} else {
		fc.PairLoss, err = loss.NewPair(c.Loss)
	}
	if err != nil {
		return fmt.Errorf("loss: %w", err)
	}

	var before eval.Result
	if sets.val != nil {
		if before, err = c.evaluate(ctx, sets, nil); err != nil {
			return fmt.Errorf("validation before training: %w", err)
		}
	}
	res, err := fit.Fit(ctx, fc, sets.train, sets.val)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%w; run the same command with --resume to continue", err)
		}
		return err
	}
	fmt.Fprintf(w, "trained %d epochs", len(res.History))
	if res.Monitor != "" {
		fmt.Fprintf(w, "; best %s %.4f at epoch %d", res.Monitor, res.Best, res.BestEpoch)
	}
	if res.StoppedEarly {
		fmt.Fprint(w, " (stopped early)")
	}
	fmt.Fprintln(w)
	if sets.val != nil {
		after, err := c.evaluate(ctx, sets, h)
		if err != nil {
			return fmt.Errorf("validation after training: %w", err)
		}
		fmt.Fprintf(w, "\nvalidation (%s):\n%s", filepath.Base(c.Val), eval.Compare("frozen", before, "trained", after))
	}

	m, err := models.New([]models.Encoder{enc}, h)
	if err != nil {
		return err
	}
	if err := m.Save(c.Out); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nmodel:   %s\nhistory: %s\ntime:    %v\n", c.Out,
		filepath.Join(c.RunDir, fit.HistoryJSON), time.Since(start).Round(time.Millisecond))
	return nil
}

// fill reads the sample files and turns them into rows of one embedding
// matrix through the cache. A disk cache is closed as soon as the matrix is
// filled, so that other runs can use it while this one trains.
func (c *fitConfig) fill(ctx context.Context, enc *onnx.TextEncoder) (*trainingSets, error) {
	var fo cache.FillOptions
	if c.Cache.Mode == "disk" {
		st, err := cache.Open(c.Cache.Dir, cache.Options{})
		if err != nil {
			return nil, err
		}
		fo.Store = st
	}
	sets, err := c.fillSets(ctx, []cache.Spec{{Encoder: enc, Mode: c.Cache.cacheMode()}}, fo)
	if fo.Store != nil {
		if cerr := fo.Store.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("cache: %w", cerr)
		}
	}
	return sets, err
}

// fillSets reads the training and validation files and fills the matrix.
func (c *fitConfig) fillSets(ctx context.Context, specs []cache.Spec, fo cache.FillOptions) (*trainingSets, error) {
	paths := []string{c.Train}
	if c.Val != "" {
		paths = append(paths, c.Val)
	}
	sets := &trainingSets{}
	var m *cache.Matrix
	if c.Data.Kind == "groups" {
		sets.labels = &simlearn.Labels{}
		samples, err := c.Data.readGroups(sets.labels, paths...)
		if err != nil {
			return nil, err
		}
		if m, sets.groups, err = cache.FillGroups(ctx, specs, fo, samples...); err != nil {
			return nil, err
		}
		sets.train = &fit.GroupData{X: m.X, Rows: sets.groups[0].Rows, Groups: sets.groups[0].Groups}
		if len(sets.groups) > 1 {
			sets.val = &fit.GroupData{X: m.X, Rows: sets.groups[1].Rows, Groups: sets.groups[1].Groups}
		}
	} else {
		samples, err := c.Data.readPairs(paths...)
		if err != nil {
			return nil, err
		}
		if m, sets.pairs, err = cache.FillPairs(ctx, specs, fo, samples...); err != nil {
			return nil, err
		}
		p := sets.pairs[0]
		sets.train = &fit.PairData{X: m.X, A: p.A, B: p.B, Scores: p.Scores, Subgroups: p.Subgroups}
		if len(sets.pairs) > 1 {
			p := sets.pairs[1]
			sets.val = &fit.PairData{X: m.X, A: p.A, B: p.B, Scores: p.Scores, Subgroups: p.Subgroups}
		}
	}
	sets.x = m.X
	blk := m.Blocks[0]
	slog.Info("embeddings ready", "objects", m.X.RawMatrix().Rows, "from_cache", blk.Hits, "encoded", blk.Encoded, "cache", c.Cache.Mode)
	return sets, nil
}

// evaluate computes the validation metrics of the embeddings passed through
// h (the frozen embeddings when h is nil).
func (c *fitConfig) evaluate(ctx context.Context, s *trainingSets, h head.Head) (eval.Result, error) {
	opts := eval.Options{Distance: c.Eval.Distance, K: c.Eval.K}
	embed := func(rows []int) *mat.Dense {
		x := mat.NewDense(len(rows), s.x.RawMatrix().Cols, nil)
		for i, r := range rows {
			x.SetRow(i, s.x.RawRowView(r))
		}
		if h != nil {
			// Forward may return a buffer its next call reuses.
			return mat.DenseCopyOf(h.Forward(x, false))
		}
		return x
	}
	if s.groups != nil {
		v := s.groups[1]
		return eval.Groups(ctx, embed(v.Rows), v.Groups, opts)
	}
	v := s.pairs[1]
	return eval.Pairs(ctx, embed(v.A), embed(v.B), v.Scores, opts)
}
