package cache

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"testing"
)

// hashEncoder is a deterministic encoder: the vector of an object is derived
// from the SHA-256 of its canonical JSON and the encoder's salt, so any two
// runs agree bit for bit.
type hashEncoder struct {
	name, fp string
	dim      int
	salt     string
	calls    atomic.Int64 // Encode calls
	encoded  atomic.Int64 // objects encoded
	// failAfter, when > 0, fails the Encode call that would take the
	// total past this many objects.
	failAfter int64
	// badLenAt, when >= 0, gives a short vector for that object index
	// within every batch.
	badLenAt int
}

func newHashEncoder(name string, dim int) *hashEncoder {
	return &hashEncoder{name: name, fp: "test/" + name + fmt.Sprintf("/d%d", dim), dim: dim, salt: name, badLenAt: -1}
}

func (e *hashEncoder) Name() string        { return e.name }
func (e *hashEncoder) Dim() int            { return e.dim }
func (e *hashEncoder) Trainable() bool     { return false }
func (e *hashEncoder) Fingerprint() string { return e.fp }

func (e *hashEncoder) Encode(ctx context.Context, objs []any) ([][]float32, error) {
	e.calls.Add(1)
	if e.failAfter > 0 && e.encoded.Load()+int64(len(objs)) > e.failAfter {
		return nil, errors.New("simulated encoder failure")
	}
	out := make([][]float32, len(objs))
	for i, o := range objs {
		v, err := e.vector(o)
		if err != nil {
			return nil, err
		}
		if i == e.badLenAt {
			v = v[:len(v)-1]
		}
		out[i] = v
	}
	e.encoded.Add(int64(len(objs)))
	return out, nil
}

func (e *hashEncoder) vector(o any) ([]float32, error) {
	c, err := CanonicalJSON(o)
	if err != nil {
		return nil, err
	}
	v := make([]float32, e.dim)
	var block [32]byte
	for j := range v {
		if j%8 == 0 {
			block = sha256.Sum256(fmt.Appendf(nil, "%s|%d|%s", e.salt, j/8, c))
		}
		u := binary.LittleEndian.Uint32(block[4*(j%8):])
		v[j] = float32(u)/float32(math.MaxUint32)*2 - 1
	}
	return v, nil
}

func texts(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = fmt.Sprintf("sentence number %d", i)
	}
	return out
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openTest(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(dir, Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// checkRows asserts that every row of m equals the encoders' vectors of its object.
func checkRows(t *testing.T, m *Matrix, encs ...*hashEncoder) {
	t.Helper()
	for r, o := range m.Objects {
		off := 0
		for _, e := range encs {
			v, _ := e.vector(o)
			for j, x := range v {
				if got := m.X.At(r, off+j); got != float64(x) {
					t.Fatalf("row %d (%v) column %d: %v, want %v", r, o, off+j, got, x)
				}
			}
			off += e.dim
		}
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func slogTo(w io.Writer, mu *sync.Mutex) *slog.Logger {
	return slog.New(slog.NewTextHandler(lockedWriter{w, mu}, nil))
}
