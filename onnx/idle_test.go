package onnx_test

import (
	"math"
	"sync"
	"testing"

	"github.com/simlearn/simlearn/onnx"
)

// TestIdleThreads opens the second session and checks that runs on either
// session give the vectors of an encoder without it, alone and concurrently.
func TestIdleThreads(t *testing.T) {
	texts := stsbTestTexts(t, 40)
	plain := newEncoder(t)
	want := encodeTexts(t, plain, texts)
	before := onnx.SessionsOpened()
	enc := newEncoder(t, onnx.WithIdleThreads(2))
	got := make([][][]float32, len(texts))
	// One text per call: alone (the idle session), then four callers at once
	// (both sessions).
	got[0] = encodeTexts(t, enc, texts[:1])
	if n := onnx.SessionsOpened() - before; n != 2 {
		t.Fatalf("opened %d sessions, want 2", n)
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 1 + w; i < len(texts); i += 4 {
				got[i] = encodeTexts(t, enc, texts[i:i+1])
			}
		})
	}
	wg.Wait()
	worst := 0.0
	for i := range texts {
		for j, v := range got[i][0] {
			worst = math.Max(worst, math.Abs(float64(v-want[i][j])))
		}
	}
	if worst > 1e-5 {
		t.Errorf("vectors differ from the single-session encoder's by up to %g", worst)
	}
}
