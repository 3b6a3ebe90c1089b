package head

import "fmt"

// Precision is the floating-point format of the large matrix products of a
// head or a loss in training. Parameters, gradients and every elementwise
// operation stay float64 in either precision.
type Precision string

const (
	// Float64 computes every product in float64. It is what heads and
	// losses start with, and what the golden and finite-difference tests
	// check.
	Float64 Precision = "float64"
	// Float32 rounds the operands of the large products (a layer's x W^T,
	// its weight gradient dy^T x and input gradient dy W, a loss's Gram
	// matrix and its gradient) to float32, multiplies in float32 (OpenBLAS's
	// sgemm under the openblas build tag) and widens the results back to
	// float64: about twice as fast, with relative errors of about 1e-6 in
	// outputs, losses and gradients.
	Float32 Precision = "float32"
)

// Validate reports whether p is Float64 or Float32.
func (p Precision) Validate() error {
	switch p {
	case Float64, Float32:
		return nil
	}
	return fmt.Errorf("unknown precision %q (want float64 or float32)", string(p))
}

// withLayers is implemented by the heads of this package: their dense
// layers, whose products SetPrecision switches.
type withLayers interface {
	denseLayers() []*dense
}

// SetPrecision sets the precision of h's matrix products in Forward and
// Backward from the next Forward on. Every head of this package supports it
// (those without matrix products ignore it); heads of other packages are
// left as they are and reported by ok false.
func SetPrecision(h Head, p Precision) (ok bool, err error) {
	if err := p.Validate(); err != nil {
		return false, err
	}
	w, ok := h.(withLayers)
	if !ok {
		return false, nil
	}
	for _, l := range w.denseLayers() {
		l.f32 = p == Float32
	}
	return true, nil
}

func (h *Empty) denseLayers() []*dense             { return nil }
func (h *Gated) denseLayers() []*dense             { return nil }
func (h *Linear) denseLayers() []*dense            { return []*dense{h.lin} }
func (h *SoftmaxEmbeddings) denseLayers() []*dense { return []*dense{h.lin} }
func (h *StackedProjection) denseLayers() []*dense { return h.layers }

func (h *SkipConnection) denseLayers() []*dense {
	ls := make([]*dense, len(h.layers))
	for i, l := range h.layers {
		ls[i] = l.fc
	}
	return ls
}

func (h *Sequential) denseLayers() []*dense {
	var ls []*dense
	for _, p := range h.parts {
		if w, ok := p.(withLayers); ok {
			ls = append(ls, w.denseLayers()...)
		}
	}
	return ls
}
