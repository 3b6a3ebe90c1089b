package fit_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/simlearn/simlearn/fit"
	"github.com/simlearn/simlearn/head"
	"github.com/simlearn/simlearn/loss"
)

// Fit trains a head on an embedding matrix whose rows the samples index.
// Here 4 groups differ only in 2 of 8 dimensions; the other 6 are noise that
// a cosine comparison of the raw vectors mostly sees.
func ExampleFit() {
	rng := rand.New(rand.NewPCG(1, 2))
	x := mat.NewDense(400, 8, nil)
	var groups []int
	for i := range 400 {
		g := i % 4
		angle := float64(g) * math.Pi / 2
		x.Set(i, 0, math.Cos(angle)+0.1*rng.NormFloat64())
		x.Set(i, 1, math.Sin(angle)+0.1*rng.NormFloat64())
		for j := 2; j < 8; j++ {
			x.Set(i, j, rng.NormFloat64())
		}
		groups = append(groups, g)
	}
	train := &fit.GroupData{X: x, Rows: seq(0, 300), Groups: groups[:300]}
	val := &fit.GroupData{X: x, Rows: seq(300, 400), Groups: groups[300:]}

	h, err := head.New(head.Config{Kind: head.KindSkipConnection}, 8, 1)
	if err != nil {
		panic(err)
	}
	res, err := fit.Fit(context.Background(), fit.Config{
		Head:          h,
		GroupLoss:     loss.NewTriplet(), // batch-hard, margin 0.5, cosine
		Optimizer:     fit.NewAdam(0.01),
		Epochs:        30,
		BatchSize:     20,
		PerGroup:      5, // 4 groups x 5 samples per batch
		EarlyStopping: fit.EarlyStopping{Monitor: "val_r_precision", Patience: 5},
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, train, val)
	if err != nil {
		panic(err)
	}
	fmt.Printf("validation R-precision: first epoch %.2f, best %.2f\n", res.History[0].Values["val_r_precision"], res.Best)
	// Output:
	// validation R-precision: first epoch 0.43, best 1.00
}

func seq(lo, hi int) []int {
	var out []int
	for i := lo; i < hi; i++ {
		out = append(out, i)
	}
	return out
}
