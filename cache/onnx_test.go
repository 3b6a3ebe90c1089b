package cache

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/simlearn/simlearn/onnx"
)

// newTextEncoder is the real all-MiniLM-L6-v2 encoder; the assets come from
// scripts/setup (the test fails, never skips, without them).
func newTextEncoder(t *testing.T) *onnx.TextEncoder {
	t.Helper()
	if _, err := onnx.CheckLibrary(onnx.LibraryPath()); err != nil {
		t.Fatalf("%v (run scripts/setup)", err)
	}
	for _, f := range []string{"model.onnx", "tokenizer.json"} {
		if _, err := os.Stat(filepath.Join(onnx.DefaultModelDir(), f)); err != nil {
			t.Fatalf("%v (run scripts/setup)", err)
		}
	}
	enc, err := onnx.NewTextEncoder()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = enc.Close() })
	return enc
}

func TestWarmRunOpensNoORTSession(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	objs := make([]any, 300)
	for i := range objs {
		objs[i] = fmt.Sprintf("A man is playing instrument number %d while %d people listen.", i%150, i)
	}
	cold := newTextEncoder(t)
	s := openTest(t, dir)
	m1, err := Fill(ctx, []Spec{{Encoder: cold}}, objs, FillOptions{Store: s, Progress: ProgressOff})
	if err != nil {
		t.Fatal(err)
	}
	if !cold.HasSession() || m1.Blocks[0].Encoded != 300 || m1.Blocks[0].Dim != 384 {
		t.Fatalf("cold run: session %v, block %+v", cold.HasSession(), m1.Blocks[0])
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// A new encoder and a reopened cache, as in the next run of the experiment.
	warm := newTextEncoder(t)
	before := onnx.SessionsOpened()
	s2 := openTest(t, dir)
	m2, err := Fill(ctx, []Spec{{Encoder: warm}}, objs, FillOptions{Store: s2, Progress: ProgressOff})
	if err != nil {
		t.Fatal(err)
	}
	if warm.HasSession() || onnx.SessionsOpened() != before || m2.Blocks[0].Hits != 300 {
		t.Fatalf("warm run opened a session (%v, %d -> %d), block %+v", warm.HasSession(), before, onnx.SessionsOpened(), m2.Blocks[0])
	}
	if !mat.Equal(m1.X, m2.X) {
		t.Fatal("warm vectors differ from cold ones")
	}
	if meta, _, _ := s2.Meta(warm.Fingerprint()); meta.Dim != 384 || meta.Entries != 300 {
		t.Fatalf("meta %+v", meta)
	}
}
