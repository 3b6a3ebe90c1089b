package mixed

import (
	"math/rand/v2"
	"testing"
)

// TestKernels checks every kernel, whose vector part runs on the longest
// prefix with a length multiple of 4, against plain loops at every length
// up to 13: the results must be equal, not just close.
func TestKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	f64 := func(n int) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = rng.NormFloat64()
		}
		return v
	}
	f32 := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return v
	}
	for n := range 14 {
		src := f64(n)
		got := make([]float32, n)
		narrow(got, src)
		for i, v := range src {
			if got[i] != float32(v) {
				t.Fatalf("narrow n=%d: [%d] = %v, want %v", n, i, got[i], float32(v))
			}
		}

		z, d := f32(n), f64(n)
		set, add := make([]float64, n), append([]float64(nil), d...)
		widenSet(set, z)
		widenAdd(add, z)
		for i, v := range z {
			if set[i] != float64(v) || add[i] != d[i]+float64(v) {
				t.Fatalf("widen n=%d: [%d] = %v, %v, want %v, %v", n, i, set[i], add[i], float64(v), d[i]+float64(v))
			}
		}

		b, s, x := f64(n), f64(n), f64(n)
		y := make([]float64, n)
		GateAdd(y, z, b, s, x)
		for j := range y {
			if want := (b[j]+float64(z[j]))*s[j] + x[j]; y[j] != want {
				t.Fatalf("GateAdd n=%d: [%d] = %v, want %v", n, j, y[j], want)
			}
		}

		dy, sum, sumZ := f64(n), f64(n), f64(n)
		sum0, sumZ0 := append([]float64(nil), sum...), append([]float64(nil), sumZ...)
		dz := make([]float32, n)
		GateBack(dy, z, s, sum, sumZ, dz)
		for j, v := range dy {
			if sum[j] != sum0[j]+v || sumZ[j] != sumZ0[j]+v*float64(z[j]) || dz[j] != float32(v*s[j]) {
				t.Fatalf("GateBack n=%d: [%d] = %v, %v, %v, want %v, %v, %v", n, j,
					sum[j], sumZ[j], dz[j], sum0[j]+v, sumZ0[j]+v*float64(z[j]), float32(v*s[j]))
			}
		}
	}
}

func BenchmarkNarrow(b *testing.B) {
	src := make([]float64, 512*384)
	dst := make([]float32, len(src))
	b.SetBytes(int64(len(src) * 12))
	for b.Loop() {
		narrow(dst, src)
	}
}
