package loss_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/simlearn/simlearn/head"
	"github.com/simlearn/simlearn/internal/gradcheck"
	"github.com/simlearn/simlearn/loss"
)

// relErr is |got - want| / |want| in the Frobenius norm.
func relErr(got, want *mat.Dense) float64 {
	var d mat.Dense
	d.Sub(got, want)
	return mat.Norm(&d, 2) / mat.Norm(want, 2)
}

// usesGram says whether a loss spec computes a cosine or dot Gram matrix
// (contrastive: for the hardest negatives of other subgroups), which
// Float32 moves to float32.
func usesGram(sp loss.Spec) bool {
	p := string(sp.Params)
	switch sp.Name {
	case "fast_ap":
		return true
	case "triplet", "online_contrastive", "contrastive", "multiple_negatives_ranking":
		return p == "" || strings.Contains(p, `"cosine"`) || strings.Contains(p, `"dot"`)
	}
	return false
}

// checkPrecision compares the loss and gradients of a Float32 run with
// those of a Float64 run, and checks that Float32 did change the numbers
// for losses with a Gram matrix.
func checkPrecision(t *testing.T, l any, sp loss.Spec, eval func() (float64, []*mat.Dense)) {
	t.Helper()
	supported := map[string]bool{"triplet": true, "online_contrastive": true, "contrastive": true,
		"multiple_negatives_ranking": true, "circle": true, "fast_ap": true}[sp.Name]
	set := func(p head.Precision) {
		if ok, err := loss.SetPrecision(l, p); err != nil || ok != supported {
			t.Fatalf("SetPrecision(%s): ok %v, err %v; want ok %v", p, ok, err, supported)
		}
	}
	set(head.Float64)
	v64, g64 := eval()
	set(head.Float32)
	v32, g32 := eval()
	if e := math.Abs(v32-v64) / math.Abs(v64); !(e < 1e-5) {
		t.Errorf("loss %.10g in float32, %.10g in float64: relative error %g", v32, v64, e)
	}
	same := v32 == v64
	for k := range g64 {
		if e := relErr(g32[k], g64[k]); !(e < 1e-4) {
			t.Errorf("gradient %d: relative error %g", k, e)
		}
		same = same && mat.Equal(g32[k], g64[k])
	}
	if usesGram(sp) && same {
		t.Error("Float32 gave the Float64 results exactly: no product ran in float32")
	}
	set(head.Float64)
	if v, _ := eval(); v != v64 {
		t.Errorf("Float64 after Float32: loss %.17g, first run %.17g", v, v64)
	}
}

// TestFloat32MatchesFloat64 checks every group and pair loss in both
// precisions on batches large enough for hard mining to matter.
func TestFloat32MatchesFloat64(t *testing.T) {
	for k, sp := range groupSpecs() {
		t.Run(fmt.Sprintf("%d_%s_%s", k, sp.Name, sp.Params), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(k), 11))
			const n, d, classes = 64, 48, 8
			e := gradcheck.RandNormal(rng, n, d)
			groups := make([]int, n)
			for i := range groups {
				groups[i] = i % classes
			}
			l, err := loss.NewGroup(sp, loss.GroupOptions{Classes: classes, Dim: d, Seed: 5})
			if err != nil {
				t.Fatal(err)
			}
			checkPrecision(t, l, sp, func() (float64, []*mat.Dense) {
				v, de, err := l.Loss(e, groups)
				if err != nil {
					t.Fatal(err)
				}
				return v, []*mat.Dense{mat.DenseCopyOf(de)}
			})
		})
	}
	for k, sp := range pairSpecs() {
		t.Run(fmt.Sprintf("%d_%s_%s", k, sp.Name, sp.Params), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(k), 12))
			const n, d = 64, 48
			a, b := gradcheck.RandNormal(rng, n, d), gradcheck.RandNormal(rng, n, d)
			scores := make([]float64, n)
			for i := range scores {
				scores[i] = 0.05 + 0.9*rng.Float64()
			}
			l, err := loss.NewPair(sp)
			if err != nil {
				t.Fatal(err)
			}
			subgroups := make([]int, n)
			for i := range subgroups {
				subgroups[i] = i % 3
			}
			checkPrecision(t, l, sp, func() (float64, []*mat.Dense) {
				v, da, db, err := l.Loss(a, b, scores, subgroups)
				if err != nil {
					t.Fatal(err)
				}
				return v, []*mat.Dense{mat.DenseCopyOf(da), mat.DenseCopyOf(db)}
			})
		})
	}
}
