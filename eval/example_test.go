package eval_test

import (
	"context"
	"fmt"
	"log"

	"github.com/simlearn/simlearn"
	"github.com/simlearn/simlearn/eval"
)

func ExampleGroups() {
	// Two groups on a line; item 4 sits closer to group 2 than to its own.
	emb := [][]float32{{0}, {1}, {10}, {11}, {13}}
	groups := []int{1, 1, 2, 2, 1}
	res, err := eval.Groups(context.Background(), emb, groups, eval.Options{Distance: "euclidean", K: 1})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(res)
	// Output:
	// metric              value
	// precision@1        0.8000
	// recall@1           0.6000
	// mrr                0.8667
	// r_precision        0.6000
	// r_precision_micro  0.5000
	// map@r              0.6000
	// ndcg@1             0.8000
	// 5 queries, 0 skipped (no relevant item)
}

func ExamplePairs() {
	// Three pairs with gold scores; the closer the pair, the higher the
	// score, so both correlations are high.
	a := [][]float32{{1, 0}, {0, 1}, {1, 1}}
	b := [][]float32{{0.9, 0.1}, {0.5, 1}, {1, -1}}
	res, err := eval.Pairs(context.Background(), a, b, []float64{1, 0.6, 0.1}, eval.Options{K: 1})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("spearman %.3f, pearson %.3f, mrr %.3f\n",
		res.Metrics[eval.MetricSpearman], res.Metrics[eval.MetricPearson], res.Metrics[eval.MetricMRR])
	// Output:
	// spearman 1.000, pearson 0.933, mrr 0.672
}

func ExampleCompare() {
	groups := []int{0, 0, 1, 1}
	before := [][]float32{{0, 1}, {1, 0}, {0, 0.9}, {1, 0.1}}
	after := [][]float32{{0, 1}, {0.1, 1}, {1, 0}, {1, 0.1}}
	opts := eval.Options{K: 1}
	rb, err := eval.Groups(context.Background(), before, groups, opts)
	if err != nil {
		log.Fatal(err)
	}
	ra, err := eval.Groups(context.Background(), after, groups, opts)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(eval.Compare("before", rb, "after", ra))
	// Output:
	// metric             before   after    delta
	// precision@1        0.0000  1.0000  +1.0000
	// recall@1           0.0000  1.0000  +1.0000
	// mrr                0.4167  1.0000  +0.5833
	// r_precision        0.0000  1.0000  +1.0000
	// r_precision_micro  0.0000  1.0000  +1.0000
	// map@r              0.0000  1.0000  +1.0000
	// ndcg@1             0.0000  1.0000  +1.0000
	// before: 4 queries, 0 skipped (no relevant item)
	// after: 4 queries, 0 skipped (no relevant item)
}

// wordVectors is an Embedder that looks words up in a table; a model
// (encoder and head) is the usual one.
type wordVectors map[string][]float32

func (w wordVectors) Encode(_ context.Context, objs []any) ([][]float32, error) {
	out := make([][]float32, len(objs))
	for i, o := range objs {
		v, ok := w[o.(string)]
		if !ok {
			return nil, fmt.Errorf("no vector for %q", o)
		}
		out[i] = v
	}
	return out, nil
}

func ExampleEvaluateGroups() {
	model := wordVectors{
		"apple": {1, 0.1}, "pear": {0.9, 0.2}, "plum": {0.8, 0.3},
		"dog": {0.1, 1}, "cat": {0.2, 0.9}, "cow": {0.7, 0.6},
	}
	samples := []simlearn.GroupSample{
		{Obj: "apple", Group: 0}, {Obj: "pear", Group: 0}, {Obj: "plum", Group: 0},
		{Obj: "dog", Group: 1}, {Obj: "cat", Group: 1}, {Obj: "cow", Group: 1},
	}
	res, err := eval.EvaluateGroups(context.Background(), model, samples, eval.Options{K: 2})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("r_precision %.3f over %d queries\n", res.Metrics[eval.MetricRPrecision], res.Queries)
	// Output:
	// r_precision 0.833 over 6 queries
}

func ExampleNeighbors() {
	emb := [][]float32{{0, 0}, {3, 4}, {1, 0}, {0, 2}}
	nb, err := eval.Neighbors(context.Background(), emb, 2, "euclidean")
	if err != nil {
		log.Fatal(err)
	}
	for q, list := range nb {
		fmt.Printf("%d:", q)
		for _, n := range list {
			fmt.Printf(" %d (%.3f)", n.Index, n.Distance)
		}
		fmt.Println()
	}
	// Output:
	// 0: 2 (1.000) 3 (2.000)
	// 1: 3 (3.606) 2 (4.472)
	// 2: 0 (1.000) 3 (2.236)
	// 3: 0 (2.000) 2 (2.236)
}
