package serve_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/simlearn/simlearn/head"
	"github.com/simlearn/simlearn/models"
	"github.com/simlearn/simlearn/serve"
)

// tableModel is a small real model that runs without ONNX Runtime: an
// embedding table over words, followed by a linear head.
func tableModel(t testing.TB) *models.SimilarityModel {
	t.Helper()
	var words []string
	for i := range 200 {
		words = append(words, fmt.Sprintf("w%d", i))
	}
	enc, err := models.NewEmbeddingTable(models.EmbeddingTableConfig{Name: "words", Categories: words, Dim: 8, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	h, err := head.New(head.Config{Kind: head.KindLinear, Out: 6}, 8, 2)
	if err != nil {
		t.Fatal(err)
	}
	m, err := models.New([]models.Encoder{enc}, h)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func newServer(t testing.TB, m serve.Model, cfg serve.Config) (*serve.Server, *httptest.Server) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	s, err := serve.New(m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() { ts.Close(); s.Close() })
	return s, ts
}

type embeddingResponse struct {
	Object string `json:"object"`
	Data   []struct {
		Object    string          `json:"object"`
		Index     int             `json:"index"`
		Embedding json.RawMessage `json:"embedding"`
	} `json:"data"`
	Model string `json:"model"`
	Usage struct {
		PromptTokens int `json:"prompt_tokens"`
		TotalTokens  int `json:"total_tokens"`
	} `json:"usage"`
}

type errorResponse struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
	} `json:"error"`
}

func post(t testing.TB, url string, body []byte, header ...string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/v1/embeddings", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func direct(t testing.TB, m serve.Model, texts ...string) [][]float32 {
	t.Helper()
	objs := make([]any, len(texts))
	for i, s := range texts {
		objs[i] = s
	}
	v, err := m.Encode(context.Background(), objs)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func decodeVectors(t testing.TB, body []byte) (embeddingResponse, [][]float32) {
	t.Helper()
	var r embeddingResponse
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("response %.200s: %v", body, err)
	}
	out := make([][]float32, len(r.Data))
	for i, d := range r.Data {
		if d.Index != i || d.Object != "embedding" {
			t.Fatalf("data[%d] has index %d, object %q", i, d.Index, d.Object)
		}
		var s string
		if json.Unmarshal(d.Embedding, &s) == nil {
			raw, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				t.Fatal(err)
			}
			v := make([]float32, len(raw)/4)
			for k := range v {
				v[k] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*k:]))
			}
			out[i] = v
			continue
		}
		if err := json.Unmarshal(d.Embedding, &out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return r, out
}

func sameVectors(a, b [][]float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for k := range a[i] {
			if a[i][k] != b[i][k] {
				return false
			}
		}
	}
	return true
}

func TestEmbeddingsFormats(t *testing.T) {
	m := tableModel(t)
	_, ts := newServer(t, m, serve.Config{ModelName: "tiny"})
	want := direct(t, m, "w1", "w7", "unknown word")

	code, body := post(t, ts.URL, []byte(`{"input":["w1","w7","unknown word"],"model":"text-embedding-3-small"}`))
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, body)
	}
	r, got := decodeVectors(t, body)
	if r.Object != "list" || r.Model != "tiny" || !sameVectors(got, want) {
		t.Fatalf("float response %+v does not match the model", r)
	}

	code, body = post(t, ts.URL, []byte(`{"input":["w1","w7","unknown word"],"encoding_format":"base64"}`))
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, body)
	}
	if _, got = decodeVectors(t, body); !sameVectors(got, want) {
		t.Fatal("base64 vectors differ from the model's")
	}

	code, body = post(t, ts.URL, []byte(`{"input":"w1"}`))
	if _, got = decodeVectors(t, body); code != http.StatusOK || !sameVectors(got, want[:1]) {
		t.Fatalf("single string input: %d %s", code, body)
	}
}

func TestBadInput(t *testing.T) {
	m := tableModel(t)
	_, ts := newServer(t, m, serve.Config{MaxBodyBytes: 1 << 20, MaxInputs: 2048})
	many := `{"input":[` + strings.Repeat(`"w1",`, 9999) + `"w1"]}`
	big := append(append([]byte(`{"input":"`), bytes.Repeat([]byte("a"), 10<<20)...), `"}`...)
	cases := []struct {
		name string
		body []byte
		code int
	}{
		{"empty body", nil, 400},
		{"empty string", []byte(`{"input":""}`), 400},
		{"empty array", []byte(`{"input":[]}`), 400},
		{"10 MB body", big, 413},
		{"10,000 inputs", []byte(many), 400},
		{"invalid UTF-8", []byte("{\"input\":\"caf\xe9\"}"), 400},
		{"nested arrays", []byte(`{"input":[["w1"],["w2"]]}`), 400},
		{"token arrays", []byte(`{"input":[[1,2,3]]}`), 400},
		{"numbers", []byte(`{"input":[1,2]}`), 400},
		{"number", []byte(`{"input":5}`), 400},
		{"malformed JSON", []byte(`{"input":["w1"`), 400},
		{"wrong format", []byte(`{"input":"w1","encoding_format":"hex"}`), 400},
		{"wrong dimensions", []byte(`{"input":"w1","dimensions":3}`), 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := post(t, ts.URL, c.body)
			var e errorResponse
			if code != c.code || json.Unmarshal(body, &e) != nil || e.Error.Message == "" || e.Error.Type == "" {
				t.Fatalf("got %d %.300s; want %d with a JSON error", code, body, c.code)
			}
		})
	}
	for _, probe := range []struct{ method, path string }{{"GET", "/v1/embeddings"}, {"GET", "/nope"}} {
		req, _ := http.NewRequest(probe.method, ts.URL+probe.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e errorResponse
		err = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode/100 != 4 || err != nil || e.Error.Message == "" {
			t.Errorf("%s %s: %d, %v", probe.method, probe.path, resp.StatusCode, err)
		}
	}
	// Still serving after all that.
	if code, body := post(t, ts.URL, []byte(`{"input":"w3"}`)); code != 200 {
		t.Fatalf("after bad input: %d %s", code, body)
	}
}

// slow adds a fixed cost to every model call, as a real encoder's run has
// (it streams all the weights): the cost that batching amortises. Without
// it the table model encodes a text faster than the next request arrives,
// and whether requests meet in a batch depends on the machine's timing.
type slow struct{ serve.Model }

func (s slow) Encode(ctx context.Context, objs []any) ([][]float32, error) {
	time.Sleep(500 * time.Microsecond)
	return s.Model.Encode(ctx, objs)
}

func TestConcurrentClientsAreBatched(t *testing.T) {
	m := tableModel(t)
	_, ts := newServer(t, slow{m}, serve.Config{MaxBatch: 16, MaxWait: 5 * time.Millisecond, Workers: 1})
	const clients, each = 32, 25
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				text := fmt.Sprintf("w%d", (c*each+i)%220)
				code, body := post(t, ts.URL, []byte(`{"input":"`+text+`"}`))
				if code != 200 {
					errs <- fmt.Errorf("%s: %d %s", text, code, body)
					return
				}
				_, got := decodeVectors(t, body)
				if !sameVectors(got, direct(t, m, text)) {
					errs <- fmt.Errorf("%s: vector differs from the model's", text)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	metrics := get(t, ts.URL+"/metrics")
	count := metricValue(t, metrics, "simlearn_batch_size_count")
	texts := metricValue(t, metrics, "simlearn_embedded_texts_total")
	if texts != clients*each || count > texts/2 {
		t.Fatalf("%v texts in %v batches: concurrent requests were not batched", texts, count)
	}
	t.Logf("%v texts in %v batches", texts, count)
	if cpu := metricValue(t, metrics, "process_cpu_seconds_total"); cpu <= 0 {
		t.Fatalf("process_cpu_seconds_total = %v", cpu)
	}
	if !strings.Contains(metrics, `simlearn_http_requests_total{path="POST /v1/embeddings",code="200"} 800`) ||
		!strings.Contains(metrics, `simlearn_http_request_duration_seconds_bucket{path="POST /v1/embeddings",le="+Inf"} 800`) {
		t.Fatalf("request metrics missing:\n%s", metrics)
	}
}

func get(t testing.TB, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func metricValue(t testing.TB, text, name string) float64 {
	t.Helper()
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			var f float64
			if _, err := fmt.Sscan(v, &f); err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("metric %s not found in:\n%s", name, text)
	return 0
}

// gated holds every Encode call until release is closed; entered receives a
// value when a call starts. It wraps a real model to make timing testable.
type gated struct {
	serve.Model
	entered chan struct{}
	release chan struct{}
}

func (g *gated) Encode(ctx context.Context, objs []any) ([][]float32, error) {
	select {
	case g.entered <- struct{}{}:
	default:
	}
	<-g.release
	return g.Model.Encode(ctx, objs)
}

func TestGracefulShutdownFinishesInFlight(t *testing.T) {
	g := &gated{Model: tableModel(t), entered: make(chan struct{}, 1), release: make(chan struct{})}
	s, err := serve.New(g, serve.Config{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()

	type result struct {
		code int
		body []byte
	}
	res := make(chan result, 1)
	go func() {
		c, b := post(t, url, []byte(`{"input":"w5"}`))
		res <- result{c, b}
	}()
	<-g.entered // the request is being encoded
	cancel()    // begin shutdown
	time.Sleep(50 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("Serve returned (%v) with a request in flight", err)
	default:
	}
	close(g.release)
	r := <-res
	if r.code != 200 {
		t.Fatalf("in-flight request: %d %s", r.code, r.body)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Fatal("still accepting connections after shutdown")
	}
}

func TestTimeout(t *testing.T) {
	g := &gated{Model: tableModel(t), entered: make(chan struct{}, 1), release: make(chan struct{})}
	_, ts := newServer(t, g, serve.Config{RequestTimeout: 100 * time.Millisecond})
	defer close(g.release)
	code, body := post(t, ts.URL, []byte(`{"input":"w1"}`))
	var e errorResponse
	if code != http.StatusGatewayTimeout || json.Unmarshal(body, &e) != nil || e.Error.Message == "" {
		t.Fatalf("got %d %s, want 504 with a JSON error", code, body)
	}
}

func TestAuth(t *testing.T) {
	_, ts := newServer(t, tableModel(t), serve.Config{BearerToken: "s3cret"})
	for _, h := range [][]string{nil, {"Authorization", "Bearer wrong"}, {"Authorization", "s3cret"}} {
		code, body := post(t, ts.URL, []byte(`{"input":"w1"}`), h...)
		var e errorResponse
		if code != http.StatusUnauthorized || json.Unmarshal(body, &e) != nil || e.Error.Message == "" {
			t.Fatalf("header %v: %d %s, want 401 JSON", h, code, body)
		}
	}
	if code, body := post(t, ts.URL, []byte(`{"input":"w1"}`), "Authorization", "Bearer s3cret"); code != 200 {
		t.Fatalf("right token: %d %s", code, body)
	}
	if got := get(t, ts.URL+"/healthz"); !strings.Contains(got, "ok") {
		t.Fatalf("healthz needs no token, got %q", got)
	}
}

// faulty panics on one text; the service must answer 500 for that request
// and keep serving the others, including those batched with it.
type faulty struct{ serve.Model }

func (f faulty) Encode(ctx context.Context, objs []any) ([][]float32, error) {
	for _, o := range objs {
		if o == "boom" {
			panic("boom")
		}
	}
	return f.Model.Encode(ctx, objs)
}

func TestModelFailureIsContained(t *testing.T) {
	m := tableModel(t)
	_, ts := newServer(t, faulty{m}, serve.Config{MaxWait: 20 * time.Millisecond})
	var wg sync.WaitGroup
	codes := make([]int, 8)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			text := "w2"
			if i == 0 {
				text = "boom"
			}
			codes[i], _ = post(t, ts.URL, []byte(`{"input":"`+text+`"}`))
		}()
	}
	wg.Wait()
	if codes[0] != 500 {
		t.Fatalf("panicking text got %d", codes[0])
	}
	for i, c := range codes[1:] {
		if c != 200 {
			t.Fatalf("request %d batched with the failure got %d", i+1, c)
		}
	}
	if got := get(t, ts.URL+"/readyz"); !strings.Contains(got, "ready") {
		t.Fatalf("readyz after a failure: %q", got)
	}
}
