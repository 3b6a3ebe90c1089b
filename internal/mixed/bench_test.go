package mixed_test

import (
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"

	_ "github.com/simlearn/simlearn/head" // -tags openblas installs OpenBLAS here
	"github.com/simlearn/simlearn/internal/mixed"
)

// BenchmarkMNRLStepProducts runs only the float32 matrix products of one
// training step of fit's BenchmarkTrainStepMNRL (SkipConnection(384), 256
// pairs): the head's forward and weight gradient on 512 rows, the 256×256
// similarity logits and their two gradients; 453 MFLOP in all. Its pairs/s
// is the ceiling of that benchmark if everything else took no time. The
// products go through mixed.Gemm32, as training's do: package sgemm's
// kernel by default, OpenBLAS with -tags openblas (OPENBLAS_NUM_THREADS=1
// or 2).
func BenchmarkMNRLStepProducts(b *testing.B) {
	const n, d = 256, 384
	mk := func(r, c int) blas32.General {
		g := blas32.General{Rows: r, Cols: c, Stride: c, Data: make([]float32, r*c)}
		for i := range g.Data {
			g.Data[i] = float32(i%13)*0.01 - 0.06
		}
		return g
	}
	x, w, y, dy, dw := mk(2*n, d), mk(d, d), mk(2*n, d), mk(2*n, d), mk(d, d)
	a, c := blas32.General{Rows: n, Cols: d, Stride: d, Data: y.Data[:n*d]}, blas32.General{Rows: n, Cols: d, Stride: d, Data: y.Data[n*d:]}
	logits, da, dc := mk(n, n), mk(n, d), mk(n, d)
	for b.Loop() {
		mixed.Gemm32(blas.NoTrans, blas.Trans, 1, x, w, 0, y)         // head forward
		mixed.Gemm32(blas.NoTrans, blas.Trans, 1, a, c, 0, logits)    // similarities
		mixed.Gemm32(blas.NoTrans, blas.NoTrans, 1, logits, c, 0, da) // their gradient
		mixed.Gemm32(blas.Trans, blas.NoTrans, 1, logits, a, 0, dc)
		mixed.Gemm32(blas.Trans, blas.NoTrans, 1, dy, x, 1, dw) // weight gradient
	}
	flops := 2.0 * (2*n*d*d + 3*n*n*d + 2*n*d*d)
	b.ReportMetric(float64(b.N)*flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "pairs/s")
}
