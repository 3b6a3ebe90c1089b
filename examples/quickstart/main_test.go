package main

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/simlearn/simlearn/onnx"
)

// TestColdThenWarm runs the quick start twice on a slice of its data: the
// first run encodes and writes the model, history plot and cold timings; the
// second reads every vector from the cache and starts no ONNX Runtime session.
func TestColdThenWarm(t *testing.T) {
	data := t.TempDir()
	// About 150 records of train and 100 of the others, spread over the
	// files (which are sorted by synset, hence by label).
	for name, n := range map[string]int{"train": 40, "val": 8, "test": 16, "unseen": 10} {
		everyNth(t, filepath.Join("data", name+".jsonl"), filepath.Join(data, name+".jsonl"), n)
	}
	o := options{data: data, out: t.TempDir(), cacheDir: t.TempDir(), model: onnx.DefaultModelDir(),
		mining: "semi_hard", epochs: 2, lr: 1e-2}
	ctx := context.Background()
	if err := run(ctx, o); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"model/simlearn.json", "model/head.safetensors", "train/history.png", "cold-run.json"} {
		if _, err := os.Stat(filepath.Join(o.out, f)); err != nil {
			t.Errorf("after the cold run: %v", err)
		}
	}
	sessions := onnx.SessionsOpened()
	if err := run(ctx, o); err != nil {
		t.Fatal(err)
	}
	if n := onnx.SessionsOpened() - sessions; n != 0 {
		t.Errorf("the warm run opened %d ONNX Runtime sessions, want 0", n)
	}
}

// everyNth copies every nth line of src to dst.
func everyNth(t *testing.T, src, dst string, n int) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(in)
	for i := 0; sc.Scan(); i++ {
		if i%n == 0 {
			out.Write(append(sc.Bytes(), '\n'))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
