package fit

import (
	"context"
	"math"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/simlearn/simlearn/head"
)

// TestPrecision trains the same run in both precisions: the float32 run
// follows the float64 one to float32 accuracy, and Fit hands the head back
// computing in float64.
func TestPrecision(t *testing.T) {
	train, val := smallGroups(t)
	results := map[head.Precision]*Result{}
	heads := map[head.Precision]head.Head{}
	for _, p := range []head.Precision{head.Float64, head.Float32} {
		cfg := baseConfig(t, "")
		cfg.Precision = p
		res, err := Fit(context.Background(), cfg, train, val)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		results[p], heads[p] = res, cfg.Head
	}
	l64 := results[head.Float64].History[0].Values["train_loss"]
	l32 := results[head.Float32].History[0].Values["train_loss"]
	if e := math.Abs(l32-l64) / l64; !(e < 1e-5) || l32 == l64 {
		t.Errorf("first epoch train loss %.10g in float32, %.10g in float64: want a small nonzero difference", l32, l64)
	}

	h := heads[head.Float32]
	x := train.X
	after := mat.DenseCopyOf(h.Forward(x, false))
	if _, err := head.SetPrecision(h, head.Float32); err != nil {
		t.Fatal(err)
	}
	in32 := mat.DenseCopyOf(h.Forward(x, false))
	if _, err := head.SetPrecision(h, head.Float64); err != nil {
		t.Fatal(err)
	}
	if in64 := h.Forward(x, false); !mat.Equal(after, in64) || mat.Equal(after, in32) {
		t.Error("after Fit the head does not compute in float64")
	}

	cfg := baseConfig(t, "")
	cfg.Precision = "float16"
	if _, err := Fit(context.Background(), cfg, train, val); err == nil || !strings.Contains(err.Error(), "Precision") {
		t.Errorf("precision float16: got %v, want an error naming Config.Precision", err)
	}
}
