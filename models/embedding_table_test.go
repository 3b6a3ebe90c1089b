package models

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/simlearn/simlearn/internal/gradcheck"
)

// objective is a nonlinear loss of the forward output and its gradient:
// L = sum(Y .* R) + 0.5*sum(Y.^2)*sum(Y), dL/dY = R + Y*sum(Y) + 0.5*sum(Y.^2).
func objective(y, r *mat.Dense) (float64, *mat.Dense) {
	var s, q, lin float64
	rows, cols := y.Dims()
	for i := range rows {
		for j := range cols {
			v := y.At(i, j)
			s += v
			q += v * v
			lin += v * r.At(i, j)
		}
	}
	dy := mat.NewDense(rows, cols, nil)
	for i := range rows {
		for j := range cols {
			dy.Set(i, j, r.At(i, j)+y.At(i, j)*s+0.5*q)
		}
	}
	return lin + 0.5*q*s, dy
}

func TestEmbeddingTableGradientMatchesNumeric(t *testing.T) {
	tab, err := NewEmbeddingTable(EmbeddingTableConfig{Name: "color", Categories: []string{"red", "green", "blue"}, Dim: 4, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	// Repeats and an unknown category: rows 1 and 0 are used twice.
	objs := []any{"red", "blue", "red", "purple", "teal"}
	r := mat.NewDense(len(objs), 4, nil)
	for i := range len(objs) {
		for j := range 4 {
			r.Set(i, j, math.Sin(float64(3*i+j+1)))
		}
	}
	y, err := tab.Forward(objs)
	if err != nil {
		t.Fatal(err)
	}
	_, dy := objective(y, r)
	if err := tab.Backward(dy); err != nil {
		t.Fatal(err)
	}
	w := tab.Params()[0]
	if w.Name != "color.weight" {
		t.Fatalf("param name %q", w.Name)
	}
	num := gradcheck.Numeric(w.Value, func() float64 {
		yp, _ := tab.Forward(objs)
		l, _ := objective(yp, r)
		return l
	})
	gradcheck.AssertClose(t, "grad", w.Grad, num, 1e-6)
	_, cols := w.Value.Dims()
	// Row 2 ("green") is unused: its gradient is exactly zero.
	for j := range cols {
		if w.Grad.At(2, j) != 0 {
			t.Errorf("unused row 2 has gradient %v", w.Grad.RawRowView(2))
			break
		}
	}
}

func TestEmbeddingTableBackwardAccumulates(t *testing.T) {
	tab, err := NewEmbeddingTable(EmbeddingTableConfig{Name: "c", Categories: []string{"a", "b"}, Dim: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tab.Forward([]any{"a", "a", "b"}); err != nil {
		t.Fatal(err)
	}
	dy := mat.NewDense(3, 2, []float64{1, 2, 3, 4, 5, 6})
	for range 2 {
		if err := tab.Backward(dy); err != nil {
			t.Fatal(err)
		}
	}
	want := []float64{0, 0, 8, 12, 10, 12}
	if got := tab.Params()[0].Grad.RawMatrix().Data; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("grad %v, want %v", got, want)
	}
	if err := tab.Backward(mat.NewDense(2, 2, nil)); err == nil || !strings.Contains(err.Error(), "3x2") {
		t.Fatalf("shape mismatch error: %v", err)
	}
}

func TestEmbeddingTableEncodeAndFields(t *testing.T) {
	cfg := EmbeddingTableConfig{Name: "kind", Categories: []string{"x", "y"}, Dim: 3, Field: "kind", Seed: 1}
	a, err := NewEmbeddingTable(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewEmbeddingTable(cfg)
	if !mat.Equal(a.Params()[0].Value, b.Params()[0].Value) {
		t.Fatal("same seed, different initialisation")
	}
	cfg.Seed = 2
	c, _ := NewEmbeddingTable(cfg)
	if mat.Equal(a.Params()[0].Value, c.Params()[0].Value) {
		t.Fatal("different seeds, same initialisation")
	}
	vs, err := a.Encode(context.Background(), []any{map[string]any{"kind": "y"}, map[string]string{"kind": "zzz"}})
	if err != nil {
		t.Fatal(err)
	}
	for j := range 3 {
		if vs[0][j] != float32(a.Params()[0].Value.At(2, j)) || vs[1][j] != float32(a.Params()[0].Value.At(0, j)) {
			t.Fatalf("encode rows: %v", vs)
		}
	}
	if _, err := a.Encode(context.Background(), []any{map[string]any{"other": 1}}); err == nil || !strings.Contains(err.Error(), `object 0`) {
		t.Fatalf("missing field error: %v", err)
	}
	if _, err := NewEmbeddingTable(EmbeddingTableConfig{Name: "d", Categories: []string{"a", "a"}, Dim: 1}); err == nil {
		t.Fatal("duplicate category accepted")
	}
	if !a.Trainable() || a.Dim() != 3 || a.Name() != "kind" {
		t.Fatal("encoder accessors")
	}
}

func ExampleEmbeddingTable() {
	tab, _ := NewEmbeddingTable(EmbeddingTableConfig{Name: "brand", Categories: []string{"acme", "globex"}, Dim: 2, Seed: 1})
	y, _ := tab.Forward([]any{"globex", "unheard-of"})
	// The head's gradient for these two rows flows into the table.
	_ = tab.Backward(mat.NewDense(2, 2, []float64{1, 1, 1, 1}))
	r, c := y.Dims()
	fmt.Println(r, c, tab.Params()[0].Name)
	fmt.Println(tab.Params()[0].Grad.RawRowView(2), tab.Params()[0].Grad.RawRowView(1))
	// Output:
	// 2 2 brand.weight
	// [1 1] [0 0]
}
