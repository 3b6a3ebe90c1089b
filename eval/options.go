package eval

import (
	"fmt"
	"runtime"
)

// Metric names, the keys of Result.Metrics. They do not change with k: the
// cutoff is Result.K.
const (
	MetricPrecisionAtK    = "precision@k"       // relevant among the top k, divided by k
	MetricRecallAtK       = "recall@k"          // relevant among the top k, divided by R
	MetricMRR             = "mrr"               // 1 / rank of the first relevant item
	MetricRPrecision      = "r_precision"       // relevant among the top R, divided by R (mean over queries)
	MetricRPrecisionMicro = "r_precision_micro" // sum of relevant among the top R over sum of R
	MetricMAPAtR          = "map@r"             // mean over relevant items within the top R of precision at their rank, divided by R
	MetricNDCGAtK         = "ndcg@k"            // DCG@k / ideal DCG@k with graded gains
	MetricSpearman        = "spearman"          // rank correlation of pair similarity and gold score
	MetricPearson         = "pearson"           // linear correlation of pair similarity and gold score
)

// metricOrder is the order in which tables list metrics.
var metricOrder = []string{MetricPrecisionAtK, MetricRecallAtK, MetricMRR, MetricRPrecision, MetricRPrecisionMicro, MetricMAPAtR, MetricNDCGAtK, MetricSpearman, MetricPearson}

// Distance names, as in SPEC section 1.
const (
	Cosine    = "cosine"    // 1 - x.y / (max(|x|,1e-12) max(|y|,1e-12)); the default
	Euclidean = "euclidean" // |x - y|_2
	Manhattan = "manhattan" // sum_k |x_k - y_k|
	Dot       = "dot"       // -x.y
)

// Options configure an evaluation.
type Options struct {
	// Distance ranks the items: "cosine" (the default when empty),
	// "euclidean", "manhattan" or "dot". Cosine, euclidean and dot use
	// matrix products; manhattan is computed element by element and is
	// much slower on large sets.
	Distance string
	// K is the cutoff of precision@k, recall@k and ndcg@k; it must be > 0.
	K int
	// SampleSize, when > 0, evaluates random samples of this many queries
	// (drawn without replacement among the items that have a relevant item)
	// against the whole corpus instead of every item as a query.
	SampleSize int
	// Repeats is the number of samples drawn when SampleSize > 0 (default
	// 1); Result holds the mean over the samples and, for Repeats > 1, the
	// standard deviation in Result.Std.
	Repeats int
	// Seed makes the samples reproducible.
	Seed uint64
	// Workers is the number of query strips scored in parallel (default
	// runtime.GOMAXPROCS(0)). Results do not depend on it.
	Workers int
	// Progress, when set, is called after each strip of queries is scored
	// with the number of queries done and the total; calls come one at a
	// time, done increasing.
	Progress func(done, total int)
}

// normalized checks the options and fills in defaults.
func (o Options) normalized() (Options, error) {
	if o.Distance == "" {
		o.Distance = Cosine
	}
	if err := checkDistance(o.Distance); err != nil {
		return o, err
	}
	if o.K <= 0 {
		return o, fmt.Errorf("eval: Options.K must be > 0, got %d", o.K)
	}
	if o.SampleSize < 0 {
		return o, fmt.Errorf("eval: Options.SampleSize must be >= 0, got %d", o.SampleSize)
	}
	if o.Repeats < 0 {
		return o, fmt.Errorf("eval: Options.Repeats must be >= 0, got %d", o.Repeats)
	}
	if o.SampleSize == 0 && o.Repeats > 1 {
		return o, fmt.Errorf("eval: Options.Repeats is %d but SampleSize is 0: repeating the full evaluation gives the same numbers; set SampleSize", o.Repeats)
	}
	if o.Repeats == 0 {
		o.Repeats = 1
	}
	if o.Workers < 0 {
		return o, fmt.Errorf("eval: Options.Workers must be >= 0, got %d", o.Workers)
	}
	if o.Workers == 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	return o, nil
}

func checkDistance(name string) error {
	switch name {
	case Cosine, Euclidean, Manhattan, Dot:
		return nil
	}
	return fmt.Errorf("eval: unknown distance %q (want cosine, euclidean, manhattan or dot)", name)
}
