package sgemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/gonum"
)

func randGeneral(rng *rand.Rand, r, c, pad int) blas32.General {
	g := blas32.General{Rows: r, Cols: c, Stride: c + pad, Data: make([]float32, max(0, (r-1)*(c+pad)+c))}
	for i := range g.Data {
		g.Data[i] = float32(rng.NormFloat64())
	}
	return g
}

// TestGemmMatchesReference compares Gemm with gonum's Sgemm on shapes that
// cover full and partial register blocks, several panel depths, every
// transposition, strides wider than the rows and the alpha/beta cases.
func TestGemmMatchesReference(t *testing.T) {
	if !hasKernel {
		t.Log("no AVX2/FMA: Gemm is blas32.Gemm here")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	shapes := [][3]int{{1, 1, 1}, {6, 16, 1}, {7, 17, 3}, {5, 15, 300}, {12, 32, 256}, {13, 33, 257}, {64, 48, 600}, {100, 70, 40}, {300, 200, 130}, {401, 300, 200}, {20, 2100, 40}}
	for _, s := range shapes {
		m, n, k := s[0], s[1], s[2]
		for _, tA := range []blas.Transpose{blas.NoTrans, blas.Trans} {
			for _, tB := range []blas.Transpose{blas.NoTrans, blas.Trans} {
				for _, ab := range [][2]float32{{1, 0}, {-0.5, 1}, {2, 0.25}} {
					name := fmt.Sprintf("%dx%dx%d/%c%c/alpha=%v,beta=%v", m, n, k, tA, tB, ab[0], ab[1])
					ar, ac := m, k
					if tA == blas.Trans {
						ar, ac = k, m
					}
					br, bc := k, n
					if tB == blas.Trans {
						br, bc = n, k
					}
					a, b := randGeneral(rng, ar, ac, 3), randGeneral(rng, br, bc, 0)
					c := randGeneral(rng, m, n, 2)
					want := blas32.General{Rows: m, Cols: n, Stride: c.Stride, Data: append([]float32(nil), c.Data...)}
					if ab[1] == 0 {
						for i := range c.Data {
							c.Data[i] = float32(math.NaN()) // beta 0 must not read c
						}
					}
					gonum.Implementation{}.Sgemm(tA, tB, m, n, k, ab[0], a.Data, a.Stride, b.Data, b.Stride, ab[1], want.Data, want.Stride)
					Gemm(tA, tB, ab[0], a, b, ab[1], c)
					worst := 0.0
					for i := range m {
						for j := range n {
							g, w := float64(c.Data[i*c.Stride+j]), float64(want.Data[i*c.Stride+j])
							worst = math.Max(worst, math.Abs(g-w)/(1+math.Abs(w)))
						}
					}
					// Both sum k float32 products in different orders.
					if worst > 1e-5*math.Sqrt(float64(k)) || math.IsNaN(worst) {
						t.Fatalf("%s: relative difference %g", name, worst)
					}
					// The padding between rows is never written.
					for i := 0; i+1 < m; i++ {
						for j := n; j < c.Stride; j++ {
							if p := c.Data[i*c.Stride+j]; p != want.Data[i*c.Stride+j] && !(ab[1] == 0 && math.IsNaN(float64(p))) {
								t.Fatalf("%s: padding at row %d column %d written", name, i, j)
							}
						}
					}
				}
			}
		}
	}
}

// TestConcurrentProducts runs large products from several goroutines at
// once: one gets the team, the others split their rows with go statements,
// and all must be right.
func TestConcurrentProducts(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const m, n, k = 256, 192, 384
	a, b := randGeneral(rng, m, k, 0), randGeneral(rng, k, n, 0)
	want := randGeneral(rng, m, n, 0)
	gonum.Implementation{}.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, a.Data, a.Stride, b.Data, b.Stride, 0, want.Data, want.Stride)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			c := randGeneral(rand.New(rand.NewPCG(5, 6)), m, n, 0)
			for range 20 {
				Gemm(blas.NoTrans, blas.NoTrans, 1, a, b, 0, c)
				for i, v := range c.Data {
					if d := math.Abs(float64(v - want.Data[i])); d > 1e-3 {
						errs <- fmt.Errorf("element %d differs by %g", i, d)
						return
					}
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestShortDataPanics checks that a matrix whose data is shorter than its
// shape needs is refused before the assembly could read or write past it
// (without the kernel, blas32.Gemm refuses it).
func TestShortDataPanics(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for q := range 3 {
		a, b, c := randGeneral(rng, 12, 20, 0), randGeneral(rng, 20, 16, 0), randGeneral(rng, 12, 16, 0)
		m := []*blas32.General{&a, &b, &c}[q]
		m.Data = m.Data[:len(m.Data)-1]
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("operand %d one value short: no panic", q)
				}
			}()
			Gemm(blas.NoTrans, blas.NoTrans, 1, a, b, 0, c)
		}()
	}
}

func BenchmarkGemm(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	const m, n, k = 512, 384, 384
	x, w, y := randGeneral(rng, m, k, 0), randGeneral(rng, n, k, 0), randGeneral(rng, m, n, 0)
	for _, impl := range []string{"sgemm", "gonum"} {
		b.Run(impl, func(b *testing.B) {
			for b.Loop() {
				if impl == "sgemm" {
					Gemm(blas.NoTrans, blas.Trans, 1, x, w, 0, y)
				} else {
					gonum.Implementation{}.Sgemm(blas.NoTrans, blas.Trans, m, n, k, 1, x.Data, x.Stride, w.Data, w.Stride, 0, y.Data, y.Stride)
				}
			}
			b.ReportMetric(float64(b.N)*2*m*n*k/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

func BenchmarkTransposes(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	const m, n, k = 512, 384, 384
	for _, tt := range []struct {
		name   string
		tA, tB blas.Transpose
	}{{"NN", blas.NoTrans, blas.NoTrans}, {"NT", blas.NoTrans, blas.Trans}, {"TN", blas.Trans, blas.NoTrans}} {
		b.Run(tt.name, func(b *testing.B) {
			ar, ac, br, bc := m, k, k, n
			if tt.tA == blas.Trans {
				ar, ac = k, m
			}
			if tt.tB == blas.Trans {
				br, bc = n, k
			}
			x, w, y := randGeneral(rng, ar, ac, 0), randGeneral(rng, br, bc, 0), randGeneral(rng, m, n, 0)
			for b.Loop() {
				Gemm(tt.tA, tt.tB, 1, x, w, 0, y)
			}
			b.ReportMetric(float64(b.N)*2*m*n*k/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
