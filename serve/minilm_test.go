package serve_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/simlearn/simlearn/head"
	"github.com/simlearn/simlearn/models"
	"github.com/simlearn/simlearn/onnx"
	"github.com/simlearn/simlearn/serve"
)

func maxAbsDiff(a, b []float32) float64 {
	d := 0.0
	for k := range a {
		d = math.Max(d, math.Abs(float64(a[k]-b[k])))
	}
	return d
}

// TestMiniLMEndToEnd serves the real all-MiniLM-L6-v2 to concurrent clients
// and checks every vector against the model's own Encode, and the usage.
func TestMiniLMEndToEnd(t *testing.T) {
	if _, err := onnx.CheckLibrary(onnx.LibraryPath()); err != nil {
		t.Fatalf("%v\nthe tests need the assets of scripts/setup; run `make test` (which runs it) or scripts/setup", err)
	}
	if _, err := os.Stat(filepath.Join(onnx.DefaultModelDir(), "model.onnx")); err != nil {
		t.Fatalf("%v\nthe tests need the assets of scripts/setup; run `make test` (which runs it) or scripts/setup", err)
	}
	enc, err := onnx.NewTextEncoder()
	if err != nil {
		t.Fatal(err)
	}
	h, err := head.New(head.Config{Kind: head.KindEmpty}, enc.Dim(), 0)
	if err != nil {
		t.Fatal(err)
	}
	m, err := models.New([]models.Encoder{enc}, h)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	_, ts := newServer(t, m, serve.Config{ModelName: "all-MiniLM-L6-v2"})

	texts := []string{
		"A man is playing a guitar.", "Un homme joue de la guitare.", "猫がソファで寝ている。",
		"The quick brown fox jumps over the lazy dog.", "Hello world",
		"Embeddings turn sentences into vectors.", "🙂 emoji and accents: café, naïve",
		"A very long sentence that keeps going and going to check truncation does not break anything at all.",
	}
	want := direct(t, m, texts...)
	var wg sync.WaitGroup
	for i, s := range texts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body, _ := json.Marshal(map[string]any{"input": s, "encoding_format": "base64"})
			code, resp := post(t, ts.URL, body)
			if code != 200 {
				t.Errorf("%q: %d %s", s, code, resp)
				return
			}
			r, got := decodeVectors(t, resp)
			// Batches differ in size and padding, so allow float32 rounding.
			if len(got) != 1 || len(got[0]) != 384 || maxAbsDiff(got[0], want[i]) > 1e-5 {
				t.Errorf("%q: served vector differs from Encode", s)
			}
			if r.Usage.PromptTokens < 3 || r.Usage.TotalTokens != r.Usage.PromptTokens {
				t.Errorf("%q: usage %+v", s, r.Usage)
			}
		}()
	}
	wg.Wait()
	code, resp := post(t, ts.URL, []byte(`{"input":["Hello world","Hello world"]}`))
	r, _ := decodeVectors(t, resp)
	if code != 200 || r.Usage.PromptTokens != 8 { // 2 × [CLS] hello world [SEP]
		t.Fatalf("usage for two texts: %d %+v", code, r.Usage)
	}
}
