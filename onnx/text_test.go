package onnx_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/simlearn/simlearn/onnx"
)

func TestEmptyListOpensNoSession(t *testing.T) {
	enc := newEncoder(t)
	before := onnx.SessionsOpened()
	for _, objs := range [][]any{nil, {}} {
		v, err := enc.Encode(t.Context(), objs)
		if err != nil || v == nil || len(v) != 0 {
			t.Fatalf("Encode(%v) = %v, %v; want an empty, non-nil result", objs, v, err)
		}
	}
	if v, err := enc.EncodeTexts(t.Context(), nil); err != nil || v == nil || len(v) != 0 {
		t.Fatalf("EncodeTexts(nil) = %v, %v", v, err)
	}
	if enc.HasSession() || onnx.SessionsOpened() != before {
		t.Fatal("an empty Encode opened a session")
	}
	// Name, Dim, Fingerprint and Config need no session either.
	if enc.Name() != "text" || enc.Dim() != 384 || enc.Trainable() || len(enc.Fingerprint()) != 64 {
		t.Fatalf("Name %q Dim %d Trainable %t Fingerprint %q", enc.Name(), enc.Dim(), enc.Trainable(), enc.Fingerprint())
	}
	if enc.HasSession() || onnx.SessionsOpened() != before {
		t.Fatal("the accessors opened a session")
	}
	encodeTexts(t, enc, []string{"now a session"})
	if !enc.HasSession() || onnx.SessionsOpened() != before+1 {
		t.Fatalf("HasSession %t, sessions opened %d -> %d, want one more", enc.HasSession(), before, onnx.SessionsOpened())
	}
}

func TestBadObjects(t *testing.T) {
	enc := shared(t)
	cases := []struct {
		name string
		objs []any
		want []string
	}{
		{"invalid UTF-8", []any{"fine", "also fine", "caf\xe9 au lait"}, []string{"object 2", "not valid UTF-8", "offset 3"}},
		{"not a string", []any{"fine", 42}, []string{"object 1", "int, not a string", "field option"}},
		{"nil", []any{nil}, []string{"object 0", "nil"}},
		{"map without field option", []any{map[string]any{"text": "x"}}, []string{"object 0", "map[string]interface {}, not a string"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := enc.Encode(t.Context(), c.objs)
			checkErr(t, err, c.want)
		})
	}
	_, err := enc.EncodeTexts(t.Context(), []string{"ok", "\xff"})
	checkErr(t, err, []string{"text 1", "not valid UTF-8", "offset 0"})
}

func TestEmptyAndWhitespaceTexts(t *testing.T) {
	enc := shared(t)
	texts := []string{"", " ", "\t\n  \u00a0", "\x00", "word"}
	ids, err := enc.Tokenize(t.Context(), texts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		if len(ids[i]) != 2 || ids[i][0] != 101 || ids[i][1] != 102 {
			t.Errorf("text %q: ids %v, want [CLS] [SEP] = [101 102]", texts[i], ids[i])
		}
	}
	vecs := encodeTexts(t, enc, texts)
	for i, v := range vecs {
		if n := norm(v); math.Abs(n-1) > 1e-5 {
			t.Errorf("text %q: norm %v", texts[i], n)
		}
	}
	for i := 1; i < 4; i++ {
		if c := cosine(vecs[0], vecs[i]); c < 0.99999 {
			t.Errorf("%q and %q have the same tokens but cosine %v", texts[0], texts[i], c)
		}
	}
	if c := cosine(vecs[0], vecs[4]); c > 0.99 {
		t.Errorf("empty text and %q: cosine %v, want different vectors", texts[4], c)
	}
}

func TestTruncatesAtMaxLength(t *testing.T) {
	long := strings.Repeat("token ", 1000)
	for _, maxLen := range []int{256, 16} {
		enc := shared(t)
		if maxLen != onnx.DefaultMaxLength {
			enc = newEncoder(t, onnx.WithMaxLength(maxLen))
		}
		ids, err := enc.Tokenize(t.Context(), []string{long, "short"})
		if err != nil {
			t.Fatal(err)
		}
		if len(ids[0]) != maxLen || ids[0][0] != 101 || ids[0][maxLen-1] != 102 {
			t.Errorf("max length %d: %d ids, first %d last %d", maxLen, len(ids[0]), ids[0][0], ids[0][len(ids[0])-1])
		}
		if len(ids[1]) != 3 {
			t.Errorf("max length %d: 'short' has %d ids, want 3 (no padding)", maxLen, len(ids[1]))
		}
		encodeTexts(t, enc, []string{long})
	}
}

// TestOrderAndBatching: results come back in input order whatever the batch
// size and the length sorting, and equal the one-at-a-time vectors up to the
// tiny differences padding makes.
func TestOrderAndBatching(t *testing.T) {
	texts := []string{
		"A man is playing a guitar.",
		"short",
		"The quick brown fox jumps over the lazy dog while the cat watches from the window sill.",
		"Ünïcödé, 日本語のテキスト, and emoji 🎸🎶",
		"",
		"A man is playing a guitar.",
		"numbers 3.14159 and 2,718",
	}
	one := encodeTexts(t, newEncoder(t, onnx.WithBatchSize(1)), texts)
	for _, c := range []struct{ batch, workers int }{{2, 1}, {3, 1}, {32, 1}, {2, 3}} {
		got := encodeTexts(t, newEncoder(t, onnx.WithBatchSize(c.batch), onnx.WithWorkers(c.workers)), texts)
		for i := range texts {
			if cos := cosine(one[i], got[i]); cos < 0.99999 {
				t.Errorf("batch size %d, %d workers, text %d: cosine %v with batch size 1", c.batch, c.workers, i, cos)
			}
		}
	}
	if c := cosine(one[0], one[5]); c < 0.999999 {
		t.Errorf("the same text twice: cosine %v", c)
	}
	if c := cosine(one[0], one[2]); c > 0.9 {
		t.Errorf("different texts: cosine %v; results out of order?", c)
	}
}

func TestFieldOfObjects(t *testing.T) {
	type doc struct {
		ID    int
		Title string `json:"title"`
		Body  string
	}
	enc := newEncoder(t, onnx.WithField("title"))
	if enc.Name() != "title" {
		t.Errorf("Name %q, want the field name", enc.Name())
	}
	want := encodeTexts(t, enc, []string{"A man is playing a guitar."})[0]
	objs := []any{
		"A man is playing a guitar.",
		map[string]any{"title": "A man is playing a guitar.", "id": 7},
		map[string]string{"title": "A man is playing a guitar."},
		doc{ID: 1, Title: "A man is playing a guitar.", Body: "other"},
		&doc{Title: "A man is playing a guitar."},
	}
	got, err := enc.Encode(t.Context(), objs)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range got {
		if c := cosine(want, v); c < 0.99999 {
			t.Errorf("object %d (%T): cosine %v with the plain string", i, objs[i], c)
		}
	}
	byName := newEncoder(t, onnx.WithField("Body"))
	if v, err := byName.Encode(t.Context(), []any{doc{Body: "A man is playing a guitar."}}); err != nil || cosine(want, v[0]) < 0.99999 {
		t.Errorf("field by Go name: %v", err)
	}
	bad := []struct {
		obj  any
		want string
	}{
		{map[string]any{"other": "x"}, `object 0: map has no key "title"`},
		{map[string]any{"title": 3}, `object 0: field "title" is a int, not a string`},
		{struct{ Name string }{"x"}, `has no field or json tag "title"`},
		{struct {
			Title int `json:"title"`
		}{1}, `field "title" of struct { Title int "json:\"title\"" } is a int, not a string`},
		{(*doc)(nil), "nil *onnx_test.doc"},
		{[]int{1}, "object 0: object is a []int"},
	}
	for _, b := range bad {
		_, err := enc.Encode(t.Context(), []any{b.obj})
		checkErr(t, err, []string{b.want})
	}
}

func TestPoolingAndNormalisation(t *testing.T) {
	texts := []string{"A man is playing a guitar.", "Someone plays an instrument."}
	mean := encodeTexts(t, shared(t), texts)
	raw := encodeTexts(t, newEncoder(t, onnx.WithNormalize(false)), texts)
	cls := encodeTexts(t, newEncoder(t, onnx.WithPooling(onnx.PoolingCLS)), texts)
	mx := encodeTexts(t, newEncoder(t, onnx.WithPooling(onnx.PoolingMax), onnx.WithNormalize(false)), texts)
	for i := range texts {
		if n := norm(raw[i]); math.Abs(n-1) < 0.01 {
			t.Errorf("text %d: unnormalised mean pooling has norm %v", i, n)
		}
		if c := cosine(raw[i], mean[i]); c < 0.99999 {
			t.Errorf("text %d: normalising changed the direction: cosine %v", i, c)
		}
		if n := norm(cls[i]); math.Abs(n-1) > 1e-5 {
			t.Errorf("text %d: cls norm %v", i, n)
		}
		if c := cosine(cls[i], mean[i]); c > 0.99 {
			t.Errorf("text %d: cls and mean pooling agree too well (cosine %v)", i, c)
		}
		for j := range mx[i] {
			if mx[i][j] < raw[i][j]-1e-5 {
				t.Fatalf("text %d, dim %d: max pooling %v below mean pooling %v", i, j, mx[i][j], raw[i][j])
			}
		}
	}
	fps := map[string]bool{}
	for _, opts := range [][]onnx.TextOption{
		nil, {onnx.WithNormalize(false)}, {onnx.WithPooling(onnx.PoolingCLS)}, {onnx.WithMaxLength(128)}, {onnx.WithField("title")},
		{onnx.WithBatchSize(4), onnx.WithThreads(2), onnx.WithWorkers(2), onnx.WithName("other")}, // no change to the output
	} {
		fps[newEncoder(t, opts...).Fingerprint()] = true
	}
	if len(fps) != 5 {
		t.Errorf("%d distinct fingerprints for 5 distinct outputs (batch size, threads and name must not count)", len(fps))
	}
	_, err := onnx.NewTextEncoder(onnx.WithPooling("sum"))
	checkErr(t, err, []string{`pooling "sum"`})
	for _, opt := range []onnx.TextOption{onnx.WithBatchSize(0), onnx.WithThreads(0), onnx.WithWorkers(0), onnx.WithMaxLength(1)} {
		if _, err := onnx.NewTextEncoder(opt); err == nil {
			t.Error("an invalid option was accepted")
		}
	}
}

func TestConcurrentEncode(t *testing.T) {
	enc := newEncoder(t, onnx.WithBatchSize(4))
	texts := make([]string, 24)
	for i := range texts {
		texts[i] = strings.Repeat("word ", i+1) + "end"
	}
	want := encodeTexts(t, enc, texts)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			// Each goroutine encodes a rotated copy, so batches differ.
			rot := append(append([]string{}, texts[g:]...), texts[:g]...)
			got, err := enc.EncodeTexts(context.Background(), rot)
			if err != nil {
				errs <- err
				return
			}
			for i := range rot {
				if c := cosine(got[i], want[(i+g)%len(texts)]); c < 0.99999 {
					errs <- errors.New("concurrent result differs")
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestCancelAndClose(t *testing.T) {
	enc := newEncoder(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := enc.EncodeTexts(ctx, []string{"a", "b"}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: got %v", err)
	}
	encodeTexts(t, enc, []string{"a"})
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	_, err := enc.EncodeTexts(t.Context(), []string{"a"})
	checkErr(t, err, []string{"closed"})
}
