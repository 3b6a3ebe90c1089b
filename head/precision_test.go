package head_test

import (
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/simlearn/simlearn/head"
	"github.com/simlearn/simlearn/internal/gradcheck"
)

// relErr is |got - want| / |want| in the Frobenius norm.
func relErr(got, want *mat.Dense) float64 {
	var d mat.Dense
	d.Sub(got, want)
	return mat.Norm(&d, 2) / mat.Norm(want, 2)
}

// TestFloat32MatchesFloat64 runs every head kind forward and backward in
// both precisions on the same input and checks that outputs, input
// gradients and parameter gradients agree to float32 accuracy, and that
// switching back to Float64 gives the float64 results exactly.
func TestFloat32MatchesFloat64(t *testing.T) {
	for name, cfg := range fdConfigs() {
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 4))
			const batch, dim = 64, 48
			h, err := head.New(cfg, dim, 5)
			if err != nil {
				t.Fatal(err)
			}
			x := gradcheck.RandNormal(rng, batch, dim)
			up := gradcheck.RandNormal(rng, batch, h.OutDim())
			run := func(p head.Precision) (y, dx *mat.Dense, grads []*mat.Dense) {
				if ok, err := head.SetPrecision(h, p); !ok || err != nil {
					t.Fatalf("SetPrecision(%s): ok %v, err %v", p, ok, err)
				}
				y = mat.DenseCopyOf(h.Forward(x, false))
				head.ZeroGrad(h.Params())
				dx = mat.DenseCopyOf(h.Backward(up))
				for _, p := range h.Params() {
					grads = append(grads, mat.DenseCopyOf(p.Grad))
				}
				return y, dx, grads
			}
			y64, dx64, g64 := run(head.Float64)
			y32, dx32, g32 := run(head.Float32)
			const tol = 1e-5 // float32 rounding is 6e-8 per operand
			if e := relErr(y32, y64); !(e < tol) {
				t.Errorf("output: relative error %g", e)
			}
			if hasProducts := name != "empty" && name != "gated"; hasProducts && mat.Equal(y32, y64) {
				t.Error("Float32 output equals the Float64 one exactly: no product ran in float32")
			}
			if e := relErr(dx32, dx64); !(e < tol) {
				t.Errorf("dL/dx: relative error %g", e)
			}
			for k, p := range h.Params() {
				if e := relErr(g32[k], g64[k]); !(e < tol) {
					t.Errorf("dL/d%s: relative error %g", p.Name, e)
				}
			}
			y, dx, g := run(head.Float64)
			if !mat.Equal(y, y64) || !mat.Equal(dx, dx64) {
				t.Error("Float64 after Float32 differs from the first Float64 run")
			}
			for k := range g {
				if !mat.Equal(g[k], g64[k]) {
					t.Errorf("dL/d%s: Float64 after Float32 differs", h.Params()[k].Name)
				}
			}
		})
	}
}

func TestSetPrecisionErrors(t *testing.T) {
	h, err := head.New(head.Config{Kind: head.KindLinear, Out: 2}, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := head.SetPrecision(h, "float16"); ok || err == nil {
		t.Errorf("SetPrecision(float16): ok %v, err %v; want an error", ok, err)
	}
	if ok, err := head.SetPrecision(foreign{h}, head.Float32); ok || err != nil {
		t.Errorf("SetPrecision(head of another package): ok %v, err %v; want false, nil", ok, err)
	}
}

// foreign is a head of another package (it hides the built-in head's
// unexported methods).
type foreign struct{ head.Head }
