package fit

import (
	"fmt"
	"math"

	"github.com/simlearn/simlearn/head"
	"github.com/simlearn/simlearn/internal/par"
)

// Optimizer updates parameters from their gradients. The formulas are
// PyTorch's (torch.optim, single-tensor path). An optimizer keeps per-parameter
// state in the order of the params it is given, so it must always be stepped
// with the same list.
type Optimizer interface {
	// Step updates every parameter from its Grad with learning rate lr.
	Step(params []*head.Param, lr float64) error
	// LR is the base learning rate that a Schedule scales.
	LR() float64
	// State returns a copy of the optimiser's state, for checkpoints.
	State() OptimizerState
	// SetState restores a state returned by State.
	SetState(OptimizerState) error
}

// OptimizerState is an optimiser's state: its kind, the number of steps
// taken and per-parameter buffers (SGD: momentum; Adam: first then second
// moments, each flattened row-major).
type OptimizerState struct {
	Kind    string     `json:"kind"`
	Steps   int        `json:"steps"`
	Buffers []floatsLE `json:"buffers"`
}

// SGD is stochastic gradient descent with optional momentum (PyTorch's
// dampening and Nesterov variants) and L2 weight decay added to the gradient.
type SGD struct {
	LearningRate float64
	Momentum     float64
	Dampening    float64
	Nesterov     bool
	WeightDecay  float64

	steps int
	buf   [][]float64
}

// NewSGD returns plain SGD with learning rate lr.
func NewSGD(lr float64) *SGD { return &SGD{LearningRate: lr} }

// LR is the base learning rate.
func (o *SGD) LR() float64 { return o.LearningRate }

// Step applies g = grad + wd*p; with momentum b = mu*b + (1-dampening)*g
// (b = g at the first step) and g = g + mu*b (Nesterov) or g = b; p -= lr*g.
func (o *SGD) Step(params []*head.Param, lr float64) error {
	if o.Nesterov && (o.Momentum <= 0 || o.Dampening != 0) {
		return fmt.Errorf("sgd: Nesterov momentum needs momentum > 0 and dampening 0")
	}
	if err := ensure(&o.buf, params, o.Momentum != 0); err != nil {
		return fmt.Errorf("sgd: %w", err)
	}
	for k, p := range params {
		w, g := p.Value.RawMatrix().Data, p.Grad.RawMatrix().Data
		var b []float64
		if o.Momentum != 0 {
			b = o.buf[k]
		}
		for i := range w {
			d := g[i]
			if o.WeightDecay != 0 {
				d += o.WeightDecay * w[i]
			}
			if b != nil {
				if o.steps == 0 {
					b[i] = d
				} else {
					b[i] = o.Momentum*b[i] + (1-o.Dampening)*d
				}
				if o.Nesterov {
					d += o.Momentum * b[i]
				} else {
					d = b[i]
				}
			}
			w[i] -= lr * d
		}
	}
	o.steps++
	return nil
}

// State returns the momentum buffers.
func (o *SGD) State() OptimizerState { return state("sgd", o.steps, o.buf) }

// SetState restores momentum buffers.
func (o *SGD) SetState(s OptimizerState) error {
	return setState("sgd", s, &o.steps, &o.buf)
}

// Adam is Adam (Kingma and Ba) with bias correction; WeightDecay adds L2
// decay to the gradient (PyTorch's Adam), or, with Decoupled set, decays the
// weights directly (AdamW).
type Adam struct {
	LearningRate float64
	Beta1, Beta2 float64
	Eps          float64
	WeightDecay  float64
	Decoupled    bool

	steps int
	buf   [][]float64 // m_0..m_{n-1}, v_0..v_{n-1}
}

// NewAdam returns Adam with PyTorch's defaults: betas (0.9, 0.999), eps 1e-8,
// no weight decay.
func NewAdam(lr float64) *Adam {
	return &Adam{LearningRate: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}
}

// NewAdamW returns AdamW with PyTorch's defaults: betas (0.9, 0.999), eps
// 1e-8, weight decay wd (PyTorch's default is 0.01).
func NewAdamW(lr, wd float64) *Adam {
	return &Adam{LearningRate: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: wd, Decoupled: true}
}

// LR is the base learning rate.
func (o *Adam) LR() float64 { return o.LearningRate }

// Step applies, at step t: (AdamW) p *= 1 - lr*wd, or (Adam) g += wd*p;
// m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2;
// p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps).
func (o *Adam) Step(params []*head.Param, lr float64) error {
	if o.Beta1 < 0 || o.Beta1 >= 1 || o.Beta2 < 0 || o.Beta2 >= 1 || o.Eps <= 0 {
		return fmt.Errorf("adam: betas (%v, %v) must be in [0, 1) and eps %v > 0", o.Beta1, o.Beta2, o.Eps)
	}
	n := len(params)
	if o.buf == nil {
		o.buf = make([][]float64, 2*n)
		for k, p := range params {
			o.buf[k] = make([]float64, len(p.Value.RawMatrix().Data))
			o.buf[n+k] = make([]float64, len(p.Value.RawMatrix().Data))
		}
	}
	if err := checkBuffers(o.buf, params, 2); err != nil {
		return fmt.Errorf("adam: %w", err)
	}
	t := float64(o.steps + 1)
	b1, b2 := o.Beta1, o.Beta2
	stepSize := lr / (1 - math.Pow(b1, t))
	bc2 := math.Sqrt(1 - math.Pow(b2, t))
	decay := 1 - lr*o.WeightDecay
	for k, p := range params {
		w, g := p.Value.RawMatrix().Data, p.Grad.RawMatrix().Data
		m, v := o.buf[k], o.buf[n+k]
		switch {
		case o.WeightDecay == 0:
			par.For(len(w), par.Grain, func(lo, hi int) {
				adamKernel(w[lo:hi], g[lo:hi], m[lo:hi], v[lo:hi], b1, b2, stepSize, bc2, o.Eps)
			})
		case o.Decoupled:
			for i := range w {
				w[i] *= decay
			}
			adamKernel(w, g, m, v, b1, b2, stepSize, bc2, o.Eps)
		default:
			for i := range w {
				d := g[i] + o.WeightDecay*w[i]
				m[i] = b1*m[i] + (1-b1)*d
				v[i] = b2*v[i] + (1-b2)*d*d
				w[i] -= stepSize * m[i] / (math.Sqrt(v[i])/bc2 + o.Eps)
			}
		}
	}
	o.steps++
	return nil
}

// adamGo applies one Adam step without weight decay to w given its
// gradient g and moments m, v (as long as w at least).
func adamGo(w, g, m, v []float64, b1, b2, stepSize, bc2, eps float64) {
	m = m[:len(w)]
	v = v[:len(w)]
	g = g[:len(w)]
	for i, d := range g {
		mi := b1*m[i] + (1-b1)*d
		vi := b2*v[i] + (1-b2)*d*d
		m[i], v[i] = mi, vi
		w[i] -= stepSize * mi / (math.Sqrt(vi)/bc2 + eps)
	}
}

// State returns the moment estimates.
func (o *Adam) State() OptimizerState { return state(o.kind(), o.steps, o.buf) }

// SetState restores moment estimates.
func (o *Adam) SetState(s OptimizerState) error {
	return setState(o.kind(), s, &o.steps, &o.buf)
}

func (o *Adam) kind() string {
	if o.Decoupled {
		return "adamw"
	}
	return "adam"
}

// ensure allocates one zero buffer per parameter when want is set and none
// exist, and checks the sizes of existing ones.
func ensure(buf *[][]float64, params []*head.Param, want bool) error {
	if !want {
		return nil
	}
	if *buf == nil {
		*buf = make([][]float64, len(params))
		for k, p := range params {
			(*buf)[k] = make([]float64, len(p.Value.RawMatrix().Data))
		}
	}
	return checkBuffers(*buf, params, 1)
}

func checkBuffers(buf [][]float64, params []*head.Param, per int) error {
	if len(buf) != per*len(params) {
		return fmt.Errorf("state for %d parameters, stepped with %d", len(buf)/per, len(params))
	}
	for k, p := range params {
		for j := range per {
			if n := len(p.Value.RawMatrix().Data); len(buf[j*len(params)+k]) != n {
				return fmt.Errorf("parameter %d (%s): state of size %d, parameter of size %d", k, p.Name, len(buf[j*len(params)+k]), n)
			}
		}
	}
	return nil
}

func state(kind string, steps int, buf [][]float64) OptimizerState {
	s := OptimizerState{Kind: kind, Steps: steps}
	for _, b := range buf {
		s.Buffers = append(s.Buffers, append(floatsLE(nil), b...))
	}
	return s
}

func setState(kind string, s OptimizerState, steps *int, buf *[][]float64) error {
	if s.Kind != kind {
		return fmt.Errorf("%s: cannot restore %q optimiser state", kind, s.Kind)
	}
	*steps = s.Steps
	*buf = nil
	for _, b := range s.Buffers {
		*buf = append(*buf, append([]float64(nil), b...))
	}
	return nil
}

// ClipGradNorm scales all gradients by maxNorm/(norm+1e-6) when their global
// L2 norm exceeds maxNorm (PyTorch's clip_grad_norm_), and returns the norm
// before clipping.
func ClipGradNorm(params []*head.Param, maxNorm float64) float64 {
	var ss float64
	for _, p := range params {
		for _, g := range p.Grad.RawMatrix().Data {
			ss += g * g
		}
	}
	norm := math.Sqrt(ss)
	if coef := maxNorm / (norm + 1e-6); coef < 1 {
		for _, p := range params {
			g := p.Grad.RawMatrix().Data
			for i := range g {
				g[i] *= coef
			}
		}
	}
	return norm
}
