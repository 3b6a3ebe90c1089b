package models

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/simlearn/simlearn/head"
	"github.com/simlearn/simlearn/onnx"
)

// assetHint ends every failure caused by a missing asset: the tests need the
// real ONNX Runtime library and all-MiniLM-L6-v2, and never skip.
const assetHint = "the tests need the assets of scripts/setup; run `make test` (which runs it) or scripts/setup"

func requireAssets(t testing.TB) {
	t.Helper()
	if _, err := onnx.CheckLibrary(onnx.LibraryPath()); err != nil {
		t.Fatalf("%v\n%s", err, assetHint)
	}
	for _, name := range []string{ONNXModelFile, ONNXTokenizerFile} {
		if _, err := os.Stat(filepath.Join(onnx.DefaultModelDir(), name)); err != nil {
			t.Fatalf("%v\n%s", err, assetHint)
		}
	}
}

// stsSentences returns up to n sentences of the STS Benchmark test split.
func stsSentences(t testing.TB, n int) []string {
	t.Helper()
	f, err := os.Open("../../shared/datasets/stsbenchmark/sts-test.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() && len(out) < n {
		cols := strings.Split(sc.Text(), "\t")
		if len(cols) >= 7 {
			out = append(out, cols[5], cols[6])
		}
	}
	return out[:min(n, len(out))]
}

func TestONNXTextServable(t *testing.T) {
	requireAssets(t)
	enc, err := onnx.NewTextEncoder(onnx.WithName("text"))
	if err != nil {
		t.Fatal(err)
	}
	h, err := head.New(head.Config{Kind: head.KindSkipConnection}, enc.Dim(), 7)
	if err != nil {
		t.Fatal(err)
	}
	// Open the gates so the head changes the vectors noticeably.
	for _, p := range h.Params() {
		if strings.HasPrefix(p.Name, "gates_") {
			p.Value.Apply(func(_, _ int, _ float64) float64 { return 0.5 }, p.Value)
		}
	}
	m, err := New([]Encoder{enc}, h, WithBatchSize(16))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	texts := stsSentences(t, 40)
	objs := make([]any, len(texts))
	for i, s := range texts {
		objs[i] = s
	}
	want, err := m.Encode(context.Background(), objs)
	if err != nil {
		t.Fatal(err)
	}
	base, err := enc.Encode(context.Background(), objs)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxDiff(want, base); d < 1e-3 {
		t.Fatalf("the head left the vectors unchanged (max diff %g)", d)
	}

	dir := filepath.Join(t.TempDir(), "minilm")
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	man, err := ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	e := man.Encoders[0]
	if e.Kind != KindONNXText || e.Dim != 384 || len(e.Files) != 3 || e.Files["encoders/text/model.onnx"] == "" || e.Fingerprint != enc.Fingerprint() {
		t.Fatalf("encoder entry %+v", e)
	}
	got, err := Load(dir, WithRuntime(Runtime{Threads: 1, BatchSize: 8, Workers: 2, NoPacking: true, IdleThreads: 2}))
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	if s := fmt.Sprint(got.Encoders()[0]); !strings.Contains(s, "batch 8, threads 1, workers 2, packing false, idle threads 2") {
		t.Fatalf("the runtime settings did not reach the encoder: %s", s)
	}
	vecs, err := got.Encode(context.Background(), objs)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxDiff(want, vecs); d > 1e-5 {
		t.Fatalf("loaded model differs by %g", d)
	}
	n, err := got.CountTokens([]string{"Hello world"})
	if err != nil || n != 4 { // [CLS] hello world [SEP]
		t.Fatalf("CountTokens = %d, %v; want 4", n, err)
	}

	// A corrupted model.onnx is named.
	if err := flipByte(filepath.Join(dir, "encoders/text/model.onnx"), 1<<20); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "file encoders/text/model.onnx does not match") {
		t.Fatalf("got %v, want a checksum error naming encoders/text/model.onnx", err)
	}
}
