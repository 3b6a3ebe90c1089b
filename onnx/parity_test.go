package onnx_test

import (
	"bufio"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/simlearn/simlearn/eval"
	"github.com/simlearn/simlearn/onnx"
)

// referenceDir holds what scripts/reference wrote from sentence-transformers.
func referenceDir() string { return filepath.Join(repoRoot(), "testdata", "reference") }

type referenceText struct {
	Text      string    `json:"text"`
	IDs       []uint32  `json:"ids"`
	Embedding []float32 `json:"embedding"`
}

func readReferenceTexts(t *testing.T) []referenceText {
	t.Helper()
	path := filepath.Join(referenceDir(), "minilm.jsonl")
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("%v (scripts/reference writes it; it is committed)", err)
	}
	defer f.Close()
	var refs []referenceText
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for line := 1; sc.Scan(); line++ {
		var r referenceText
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s:%d: %v", path, line, err)
		}
		if len(r.IDs) == 0 || len(r.Embedding) != 384 {
			t.Fatalf("%s:%d: %d ids, %d-dimensional embedding", path, line, len(r.IDs), len(r.Embedding))
		}
		refs = append(refs, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(refs) < 300 {
		t.Fatalf("%s: %d texts, want at least 300", path, len(refs))
	}
	return refs
}

// TestParityWithSentenceTransformers: identical token ids and cosine >= 0.9999
// with sentence-transformers' embedding, for every reference text.
func TestParityWithSentenceTransformers(t *testing.T) {
	refs := readReferenceTexts(t)
	enc := shared(t)
	texts := make([]string, len(refs))
	for i, r := range refs {
		texts[i] = r.Text
	}
	ids, err := enc.Tokenize(t.Context(), texts)
	if err != nil {
		t.Fatal(err)
	}
	vecs := encodeTexts(t, enc, texts)
	mismatches, minCos, worst := 0, 1.0, -1
	for i, r := range refs {
		if !slices.Equal(ids[i], r.IDs) {
			mismatches++
			if mismatches <= 5 {
				t.Errorf("text %d %.60q: ids differ\n got %v\nwant %v", i, r.Text, ids[i], r.IDs)
			}
		}
		if c := cosine(vecs[i], r.Embedding); c < minCos {
			minCos, worst = c, i
		}
	}
	t.Logf("%d texts: %d token id mismatches, min cosine %.9f (1 - min = %.1e, text %d)", len(refs), mismatches, minCos, 1-minCos, worst)
	if mismatches > 0 {
		t.Errorf("%d of %d texts tokenised differently", mismatches, len(refs))
	}
	if minCos < 0.9999 {
		t.Errorf("min cosine %.7f (text %d %.60q), want >= 0.9999", minCos, worst, refs[worst].Text)
	}
}

// TestSTSBenchmarkSpearman: Spearman x100 of cosine vs gold score on the STS
// Benchmark test split, within 0.1 of sentence-transformers'.
func TestSTSBenchmarkSpearman(t *testing.T) {
	path := filepath.Join(referenceDir(), "stsb.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (scripts/reference writes it; it is committed)", err)
	}
	var ref struct {
		SpearmanX100 *float64 `json:"spearman_x100"`
	}
	if err := json.Unmarshal(data, &ref); err != nil || ref.SpearmanX100 == nil {
		t.Fatalf("%s: no spearman_x100 (%v)", path, err)
	}
	pairs := readSTSB(t, "test")
	enc := newEncoder(t, onnx.WithWorkers(2)) // the default config, two batches at a time
	index := map[string]int{}
	var texts []string
	for _, p := range pairs {
		for _, s := range []string{p.s1, p.s2} {
			if _, ok := index[s]; !ok {
				index[s] = len(texts)
				texts = append(texts, s)
			}
		}
	}
	vecs := encodeTexts(t, enc, texts)
	cos := make([]float64, len(pairs))
	gold := make([]float64, len(pairs))
	for i, p := range pairs {
		cos[i] = cosine(vecs[index[p.s1]], vecs[index[p.s2]])
		gold[i] = p.score
	}
	rho, err := eval.Spearman(cos, gold)
	if err != nil {
		t.Fatal(err)
	}
	got := 100 * rho
	t.Logf("STS Benchmark test (%d pairs, %d sentences): Spearman x100 ours %.4f, sentence-transformers %.4f",
		len(pairs), len(texts), got, *ref.SpearmanX100)
	if math.Abs(got-*ref.SpearmanX100) > 0.1 {
		t.Errorf("Spearman x100 %.4f, sentence-transformers %.4f: differ by more than 0.1", got, *ref.SpearmanX100)
	}
}
