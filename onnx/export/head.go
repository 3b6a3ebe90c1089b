package export

import (
	"fmt"
	"math"

	"github.com/simlearn/simlearn/head"
)

// headGraph appends the head h to the graph with input x [B, h.InDim()] and
// returns the output's name. Dropout is inactive at inference and is left
// out. Heads of unknown kinds are an error naming the kind.
func (b *builder) headGraph(x string, h head.Head) (string, error) {
	params := map[string][]float64{}
	shapes := map[string][]int{}
	for _, p := range h.Params() {
		params[p.Name] = p.Value.RawMatrix().Data
		shapes[p.Name] = p.Shape()
	}
	hg := headBuilder{b: b, params: params, shapes: shapes}
	return hg.build(x, h.Config(), h.InDim(), "")
}

type headBuilder struct {
	b      *builder
	params map[string][]float64
	shapes map[string][]int
}

// param returns a parameter's values after checking its shape.
func (hb *headBuilder) param(name string, shape ...int) ([]float64, error) {
	v, ok := hb.params[name]
	if !ok {
		return nil, fmt.Errorf("the head has no parameter %q", name)
	}
	got := hb.shapes[name]
	if fmt.Sprint(got) != fmt.Sprint(shape) {
		return nil, fmt.Errorf("parameter %q has shape %v, want %v", name, got, shape)
	}
	return v, nil
}

// dense appends a linear layer whose parameters are prefix+wName and, when
// present, prefix+bName.
func (hb *headBuilder) dense(x, wName, bName string, in, out int, bias bool) (string, error) {
	w, err := hb.param(wName, out, in)
	if err != nil {
		return "", err
	}
	var bv []float64
	if bias {
		if bv, err = hb.param(bName, out); err != nil {
			return "", err
		}
	}
	return hb.b.linear(x, w, out, in, bv), nil
}

// build appends the head described by cfg with input width in; prefix names
// parameters of a part of a sequential head. It returns the output name.
func (hb *headBuilder) build(x string, cfg head.Config, in int, prefix string) (string, error) {
	b := hb.b
	switch cfg.Kind {
	case head.KindEmpty:
		return x, nil
	case head.KindLinear:
		return hb.dense(x, prefix+"weight", prefix+"bias", in, cfg.Out, cfg.Bias == nil || *cfg.Bias)
	case head.KindGated:
		g, err := hb.param(prefix+"gates", in)
		if err != nil {
			return "", err
		}
		return b.op("Mul", []string{x, b.floats("tanh_gates", []int64{int64(in)}, to32(g, math.Tanh))}), nil
	case head.KindSkipConnection:
		n := cfg.NLayers
		if n == 0 {
			n = 1
		}
		for i := 0; i < n; i++ {
			z, err := hb.dense(x, fmt.Sprintf("%sfc_%d.weight", prefix, i), fmt.Sprintf("%sfc_%d.bias", prefix, i), in, in, true)
			if err != nil {
				return "", err
			}
			g, err := hb.param(fmt.Sprintf("%sgates_%d", prefix, i), in)
			if err != nil {
				return "", err
			}
			sig := b.floats("sigmoid_gates", []int64{int64(in)}, to32(g, func(v float64) float64 { return 1 / (1 + math.Exp(-v)) }))
			x = b.op("Add", []string{b.op("Mul", []string{z, sig}), x})
		}
		return x, nil
	case head.KindSoftmaxEmbeddings:
		z, err := hb.dense(x, prefix+"projection.weight", prefix+"projection.bias", in, cfg.Groups*cfg.Size, true)
		if err != nil {
			return "", err
		}
		s := b.op("Softmax", []string{b.reshape(z, 0, int64(cfg.Groups), int64(cfg.Size))}, attrInt("axis", 2))
		return b.reshape(s, 0, int64(cfg.Groups*cfg.Size)), nil
	case head.KindStackedProjection, head.KindWidening:
		sizes := cfg.Sizes
		if cfg.Kind == head.KindWidening {
			e := cfg.Expansion
			if e == 0 {
				e = 4
			}
			sizes = []int{int(float64(in) * e), in}
		}
		for i, out := range sizes {
			if i > 0 {
				var err error
				if x, err = b.activation(x, cfg.Activation); err != nil {
					return "", err
				}
			}
			var err error
			x, err = hb.dense(x, fmt.Sprintf("%slayers_%d.weight", prefix, i), fmt.Sprintf("%slayers_%d.bias", prefix, i), in, out, true)
			if err != nil {
				return "", err
			}
			in = out
		}
		return x, nil
	case head.KindSequential:
		for i, part := range cfg.Heads {
			var err error
			x, err = hb.build(x, part, in, fmt.Sprintf("%s%d.", prefix, i))
			if err != nil {
				return "", fmt.Errorf("heads[%d] (%s): %w", i, part.Kind, err)
			}
			w, err := outWidth(part, in)
			if err != nil {
				return "", err
			}
			in = w
		}
		return x, nil
	}
	return "", fmt.Errorf("head kind %q cannot be exported to ONNX", cfg.Kind)
}

// outWidth is the output width of a head part with input width in.
func outWidth(cfg head.Config, in int) (int, error) {
	h, err := head.New(cfg, in, 0)
	if err != nil {
		return 0, err
	}
	return h.OutDim(), nil
}
