package head

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// Head kinds, as Config.Kind names them (SPEC section 2).
const (
	KindEmpty             = "empty"
	KindLinear            = "linear"
	KindGated             = "gated"
	KindSkipConnection    = "skip_connection"
	KindSoftmaxEmbeddings = "softmax_embeddings"
	KindStackedProjection = "stacked_projection"
	KindWidening          = "widening"
	KindSequential        = "sequential"
)

// Config describes a head by kind and parameters; it is what a servable
// stores to rebuild its head. Fields that do not apply to a kind must be
// left zero. Zero values take the SPEC defaults: Bias true, NLayers 1,
// Activation "relu", Expansion 4.
type Config struct {
	// Kind is one of the Kind* constants.
	Kind string `json:"kind"`
	// Dropout is the input dropout probability in [0, 1), active only in
	// training. Every kind accepts it.
	Dropout float64 `json:"dropout,omitempty"`
	// Out is the output size of a linear head.
	Out int `json:"out,omitempty"`
	// Bias says whether a linear head has a bias (nil means true).
	Bias *bool `json:"bias,omitempty"`
	// NLayers is the number of gated residual layers of a skip_connection head.
	NLayers int `json:"n_layers,omitempty"`
	// SkipDropout is the dropout on each skip_connection layer's branch input.
	SkipDropout float64 `json:"skip_dropout,omitempty"`
	// Groups and Size shape a softmax_embeddings head: Groups softmaxes of
	// Size values each.
	Groups int `json:"groups,omitempty"`
	Size   int `json:"size,omitempty"`
	// Sizes are the output sizes of a stacked_projection head's layers.
	Sizes []int `json:"sizes,omitempty"`
	// Activation is applied between projection layers (stacked_projection,
	// widening): relu, gelu, tanh, sigmoid, leaky_relu or silu.
	Activation string `json:"activation,omitempty"`
	// Expansion is the hidden size factor of a widening head.
	Expansion float64 `json:"expansion,omitempty"`
	// Heads are the parts of a sequential head, applied left to right.
	Heads []Config `json:"heads,omitempty"`
}

// ParseConfig decodes a JSON head configuration, rejecting unknown fields.
func ParseConfig(data []byte) (Config, error) {
	var c Config
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("head config: %w", err)
	}
	return c, nil
}

// New builds the head that cfg describes for inputs of width inDim, with its
// parameters initialised from seed (PyTorch's default Linear initialisation,
// uniform in ±1/sqrt(fan_in); gates as SPEC says). The same seed gives the
// same weights and the same dropout masks.
func New(cfg Config, inDim int, seed uint64) (Head, error) {
	h, err := build(cfg, inDim, seed, "")
	if err != nil {
		return nil, fmt.Errorf("head %s: %w", cfg.Kind, err)
	}
	return h, nil
}

// build constructs a head; prefix names its parameters inside a sequential.
func build(cfg Config, inDim int, seed uint64, prefix string) (Head, error) {
	if inDim <= 0 {
		return nil, fmt.Errorf("input width %d, want > 0", inDim)
	}
	if math.IsNaN(cfg.Dropout) || cfg.Dropout < 0 || cfg.Dropout >= 1 {
		return nil, fmt.Errorf("dropout %v, want in [0, 1)", cfg.Dropout)
	}
	init := rand.New(rand.NewPCG(seed, 0x1417))
	drop := &dropout{p: cfg.Dropout, rng: rand.New(rand.NewPCG(seed, 0xd709))}
	if err := cfg.checkFields(); err != nil {
		return nil, err
	}
	switch cfg.Kind {
	case KindEmpty:
		return &Empty{dim: inDim, drop: drop}, nil
	case KindLinear:
		if cfg.Out <= 0 {
			return nil, fmt.Errorf("out %d, want > 0", cfg.Out)
		}
		bias := cfg.Bias == nil || *cfg.Bias
		return &Linear{cfg: cfg, drop: drop, lin: newDense(prefix, "weight", "bias", inDim, cfg.Out, bias, init)}, nil
	case KindGated:
		return newGated(cfg, inDim, drop, prefix), nil
	case KindSkipConnection:
		return newSkip(cfg, inDim, drop, init, prefix)
	case KindSoftmaxEmbeddings:
		if cfg.Groups <= 0 || cfg.Size <= 0 {
			return nil, fmt.Errorf("groups %d and size %d, want both > 0", cfg.Groups, cfg.Size)
		}
		return &SoftmaxEmbeddings{cfg: cfg, drop: drop,
			lin: newDense(prefix, "projection.weight", "projection.bias", inDim, cfg.Groups*cfg.Size, true, init)}, nil
	case KindStackedProjection:
		return newStacked(cfg, inDim, cfg.Sizes, drop, init, prefix)
	case KindWidening:
		e := cfg.Expansion
		if e == 0 {
			e = 4
		}
		hidden := int(float64(inDim) * e)
		if math.IsNaN(e) || math.IsInf(e, 0) || hidden <= 0 {
			return nil, fmt.Errorf("expansion %v gives a hidden width of %d, want > 0", cfg.Expansion, hidden)
		}
		return newStacked(cfg, inDim, []int{hidden, inDim}, drop, init, prefix)
	case KindSequential:
		return newSequential(cfg, inDim, seed, drop, prefix)
	case "":
		return nil, errors.New("kind is empty")
	default:
		return nil, fmt.Errorf("unknown kind %q (want empty, linear, gated, skip_connection, softmax_embeddings, stacked_projection, widening or sequential)", cfg.Kind)
	}
}

// checkFields rejects fields set for a kind that does not use them, so that a
// misspelt or misplaced setting is not ignored silently.
func (c Config) checkFields() error {
	used := map[string]bool{}
	switch c.Kind {
	case KindLinear:
		used["out"], used["bias"] = true, true
	case KindSkipConnection:
		used["n_layers"], used["skip_dropout"] = true, true
	case KindSoftmaxEmbeddings:
		used["groups"], used["size"] = true, true
	case KindStackedProjection:
		used["sizes"], used["activation"] = true, true
	case KindWidening:
		used["expansion"], used["activation"] = true, true
	case KindSequential:
		used["heads"] = true
	}
	set := map[string]bool{
		"out": c.Out != 0, "bias": c.Bias != nil, "n_layers": c.NLayers != 0,
		"skip_dropout": c.SkipDropout != 0, "groups": c.Groups != 0, "size": c.Size != 0,
		"sizes": c.Sizes != nil, "activation": c.Activation != "", "expansion": c.Expansion != 0,
		"heads": c.Heads != nil,
	}
	for _, f := range []string{"out", "bias", "n_layers", "skip_dropout", "groups", "size", "sizes", "activation", "expansion", "heads"} {
		if set[f] && !used[f] {
			return fmt.Errorf("field %q does not apply to kind %q", f, c.Kind)
		}
	}
	return nil
}
