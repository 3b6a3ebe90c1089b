package models

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sync"

	"gonum.org/v1/gonum/mat"

	"github.com/simlearn/simlearn/head"
)

// DefaultBatchSize is the number of objects SimilarityModel.Encode passes to
// its encoders at a time unless WithBatchSize says otherwise.
const DefaultBatchSize = 256

// SimilarityModel is the inference model: encoders whose outputs are
// concatenated, in order, and passed through a head. It is safe for
// concurrent use by several goroutines.
type SimilarityModel struct {
	encoders  []Encoder
	head      head.Head
	inDim     int
	batchSize int

	mu sync.Mutex // the head keeps workspaces and is not safe for concurrent use
}

// Option configures a SimilarityModel.
type Option func(*SimilarityModel) error

// WithBatchSize sets how many objects Encode hands to the encoders at a time.
func WithBatchSize(n int) Option {
	return func(m *SimilarityModel) error {
		if n <= 0 {
			return fmt.Errorf("batch size %d, want > 0", n)
		}
		m.batchSize = n
		return nil
	}
}

// encoderName is what an encoder name must look like: it names a directory
// of the servable.
var encoderName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// New returns a model over encoders and h. Encoder names must be unique and
// usable as directory names (letters, digits, '.', '_', '-'), and the sum of
// the encoders' dimensions must be h's input width.
func New(encoders []Encoder, h head.Head, opts ...Option) (*SimilarityModel, error) {
	if len(encoders) == 0 {
		return nil, errors.New("models: no encoders; a similarity model needs at least one")
	}
	if h == nil {
		return nil, errors.New("models: head is nil (use head kind \"empty\" for none)")
	}
	seen := map[string]bool{}
	in := 0
	for i, e := range encoders {
		if e == nil {
			return nil, fmt.Errorf("models: encoder %d is nil", i)
		}
		name := e.Name()
		if !encoderName.MatchString(name) {
			return nil, fmt.Errorf("models: encoder %d has name %q; use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", i, name)
		}
		if seen[name] {
			return nil, fmt.Errorf("models: encoder name %q is used twice; names must be unique", name)
		}
		seen[name] = true
		if e.Dim() <= 0 {
			return nil, fmt.Errorf("models: encoder %q has dimension %d", name, e.Dim())
		}
		in += e.Dim()
	}
	if in != h.InDim() {
		return nil, fmt.Errorf("models: the encoders give %d values per object but the head takes %d", in, h.InDim())
	}
	m := &SimilarityModel{encoders: encoders, head: h, inDim: in, batchSize: DefaultBatchSize}
	for _, o := range opts {
		if err := o(m); err != nil {
			return nil, fmt.Errorf("models: %w", err)
		}
	}
	return m, nil
}

// Encoders returns the model's encoders in concatenation order.
func (m *SimilarityModel) Encoders() []Encoder { return append([]Encoder(nil), m.encoders...) }

// Head returns the model's head. Do not call its methods while the model is
// encoding.
func (m *SimilarityModel) Head() head.Head { return m.head }

// Dim is the length of the vectors Encode returns (the head's output width).
func (m *SimilarityModel) Dim() int { return m.head.OutDim() }

// InDim is the width of the concatenated encoder output.
func (m *SimilarityModel) InDim() int { return m.inDim }

// Encode returns one vector per object, in input order: the encoders'
// outputs concatenated and passed through the head. Objects go to the
// encoders in batches of the model's batch size; ctx is checked between
// batches.
func (m *SimilarityModel) Encode(ctx context.Context, objs []any) ([][]float32, error) {
	out := make([][]float32, 0, len(objs))
	for start := 0; start < len(objs); start += m.batchSize {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("models: encode: %w", err)
		}
		end := min(start+m.batchSize, len(objs))
		vecs, err := m.encodeBatch(ctx, objs[start:end])
		if err != nil {
			return nil, fmt.Errorf("models: encode objects %d-%d: %w", start, end-1, err)
		}
		out = append(out, vecs...)
	}
	return out, nil
}

func (m *SimilarityModel) encodeBatch(ctx context.Context, objs []any) ([][]float32, error) {
	x := mat.NewDense(len(objs), m.inDim, nil)
	raw := x.RawMatrix()
	off := 0
	for _, e := range m.encoders {
		vecs, err := e.Encode(ctx, objs)
		if err != nil {
			return nil, fmt.Errorf("encoder %q: %w", e.Name(), err)
		}
		if len(vecs) != len(objs) {
			return nil, fmt.Errorf("encoder %q returned %d vectors for %d objects", e.Name(), len(vecs), len(objs))
		}
		for i, v := range vecs {
			if len(v) != e.Dim() {
				return nil, fmt.Errorf("encoder %q returned %d values for object %d, want %d", e.Name(), len(v), i, e.Dim())
			}
			dst := raw.Data[i*raw.Stride+off:]
			for k, f := range v {
				dst[k] = float64(f)
			}
		}
		off += e.Dim()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	y := m.head.Forward(x, false)
	dim := m.head.OutDim()
	yr := y.RawMatrix()
	out := make([][]float32, len(objs))
	flat := make([]float32, len(objs)*dim)
	for i := range out {
		v := flat[i*dim : (i+1)*dim : (i+1)*dim]
		for k, f := range yr.Data[i*yr.Stride : i*yr.Stride+dim] {
			v[k] = float32(f)
		}
		out[i] = v
	}
	return out, nil
}

// textTokenizer is implemented by encoders that tokenize text, such as
// onnx.TextEncoder: the ids are those fed to the model, after truncation.
type textTokenizer interface {
	Tokenize(ctx context.Context, texts []string) ([][]uint32, error)
}

// CountTokens sums the token counts of the texts over the encoders that
// tokenize text (0 when none does); the HTTP service reports it as usage.
func (m *SimilarityModel) CountTokens(texts []string) (int, error) {
	total := 0
	for _, e := range m.encoders {
		if tk, ok := e.(textTokenizer); ok {
			ids, err := tk.Tokenize(context.Background(), texts)
			if err != nil {
				return 0, fmt.Errorf("models: encoder %q: counting tokens: %w", e.Name(), err)
			}
			for _, t := range ids {
				total += len(t)
			}
		}
	}
	return total, nil
}

// Close releases the encoders' resources (ONNX Runtime sessions and
// tokenizers) for encoders that hold any.
func (m *SimilarityModel) Close() error {
	var errs []error
	for _, e := range m.encoders {
		if c, ok := e.(io.Closer); ok {
			if err := c.Close(); err != nil {
				errs = append(errs, fmt.Errorf("models: closing encoder %q: %w", e.Name(), err))
			}
		}
	}
	return errors.Join(errs...)
}
