package vexp

import (
	"math"
	"math/rand/v2"
	"testing"
)

// ulps returns how many representable float64 values lie between a and b
// (both finite and of the same sign).
func ulps(a, b float64) uint64 {
	x, y := math.Float64bits(a), math.Float64bits(b)
	if x > y {
		return x - y
	}
	return y - x
}

func TestExpMatchesMath(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	x := []float64{0, -0.0, 1, -1, 1e-300, -1e-300, math.Ln2 / 2, -math.Ln2 / 2, 708.5, 709, -708, -708.0001,
		709.0001, 709.78, 710, -745, -746, -1000, 1000, math.Inf(1), math.Inf(-1), math.NaN(), 0.5, 3}
	for range 100000 {
		x = append(x, (rng.Float64()*2-1)*720)
	}
	for range 100000 {
		x = append(x, -rng.Float64()*40) // the softmax range
	}
	got := make([]float64, len(x))
	Exp(got, x)
	var worst uint64
	for i, v := range x {
		want := math.Exp(v)
		switch {
		case math.IsNaN(want):
			if !math.IsNaN(got[i]) {
				t.Fatalf("Exp(%v) = %v, want NaN", v, got[i])
			}
		case want == 0 || math.IsInf(want, 0) || want < 0x1p-1022:
			if got[i] != want {
				t.Fatalf("Exp(%v) = %v, want %v", v, got[i], want)
			}
		default:
			u := ulps(got[i], want)
			if u > 2 {
				t.Fatalf("Exp(%v) = %v, want %v (%d ulp)", v, got[i], want, u)
			}
			worst = max(worst, u)
		}
	}
	if got[0] != 1 {
		t.Errorf("Exp(0) = %v, want exactly 1", got[0])
	}
	t.Logf("worst error %d ulp over %d values", worst, len(x))
}

func TestExpInPlaceAndTails(t *testing.T) {
	for n := range 11 {
		x := make([]float64, n)
		for i := range x {
			x[i] = float64(i) - 4.5
		}
		if n > 5 {
			x[5] = math.NaN() // a fallback block in the middle
		}
		Exp(x, x)
		for i, v := range x {
			want := math.Exp(float64(i) - 4.5)
			if i == 5 {
				want = math.NaN()
			}
			if !(ulps(v, want) <= 2 || math.IsNaN(v) && math.IsNaN(want)) {
				t.Fatalf("n=%d: x[%d] = %v, want %v", n, i, v, want)
			}
		}
	}
}

func BenchmarkExp(b *testing.B) {
	x := make([]float64, 256)
	for i := range x {
		x[i] = -float64(i) / 10
	}
	dst := make([]float64, len(x))
	b.Run("vexp", func(b *testing.B) {
		for b.Loop() {
			Exp(dst, x)
		}
	})
	b.Run("math", func(b *testing.B) {
		for b.Loop() {
			for i, v := range x {
				dst[i] = math.Exp(v)
			}
		}
	})
}
