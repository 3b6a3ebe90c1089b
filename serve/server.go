package serve

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Model is what the service embeds with; *models.SimilarityModel satisfies it.
type Model interface {
	// Encode returns one vector per object, in input order. The service
	// passes strings.
	Encode(ctx context.Context, objs []any) ([][]float32, error)
	// Dim is the length of every vector.
	Dim() int
}

// TokenCounter is implemented by models that can say how many tokens texts
// cost; the service then fills the response's usage fields (otherwise 0).
type TokenCounter interface {
	CountTokens(texts []string) (int, error)
}

// Config tunes the service. The zero value of every field means its default.
type Config struct {
	// Addr is the listen address; default "127.0.0.1:8080" (local only).
	Addr string
	// ModelName is reported in responses' "model" field; default "simlearn".
	ModelName string
	// BearerToken, when set, is required on /v1/ routes as
	// "Authorization: Bearer <token>".
	BearerToken string

	// MaxBodyBytes limits a request body; default 4 MiB. Larger: 413.
	MaxBodyBytes int64
	// MaxInputs limits the texts of one request; default 2048. More: 400.
	MaxInputs int
	// MaxTextRunes limits one text's characters; default 32768. Longer: 400.
	MaxTextRunes int

	// MaxBatch is the most texts encoded in one model call; default 64.
	MaxBatch int
	// MaxWait is how long a batch waits for more texts while requests are
	// arriving or while another worker is busy and the batch holds less
	// than its share of the texts in the service; default 2ms. A negative
	// value never waits.
	MaxWait time.Duration
	// Workers is the number of batches encoded at the same time; default 2.
	Workers int
	// QueueSize is how many request parts may wait for a batch; default 1024.
	QueueSize int
	// NoBatching encodes each request on its own in its handler, without
	// the micro-batcher (for models that batch internally, and comparisons).
	NoBatching bool

	// RequestTimeout bounds the time from reading a request to its response
	// being ready; default 30s. Exceeded: 504.
	RequestTimeout time.Duration
	// ReadHeaderTimeout, ReadTimeout, WriteTimeout and IdleTimeout are the
	// http.Server timeouts; defaults 5s, 30s, 60s and 120s.
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// ShutdownTimeout bounds the wait for in-flight requests when the
	// serving context ends; default 30s.
	ShutdownTimeout time.Duration

	// Logger receives access logs and lifecycle messages; default slog.Default().
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	if c.Addr == "" {
		c.Addr = "127.0.0.1:8080"
	}
	if c.ModelName == "" {
		c.ModelName = "simlearn"
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 4 << 20
	}
	if c.MaxInputs <= 0 {
		c.MaxInputs = 2048
	}
	if c.MaxTextRunes <= 0 {
		c.MaxTextRunes = 32768
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = 64
	}
	if c.MaxWait == 0 {
		c.MaxWait = 2 * time.Millisecond
	}
	if c.Workers <= 0 {
		c.Workers = 2
	}
	if c.QueueSize <= 0 {
		c.QueueSize = 1024
	}
	def(&c.RequestTimeout, 30*time.Second)
	def(&c.ReadHeaderTimeout, 5*time.Second)
	def(&c.ReadTimeout, 30*time.Second)
	def(&c.WriteTimeout, 60*time.Second)
	def(&c.IdleTimeout, 120*time.Second)
	def(&c.ShutdownTimeout, 30*time.Second)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Server is the embedding service. Create it with New; serve it with
// Serve or ListenAndServe, or mount Handler in your own http.Server.
type Server struct {
	cfg       Config
	model     Model
	counter   TokenCounter
	batcher   *batcher
	metrics   *metrics
	handler   http.Handler
	modelJSON []byte
	ready     atomic.Bool
	closeOnce sync.Once
}

// New builds a service over m. The model is expected to be loaded: the
// service reports ready at once.
func New(m Model, cfg Config) (*Server, error) {
	if m == nil {
		return nil, errors.New("serve: model is nil")
	}
	if m.Dim() <= 0 {
		return nil, fmt.Errorf("serve: model dimension is %d; expected a positive size", m.Dim())
	}
	cfg = cfg.withDefaults()
	name, err := json.Marshal(cfg.ModelName)
	if err != nil {
		return nil, fmt.Errorf("serve: model name %q: %w", cfg.ModelName, err)
	}
	s := &Server{cfg: cfg, model: m, metrics: newMetrics(), modelJSON: name}
	s.counter, _ = m.(TokenCounter)
	if !cfg.NoBatching {
		s.batcher = newBatcher(m, cfg.MaxBatch, cfg.MaxWait, cfg.QueueSize, cfg.Workers, s.metrics)
		s.metrics.queueLen = func() int { return len(s.batcher.queue) }
	}
	mux := http.NewServeMux()
	mux.Handle("POST /v1/embeddings", s.auth(http.HandlerFunc(s.embeddings)))
	mux.HandleFunc("/v1/embeddings", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "POST")
		writeError(w, &APIError{Status: http.StatusMethodNotAllowed, Type: "invalid_request_error",
			Message: r.Method + " is not allowed on /v1/embeddings; use POST"})
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, []byte(`{"status":"ok"}`))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !s.ready.Load() {
			writeJSON(w, http.StatusServiceUnavailable, []byte(`{"status":"not ready"}`))
			return
		}
		writeJSON(w, http.StatusOK, []byte(`{"status":"ready"}`))
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_ = s.metrics.write(w)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &APIError{Status: http.StatusNotFound, Type: "invalid_request_error",
			Message: "no route " + r.Method + " " + r.URL.Path + "; the service offers POST /v1/embeddings, GET /healthz, /readyz, /metrics"})
	})
	s.handler = s.observe(mux)
	s.ready.Store(true)
	return s, nil
}

// Handler returns the service's routes with access logging and metrics.
func (s *Server) Handler() http.Handler { return s.handler }

// ListenAndServe listens on Config.Addr and serves until ctx ends, then
// shuts down gracefully (see Serve).
func (s *Server) ListenAndServe(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("serve: listen on %s: %w", s.cfg.Addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx ends. Then it reports not ready, stops
// accepting connections, lets in-flight requests finish (up to
// Config.ShutdownTimeout) and stops the batcher. It returns nil after a
// clean shutdown. A Server serves once.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelWarn),
	}
	s.cfg.Logger.Info("serving embeddings", "addr", ln.Addr().String(), "model", s.cfg.ModelName,
		"dim", s.model.Dim(), "auth", s.cfg.BearerToken != "")
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		s.Close()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.ready.Store(false)
	s.cfg.Logger.Info("shutting down: finishing in-flight requests", "timeout", s.cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	err := hs.Shutdown(sctx)
	<-errc // http.ErrServerClosed once Shutdown has begun
	s.Close()
	if err != nil {
		return fmt.Errorf("serve: shutdown: %w", err)
	}
	s.cfg.Logger.Info("shut down")
	return nil
}

// Close stops the batcher; call it when the Handler is mounted elsewhere
// and that server has shut down. Serve calls it itself.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.ready.Store(false)
		if s.batcher != nil {
			s.batcher.close()
		}
	})
}

// auth requires the configured bearer token, if any.
func (s *Server) auth(next http.Handler) http.Handler {
	if s.cfg.BearerToken == "" {
		return next
	}
	want := []byte("Bearer " + s.cfg.BearerToken)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="simlearn"`)
			writeError(w, errUnauthorized())
			return
		}
		next.ServeHTTP(w, r)
	})
}

// embeddings serves POST /v1/embeddings.
func (s *Server) embeddings(w http.ResponseWriter, r *http.Request) {
	if s.batcher != nil {
		s.batcher.arriving.Add(1)
	}
	arrived := true
	leave := func() {
		if arrived && s.batcher != nil {
			s.batcher.arriving.Add(-1)
		}
		arrived = false
	}
	defer leave()
	if !s.ready.Load() {
		writeError(w, errShuttingDown())
		return
	}
	if r.ContentLength > s.cfg.MaxBodyBytes {
		writeError(w, errTooLarge(s.cfg.MaxBodyBytes))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, errTooLarge(s.cfg.MaxBodyBytes))
			return
		}
		writeError(w, invalid("", "could not read the request body: "+err.Error()))
		return
	}
	req, err := DecodeRequest(body, Limits{MaxInputs: s.cfg.MaxInputs, MaxTextRunes: s.cfg.MaxTextRunes})
	if err != nil {
		var ae *APIError
		if errors.As(err, &ae) {
			writeError(w, ae)
		} else {
			writeError(w, invalid("", err.Error()))
		}
		return
	}
	if req.Dimensions != 0 && req.Dimensions != s.model.Dim() {
		writeError(w, invalid("dimensions", fmt.Sprintf("this model returns %d dimensions; \"dimensions\": %d is not supported", s.model.Dim(), req.Dimensions)))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()

	vecs, err := s.encode(ctx, req.Input, leave)
	if err != nil {
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			writeError(w, errTimeout())
		case errors.Is(err, context.Canceled):
			// The client went away; nobody reads a response.
			w.WriteHeader(499)
		case errors.Is(err, errStopped):
			writeError(w, errShuttingDown())
		default:
			s.cfg.Logger.Error("embedding failed", "err", err, "inputs", len(req.Input))
			writeError(w, errInternal(err))
		}
		return
	}
	tokens := 0
	if s.counter != nil {
		if tokens, err = s.counter.CountTokens(req.Input); err != nil {
			s.cfg.Logger.Error("counting tokens failed", "err", err)
			writeError(w, errInternal(err))
			return
		}
	}
	out, err := s.appendResponse(make([]byte, 0, 64+len(vecs)*(s.model.Dim()*12+64)), vecs, req.Format, tokens)
	if err != nil {
		writeError(w, errInternal(err))
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// encode runs texts through the batcher (or directly, without batching);
// queued is called once the texts are queued.
func (s *Server) encode(ctx context.Context, texts []string, queued func()) ([][]float32, error) {
	if s.batcher == nil {
		objs := make([]any, len(texts))
		for i, t := range texts {
			objs[i] = t
		}
		vecs, err := encodeSafely(ctx, s.model, objs)
		s.metrics.observeBatch(len(objs), err)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return vecs, err
	}
	j, err := s.batcher.submit(ctx, texts)
	queued()
	if err != nil {
		return nil, err
	}
	select {
	case <-j.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if j.err != nil {
		return nil, j.err
	}
	return j.out, nil
}

// appendResponse writes the OpenAI list response by hand: encoding/json is
// several times slower on float arrays and this is the hot path.
func (s *Server) appendResponse(b []byte, vecs [][]float32, format EncodingFormat, tokens int) ([]byte, error) {
	b = append(b, `{"object":"list","data":[`...)
	var raw []byte
	for i, v := range vecs {
		if len(v) != s.model.Dim() {
			return nil, fmt.Errorf("vector %d has %d dimensions; the model declares %d", i, len(v), s.model.Dim())
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"object":"embedding","index":`...)
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, `,"embedding":`...)
		switch format {
		case FormatBase64:
			raw = raw[:0]
			for _, x := range v {
				raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(x))
			}
			b = append(b, '"')
			b = base64.StdEncoding.AppendEncode(b, raw)
			b = append(b, '"')
		default:
			b = append(b, '[')
			for k, x := range v {
				if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
					return nil, fmt.Errorf("vector %d has a non-finite value at dimension %d", i, k)
				}
				if k > 0 {
					b = append(b, ',')
				}
				b = strconv.AppendFloat(b, float64(x), 'g', -1, 32)
			}
			b = append(b, ']')
		}
		b = append(b, '}')
	}
	b = append(b, `],"model":`...)
	b = append(b, s.modelJSON...)
	b = append(b, `,"usage":{"prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(tokens), 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, int64(tokens), 10)
	b = append(b, "}}\n"...)
	return b, nil
}

func writeJSON(w http.ResponseWriter, code int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// statusRecorder remembers the status code and size of a response.
type statusRecorder struct {
	http.ResponseWriter
	code  int
	bytes int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(p []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(p)
	r.bytes += n
	return n, err
}

// observe adds metrics and an slog access log line to every request, and
// turns a handler panic into a 500 instead of a dropped connection.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		s.metrics.inFlight.Add(1)
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				s.cfg.Logger.Error("handler panicked", "panic", p, "path", r.URL.Path)
				if rec.code == 0 {
					writeError(rec, errInternal(fmt.Errorf("internal error")))
				}
			}
			s.metrics.inFlight.Add(-1)
			d := time.Since(start)
			route := r.Pattern
			if route == "" || route == "/" {
				route = "other"
			}
			code := rec.code
			if code == 0 {
				code = http.StatusOK
			}
			s.metrics.observeRequest(route, code, d)
			s.cfg.Logger.LogAttrs(r.Context(), slog.LevelInfo, "http",
				slog.String("method", r.Method), slog.String("path", r.URL.Path),
				slog.Int("status", code), slog.Int("bytes", rec.bytes),
				slog.Duration("duration", d), slog.String("remote", r.RemoteAddr))
		}()
		next.ServeHTTP(rec, r)
	})
}
