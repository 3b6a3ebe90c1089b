package loss_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/simlearn/simlearn/head"
	"github.com/simlearn/simlearn/internal/gradcheck"
	"github.com/simlearn/simlearn/loss"
)

const benchBatch, benchDim = 256, 384

func benchHead(b *testing.B) head.Head {
	h, err := head.New(head.Config{Kind: head.KindSkipConnection}, benchDim, 1)
	if err != nil {
		b.Fatal(err)
	}
	return h
}

// BenchmarkSkipConnectionTripletStep measures forward, batch-hard triplet
// loss and backward (no optimizer step) of SkipConnection(384) on a batch of
// 256 embeddings in 64 groups of 4, in both precisions.
func BenchmarkSkipConnectionTripletStep(b *testing.B) {
	for _, p := range precisions {
		b.Run(string(p), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 1))
			h := benchHead(b)
			x := gradcheck.RandNormal(rng, benchBatch, benchDim)
			groups := make([]int, benchBatch)
			for i := range groups {
				groups[i] = i / 4
			}
			l := loss.NewTriplet()
			setPrecision(b, h, l, p)
			b.ReportAllocs()
			var cpu0 time.Duration
			for i := 0; b.Loop(); i++ {
				if i == 0 {
					cpu0 = cpuTime()
				}
				y := h.Forward(x, true)
				_, dy, err := l.Loss(y, groups)
				if err != nil {
					b.Fatal(err)
				}
				head.ZeroGrad(h.Params())
				head.BackwardParams(h, dy)
			}
			reportThroughput(b, b.N*benchBatch, cpu0)
		})
	}
}

// BenchmarkSkipConnectionMNRLStep measures forward, multiple negatives
// ranking loss and backward (no optimizer step) of SkipConnection(384) on a
// batch of 256 pairs laid out as [a_1..a_256, b_1..b_256]; a sample is a
// pair. It runs in both precisions.
func BenchmarkSkipConnectionMNRLStep(b *testing.B) {
	for _, p := range precisions {
		b.Run(string(p), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			h := benchHead(b)
			x := gradcheck.RandNormal(rng, 2*benchBatch, benchDim)
			scores := make([]float64, benchBatch)
			for i := range scores {
				scores[i] = 1
			}
			l := loss.NewMultipleNegativesRanking()
			setPrecision(b, h, l, p)
			dy := mat.NewDense(2*benchBatch, benchDim, nil)
			dya := dy.Slice(0, benchBatch, 0, benchDim).(*mat.Dense)
			dyb := dy.Slice(benchBatch, 2*benchBatch, 0, benchDim).(*mat.Dense)
			b.ReportAllocs()
			var cpu0 time.Duration
			for i := 0; b.Loop(); i++ {
				if i == 0 {
					cpu0 = cpuTime()
				}
				y := h.Forward(x, true)
				ya := y.Slice(0, benchBatch, 0, benchDim).(*mat.Dense)
				yb := y.Slice(benchBatch, 2*benchBatch, 0, benchDim).(*mat.Dense)
				_, da, db, err := l.Loss(ya, yb, scores, nil)
				if err != nil {
					b.Fatal(err)
				}
				dya.Copy(da)
				dyb.Copy(db)
				head.ZeroGrad(h.Params())
				head.BackwardParams(h, dy)
			}
			reportThroughput(b, b.N*benchBatch, cpu0)
		})
	}
}

var precisions = []head.Precision{head.Float64, head.Float32}

func setPrecision(b *testing.B, h head.Head, l any, p head.Precision) {
	b.Helper()
	if ok, err := head.SetPrecision(h, p); !ok || err != nil {
		b.Fatalf("head precision %s: ok %v, err %v", p, ok, err)
	}
	if ok, err := loss.SetPrecision(l, p); !ok || err != nil {
		b.Fatalf("loss precision %s: ok %v, err %v", p, ok, err)
	}
}
