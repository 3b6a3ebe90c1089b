package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/simlearn/simlearn"
	"github.com/simlearn/simlearn/eval"
	"github.com/simlearn/simlearn/models"
)

const evalSynopsis = `
Usage: simlearn eval [flags] MODEL DATA

Prints the metrics of MODEL's embeddings of the samples in DATA (a .jsonl,
.ndjson, .csv, .tsv or .tab file): for groups precision@k, recall@k, MRR,
R-precision, MAP@R and NDCG@k (every object queries all others, its label's
objects are relevant); for pairs the same retrieval metrics and the Spearman
and Pearson correlations of similarity and score.

MODEL is a servable directory (written by fit) or an encoder directory
(model.onnx and tokenizer.json), which is evaluated as the frozen encoder
with the --pooling, --max-length, --normalize and --encoder-field settings.
--compare OTHER evaluates a second model and prints both side by side with
the difference MODEL - OTHER.
`

const evalExamples = `
  # a fine-tuned model against the frozen encoder it started from
  simlearn eval models/products test.jsonl --obj description \
      --compare ~/.cache/simlearn/models/all-MiniLM-L6-v2

  # STS Benchmark test pairs, metrics as JSON
  simlearn eval --preset stsb --json models/sts sts-test.csv
`

func runEval(ctx context.Context, e *env, args []string) error {
	data, enc := defaultData(), defaultEncoder()
	f := newFlagSet("eval", evalSynopsis, evalExamples)
	data.register(f)
	enc.register(f, false)
	distance := f.String("distance", eval.Cosine, "distance: cosine, euclidean, manhattan or dot")
	k := f.Int("k", 10, "cutoff of precision@k, recall@k and ndcg@k")
	compare := f.String("compare", "", "a second MODEL `directory` to evaluate and compare with")
	asJSON := f.Bool("json", false, `print the results as JSON: {"model": {"k": 10, "metrics": {...}, "queries": n, "skipped": n}, "compare": {...}}`)
	pos, err := f.parse(e, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, "MODEL", "DATA"); err != nil {
		return err
	}
	if err := data.check(); err != nil {
		return err
	}
	if *k <= 0 {
		return usagef("--k %d: want a positive cutoff", *k)
	}
	opts := eval.Options{Distance: *distance, K: *k}

	// Read the data first: a mistake there costs no model loading.
	var groups []simlearn.GroupSample
	var pairs []simlearn.PairSample
	if data.Kind == "groups" {
		sets, err := data.readGroups(&simlearn.Labels{}, pos[1])
		if err != nil {
			return err
		}
		groups = sets[0]
	} else {
		sets, err := data.readPairs(pos[1])
		if err != nil {
			return err
		}
		pairs = sets[0]
	}
	evaluate := func(dir string) (eval.Result, error) {
		m, err := openModel(dir, enc, f)
		if err != nil {
			return eval.Result{}, err
		}
		defer m.Close()
		return evaluateModel(ctx, m, groups, pairs, opts)
	}

	res, err := evaluate(pos[0])
	if err != nil {
		return err
	}
	if *compare == "" {
		if *asJSON {
			return writeJSON(e.stdout, map[string]jsonResult{"model": toJSON(res)})
		}
		fmt.Fprint(e.stdout, res)
		return nil
	}
	other, err := evaluate(*compare)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(e.stdout, map[string]jsonResult{"model": toJSON(res), "compare": toJSON(other)})
	}
	a, b := filepath.Base(filepath.Clean(pos[0])), filepath.Base(filepath.Clean(*compare))
	if a == b {
		a, b = pos[0], *compare
	}
	fmt.Fprint(e.stdout, eval.Compare(b, other, a, res))
	return nil
}

// jsonResult is an eval.Result as --json prints it.
type jsonResult struct {
	K       int                `json:"k"`
	Metrics map[string]float64 `json:"metrics"`
	Std     map[string]float64 `json:"std,omitempty"`
	Queries int                `json:"queries"`
	Skipped int                `json:"skipped"`
}

func toJSON(r eval.Result) jsonResult {
	return jsonResult{K: r.K, Metrics: r.Metrics, Std: r.Std, Queries: r.Queries, Skipped: r.Skipped}
}

// evaluateModel encodes the samples (groups or pairs) with m and computes
// the metrics.
func evaluateModel(ctx context.Context, m *models.SimilarityModel, groups []simlearn.GroupSample, pairs []simlearn.PairSample, opts eval.Options) (eval.Result, error) {
	if groups != nil {
		return eval.EvaluateGroups(ctx, m, groups, opts)
	}
	return eval.EvaluatePairs(ctx, m, pairs, opts)
}
