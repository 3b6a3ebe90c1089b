package fit

import (
	"math"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/simlearn/simlearn/head"
)

// stepThree runs three steps with the gradients g_t = (t+1) * g_0 on
// W = [[1,-2],[0.5,3]], b = [0.1,-0.1] and returns W and b flattened.
func stepThree(t *testing.T, o Optimizer, lr float64) []float64 {
	t.Helper()
	w := head.NewParam("w", 2, 2)
	w.Value = mat.NewDense(2, 2, []float64{1, -2, 0.5, 3})
	b := head.NewVectorParam("b", 2)
	b.Value = mat.NewDense(1, 2, []float64{0.1, -0.1})
	params := []*head.Param{w, b}
	for s := range 3 {
		k := float64(s + 1)
		w.Grad = mat.NewDense(2, 2, []float64{0.5 * k, -1 * k, 2 * k, 0.25 * k})
		b.Grad = mat.NewDense(1, 2, []float64{1 * k, -0.5 * k})
		if err := o.Step(params, lr); err != nil {
			t.Fatal(err)
		}
	}
	return append(append([]float64(nil), w.Value.RawMatrix().Data...), b.Value.RawMatrix().Data...)
}

// The expected values are PyTorch 1.13's torch.optim in float64 on the same
// steps (SGD, Adam, AdamW); SGD's are also easy to check by hand: plain SGD
// moves W[0][0] by -0.1*(0.5+1+1.5) = -0.3, to 0.7.
func TestOptimizersMatchPyTorch(t *testing.T) {
	cases := []struct {
		name string
		opt  Optimizer
		lr   float64
		want []float64
	}{
		{"sgd", NewSGD(0.1), 0.1, []float64{0.7, -1.4, -0.7000000000000001, 2.85, -0.5, 0.2}},
		{"sgd momentum dampening wd", &SGD{LearningRate: 0.1, Momentum: 0.9, Dampening: 0.1, WeightDecay: 0.01}, 0.1,
			[]float64{0.5534361886899999, -1.1068723773799998, -1.267650047405, 2.76342866732, -0.783027658081, 0.341779617581}},
		{"sgd nesterov wd", &SGD{LearningRate: 0.1, Momentum: 0.9, Nesterov: true, WeightDecay: 0.01}, 0.1,
			[]float64{0.26489045819099993, -0.5297809163819999, -2.4123153212295, 2.612357481948, -1.3549523957859002, 0.6278779528359001}},
		{"adam", NewAdam(0.01), 0.01,
			[]float64{0.9707681679115365, -1.9707681677061681, 0.4707681676034839, 2.970768168322273, 0.0707681677061681, -0.07076816791153658}},
		{"adam l2", &Adam{LearningRate: 0.01, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.1}, 0.01,
			[]float64{0.97058598426113, -1.970586896710165, 0.47074178839528974, 2.970170476011593, 0.07075665457906753, -0.07074532792690137}},
		{"adamw", NewAdamW(0.01, 0.1), 0.01,
			[]float64{0.9678008087312729, -1.9648038075261653, 0.46929930892361166, 2.961806807141487, 0.07049810942616538, -0.07049810963127293}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := stepThree(t, c.opt, c.lr)
			for i := range got {
				if math.Abs(got[i]-c.want[i]) > 1e-12 {
					t.Fatalf("element %d: got %.17g want %.17g\n%v", i, got[i], c.want[i], got)
				}
			}
		})
	}
}

func TestOptimizerStateRoundTrip(t *testing.T) {
	for _, mk := range []func() Optimizer{
		func() Optimizer { return &SGD{LearningRate: 0.1, Momentum: 0.9} },
		func() Optimizer { return NewAdamW(0.01, 0.1) },
	} {
		a := mk()
		stepThree(t, a, a.LR())
		b := mk()
		if err := b.SetState(a.State()); err != nil {
			t.Fatal(err)
		}
		ga, gb := stepThree(t, a, a.LR()), stepThree(t, b, b.LR())
		for i := range ga {
			if ga[i] != gb[i] {
				t.Fatalf("%T: restored optimiser diverges at %d: %v vs %v", a, i, ga[i], gb[i])
			}
		}
	}
	if err := NewAdam(1).SetState(NewSGD(1).State()); err == nil {
		t.Fatal("want an error restoring SGD state into Adam")
	}
}

func TestOptimizerParamMismatch(t *testing.T) {
	o := NewAdam(0.1)
	p := []*head.Param{head.NewParam("a", 2, 2)}
	if err := o.Step(p, 0.1); err != nil {
		t.Fatal(err)
	}
	if err := o.Step([]*head.Param{head.NewParam("a", 3, 2)}, 0.1); err == nil {
		t.Fatal("want an error stepping with other parameters")
	}
	if err := (&SGD{LearningRate: 1, Nesterov: true}).Step(p, 1); err == nil {
		t.Fatal("want an error for Nesterov without momentum")
	}
}

// PyTorch's clip_grad_norm_: norm 13, coefficient 6.5/(13+1e-6).
func TestClipGradNorm(t *testing.T) {
	w := head.NewParam("w", 1, 2)
	w.Grad = mat.NewDense(1, 2, []float64{3, 4})
	b := head.NewVectorParam("b", 1)
	b.Grad = mat.NewDense(1, 1, []float64{12})
	n := ClipGradNorm([]*head.Param{w, b}, 6.5)
	want := []float64{1.4999998846153937, 1.9999998461538582, 5.999999538461575}
	got := append(append([]float64(nil), w.Grad.RawMatrix().Data...), b.Grad.RawMatrix().Data...)
	if n != 13 {
		t.Fatalf("norm %v", n)
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > 1e-15 {
			t.Fatalf("got %v want %v", got, want)
		}
	}
	// Below the limit nothing changes.
	if ClipGradNorm([]*head.Param{w, b}, 100); w.Grad.At(0, 0) != got[0] {
		t.Fatal("clipped below the limit")
	}
}

// Schedules as transformers' get_{constant,linear,cosine}_schedule_with_warmup.
func TestSchedules(t *testing.T) {
	const total = 10
	cases := []struct {
		s    Schedule
		want []float64
	}{
		{Schedule{}, []float64{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}},
		{Schedule{Kind: Constant, Warmup: 2}, []float64{0, 0.5, 1, 1, 1, 1, 1, 1, 1, 1}},
		{Schedule{Kind: Linear, Warmup: 2}, []float64{0, 0.5, 1, 7.0 / 8, 6.0 / 8, 5.0 / 8, 4.0 / 8, 3.0 / 8, 2.0 / 8, 1.0 / 8}},
		{Schedule{Kind: Linear, WarmupRatio: 0.15}, []float64{0, 0.5, 1, 7.0 / 8, 6.0 / 8, 5.0 / 8, 4.0 / 8, 3.0 / 8, 2.0 / 8, 1.0 / 8}},
		{Schedule{Kind: Cosine}, func() []float64 {
			var out []float64
			for s := range total {
				out = append(out, 0.5*(1+math.Cos(math.Pi*float64(s)/total)))
			}
			return out
		}()},
	}
	for _, c := range cases {
		if err := c.s.Validate(); err != nil {
			t.Fatal(err)
		}
		for step, w := range c.want {
			if got := c.s.Factor(step, total); math.Abs(got-w) > 1e-15 {
				t.Fatalf("%+v step %d: %v want %v", c.s, step, got, w)
			}
		}
	}
	if (Schedule{Kind: "step"}).Validate() == nil || (Schedule{Warmup: -1}).Validate() == nil {
		t.Fatal("want validation errors")
	}
}
