package simlearn_test

import (
	"encoding/json"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/simlearn/simlearn/head"
)

// denseOf turns golden rows into a matrix.
func denseOf(t *testing.T, what string, rows [][]float64) *mat.Dense {
	t.Helper()
	if len(rows) == 0 || len(rows[0]) == 0 {
		t.Fatalf("golden %s is empty", what)
	}
	m := mat.NewDense(len(rows), len(rows[0]), nil)
	for i, r := range rows {
		if len(r) != len(rows[0]) {
			t.Fatalf("golden %s row %d has %d values, want %d", what, i, len(r), len(rows[0]))
		}
		m.SetRow(i, r)
	}
	return m
}

// tensorOf decodes a golden tensor given as a matrix or as a vector (one row).
func tensorOf(t *testing.T, what string, raw json.RawMessage) [][]float64 {
	t.Helper()
	var m [][]float64
	if err := json.Unmarshal(raw, &m); err == nil {
		return m
	}
	var v []float64
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("golden %s is neither a matrix nor a vector: %v", what, err)
	}
	return [][]float64{v}
}

func checkHead(t *testing.T, c goldenCase) {
	fields := map[string]json.RawMessage{"kind": json.RawMessage(`"` + c.Name + `"`)}
	for k, v := range c.Config {
		fields[k] = v
	}
	raw, err := json.Marshal(fields)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := head.ParseConfig(raw)
	if err != nil {
		t.Fatal(err)
	}
	x := denseOf(t, "input.x", decode[[][]float64](t, c.Input, "x"))
	up := denseOf(t, "input.upstream", decode[[][]float64](t, c.Input, "upstream"))
	_, d := x.Dims()
	h, err := head.New(cfg, d, 1)
	if err != nil {
		t.Fatal(err)
	}
	var params map[string]json.RawMessage
	if len(c.Params) > 0 {
		params = c.Params
	}
	if len(h.Params()) != len(params) {
		t.Fatalf("head has %d parameters, golden case %d", len(h.Params()), len(params))
	}
	for _, p := range h.Params() {
		raw, ok := params[p.Name]
		if !ok {
			t.Fatalf("golden case has no parameter %q", p.Name)
		}
		p.Value.Copy(denseOf(t, p.Name, tensorOf(t, p.Name, raw)))
		r, cc := p.Value.Dims()
		if g := tensorOf(t, p.Name, raw); len(g) != r || len(g[0]) != cc {
			t.Fatalf("parameter %q: golden shape %dx%d, head %dx%d", p.Name, len(g), len(g[0]), r, cc)
		}
	}
	y := h.Forward(x, true)
	dx := h.Backward(up)
	r, cols := y.Dims()
	assertMatrix(t, c.tol, "output", r, cols, y.At, decode[[][]float64](t, c.Expected, "output"))
	grads := decode[map[string]json.RawMessage](t, c.Expected, "grad")
	r, cols = dx.Dims()
	assertMatrix(t, c.tol, "grad.x", r, cols, dx.At, tensorOf(t, "grad.x", grads["x"]))
	for _, p := range h.Params() {
		raw, ok := grads[p.Name]
		if !ok {
			t.Fatalf("golden case has no gradient for %q", p.Name)
		}
		r, cols := p.Grad.Dims()
		assertMatrix(t, c.tol, "grad."+p.Name, r, cols, p.Grad.At, tensorOf(t, "grad."+p.Name, raw))
	}
}
