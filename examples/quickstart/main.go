// Command quickstart is simlearn's quick start on real data: it fine-tunes a
// small head on top of a frozen all-MiniLM-L6-v2 so that WordNet glosses of the
// same lexicographer file (noun.animal, verb.motion, ...) land close together.
//
// Records {"description": ..., "label": ...} become group samples by label;
// descriptions are encoded once by the frozen model through the embedding
// cache (a rerun reads them from disk and never starts ONNX Runtime); a
// SkipConnection head is trained with a triplet loss (semi-hard mining by
// default, batch-hard with -mining hard); retrieval
// metrics on held-out glosses of the trained labels, and on labels never
// trained on, are shown before (the frozen model) and after; the model is
// saved for serving and the training curves are plotted.
//
//	make demo
//	go run ./examples/quickstart -out runs/quickstart
//
// The data are prepared from Debian's wordnet-base by ./prepare.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/simlearn/simlearn"
	"github.com/simlearn/simlearn/cache"
	"github.com/simlearn/simlearn/eval"
	"github.com/simlearn/simlearn/examples/internal/walltime"
	"github.com/simlearn/simlearn/fit"
	"github.com/simlearn/simlearn/head"
	"github.com/simlearn/simlearn/loss"
	"github.com/simlearn/simlearn/models"
	"github.com/simlearn/simlearn/onnx"
)

type options struct {
	data, out, cacheDir, model, mining string
	epochs                             int
	lr                                 float64
}

func main() {
	var o options
	flag.StringVar(&o.data, "data", "examples/quickstart/data", "directory with train, val, test and unseen .jsonl")
	flag.StringVar(&o.out, "out", "out/quickstart", "output directory: the servable model and the training history and plot")
	flag.StringVar(&o.cacheDir, "cache", "", "embedding cache directory (default ${SIMLEARN_HOME:-$HOME/.cache/simlearn}/cache)")
	flag.StringVar(&o.model, "model", onnx.DefaultModelDir(), "directory with the encoder's model.onnx and tokenizer.json")
	flag.IntVar(&o.epochs, "epochs", 40, "most training epochs (early stopping usually ends sooner)")
	flag.Float64Var(&o.lr, "lr", 1e-2, "Adam learning rate")
	flag.StringVar(&o.mining, "mining", "semi_hard", "triplet mining: semi_hard, hard (batch-hard) or all")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o); err != nil {
		slog.Error("quickstart failed", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	start := time.Now()

	// 1. Records -> group samples, one Labels so ids agree across files.
	labels := &simlearn.Labels{}
	fields := simlearn.GroupFields{Obj: "description", Group: "label", Labels: labels}
	var sets [][]simlearn.GroupSample
	for _, name := range []string{"train", "val", "test", "unseen"} {
		s, err := simlearn.ReadGroupsFile(filepath.Join(o.data, name+".jsonl"), fields, simlearn.CSVOptions{})
		if err != nil {
			return err
		}
		sets = append(sets, s)
	}

	// 2. The frozen encoder, and every description as a row of one matrix,
	// read from the cache or encoded once and stored.
	enc, err := onnx.NewTextEncoder(onnx.WithModelDir(o.model), onnx.WithName("description"), onnx.WithThreads(runtime.NumCPU()))
	if err != nil {
		return err
	}
	defer enc.Close()
	store, err := cache.Open(o.cacheDir, cache.Options{})
	if err != nil {
		return err
	}
	defer store.Close()
	fillStart := time.Now()
	m, rows, err := cache.FillGroups(ctx, []cache.Spec{{Encoder: enc}}, cache.FillOptions{Store: store}, sets...)
	if err != nil {
		return err
	}
	fillTime := time.Since(fillStart)
	fmt.Printf("embeddings: %d distinct descriptions, %d from the cache, %d encoded, in %v (ONNX Runtime started: %v)\n",
		m.X.RawMatrix().Rows, m.Blocks[0].Hits, m.Blocks[0].Encoded, fillTime.Round(time.Millisecond), enc.HasSession())
	data := func(i int) *fit.GroupData {
		return &fit.GroupData{X: m.X, Rows: rows[i].Rows, Groups: rows[i].Groups}
	}

	// 3. The frozen model's retrieval quality, as the baseline.
	opts := eval.Options{Distance: eval.Cosine, K: 10}
	before, err := evaluate(ctx, nil, m.X, rows[2:], opts)
	if err != nil {
		return err
	}

	// 4. Train a SkipConnection head with a triplet loss, with validation
	// metrics every epoch and early stopping on R-precision. Semi-hard
	// mining is the default: lexicographer files overlap, and batch-hard
	// mining (Quaterion's default) chases those ambiguous glosses.
	h, err := head.New(head.Config{Kind: head.KindSkipConnection}, enc.Dim(), 42)
	if err != nil {
		return err
	}
	trainDir := filepath.Join(o.out, "train")
	res, err := fit.Fit(ctx, fit.Config{
		Head:          h,
		GroupLoss:     &loss.Triplet{Margin: 0.5, Distance: loss.Cosine, Mining: loss.Mining(o.mining)},
		Optimizer:     fit.NewAdam(o.lr),
		Epochs:        o.epochs,
		BatchSize:     128,
		PerGroup:      4, // 32 labels x 4 glosses per batch
		Seed:          1,
		EarlyStopping: fit.EarlyStopping{Monitor: "val_r_precision", Patience: 5},
		Eval:          opts,
		Dir:           trainDir,
	}, data(0), data(1))
	if err != nil {
		return err
	}
	fmt.Printf("training: best %s %.4f at epoch %d of %d\n", res.Monitor, res.Best, res.BestEpoch, len(res.History))

	// 5. The same evaluation through the trained head.
	after, err := evaluate(ctx, h, m.X, rows[2:], opts)
	if err != nil {
		return err
	}
	for i, what := range []string{"held-out glosses of the trained labels (test.jsonl)", "labels never trained on (unseen.jsonl)"} {
		fmt.Printf("\n%s\n%s\n", what, eval.Compare("frozen", before[i], "fine-tuned", after[i]))
	}

	// 6. Save the encoder and head as one servable model.
	model, err := models.New([]models.Encoder{enc}, h)
	if err != nil {
		return err
	}
	modelDir := filepath.Join(o.out, "model")
	if err := model.Save(modelDir); err != nil {
		return err
	}
	fmt.Printf("\nmodel:  %s (load it with models.Load)\n", modelDir)
	fmt.Printf("plot:   %s\n", filepath.Join(trainDir, fit.HistoryPNG))
	return walltime.Report(o.out, m.Blocks[0].Encoded > 0, fillTime, time.Since(start))
}

// evaluate returns the group retrieval metrics of each set, on the cached
// embeddings passed through h (the raw embeddings when h is nil).
func evaluate(ctx context.Context, h head.Head, x *mat.Dense, sets []cache.GroupRows, opts eval.Options) ([]eval.Result, error) {
	var out []eval.Result
	for _, s := range sets {
		e := selectRows(x, s.Rows)
		if h != nil {
			e = h.Forward(e, false)
		}
		r, err := eval.Groups(ctx, e, s.Groups, opts)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// selectRows returns a new matrix of the given rows of x.
func selectRows(x *mat.Dense, rows []int) *mat.Dense {
	out := mat.NewDense(len(rows), x.RawMatrix().Cols, nil)
	for i, r := range rows {
		out.SetRow(i, x.RawRowView(r))
	}
	return out
}
