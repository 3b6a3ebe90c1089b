package onnx_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/simlearn/simlearn/onnx"
)

// setupHint is appended to every failure caused by a missing asset: the tests
// need the real library and model and never skip.
const setupHint = "the tests need the assets of `scripts/setup --test`; run `make test` (which runs it) or scripts/setup --test"

// requireAssets fails the test unless the ONNX Runtime library and
// all-MiniLM-L6-v2 are in place.
func requireAssets(t testing.TB) {
	t.Helper()
	if _, err := onnx.CheckLibrary(onnx.LibraryPath()); err != nil {
		t.Fatalf("%v\n%s", err, setupHint)
	}
	for _, name := range []string{"model.onnx", "tokenizer.json"} {
		if _, err := os.Stat(filepath.Join(onnx.DefaultModelDir(), name)); err != nil {
			t.Fatalf("%v\n%s", err, setupHint)
		}
	}
}

// newEncoder builds an all-MiniLM-L6-v2 encoder closed at the end of the test.
func newEncoder(t testing.TB, opts ...onnx.TextOption) *onnx.TextEncoder {
	t.Helper()
	requireAssets(t)
	enc, err := onnx.NewTextEncoder(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := enc.Close(); err != nil {
			t.Error(err)
		}
	})
	return enc
}

var (
	sharedOnce sync.Once
	sharedEnc  *onnx.TextEncoder
	sharedErr  error
)

// shared returns one default encoder for the whole test binary, so that the
// model is loaded once.
func shared(t testing.TB) *onnx.TextEncoder {
	t.Helper()
	requireAssets(t)
	sharedOnce.Do(func() { sharedEnc, sharedErr = onnx.NewTextEncoder() })
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return sharedEnc
}

func encodeTexts(t testing.TB, enc *onnx.TextEncoder, texts []string) [][]float32 {
	t.Helper()
	v, err := enc.EncodeTexts(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	if len(v) != len(texts) {
		t.Fatalf("got %d vectors for %d texts", len(v), len(texts))
	}
	return v
}

func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / math.Sqrt(aa*bb)
}

func norm(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

// repoRoot is the module root (the tests run in onnx/).
func repoRoot() string { return ".." }

// stsbDir is the STS Benchmark directory: $SIMLEARN_STSB, or
// ../shared/datasets/stsbenchmark beside the repository.
func stsbDir() string {
	if d := os.Getenv("SIMLEARN_STSB"); d != "" {
		return d
	}
	return filepath.Join(repoRoot(), "..", "shared", "datasets", "stsbenchmark")
}

// stsbPair is one row of an STS Benchmark file.
type stsbPair struct {
	score  float64
	s1, s2 string
}

// readSTSB reads an STS Benchmark split: tab-separated, no quoting, columns
// 5-7 are score, sentence 1, sentence 2; extra columns are ignored.
// stsbTestTexts returns both sentences of the first pairs pairs of the STS
// Benchmark test split.
func stsbTestTexts(t testing.TB, pairs int) []string {
	var texts []string
	for _, p := range readSTSB(t, "test")[:pairs] {
		texts = append(texts, p.s1, p.s2)
	}
	return texts
}

func readSTSB(t testing.TB, split string) []stsbPair {
	t.Helper()
	path := filepath.Join(stsbDir(), "sts-"+split+".csv")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("STS Benchmark: %v (set SIMLEARN_STSB to its directory)", err)
	}
	var pairs []stsbPair
	for i, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		cols := strings.Split(line, "\t")
		if len(cols) < 7 {
			t.Fatalf("%s:%d: %d columns, want at least 7", path, i+1, len(cols))
		}
		score, err := strconv.ParseFloat(cols[4], 64)
		if err != nil {
			t.Fatalf("%s:%d: score: %v", path, i+1, err)
		}
		pairs = append(pairs, stsbPair{score: score, s1: cols[5], s2: cols[6]})
	}
	return pairs
}
