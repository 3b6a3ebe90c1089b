package models

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/simlearn/simlearn/head"
)

// TrainableEncoder is an [Encoder] with parameters that training updates.
// The training loop calls Forward on a batch, then Backward with the
// gradient of the loss with respect to Forward's output (what the head's
// Backward returns for this encoder's columns).
type TrainableEncoder interface {
	Encoder
	// Forward encodes a batch for training, keeping what Backward needs.
	Forward(objs []any) (*mat.Dense, error)
	// Backward takes dL/dy for the last Forward's output and accumulates
	// the parameters' gradients.
	Backward(dy *mat.Dense) error
	// Params lists the trainable parameters with their saved names.
	Params() []*head.Param
}

// UnknownCategory is the category of row 0 of an [EmbeddingTable]: every
// value not among its categories maps to it.
const UnknownCategory = "<unk>"

// EmbeddingTableConfig configures [NewEmbeddingTable].
type EmbeddingTableConfig struct {
	// Name is the encoder's name; the parameter is saved as Name+".weight".
	Name string
	// Categories are the known values of the field, each given once.
	Categories []string
	// Dim is the length of each vector.
	Dim int
	// Field, when set, is the key of the category in objects that are
	// map[string]any or map[string]string; when empty, objects are the
	// category strings themselves.
	Field string
	// Seed makes the initialisation reproducible.
	Seed uint64
	// InitStd is the standard deviation of the normal initialisation;
	// 0 means 1/sqrt(Dim), so a row's expected norm is 1, like the
	// normalised vectors of a text encoder it is concatenated with.
	InitStd float64
}

// EmbeddingTable is a trainable encoder of a categorical field: each
// category has a learnable vector (row 0 for unknown values). It is never
// cached.
type EmbeddingTable struct {
	cfg    EmbeddingTableConfig
	ids    map[string]int
	weight *head.Param
	last   []int // rows used by the last Forward
}

var _ TrainableEncoder = (*EmbeddingTable)(nil)

// NewEmbeddingTable returns a table with rows initialised from cfg.Seed.
func NewEmbeddingTable(cfg EmbeddingTableConfig) (*EmbeddingTable, error) {
	if cfg.Name == "" {
		return nil, errors.New("embedding table: empty name")
	}
	if cfg.Dim <= 0 {
		return nil, fmt.Errorf("embedding table %q: dimension %d", cfg.Name, cfg.Dim)
	}
	ids := make(map[string]int, len(cfg.Categories))
	for i, c := range cfg.Categories {
		if c == UnknownCategory {
			return nil, fmt.Errorf("embedding table %q: category %d is the reserved %q", cfg.Name, i, UnknownCategory)
		}
		if _, dup := ids[c]; dup {
			return nil, fmt.Errorf("embedding table %q: category %q given twice (index %d)", cfg.Name, c, i)
		}
		ids[c] = i + 1
	}
	std := cfg.InitStd
	if std == 0 {
		std = 1 / math.Sqrt(float64(cfg.Dim))
	}
	rows := len(cfg.Categories) + 1
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x656d62))
	w := make([]float64, rows*cfg.Dim)
	for i := range w {
		w[i] = rng.NormFloat64() * std
	}
	return &EmbeddingTable{
		cfg: cfg,
		ids: ids,
		weight: &head.Param{
			Name:  cfg.Name + ".weight",
			Value: mat.NewDense(rows, cfg.Dim, w),
			Grad:  mat.NewDense(rows, cfg.Dim, nil),
		},
	}, nil
}

// Name is the configured name.
func (t *EmbeddingTable) Name() string { return t.cfg.Name }

// Dim is the length of each vector.
func (t *EmbeddingTable) Dim() int { return t.cfg.Dim }

// Trainable is always true.
func (t *EmbeddingTable) Trainable() bool { return true }

// Fingerprint identifies the table's shape; its vectors change with
// training, so it is never used as a cache key.
func (t *EmbeddingTable) Fingerprint() string {
	return fmt.Sprintf("embedding-table:%s:%dx%d", t.cfg.Name, len(t.cfg.Categories)+1, t.cfg.Dim)
}

// Params returns the table, [categories+1, Dim].
func (t *EmbeddingTable) Params() []*head.Param { return []*head.Param{t.weight} }

// Row returns the table row of obj's category (0 when unknown).
func (t *EmbeddingTable) Row(obj any) (int, error) {
	c, err := t.category(obj)
	if err != nil {
		return 0, err
	}
	return t.ids[c], nil
}

func (t *EmbeddingTable) category(obj any) (string, error) {
	if t.cfg.Field == "" {
		s, ok := obj.(string)
		if !ok {
			return "", fmt.Errorf("embedding table %q: object of type %T is not a string (set Field for objects with fields)", t.cfg.Name, obj)
		}
		return s, nil
	}
	var v any
	var ok bool
	switch o := obj.(type) {
	case map[string]any:
		v, ok = o[t.cfg.Field]
	case map[string]string:
		v, ok = o[t.cfg.Field]
	default:
		return "", fmt.Errorf("embedding table %q: object of type %T has no field %q (want map[string]any or map[string]string)", t.cfg.Name, obj, t.cfg.Field)
	}
	if !ok {
		return "", fmt.Errorf("embedding table %q: object has no field %q", t.cfg.Name, t.cfg.Field)
	}
	switch c := v.(type) {
	case string:
		return c, nil
	case bool, float64, int, int64:
		return fmt.Sprint(c), nil
	}
	return "", fmt.Errorf("embedding table %q: field %q holds a %T, not a category", t.cfg.Name, t.cfg.Field, v)
}

func (t *EmbeddingTable) rows(objs []any) ([]int, error) {
	ids := make([]int, len(objs))
	for i, o := range objs {
		r, err := t.Row(o)
		if err != nil {
			return nil, fmt.Errorf("object %d: %w", i, err)
		}
		ids[i] = r
	}
	return ids, nil
}

// Encode returns the current vector of each object's category.
func (t *EmbeddingTable) Encode(ctx context.Context, objs []any) ([][]float32, error) {
	ids, err := t.rows(objs)
	if err != nil {
		return nil, err
	}
	out := make([][]float32, len(ids))
	for i, r := range ids {
		v := make([]float32, t.cfg.Dim)
		for j := range v {
			v[j] = float32(t.weight.Value.At(r, j))
		}
		out[i] = v
	}
	return out, nil
}

// Forward returns the rows of the objects' categories [len(objs), Dim] and
// remembers them for Backward.
func (t *EmbeddingTable) Forward(objs []any) (*mat.Dense, error) {
	ids, err := t.rows(objs)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("embedding table %q: Forward of no objects", t.cfg.Name)
	}
	y := mat.NewDense(len(ids), t.cfg.Dim, nil)
	for i, r := range ids {
		y.SetRow(i, t.weight.Value.RawRowView(r))
	}
	t.last = ids
	return y, nil
}

// Backward adds row i of dy to the gradient of the row used for object i of
// the last Forward (rows used several times accumulate).
func (t *EmbeddingTable) Backward(dy *mat.Dense) error {
	if t.last == nil {
		return fmt.Errorf("embedding table %q: Backward without Forward", t.cfg.Name)
	}
	if r, c := dy.Dims(); r != len(t.last) || c != t.cfg.Dim {
		return fmt.Errorf("embedding table %q: gradient is %dx%d, the last Forward gave %dx%d", t.cfg.Name, r, c, len(t.last), t.cfg.Dim)
	}
	for i, r := range t.last {
		g := t.weight.Grad.RawRowView(r)
		for j, x := range dy.RawRowView(i) {
			g[j] += x
		}
	}
	return nil
}
