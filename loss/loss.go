package loss

import (
	"bytes"
	"encoding/json"
	"fmt"

	"gonum.org/v1/gonum/mat"

	"github.com/simlearn/simlearn/head"
)

// GroupLoss scores a batch of embeddings e [B, d] with group ids; it returns
// the loss and dL/de. The returned gradient is owned by the loss and valid
// until its next call; a loss is not safe for concurrent use. Losses with
// learnable weights (Learnable) also accumulate their weights' gradients.
type GroupLoss interface {
	Loss(e *mat.Dense, groups []int) (float64, *mat.Dense, error)
}

// PairLoss scores N pairs (a_i, b_i) with scores in [0,1] and subgroups
// (nil means no subgroups); it returns the loss, dL/da and dL/db, owned by
// the loss and valid until its next call.
type PairLoss interface {
	Loss(a, b *mat.Dense, scores []float64, subgroups []int) (float64, *mat.Dense, *mat.Dense, error)
}

// Learnable is implemented by losses with trainable weights (ArcFace,
// CosFace, Softmax, Center); an optimizer updates them with the head.
type Learnable interface {
	Params() []*head.Param
}

// Spec names a loss and its parameters, as a configuration file or a golden
// case gives them: {"name": "triplet", "params": {"margin": 0.5}}.
// Parameters left out take the SPEC defaults; unknown ones are an error.
type Spec struct {
	Name   string          `json:"name"`
	Params json.RawMessage `json:"params,omitempty"`
}

// GroupOptions are what proxy losses (arcface, cosface, softmax, center)
// need to create their class matrix; other group losses ignore them.
type GroupOptions struct {
	// Classes is the number of groups C; ids must lie in [0, C).
	Classes int
	// Dim is the embedding width d.
	Dim int
	// Seed initialises the class matrix.
	Seed uint64
}

// NewGroup builds the group loss spec names: triplet, online_contrastive,
// circle, fast_ap, arcface, cosface, softmax or center.
func NewGroup(spec Spec, opt GroupOptions) (GroupLoss, error) {
	var l interface {
		GroupLoss
		validate() error
	}
	switch spec.Name {
	case "triplet":
		l = NewTriplet()
	case "online_contrastive":
		l = NewOnlineContrastive()
	case "circle":
		l = NewCircle()
	case "fast_ap":
		l = NewFastAP()
	case "arcface", "cosface", "softmax", "center":
		if opt.Classes <= 0 || opt.Dim <= 0 {
			return nil, fmt.Errorf("loss %s: %d classes of width %d, want both > 0", spec.Name, opt.Classes, opt.Dim)
		}
		switch spec.Name {
		case "arcface":
			l = NewArcFace(opt.Classes, opt.Dim, opt.Seed)
		case "cosface":
			l = NewCosFace(opt.Classes, opt.Dim, opt.Seed)
		case "softmax":
			l = NewSoftmax(opt.Classes, opt.Dim, opt.Seed)
		default:
			l = NewCenter(opt.Classes, opt.Dim, opt.Seed)
		}
	default:
		return nil, fmt.Errorf("unknown group loss %q (want triplet, online_contrastive, circle, fast_ap, arcface, cosface, softmax or center)", spec.Name)
	}
	if err := decodeParams(spec, l); err != nil {
		return nil, err
	}
	return l, nil
}

// NewPair builds the pair loss spec names: contrastive,
// multiple_negatives_ranking, cosent or cosine_similarity.
func NewPair(spec Spec) (PairLoss, error) {
	var l interface {
		PairLoss
		validate() error
	}
	switch spec.Name {
	case "contrastive":
		l = NewContrastive()
	case "multiple_negatives_ranking":
		l = NewMultipleNegativesRanking()
	case "cosent":
		l = NewCoSENT()
	case "cosine_similarity":
		l = NewCosineSimilarity()
	default:
		return nil, fmt.Errorf("unknown pair loss %q (want contrastive, multiple_negatives_ranking, cosent or cosine_similarity)", spec.Name)
	}
	if err := decodeParams(spec, l); err != nil {
		return nil, err
	}
	return l, nil
}

func decodeParams(spec Spec, l interface{ validate() error }) error {
	if len(bytes.TrimSpace(spec.Params)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(spec.Params))
		dec.DisallowUnknownFields()
		if err := dec.Decode(l); err != nil {
			return fmt.Errorf("loss %s params: %w", spec.Name, err)
		}
	}
	if err := l.validate(); err != nil {
		return fmt.Errorf("loss %s: %w", spec.Name, err)
	}
	return nil
}
