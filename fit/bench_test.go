package fit

import (
	"math/rand/v2"
	"testing"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/simlearn/simlearn/head"
	"github.com/simlearn/simlearn/loss"
)

// The training-step benchmarks run exactly what Fit runs per batch: gather,
// forward, loss, backward, the finite checks and an Adam step, on
// SkipConnection(384) with a batch of 256 samples: for triplet 256 objects
// in 64 groups of 4, for MNRL 256 pairs (512 rows, [a_1..a_256,
// b_1..b_256]), so that a sample is an object or a pair, as Config.BatchSize
// counts them. Each runs in both precisions (sub-benchmarks float64 and
// float32) and reports samples/s and samples per CPU second;
// scripts/bench-train compares them with PyTorch.
const benchDim, benchBatch = 384, 256

func benchRun(b *testing.B, cfg Config, train Dataset) *run {
	b.Helper()
	if cfg.Precision == "" {
		cfg.Precision = head.Float64
	}
	cfg.Head = skipHead(b, benchDim)
	cfg.Optimizer = NewAdam(1e-3)
	cfg.Epochs, cfg.BatchSize, cfg.Logger, cfg.Quiet = 1, benchBatch, quiet, true
	r, err := newRun(cfg, train, nil)
	if err != nil {
		b.Fatal(err)
	}
	return r
}

func randMatrix(rng *rand.Rand, n, d int) *mat.Dense {
	x := mat.NewDense(n, d, nil)
	for i := range x.RawMatrix().Data {
		x.RawMatrix().Data[i] = rng.NormFloat64()
	}
	return x
}

func BenchmarkTrainStepTriplet(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	groups := make([]int, benchBatch)
	for i := range groups {
		groups[i] = i / 4
	}
	data := &GroupData{X: randMatrix(rng, benchBatch, benchDim), Groups: groups}
	for _, p := range []head.Precision{head.Float64, head.Float32} {
		b.Run(string(p), func(b *testing.B) {
			r := benchRun(b, Config{GroupLoss: loss.NewTriplet(), Precision: p}, data)
			benchSteps(b, r, identity(benchBatch))
		})
	}
}

func BenchmarkTrainStepMNRL(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	data := &PairData{X: randMatrix(rng, 2*benchBatch, benchDim)}
	for i := range benchBatch {
		data.A = append(data.A, i)
		data.B = append(data.B, benchBatch+i)
	}
	for _, p := range []head.Precision{head.Float64, head.Float32} {
		b.Run(string(p), func(b *testing.B) {
			r := benchRun(b, Config{PairLoss: loss.NewMultipleNegativesRanking(), Precision: p}, data)
			benchSteps(b, r, identity(benchBatch))
		})
	}
}

func benchSteps(b *testing.B, r *run, idx []int) {
	if _, err := r.trainBatch(idx); err != nil { // warm the workspaces
		b.Fatal(err)
	}
	var cpu0 time.Duration
	for i := 0; b.Loop(); i++ {
		if i == 0 {
			cpu0 = cpuTime()
		}
		if _, err := r.trainBatch(idx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(idx))/b.Elapsed().Seconds(), "samples/s")
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(b.N*len(idx))/cpu.Seconds(), "samples/cpu-s")
	}
}
