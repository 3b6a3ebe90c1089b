package head_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/simlearn/simlearn/head"
	"github.com/simlearn/simlearn/internal/gradcheck"
)

// assertClose compares an analytic gradient with a numeric one, within
// 1e-6 + 1e-5 relative.
func assertClose(t *testing.T, what string, got, want *mat.Dense) {
	t.Helper()
	gradcheck.AssertClose(t, what, got, want, 1e-5)
}

// fdConfigs covers every head kind and activation.
func fdConfigs() map[string]head.Config {
	noBias := false
	cs := map[string]head.Config{
		"empty":              {Kind: head.KindEmpty},
		"linear":             {Kind: head.KindLinear, Out: 3},
		"linear_no_bias":     {Kind: head.KindLinear, Out: 4, Bias: &noBias},
		"gated":              {Kind: head.KindGated},
		"skip_connection":    {Kind: head.KindSkipConnection, NLayers: 2, SkipDropout: 0.3},
		"softmax_embeddings": {Kind: head.KindSoftmaxEmbeddings, Groups: 2, Size: 3},
		"widening":           {Kind: head.KindWidening, Expansion: 1.5, Activation: "silu"},
		"sequential": {Kind: head.KindSequential, Heads: []head.Config{
			{Kind: head.KindSkipConnection},
			{Kind: head.KindStackedProjection, Sizes: []int{6, 3}, Activation: "gelu"},
			{Kind: head.KindGated},
		}},
	}
	for _, a := range []string{"relu", "gelu", "tanh", "sigmoid", "leaky_relu", "silu"} {
		cs["stacked_projection_"+a] = head.Config{Kind: head.KindStackedProjection, Sizes: []int{6, 4, 3}, Activation: a}
	}
	return cs
}

// TestFiniteDifferences checks every head's dL/dx and dL/dparam against
// central differences of L = sum(y * U), with dropout off.
func TestFiniteDifferences(t *testing.T) {
	for name, cfg := range fdConfigs() {
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, 9))
			const batch, dim = 3, 5
			cfg.Dropout = 0.2 // inactive in evaluation mode
			h, err := head.New(cfg, dim, 42)
			if err != nil {
				t.Fatal(err)
			}
			// Move the gates away from their constant start so that every
			// parameter shows in the output.
			for _, p := range h.Params() {
				if strings.Contains(p.Name, "gates") {
					p.Value.Copy(gradcheck.RandNormal(rng, 1, dim))
				}
			}
			x := gradcheck.RandNormal(rng, batch, dim)
			up := gradcheck.RandNormal(rng, batch, h.OutDim())
			f := func() float64 { return mat.Sum(mulElem(h.Forward(x, false), up)) }
			f()
			head.ZeroGrad(h.Params())
			dx := mat.DenseCopyOf(h.Backward(up))
			assertClose(t, "dL/dx", dx, gradcheck.Numeric(x, f))
			for _, p := range h.Params() {
				assertClose(t, "dL/d"+p.Name, p.Grad, gradcheck.Numeric(p.Value, f))
			}
			// BackwardParams gives the same parameter gradients.
			want := map[string]*mat.Dense{}
			for _, p := range h.Params() {
				want[p.Name] = mat.DenseCopyOf(p.Grad)
			}
			h.Forward(x, false)
			head.ZeroGrad(h.Params())
			head.BackwardParams(h, up)
			for _, p := range h.Params() {
				if !mat.EqualApprox(p.Grad, want[p.Name], 1e-12) {
					t.Errorf("BackwardParams: %s differs from Backward", p.Name)
				}
			}
		})
	}
}

func mulElem(a, b *mat.Dense) *mat.Dense {
	var m mat.Dense
	m.MulElem(a, b)
	return &m
}

func TestParamNamesAndShapes(t *testing.T) {
	cases := []struct {
		cfg  head.Config
		want string
	}{
		{head.Config{Kind: head.KindEmpty}, ""},
		{head.Config{Kind: head.KindLinear, Out: 3}, "weight[3 5] bias[3]"},
		{head.Config{Kind: head.KindGated}, "gates[5]"},
		{head.Config{Kind: head.KindSkipConnection, NLayers: 2}, "fc_0.weight[5 5] fc_0.bias[5] gates_0[5] fc_1.weight[5 5] fc_1.bias[5] gates_1[5]"},
		{head.Config{Kind: head.KindSoftmaxEmbeddings, Groups: 2, Size: 4}, "projection.weight[8 5] projection.bias[8]"},
		{head.Config{Kind: head.KindStackedProjection, Sizes: []int{7, 2}}, "layers_0.weight[7 5] layers_0.bias[7] layers_1.weight[2 7] layers_1.bias[2]"},
		{head.Config{Kind: head.KindWidening}, "layers_0.weight[20 5] layers_0.bias[20] layers_1.weight[5 20] layers_1.bias[5]"},
		{head.Config{Kind: head.KindSequential, Heads: []head.Config{{Kind: head.KindGated}, {Kind: head.KindLinear, Out: 2}}},
			"0.gates[5] 1.weight[2 5] 1.bias[2]"},
	}
	for _, c := range cases {
		h, err := head.New(c.cfg, 5, 1)
		if err != nil {
			t.Fatalf("%s: %v", c.cfg.Kind, err)
		}
		var got []string
		for _, p := range h.Params() {
			got = append(got, fmt.Sprintf("%s%v", p.Name, p.Shape()))
		}
		if s := strings.Join(got, " "); s != c.want {
			t.Errorf("%s: params %q, want %q", c.cfg.Kind, s, c.want)
		}
	}
}

func TestInitialisation(t *testing.T) {
	h, err := head.New(head.Config{Kind: head.KindSkipConnection, NLayers: 2}, 16, 3)
	if err != nil {
		t.Fatal(err)
	}
	bound := 1 / math.Sqrt(16)
	for _, p := range h.Params() {
		data := p.Value.RawMatrix().Data
		if strings.HasPrefix(p.Name, "gates") {
			for _, v := range data {
				if v != -4 {
					t.Fatalf("%s starts at %v, want -4", p.Name, v)
				}
			}
			continue
		}
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, v := range data {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		if lo < -bound || hi > bound || hi-lo < bound {
			t.Errorf("%s spans [%v, %v], want a uniform spread within ±%v", p.Name, lo, hi, bound)
		}
	}
	g, _ := head.New(head.Config{Kind: head.KindGated}, 4, 3)
	if v := g.Params()[0].Value.At(0, 2); v != 2 {
		t.Errorf("gates start at %v, want 2", v)
	}
	// Same seed, same weights; another seed, other weights.
	same, _ := head.New(head.Config{Kind: head.KindSkipConnection, NLayers: 2}, 16, 3)
	other, _ := head.New(head.Config{Kind: head.KindSkipConnection, NLayers: 2}, 16, 4)
	if !mat.Equal(h.Params()[0].Value, same.Params()[0].Value) {
		t.Error("same seed gave different weights")
	}
	if mat.Equal(h.Params()[0].Value, other.Params()[0].Value) {
		t.Error("different seeds gave the same weights")
	}
}

func TestDropout(t *testing.T) {
	const p = 0.25
	h, err := head.New(head.Config{Kind: head.KindEmpty, Dropout: p}, 200, 5)
	if err != nil {
		t.Fatal(err)
	}
	x := mat.NewDense(50, 200, nil)
	for i := range x.RawMatrix().Data {
		x.RawMatrix().Data[i] = 1
	}
	if y := h.Forward(x, false); !mat.Equal(y, x) {
		t.Fatal("dropout is active outside training")
	}
	y := mat.DenseCopyOf(h.Forward(x, true))
	zeros := 0
	for _, v := range y.RawMatrix().Data {
		switch v {
		case 0:
			zeros++
		case 1 / (1 - p):
		default:
			t.Fatalf("dropout output %v, want 0 or %v", v, 1/(1-p))
		}
	}
	if frac := float64(zeros) / 10000; math.Abs(frac-p) > 0.03 {
		t.Errorf("dropped %.3f of the elements, want about %v", frac, p)
	}
	// The gradient goes through the same mask.
	dx := h.Backward(x)
	if !mat.Equal(dx, y) {
		t.Error("dropout backward does not use the forward mask")
	}
	// The same seed reproduces the masks.
	h2, _ := head.New(head.Config{Kind: head.KindEmpty, Dropout: p}, 200, 5)
	if !mat.Equal(h2.Forward(x, true), y) {
		t.Error("same seed gave a different dropout mask")
	}
}

func TestConfigRoundTrip(t *testing.T) {
	for name, cfg := range fdConfigs() {
		h, err := head.New(cfg, 5, 1)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		h2, err := head.New(h.Config(), 5, 1)
		if err != nil {
			t.Fatalf("%s: rebuilding from Config(): %v", name, err)
		}
		if h2.OutDim() != h.OutDim() || len(h2.Params()) != len(h.Params()) {
			t.Errorf("%s: rebuilt head differs", name)
		}
		for i, p := range h.Params() {
			if !mat.Equal(p.Value, h2.Params()[i].Value) {
				t.Errorf("%s: rebuilt %s differs", name, p.Name)
			}
		}
	}
}

func TestConfigErrors(t *testing.T) {
	cases := map[string]struct {
		cfg  head.Config
		want string
	}{
		"unknown kind":     {head.Config{Kind: "mlp"}, `unknown kind "mlp"`},
		"empty kind":       {head.Config{}, "kind is empty"},
		"linear no out":    {head.Config{Kind: head.KindLinear}, "out 0"},
		"bad dropout":      {head.Config{Kind: head.KindEmpty, Dropout: 1}, "dropout 1"},
		"bad activation":   {head.Config{Kind: head.KindStackedProjection, Sizes: []int{3}, Activation: "swish"}, `unknown activation "swish"`},
		"no sizes":         {head.Config{Kind: head.KindStackedProjection}, "sizes is empty"},
		"bad size":         {head.Config{Kind: head.KindStackedProjection, Sizes: []int{3, 0}}, "sizes[1] = 0"},
		"misplaced field":  {head.Config{Kind: head.KindGated, Out: 3}, `field "out" does not apply to kind "gated"`},
		"bad skip dropout": {head.Config{Kind: head.KindSkipConnection, SkipDropout: -0.1}, "skip_dropout -0.1"},
		"bad part":         {head.Config{Kind: head.KindSequential, Heads: []head.Config{{Kind: head.KindGated}, {Kind: "x"}}}, "heads[1]"},
		"empty sequential": {head.Config{Kind: head.KindSequential}, "heads is empty"},
		"bad groups":       {head.Config{Kind: head.KindSoftmaxEmbeddings, Groups: 2}, "size 0"},
	}
	for name, c := range cases {
		_, err := head.New(c.cfg, 4, 1)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, c.want)
		}
	}
	if _, err := head.New(head.Config{Kind: head.KindEmpty}, 0, 1); err == nil {
		t.Error("input width 0 accepted")
	}
	if _, err := head.ParseConfig([]byte(`{"kind":"linear","out":3,"outt":4}`)); err == nil || !strings.Contains(err.Error(), "outt") {
		t.Errorf("unknown JSON field: error %v", err)
	}
}
