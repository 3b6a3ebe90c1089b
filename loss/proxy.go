package loss

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"

	"github.com/simlearn/simlearn/head"
)

// classMatrix returns the learnable [classes][dim] parameter "name".
func classMatrix(name string, classes, dim int) *head.Param {
	return head.NewParam(name, classes, dim)
}

// normalInit fills w with N(0, 0.01^2) values drawn from seed.
func normalInit(w *head.Param, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0xc1a55))
	rows(w.Value, func(_ int, r []float64) {
		for j := range r {
			r[j] = 0.01 * rng.NormFloat64()
		}
	})
}

// proxyCheck validates the input of a loss with a class matrix w.
func proxyCheck(name string, w *head.Param, e *mat.Dense, groups []int) error {
	if err := checkGroupBatch(e, groups); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	c, d := w.Value.Dims()
	if _, de := e.Dims(); de != d {
		return fmt.Errorf("%s: embeddings have %d columns, the class matrix %d", name, de, d)
	}
	return checkClasses(name, groups, c)
}

// cosineLogits holds the normalised embeddings and class rows of ArcFace and
// CosFace and turns dL/dcos into gradients.
type cosineLogits struct {
	xn, wn   *mat.Dense
	nx, nw   []float64
	cos      *mat.Dense
	logits   *mat.Dense
	g        *mat.Dense
	gxn, gwn *mat.Dense
	de       *mat.Dense
}

// forward computes cos = normalize(e) normalize(w)^T.
func (p *cosineLogits) forward(e *mat.Dense, w *head.Param) {
	p.xn, p.nx = normalizeRows(p.xn, p.nx, e, nil)
	p.wn, p.nw = normalizeRows(p.wn, p.nw, w.Value, nil)
	n, _ := e.Dims()
	c, _ := w.Value.Dims()
	p.cos = resize(p.cos, n, c)
	blas64.Gemm(blas.NoTrans, blas.Trans, 1, p.xn.RawMatrix(), p.wn.RawMatrix(), 0, p.cos.RawMatrix())
	p.logits = resize(p.logits, n, c)
	p.g = resize(p.g, n, c)
}

// backward takes dL/dcos in p.g, returns dL/de and accumulates dL/dw.
func (p *cosineLogits) backward(e *mat.Dense, w *head.Param) *mat.Dense {
	n, d := e.Dims()
	c, _ := w.Value.Dims()
	p.gxn = resize(p.gxn, n, d)
	p.gwn = resize(p.gwn, c, d)
	blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, p.g.RawMatrix(), p.wn.RawMatrix(), 0, p.gxn.RawMatrix())
	blas64.Gemm(blas.Trans, blas.NoTrans, 1, p.g.RawMatrix(), p.xn.RawMatrix(), 0, p.gwn.RawMatrix())
	p.de = resize(p.de, n, d)
	normalizeBackward(p.de, p.gxn, p.xn, p.nx, true)
	normalizeBackward(w.Grad, p.gwn, p.wn, p.nw, false)
	return p.de
}

// ArcFace is the additive angular margin loss of SPEC section 4 with a
// learnable class matrix "weights" [C][d] (initialised N(0, 0.01^2)).
type ArcFace struct {
	Scale  float64 `json:"scale"`
	Margin float64 `json:"margin"`
	// W is the class matrix.
	W *head.Param `json:"-"`

	p    cosineLogits
	dphi []float64
}

// NewArcFace returns an ArcFace for classes classes of width dim with the
// SPEC defaults (scale 64, margin 0.5), its class matrix drawn from seed.
func NewArcFace(classes, dim int, seed uint64) *ArcFace {
	a := &ArcFace{Scale: 64, Margin: 0.5, W: classMatrix("weights", classes, dim)}
	normalInit(a.W, seed)
	return a
}

// Params is the class matrix.
func (a *ArcFace) Params() []*head.Param { return []*head.Param{a.W} }

func (a *ArcFace) validate() error {
	if err := checkPositive("scale", a.Scale); err != nil {
		return err
	}
	if err := checkNonNegative("margin", a.Margin); err != nil {
		return err
	}
	if a.W == nil {
		return fmt.Errorf("no class matrix (use NewArcFace)")
	}
	return nil
}

// Loss computes the loss of the batch, returns dL/de and accumulates the
// class matrix's gradient.
func (a *ArcFace) Loss(e *mat.Dense, groups []int) (float64, *mat.Dense, error) {
	if err := a.validate(); err != nil {
		return 0, nil, fmt.Errorf("arcface: %w", err)
	}
	if err := proxyCheck("arcface", a.W, e, groups); err != nil {
		return 0, nil, err
	}
	p := &a.p
	p.forward(e, a.W)
	cm, sm := math.Cos(a.Margin), math.Sin(a.Margin)
	th := math.Cos(math.Pi - a.Margin)
	mm := math.Sin(math.Pi-a.Margin) * a.Margin
	// dphi/dcos of each row's true class.
	a.dphi = grow(a.dphi, len(groups))
	rows(p.cos, func(i int, cr []float64) {
		lr := row(p.logits, i)
		for j, v := range cr {
			lr[j] = a.Scale * math.Min(math.Max(v, -1), 1)
		}
		c := math.Min(math.Max(cr[groups[i]], -1), 1)
		var phi float64
		if c > th {
			sin := math.Sqrt(math.Max(1-c*c, 0))
			phi = c*cm - sin*sm
			a.dphi[i] = cm + sm*c/math.Max(sin, 1e-12)
		} else {
			phi = c - mm
			a.dphi[i] = 1
		}
		lr[groups[i]] = a.Scale * phi
	})
	loss := crossEntropy(p.logits, groups, 1, p.g)
	// From dL/dlogits to dL/dcos; the clamp passes the gradient only inside
	// [-1, 1].
	rows(p.g, func(i int, gr []float64) {
		cr := row(p.cos, i)
		for j := range gr {
			gr[j] *= a.Scale
			if j == groups[i] {
				gr[j] *= a.dphi[i]
			}
			if cr[j] > 1 || cr[j] < -1 {
				gr[j] = 0
			}
		}
	})
	return loss, p.backward(e, a.W), nil
}

// CosFace is the additive cosine margin loss of SPEC section 4 with a
// learnable class matrix "weights" [C][d] (initialised N(0, 0.01^2)).
type CosFace struct {
	Scale  float64 `json:"scale"`
	Margin float64 `json:"margin"`
	// W is the class matrix.
	W *head.Param `json:"-"`

	p cosineLogits
}

// NewCosFace returns a CosFace for classes classes of width dim with the
// SPEC defaults (scale 64, margin 0.35), its class matrix drawn from seed.
func NewCosFace(classes, dim int, seed uint64) *CosFace {
	c := &CosFace{Scale: 64, Margin: 0.35, W: classMatrix("weights", classes, dim)}
	normalInit(c.W, seed)
	return c
}

// Params is the class matrix.
func (c *CosFace) Params() []*head.Param { return []*head.Param{c.W} }

func (c *CosFace) validate() error {
	if err := checkPositive("scale", c.Scale); err != nil {
		return err
	}
	if err := checkNonNegative("margin", c.Margin); err != nil {
		return err
	}
	if c.W == nil {
		return fmt.Errorf("no class matrix (use NewCosFace)")
	}
	return nil
}

// Loss computes the loss of the batch, returns dL/de and accumulates the
// class matrix's gradient.
func (c *CosFace) Loss(e *mat.Dense, groups []int) (float64, *mat.Dense, error) {
	if err := c.validate(); err != nil {
		return 0, nil, fmt.Errorf("cosface: %w", err)
	}
	if err := proxyCheck("cosface", c.W, e, groups); err != nil {
		return 0, nil, err
	}
	p := &c.p
	p.forward(e, c.W)
	rows(p.cos, func(i int, cr []float64) {
		lr := row(p.logits, i)
		for j, v := range cr {
			lr[j] = c.Scale * v
		}
		lr[groups[i]] -= c.Scale * c.Margin
	})
	loss := crossEntropy(p.logits, groups, 1, p.g)
	scale(p.g, c.Scale) // dlogits/dcos = scale
	return loss, p.backward(e, c.W), nil
}

// Softmax is the softmax cross-entropy loss of SPEC section 4 on logits
// x W^T / Temperature, with a learnable class matrix "weights" [C][d]
// (initialised N(0, 0.01^2)).
type Softmax struct {
	Temperature float64 `json:"temperature"`
	// W is the class matrix.
	W *head.Param `json:"-"`

	logits, g, de *mat.Dense
}

// NewSoftmax returns a Softmax for classes classes of width dim with the
// SPEC default temperature 0.05, its class matrix drawn from seed.
func NewSoftmax(classes, dim int, seed uint64) *Softmax {
	s := &Softmax{Temperature: 0.05, W: classMatrix("weights", classes, dim)}
	normalInit(s.W, seed)
	return s
}

// Params is the class matrix.
func (s *Softmax) Params() []*head.Param { return []*head.Param{s.W} }

func (s *Softmax) validate() error {
	if err := checkPositive("temperature", s.Temperature); err != nil {
		return err
	}
	if s.W == nil {
		return fmt.Errorf("no class matrix (use NewSoftmax)")
	}
	return nil
}

// Loss computes the loss of the batch, returns dL/de and accumulates the
// class matrix's gradient.
func (s *Softmax) Loss(e *mat.Dense, groups []int) (float64, *mat.Dense, error) {
	if err := s.validate(); err != nil {
		return 0, nil, fmt.Errorf("softmax: %w", err)
	}
	if err := proxyCheck("softmax", s.W, e, groups); err != nil {
		return 0, nil, err
	}
	n, d := e.Dims()
	c, _ := s.W.Value.Dims()
	inv := 1 / s.Temperature
	s.logits = resize(s.logits, n, c)
	blas64.Gemm(blas.NoTrans, blas.Trans, inv, e.RawMatrix(), s.W.Value.RawMatrix(), 0, s.logits.RawMatrix())
	s.g = resize(s.g, n, c)
	loss := crossEntropy(s.logits, groups, 1, s.g)
	s.de = resize(s.de, n, d)
	blas64.Gemm(blas.NoTrans, blas.NoTrans, inv, s.g.RawMatrix(), s.W.Value.RawMatrix(), 0, s.de.RawMatrix())
	blas64.Gemm(blas.Trans, blas.NoTrans, inv, s.g.RawMatrix(), e.RawMatrix(), 1, s.W.Grad.RawMatrix())
	return loss, s.de, nil
}

// Center is the center loss of SPEC section 4: Lambda times the mean over
// all B*d elements of (normalize(x_i) - C_{g_i})^2, with learnable centres
// "centers" [C][d] (Xavier-uniform initialisation).
type Center struct {
	Lambda float64 `json:"lambda"`
	// C is the centre matrix.
	C *head.Param `json:"-"`

	xn, gxn, de *mat.Dense
	nx          []float64
}

// NewCenter returns a Center for classes classes of width dim with the
// SPEC default lambda 0.5, its centres drawn from seed.
func NewCenter(classes, dim int, seed uint64) *Center {
	c := &Center{Lambda: 0.5, C: classMatrix("centers", classes, dim)}
	rng := rand.New(rand.NewPCG(seed, 0xce47e5))
	bound := math.Sqrt(6 / float64(classes+dim))
	rows(c.C.Value, func(_ int, r []float64) {
		for j := range r {
			r[j] = (2*rng.Float64() - 1) * bound
		}
	})
	return c
}

// Params is the centre matrix.
func (c *Center) Params() []*head.Param { return []*head.Param{c.C} }

func (c *Center) validate() error {
	if err := checkNonNegative("lambda", c.Lambda); err != nil {
		return err
	}
	if c.C == nil {
		return fmt.Errorf("no centre matrix (use NewCenter)")
	}
	return nil
}

// Loss computes the loss of the batch, returns dL/de and accumulates the
// centres' gradient.
func (c *Center) Loss(e *mat.Dense, groups []int) (float64, *mat.Dense, error) {
	if err := c.validate(); err != nil {
		return 0, nil, fmt.Errorf("center: %w", err)
	}
	if err := proxyCheck("center", c.C, e, groups); err != nil {
		return 0, nil, err
	}
	n, d := e.Dims()
	c.xn, c.nx = normalizeRows(c.xn, c.nx, e, nil)
	c.gxn = resize(c.gxn, n, d)
	scale := 2 * c.Lambda / float64(n*d)
	sum := 0.0
	rows(c.xn, func(i int, xr []float64) {
		cr, gr, cg := row(c.C.Value, groups[i]), row(c.gxn, i), row(c.C.Grad, groups[i])
		for k, v := range xr {
			diff := v - cr[k]
			sum += diff * diff
			gr[k] = scale * diff
			cg[k] -= scale * diff
		}
	})
	c.de = resize(c.de, n, d)
	normalizeBackward(c.de, c.gxn, c.xn, c.nx, true)
	return c.Lambda * sum / float64(n*d), c.de, nil
}
