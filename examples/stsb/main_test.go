package main

import (
	"bufio"
	"cmp"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/simlearn/simlearn/onnx"
)

// TestColdThenWarm runs the example twice on the first rows of the STS
// Benchmark: the first run encodes, the second reads every vector from the
// cache and starts no ONNX Runtime session.
func TestColdThenWarm(t *testing.T) {
	src := cmp.Or(os.Getenv("SIMLEARN_STSB"), filepath.Join("..", "..", "..", "shared", "datasets", "stsbenchmark"))
	data := t.TempDir()
	// 120 dev pairs: validation samples 200 retrieval queries of their 240
	// sentences (the pairs scored above 0).
	for name, n := range map[string]int{"sts-train.csv": 80, "sts-dev.csv": 120, "sts-test.csv": 30} {
		headLines(t, filepath.Join(src, name), filepath.Join(data, name), n)
	}
	o := options{data: data, out: t.TempDir(), save: filepath.Join(t.TempDir(), "model"), cacheDir: t.TempDir(),
		model: onnx.DefaultModelDir(), loss: "cosine", epochs: 2, lr: 1e-2}
	ctx := context.Background()
	if err := run(ctx, o); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{filepath.Join(o.save, "simlearn.json"), filepath.Join(o.out, "history.png"), filepath.Join(o.out, "cold-run.json")} {
		if _, err := os.Stat(f); err != nil {
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
	o.loss = "arcface"
	if err := run(ctx, o); err == nil {
		t.Error("-loss arcface: no error")
	}
}

// headLines copies the first n lines of src to dst.
func headLines(t *testing.T, src, dst string, n int) {
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
	for i := 0; i < n && sc.Scan(); i++ {
		out.Write(append(sc.Bytes(), '\n'))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
