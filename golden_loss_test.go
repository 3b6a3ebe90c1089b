package simlearn_test

import (
	"encoding/json"
	"testing"

	"github.com/simlearn/simlearn/loss"
)

// specOf is the loss spec of a golden case.
func specOf(t *testing.T, c goldenCase) loss.Spec {
	t.Helper()
	params, err := json.Marshal(c.Params)
	if err != nil {
		t.Fatal(err)
	}
	return loss.Spec{Name: c.Name, Params: params}
}

func checkDistance(t *testing.T, c goldenCase) {
	dist := loss.Distance(c.Name)
	x := denseOf(t, "input.x", decode[[][]float64](t, c.Input, "x"))
	y := denseOf(t, "input.y", decode[[][]float64](t, c.Input, "y"))
	d, err := dist.Matrix(x, y)
	if err != nil {
		t.Fatal(err)
	}
	s, err := dist.SimilarityMatrix(x, y)
	if err != nil {
		t.Fatal(err)
	}
	n, m := d.Dims()
	assertMatrix(t, c.tol, "distance", n, m, d.At, decode[[][]float64](t, c.Expected, "distance"))
	assertMatrix(t, c.tol, "similarity", n, m, s.At, decode[[][]float64](t, c.Expected, "similarity"))
}

func checkGroupLoss(t *testing.T, c goldenCase) {
	e := denseOf(t, "input.embeddings", decode[[][]float64](t, c.Input, "embeddings"))
	groups := decode[[]int](t, c.Input, "groups")
	n, d := e.Dims()
	var opt loss.GroupOptions
	var weights [][]float64
	if _, ok := c.Input["weights"]; ok {
		weights = decode[[][]float64](t, c.Input, "weights")
		opt = loss.GroupOptions{Classes: len(weights), Dim: d, Seed: 1}
	}
	l, err := loss.NewGroup(specOf(t, c), opt)
	if err != nil {
		t.Fatal(err)
	}
	learnable, isLearnable := l.(loss.Learnable)
	if isLearnable != (weights != nil) {
		t.Fatalf("loss learnable = %v, golden case has weights = %v", isLearnable, weights != nil)
	}
	if isLearnable {
		learnable.Params()[0].Value.Copy(denseOf(t, "input.weights", weights))
	}
	got, de, err := l.Loss(e, groups)
	if err != nil {
		t.Fatal(err)
	}
	assertScalar(t, c.tol, "loss", got, decode[float64](t, c.Expected, "loss"))
	grads := decode[map[string]json.RawMessage](t, c.Expected, "grad")
	assertMatrix(t, c.tol, "grad.embeddings", n, d, de.At, decode[[][]float64](t, grads, "embeddings"))
	if isLearnable {
		w := learnable.Params()[0].Grad
		r, cc := w.Dims()
		assertMatrix(t, c.tol, "grad.weights", r, cc, w.At, decode[[][]float64](t, grads, "weights"))
	}
}

func checkPairLoss(t *testing.T, c goldenCase) {
	a := denseOf(t, "input.a", decode[[][]float64](t, c.Input, "a"))
	b := denseOf(t, "input.b", decode[[][]float64](t, c.Input, "b"))
	scores := decode[[]float64](t, c.Input, "scores")
	subgroups := decode[[]int](t, c.Input, "subgroups")
	l, err := loss.NewPair(specOf(t, c))
	if err != nil {
		t.Fatal(err)
	}
	got, da, db, err := l.Loss(a, b, scores, subgroups)
	if err != nil {
		t.Fatal(err)
	}
	n, d := a.Dims()
	assertScalar(t, c.tol, "loss", got, decode[float64](t, c.Expected, "loss"))
	grads := decode[map[string]json.RawMessage](t, c.Expected, "grad")
	assertMatrix(t, c.tol, "grad.a", n, d, da.At, decode[[][]float64](t, grads, "a"))
	assertMatrix(t, c.tol, "grad.b", n, d, db.At, decode[[][]float64](t, grads, "b"))
}
