// Command stsb fine-tunes a head on a frozen all-MiniLM-L6-v2 for the STS
// Benchmark: sentence pairs with a gold similarity 0-5 (scaled to 0-1), a
// SkipConnection head trained with a loss for graded scores (CosineSimilarity
// by default, or CoSENT), early stopping on the dev set's Spearman
// correlation, and the test set's Spearman x100 before (the frozen model) and
// after, in one run.
//
//	go run ./examples/stsb
//	go run ./examples/stsb -loss cosent -lr 1e-3 -epochs 20
//
// Sentences are encoded once through the embedding cache; a rerun reads them
// from disk, never starts ONNX Runtime, and takes seconds.
package main

import (
	"cmp"
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
	data, out, save, cacheDir, model, loss string
	epochs                                 int
	lr                                     float64
}

func main() {
	var o options
	flag.StringVar(&o.data, "data", cmp.Or(os.Getenv("SIMLEARN_STSB"), "../shared/datasets/stsbenchmark"),
		"directory with sts-train.csv, sts-dev.csv and sts-test.csv ($SIMLEARN_STSB sets the default)")
	flag.StringVar(&o.out, "out", "out/stsb", "output directory for the training history, plot and checkpoint")
	flag.StringVar(&o.save, "save", "", "when set, save the servable model (encoder and head) in this directory")
	flag.StringVar(&o.cacheDir, "cache", "", "embedding cache directory (default ${SIMLEARN_HOME:-$HOME/.cache/simlearn}/cache)")
	flag.StringVar(&o.model, "model", onnx.DefaultModelDir(), "directory with the encoder's model.onnx and tokenizer.json")
	flag.StringVar(&o.loss, "loss", "cosine", "loss: cosine (CosineSimilarity) or cosent (CoSENT)")
	flag.IntVar(&o.epochs, "epochs", 10, "most training epochs (early stopping may end sooner)")
	flag.Float64Var(&o.lr, "lr", 1e-2, "Adam learning rate")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o); err != nil {
		slog.Error("stsb failed", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	start := time.Now()
	var lossFn loss.PairLoss
	switch o.loss {
	case "cosine":
		lossFn = loss.NewCosineSimilarity()
	case "cosent":
		lossFn = loss.NewCoSENT()
	default:
		return fmt.Errorf("-loss %q: want cosine or cosent", o.loss)
	}

	// Train, dev and test pairs, scores 0-5 scaled to 0-1.
	fields, csv := simlearn.STSBenchmark()
	var sets [][]simlearn.PairSample
	for _, name := range []string{"sts-train.csv", "sts-dev.csv", "sts-test.csv"} {
		s, err := simlearn.ReadPairsFile(filepath.Join(o.data, name), fields, csv)
		if err != nil {
			return err
		}
		sets = append(sets, s)
	}

	// Every sentence as a row of one matrix, from the cache or encoded once.
	enc, err := onnx.NewTextEncoder(onnx.WithModelDir(o.model), onnx.WithName("sentence"), onnx.WithThreads(runtime.NumCPU()))
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
	m, rows, err := cache.FillPairs(ctx, []cache.Spec{{Encoder: enc}}, cache.FillOptions{Store: store}, sets...)
	if err != nil {
		return err
	}
	fillTime := time.Since(fillStart)
	fmt.Printf("embeddings: %d distinct sentences, %d from the cache, %d encoded, in %v (ONNX Runtime started: %v)\n",
		m.X.RawMatrix().Rows, m.Blocks[0].Hits, m.Blocks[0].Encoded, fillTime.Round(time.Millisecond), enc.HasSession())
	data := func(i int) *fit.PairData {
		return &fit.PairData{X: m.X, A: rows[i].A, B: rows[i].B, Scores: rows[i].Scores}
	}

	// The frozen model's test scores, as the baseline.
	opts := eval.Options{Distance: eval.Cosine, K: 10}
	before, err := evaluate(ctx, nil, data(2), opts)
	if err != nil {
		return err
	}

	// A SkipConnection head, trained until dev Spearman stops improving.
	h, err := head.New(head.Config{Kind: head.KindSkipConnection, Dropout: 0.1}, enc.Dim(), 42)
	if err != nil {
		return err
	}
	res, err := fit.Fit(ctx, fit.Config{
		Head:          h,
		PairLoss:      lossFn,
		Optimizer:     fit.NewAdam(o.lr),
		Epochs:        o.epochs,
		BatchSize:     64,
		Seed:          1,
		EarlyStopping: fit.EarlyStopping{Monitor: "val_spearman", Patience: 2},
		// Spearman always uses every dev pair; the retrieval metrics, which
		// only the plot shows, use a sample of queries to keep epochs fast.
		Eval: eval.Options{K: 10, SampleSize: 200, Seed: 1},
		Dir:  o.out,
	}, data(0), data(1))
	if err != nil {
		return err
	}
	fmt.Printf("training: best dev Spearman %.4f at epoch %d of %d\n", res.Best, res.BestEpoch, len(res.History))

	// The same test pairs through the trained head.
	after, err := evaluate(ctx, h, data(2), opts)
	if err != nil {
		return err
	}
	fmt.Printf("\nSTS Benchmark test (%d pairs)\n%s\n", len(sets[2]), eval.Compare("frozen", before, "fine-tuned", after))
	b, a := 100*before.Metrics[eval.MetricSpearman], 100*after.Metrics[eval.MetricSpearman]
	fmt.Printf("test Spearman x100: frozen %.2f, fine-tuned %.2f (%+.2f)\n", b, a, a-b)

	if o.save != "" {
		model, err := models.New([]models.Encoder{enc}, h)
		if err != nil {
			return err
		}
		if err := model.Save(o.save); err != nil {
			return err
		}
		fmt.Printf("model: %s\n", o.save)
	}
	fmt.Printf("plot: %s\n", filepath.Join(o.out, fit.HistoryPNG))
	return walltime.Report(o.out, m.Blocks[0].Encoded > 0, fillTime, time.Since(start))
}

// evaluate scores the pairs of d on the cached embeddings passed through h
// (the raw embeddings when h is nil).
func evaluate(ctx context.Context, h head.Head, d *fit.PairData, opts eval.Options) (eval.Result, error) {
	a, b := selectRows(d.X, d.A), selectRows(d.X, d.B)
	if h != nil {
		a = mat.DenseCopyOf(h.Forward(a, false)) // Forward reuses its output matrix
		b = h.Forward(b, false)
	}
	return eval.Pairs(ctx, a, b, d.Scores, opts)
}

// selectRows returns a new matrix of the given rows of x.
func selectRows(x *mat.Dense, rows []int) *mat.Dense {
	out := mat.NewDense(len(rows), x.RawMatrix().Cols, nil)
	for i, r := range rows {
		out.SetRow(i, x.RawRowView(r))
	}
	return out
}
