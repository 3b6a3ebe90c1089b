package simlearn_test

import (
	"context"
	"testing"

	"github.com/simlearn/simlearn/eval"
)

// checkGroupMetrics runs a group_metrics case through eval.Groups.
func checkGroupMetrics(t *testing.T, c goldenCase) {
	dist := decode[string](t, c.Params, "distance")
	k := decode[int](t, c.Params, "k")
	emb := decode[[][]float64](t, c.Input, "embeddings")
	groups := decode[[]int](t, c.Input, "groups")
	res, err := eval.Groups(context.Background(), emb, groups, eval.Options{Distance: dist, K: k})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Expected) == 0 {
		t.Fatal("group_metrics case expects nothing")
	}
	for name := range c.Expected {
		got, ok := res.Metrics[name]
		if !ok {
			t.Errorf("metric %q is not computed", name)
			continue
		}
		assertScalar(t, c.tol, name, got, decode[float64](t, c.Expected, name))
	}
}

// checkCorrelation runs a correlation case through eval.Spearman and
// eval.Pearson.
func checkCorrelation(t *testing.T, c goldenCase) {
	x := decode[[]float64](t, c.Input, "x")
	y := decode[[]float64](t, c.Input, "y")
	s, err := eval.Spearman(x, y)
	if err != nil {
		t.Fatal(err)
	}
	p, err := eval.Pearson(x, y)
	if err != nil {
		t.Fatal(err)
	}
	assertScalar(t, c.tol, "spearman", s, decode[float64](t, c.Expected, "spearman"))
	assertScalar(t, c.tol, "pearson", p, decode[float64](t, c.Expected, "pearson"))
}
