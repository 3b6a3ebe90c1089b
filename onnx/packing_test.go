package onnx_test

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/simlearn/simlearn/onnx"
)

// TestPackingMatchesPadding encodes 240 STS Benchmark sentences in batches
// of 6, the size of a server's micro-batches, with packing and without: the
// packed runs must happen and give the padded runs' vectors.
func TestPackingMatchesPadding(t *testing.T) {
	texts := stsbTestTexts(t, 120)
	rand.New(rand.NewPCG(7, 7)).Shuffle(len(texts), func(i, j int) { texts[i], texts[j] = texts[j], texts[i] })
	packed := newEncoder(t)
	padded := newEncoder(t, onnx.WithPacking(false))
	worst := 0.0
	for i := 0; i < len(texts); i += 6 {
		batch := texts[i:min(i+6, len(texts))]
		got := encodeTexts(t, packed, batch)
		want := encodeTexts(t, padded, batch)
		for k := range got {
			for j := range got[k] {
				worst = math.Max(worst, math.Abs(float64(got[k][j]-want[k][j])))
			}
		}
	}
	if worst > 1e-5 {
		t.Errorf("packed and padded vectors differ by up to %g, want at most 1e-5", worst)
	}
	if on, why := packed.Packing(); !on {
		t.Errorf("all-MiniLM-L6-v2 runs padded: %s", why)
	}
	if on, why := padded.Packing(); on || why != "packing is off" {
		t.Errorf("WithPacking(false): Packing() = %t, %q", on, why)
	}
	runs := onnx.PackedRuns(packed)
	if runs < 20 {
		t.Errorf("%d of %d batches ran packed, want most of them", runs, len(texts)/6)
	}
	if n := onnx.PackedRuns(padded); n != 0 {
		t.Errorf("the encoder without packing packed %d runs", n)
	}
	t.Logf("%d of %d batches packed; largest difference %.2g", runs, len(texts)/6, worst)
}

// wordTokenizer gives one id per byte between [CLS] and [SEP], and none
// for the text "none".
type wordTokenizer struct{}

func (wordTokenizer) Encode(text string) ([]uint32, error) {
	if text == "none" {
		return nil, nil
	}
	ids := []uint32{101}
	for _, b := range []byte(text) {
		ids = append(ids, 1000+uint32(b))
	}
	return append(ids, 102), nil
}

func (wordTokenizer) Close() error { return nil }

// TestTokenizerWithoutTokens: a tokenizer that returns no ids for a text is
// an error naming the text, not a run with an empty row.
func TestTokenizerWithoutTokens(t *testing.T) {
	enc := newEncoder(t, onnx.WithTokenizer(func([]byte, int) (onnx.Tokenizer, error) { return wordTokenizer{}, nil }))
	if _, err := enc.EncodeTexts(t.Context(), []string{"a long text", "none", "ab"}); err == nil || !strings.Contains(err.Error(), "text 1: the tokenizer returned no tokens") {
		t.Fatalf("err = %v, want one naming text 1", err)
	}
	// The same tokenizer's packed runs work.
	vecs := encodeTexts(t, enc, []string{"a long text here", "ab", "abc", "a medium one"})
	if len(vecs) != 4 || onnx.PackedRuns(enc) == 0 {
		t.Fatalf("%d vectors, %d packed runs; want 4 and at least one", len(vecs), onnx.PackedRuns(enc))
	}
}
