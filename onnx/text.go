package onnx

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	ort "github.com/yalue/onnxruntime_go"
)

// Pooling says how token vectors become one text vector.
type Pooling string

// The pooling modes of sentence-transformers.
const (
	PoolingMean Pooling = "mean" // average of the tokens (padding excluded)
	PoolingCLS  Pooling = "cls"  // the first token ([CLS])
	PoolingMax  Pooling = "max"  // element-wise maximum over the tokens
)

// Defaults of a TextEncoder, as sentence-transformers uses all-MiniLM-L6-v2.
const (
	DefaultMaxLength = 256
	DefaultBatchSize = 32
	DefaultThreads   = 1
	DefaultWorkers   = 1
)

// TextConfig holds the settings that change what a TextEncoder returns; it is
// what a servable records for the encoder (encoder.json).
type TextConfig struct {
	MaxLength int     `json:"max_length"` // tokens, special tokens included
	Pooling   Pooling `json:"pooling"`
	Normalize bool    `json:"normalize"`       // L2-normalise the output
	Field     string  `json:"field,omitempty"` // field of a map or struct to encode
}

// DefaultTextConfig is all-MiniLM-L6-v2 as sentence-transformers runs it:
// 256 tokens, mean pooling, L2-normalised, objects are strings.
func DefaultTextConfig() TextConfig {
	return TextConfig{MaxLength: DefaultMaxLength, Pooling: PoolingMean, Normalize: true}
}

// TextOption configures NewTextEncoder.
type TextOption func(*textOptions)

type textOptions struct {
	modelDir     string
	library      string
	name         string
	cfg          TextConfig
	batchSize    int
	threads      int
	workers      int
	noPacking    bool
	noHugePages  bool
	idleThreads  int
	newTokenizer NewTokenizerFunc
}

// WithModelDir sets the directory holding model.onnx and tokenizer.json
// (default DefaultModelDir()).
func WithModelDir(dir string) TextOption { return func(o *textOptions) { o.modelDir = dir } }

// WithLibrary sets the ONNX Runtime shared library (default LibraryPath()).
func WithLibrary(path string) TextOption { return func(o *textOptions) { o.library = path } }

// WithName sets the encoder's Name (default: the field, or "text").
func WithName(name string) TextOption { return func(o *textOptions) { o.name = name } }

// WithConfig replaces the output-affecting settings at once, e.g. with those a
// servable recorded.
func WithConfig(c TextConfig) TextOption { return func(o *textOptions) { o.cfg = c } }

// WithMaxLength sets the number of tokens, special tokens included, beyond
// which texts are truncated (default 256).
func WithMaxLength(n int) TextOption { return func(o *textOptions) { o.cfg.MaxLength = n } }

// WithPooling sets the pooling (default PoolingMean). It does not apply to a
// model whose output is already pooled (sentence_embedding).
func WithPooling(p Pooling) TextOption { return func(o *textOptions) { o.cfg.Pooling = p } }

// WithNormalize turns L2 normalisation of the output on or off (default on).
func WithNormalize(on bool) TextOption { return func(o *textOptions) { o.cfg.Normalize = on } }

// WithField makes the encoder read the text from the named field of a
// map[string]any or a struct (Go field name or json tag). Strings are always
// encoded as they are.
func WithField(name string) TextOption { return func(o *textOptions) { o.cfg.Field = name } }

// WithBatchSize sets the most texts that go through the model in one run
// (default 32). Encode sorts texts by length and splits them into runs of
// similar lengths, so a run may hold fewer.
func WithBatchSize(n int) TextOption { return func(o *textOptions) { o.batchSize = n } }

// WithThreads sets ONNX Runtime's intra-op thread count (default 1).
func WithThreads(n int) TextOption { return func(o *textOptions) { o.threads = n } }

// WithWorkers sets how many batches run at the same time on the encoder's
// session (default 1). Each uses the intra-op threads of WithThreads, so
// workers x threads is the number of cores kept busy.
func WithWorkers(n int) TextOption { return func(o *textOptions) { o.workers = n } }

// WithPacking turns packing on or off (default on). With packing, a run may
// lay several texts end to end as one sequence without padding, each
// attending only to itself (see packGraph): texts of different lengths then
// cost their own lengths rather than the longest one's, which is what the
// small mixed batches of a server are. Encode decides run by run whether
// packing or padding is cheaper. It needs a BERT-style graph exported from
// Hugging Face Transformers; other graphs run padded. Outputs agree with
// padded runs to float32 rounding.
func WithPacking(on bool) TextOption { return func(o *textOptions) { o.noPacking = !on } }

// WithHugePages turns on or off (default on) backing the memory that
// opening the session maps and fills (ONNX Runtime's copy of the model's
// weights, above all) with transparent huge pages, on Linux 6.1 or later
// with THP not set to "never" (MADV_COLLAPSE). Every run reads all the
// weights, and with 4 KiB pages each of their pages costs a TLB miss. Two
// streams of 8-text calls to all-MiniLM-L6-v2 ran 1.1% faster (4 of 4
// alternating runs); HugePages reports how much was collapsed.
func WithHugePages(on bool) TextOption { return func(o *textOptions) { o.noHugePages = !on } }

// WithIdleThreads gives runs that start while no other run of the encoder
// is in flight a second session with n intra-op threads (default 0: none),
// so that a lone request, the common case of a lightly loaded server, uses
// n cores instead of WithThreads'. Its threads spin between the operators
// of a run, which saves waking a sleeping thread for each one, and stop as
// soon as the run ends. Under concurrent load, for 200 ms after two runs
// last overlapped, every run takes the ordinary session: a run that took
// all the cores would share them with the next one for the whole of its
// length. The second session holds its own copy of the model's weights.
func WithIdleThreads(n int) TextOption { return func(o *textOptions) { o.idleThreads = n } }

// WithTokenizer replaces the tokenizer implementation (default NewHFTokenizer).
func WithTokenizer(f NewTokenizerFunc) TextOption {
	return func(o *textOptions) { o.newTokenizer = f }
}

// TextEncoder embeds text with a transformer exported to ONNX: tokenise,
// run the model in length-sorted batches, pool, L2-normalise. It satisfies
// models.Encoder. It is safe for concurrent use; the ONNX Runtime session is
// opened by the first Encode that has work to do, and closed by Close.
type TextEncoder struct {
	name      string
	modelPath string
	library   string
	cfg       TextConfig
	batchSize int
	threads   int
	workers   int

	inputs    []string // model input names
	output    string   // model output name
	pooled    bool     // the output is already one vector per text
	dim       int
	packing   bool // try to open the session on the packed graph
	hugePages bool // collapse the sessions' memory into huge pages

	// Set when the session opens: whether it runs the packed graph (and if
	// not, why), and the input names it is fed, in order.
	packed     bool
	unpacked   string
	feed       []string
	packedRuns atomic.Int64 // runs that packed several texts
	hugeBytes  int64        // bytes of the sessions' memory in huge pages

	fingerprint string
	tok         Tokenizer
	fields      fieldReader
	bufs        sync.Pool // *batchBuffers

	mu     sync.RWMutex // Encode holds it for reading, Close for writing
	closed bool
	open   sync.Mutex // serialises opening the sessions
	sess   *ort.DynamicAdvancedSession

	idleThreads int
	idle        *ort.DynamicAdvancedSession // for runs that start alone
	inFlight    atomic.Int32                // runs in flight (with idle)
	overlapped  atomic.Int64                // when runs last overlapped (since epoch; 0: never)
}

// idleAfter is how long after two runs last overlapped a run that starts
// alone still takes the ordinary session rather than the idle one. Under
// concurrent load runs overlap all the time, and one that happens to start
// in the gap between two others would otherwise take every core just before
// the next run starts beside it, so that the two share the cores with one
// thread too many for the whole of the first run. A server whose runs
// overlap 16 clients' requests measured 3% faster with no idle session at
// all; a lone client still gets the idle session, whose runs never overlap.
const idleAfter = 200 * time.Millisecond

// epoch is the origin of TextEncoder.overlapped, on the monotonic clock.
var epoch = time.Now()

// sessionsOpened counts the ONNX Runtime sessions opened in this process.
var sessionsOpened atomic.Int64

// SessionsOpened returns how many ONNX Runtime sessions encoders have opened
// in this process. A run served entirely from a cache leaves it at zero.
func SessionsOpened() int64 { return sessionsOpened.Load() }

// NewTextEncoder reads model.onnx and tokenizer.json from the model directory,
// checks that the model's inputs and outputs fit a text encoder and loads the
// tokenizer. It opens no ONNX Runtime session and does not load the library.
func NewTextEncoder(opts ...TextOption) (*TextEncoder, error) {
	o := textOptions{cfg: DefaultTextConfig(), batchSize: DefaultBatchSize, threads: DefaultThreads, workers: DefaultWorkers}
	for _, opt := range opts {
		opt(&o)
	}
	if o.modelDir == "" {
		o.modelDir = DefaultModelDir()
	}
	if o.library == "" {
		o.library = LibraryPath()
	}
	if o.newTokenizer == nil {
		o.newTokenizer = func(b []byte, n int) (Tokenizer, error) { return NewHFTokenizer(b, n) }
	}
	if err := o.check(); err != nil {
		return nil, err
	}
	e := &TextEncoder{
		name:      o.name,
		modelPath: filepath.Join(o.modelDir, "model.onnx"),
		library:   o.library,
		cfg:       o.cfg,
		batchSize: o.batchSize,
		threads:   o.threads,
		workers:   o.workers,
		packing:   !o.noPacking,
		hugePages: !o.noHugePages,

		idleThreads: o.idleThreads,
		fields:      fieldReader{field: o.cfg.Field},
	}
	if e.name == "" {
		e.name = cmp.Or(o.cfg.Field, "text")
	}
	tokPath := filepath.Join(o.modelDir, "tokenizer.json")
	for _, p := range []string{e.modelPath, tokPath} {
		if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("text encoder: %s does not exist: %s, or point WithModelDir at a directory with model.onnx and tokenizer.json: %w",
				p, setupHint, ErrNotSetUp)
		}
	}
	info, err := ReadModelInfo(e.modelPath)
	if err != nil {
		return nil, fmt.Errorf("text encoder: %w", err)
	}
	if err := e.bind(info); err != nil {
		return nil, fmt.Errorf("text encoder: model %s: %w", e.modelPath, err)
	}
	tokJSON, err := os.ReadFile(tokPath)
	if err != nil {
		return nil, fmt.Errorf("text encoder: %w", err)
	}
	tok, err := o.newTokenizer(tokJSON, o.cfg.MaxLength)
	if err != nil {
		return nil, fmt.Errorf("text encoder: %s: %w", tokPath, err)
	}
	e.tok = tok
	tokSum := sha256.Sum256(tokJSON)
	e.fingerprint = e.makeFingerprint(info.SHA256, hex.EncodeToString(tokSum[:]))
	return e, nil
}

func (o *textOptions) check() error {
	switch o.cfg.Pooling {
	case PoolingMean, PoolingCLS, PoolingMax:
	default:
		return fmt.Errorf("text encoder: pooling %q: want %q, %q or %q", o.cfg.Pooling, PoolingMean, PoolingCLS, PoolingMax)
	}
	if o.cfg.MaxLength < 2 {
		return fmt.Errorf("text encoder: max length %d: want at least 2 (room for the special tokens)", o.cfg.MaxLength)
	}
	if o.batchSize < 1 {
		return fmt.Errorf("text encoder: batch size %d: want at least 1", o.batchSize)
	}
	if o.threads < 1 {
		return fmt.Errorf("text encoder: threads %d: want at least 1", o.threads)
	}
	if o.workers < 1 {
		return fmt.Errorf("text encoder: workers %d: want at least 1", o.workers)
	}
	if o.idleThreads < 0 {
		return fmt.Errorf("text encoder: idle threads %d: want 0 (none) or more", o.idleThreads)
	}
	return nil
}

// Names of the model inputs a text encoder can feed.
const (
	inputIDs      = "input_ids"
	attentionMask = "attention_mask"
	tokenTypeIDs  = "token_type_ids"
)

// bind checks the model's inputs and outputs and picks the output to read.
func (e *TextEncoder) bind(info ModelInfo) error {
	hasIDs := false
	for _, in := range info.Inputs {
		switch in.Name {
		case inputIDs, attentionMask, tokenTypeIDs:
		default:
			return fmt.Errorf("inputs %s do not fit a text encoder: it feeds input_ids (int64, [batch, sequence]) and optionally attention_mask and token_type_ids; %q is none of them",
				valueList(info.Inputs), in.Name)
		}
		if in.Elem != ElemInt64 || len(in.Shape) != 2 {
			return fmt.Errorf("input %s does not fit a text encoder: want int64 [batch, sequence]", in)
		}
		hasIDs = hasIDs || in.Name == inputIDs
		e.inputs = append(e.inputs, in.Name)
	}
	if !hasIDs {
		return fmt.Errorf("inputs %s do not fit a text encoder: input_ids (int64, [batch, sequence]) is missing", valueList(info.Inputs))
	}
	// Prefer token vectors, so that the configured pooling applies.
	var pick *ValueInfo
	for i, out := range info.Outputs {
		if (out.Name == "last_hidden_state" || out.Name == "token_embeddings") && len(out.Shape) == 3 {
			pick = &info.Outputs[i]
			break
		}
	}
	for i, out := range info.Outputs {
		if pick == nil && out.Name == "sentence_embedding" && len(out.Shape) == 2 {
			pick = &info.Outputs[i]
		}
	}
	if pick == nil {
		return fmt.Errorf("outputs %s do not fit a text encoder: want last_hidden_state (float, [batch, sequence, hidden]) or sentence_embedding (float, [batch, hidden])",
			valueList(info.Outputs))
	}
	if pick.Elem != ElemFloat {
		return fmt.Errorf("output %s does not fit a text encoder: want float (float32) elements", pick)
	}
	hidden := pick.Shape[len(pick.Shape)-1]
	if hidden.Size <= 0 {
		return fmt.Errorf("output %s has no fixed hidden size, so the encoder's dimension is unknown", pick)
	}
	e.output, e.pooled, e.dim = pick.Name, len(pick.Shape) == 2, int(hidden.Size)
	return nil
}

func valueList(vs []ValueInfo) string {
	if len(vs) == 0 {
		return "[] (none)"
	}
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = v.String()
	}
	return "[" + strings.Join(s, " ") + "]"
}

func (e *TextEncoder) makeFingerprint(modelSHA, tokSHA string) string {
	pooling := string(e.cfg.Pooling)
	if e.pooled {
		pooling = "model"
	}
	h := sha256.New()
	fmt.Fprintf(h, "simlearn onnx.TextEncoder v1\nmodel %s\ntokenizer %s\noutput %s\npooling %s\nnormalize %t\nmax_length %d\nfield %q\n",
		modelSHA, tokSHA, e.output, pooling, e.cfg.Normalize, e.cfg.MaxLength, e.cfg.Field)
	return hex.EncodeToString(h.Sum(nil))
}

// Name is the encoder's stable key.
func (e *TextEncoder) Name() string { return e.name }

// Dim is the length of the vectors Encode returns.
func (e *TextEncoder) Dim() int { return e.dim }

// Trainable is false: ONNX encoders are frozen.
func (e *TextEncoder) Trainable() bool { return false }

// Fingerprint is a hex sha256 over the model and tokenizer checksums and the
// settings that change the output (TextConfig).
func (e *TextEncoder) Fingerprint() string { return e.fingerprint }

// Config returns the settings that change the output.
func (e *TextEncoder) Config() TextConfig { return e.cfg }

// ModelPath returns the path of the encoder's model.onnx.
func (e *TextEncoder) ModelPath() string { return e.modelPath }

// Packing reports whether the open session can lay several texts in one
// row (see WithPacking) and, when it cannot, why. Before the session opens
// (at the first Encode) it reports false and says so.
func (e *TextEncoder) Packing() (on bool, why string) {
	e.open.Lock()
	defer e.open.Unlock()
	if e.sess == nil {
		return false, "the session is not open yet"
	}
	return e.packed, e.unpacked
}

// HugePages returns how many bytes of the memory that opening the sessions
// mapped are backed by transparent huge pages (see WithHugePages): 0 before
// the session opens, with huge pages off, or where the system has none.
func (e *TextEncoder) HugePages() int64 {
	e.open.Lock()
	defer e.open.Unlock()
	return e.hugeBytes
}

// HasSession reports whether the encoder has opened its ONNX Runtime session.
func (e *TextEncoder) HasSession() bool {
	e.open.Lock()
	defer e.open.Unlock()
	return e.sess != nil
}

// Close releases the session and the tokenizer; it waits for running Encode
// calls. Encode fails after Close.
func (e *TextEncoder) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	var errs []error
	for _, sess := range []*ort.DynamicAdvancedSession{e.sess, e.idle} {
		if sess != nil {
			if err := sess.Destroy(); err != nil {
				errs = append(errs, fmt.Errorf("closing ONNX Runtime session: %w", err))
			}
		}
	}
	e.sess, e.idle = nil, nil
	if err := e.tok.Close(); err != nil {
		errs = append(errs, fmt.Errorf("closing tokenizer: %w", err))
	}
	return errors.Join(errs...)
}

// session opens the ONNX Runtime sessions on first use: the one every run
// may use and, with WithIdleThreads, the one for runs that start alone.
func (e *TextEncoder) session() (*ort.DynamicAdvancedSession, error) {
	e.open.Lock()
	defer e.open.Unlock()
	if e.sess != nil {
		return e.sess, nil
	}
	if err := InitRuntime(e.library); err != nil {
		return nil, err
	}
	model, feed, why, err := e.graph()
	if err != nil {
		return nil, fmt.Errorf("opening ONNX Runtime session for %s: %w", e.modelPath, err)
	}
	// Huge pages: list the mappings before the sessions open, so that only
	// what they map is collapsed after (none if the list cannot be read).
	var before []mapping
	collapse := e.hugePages
	if collapse {
		var listErr error
		before, listErr = anonMappings()
		collapse = listErr == nil
	}
	sess, err := e.newSession(model, feed, e.threads, true)
	if err != nil {
		return nil, err
	}
	if e.idleThreads > 0 {
		idle, err := e.newSession(model, feed, e.idleThreads, false)
		if err != nil {
			sess.Destroy()
			return nil, err
		}
		e.idle = idle
	}
	e.sess, e.feed, e.packed, e.unpacked = sess, feed, model != nil, why
	if model != nil {
		// The rewritten graph (the model's size, 90 MB for all-MiniLM-L6-v2)
		// and what made it are garbage now. Collect them at once: left to
		// the next cycle, they would set the heap goal for the whole
		// process and hold that memory until a collection that a serving
		// process may take minutes to reach. (This also returns the pages
		// to the system, so that collapseNew leaves them alone.)
		debug.FreeOSMemory()
	}
	if collapse {
		e.hugeBytes = collapseNew(before)
	}
	return sess, nil
}

// graph returns the packed graph and its inputs when packing is on and the
// model allows it, and otherwise nil, the model's own inputs and why.
func (e *TextEncoder) graph() (model []byte, feed []string, why string, err error) {
	switch {
	case !e.packing:
		return nil, e.inputs, "packing is off", nil
	case e.pooled:
		return nil, e.inputs, "the model outputs pooled sentence embeddings", nil
	case !slices.Contains(e.inputs, attentionMask):
		return nil, e.inputs, "the model has no attention_mask input", nil
	}
	if model, err = os.ReadFile(e.modelPath); err != nil {
		return nil, nil, "", err
	}
	packed, ok, why, err := packGraph(model)
	if err != nil || !ok {
		return nil, e.inputs, "the graph cannot be rewritten for packing: " + why, err
	}
	feed = slices.DeleteFunc(slices.Clone(e.inputs), func(n string) bool { return n == attentionMask })
	return packed, append(feed, packedMaskInput, packedPositionsInput), "", nil
}

// newSession opens a session on model (the model file when nil) with the
// given intra-op threads. Threads spin between the operators of a run
// either way; with spin they go on spinning for more work after it, and
// without, they stop as soon as the last run in flight ends.
func (e *TextEncoder) newSession(model []byte, feed []string, threads int, spin bool) (*ort.DynamicAdvancedSession, error) {
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("ONNX Runtime session options: %w", err)
	}
	defer so.Destroy()
	for _, set := range []func() error{
		func() error { return so.SetIntraOpNumThreads(threads) },
		func() error { return so.SetInterOpNumThreads(1) },
		func() error { return so.SetExecutionMode(ort.ExecutionModeSequential) },
		func() error { return so.SetGraphOptimizationLevel(ort.GraphOptimizationLevelEnableAll) },
		func() error {
			if spin {
				return nil
			}
			return so.AddSessionConfigEntry("session.force_spinning_stop", "1")
		},
	} {
		if err := set(); err != nil {
			return nil, fmt.Errorf("ONNX Runtime session options: %w", err)
		}
	}
	var sess *ort.DynamicAdvancedSession
	if model != nil {
		sess, err = ort.NewDynamicAdvancedSessionWithONNXData(model, feed, []string{e.output}, so)
	} else {
		sess, err = ort.NewDynamicAdvancedSession(e.modelPath, feed, []string{e.output}, so)
	}
	if err != nil {
		return nil, fmt.Errorf("opening ONNX Runtime session for %s: %w", e.modelPath, err)
	}
	sessionsOpened.Add(1)
	return sess, nil
}

// pick returns the session for a run about to start: the idle-threads one
// when no other run is in flight and none has overlapped another for
// idleAfter, sess otherwise; done must be called when the run ends.
func (e *TextEncoder) pick(sess *ort.DynamicAdvancedSession) (s *ort.DynamicAdvancedSession, done func()) {
	if e.idle == nil {
		return sess, func() {}
	}
	now := int64(time.Since(epoch))
	if e.inFlight.Add(1) > 1 {
		e.overlapped.Store(now)
	} else if last := e.overlapped.Load(); last == 0 || now-last >= int64(idleAfter) {
		sess = e.idle
	}
	return sess, func() { e.inFlight.Add(-1) }
}

// Encode returns one vector per object, in input order. Objects are strings,
// or maps and structs whose configured field is a string. An empty list
// returns an empty result without opening a session.
func (e *TextEncoder) Encode(ctx context.Context, objs []any) ([][]float32, error) {
	if len(objs) == 0 {
		return [][]float32{}, nil
	}
	texts := make([]string, len(objs))
	for i, obj := range objs {
		s, err := e.fields.text(obj)
		if err != nil {
			return nil, fmt.Errorf("encoder %q: object %d: %w", e.name, i, err)
		}
		if !utf8.ValidString(s) {
			return nil, fmt.Errorf("encoder %q: object %d: text is not valid UTF-8 (first invalid byte at offset %d)", e.name, i, invalidUTF8At(s))
		}
		texts[i] = s
	}
	return e.encodeTexts(ctx, texts)
}

// EncodeTexts is Encode for strings.
func (e *TextEncoder) EncodeTexts(ctx context.Context, texts []string) ([][]float32, error) {
	if len(texts) == 0 {
		return [][]float32{}, nil
	}
	for i, s := range texts {
		if !utf8.ValidString(s) {
			return nil, fmt.Errorf("encoder %q: text %d is not valid UTF-8 (first invalid byte at offset %d)", e.name, i, invalidUTF8At(s))
		}
	}
	return e.encodeTexts(ctx, texts)
}

// Tokenize returns the token ids the encoder feeds the model for each text.
func (e *TextEncoder) Tokenize(ctx context.Context, texts []string) ([][]uint32, error) {
	for i, s := range texts {
		if !utf8.ValidString(s) {
			return nil, fmt.Errorf("encoder %q: text %d is not valid UTF-8 (first invalid byte at offset %d)", e.name, i, invalidUTF8At(s))
		}
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return nil, fmt.Errorf("encoder %q is closed", e.name)
	}
	return e.tokenize(ctx, texts)
}

func invalidUTF8At(s string) int {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return -1
}

func (e *TextEncoder) encodeTexts(ctx context.Context, texts []string) ([][]float32, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return nil, fmt.Errorf("encoder %q is closed", e.name)
	}
	ids, err := e.tokenize(ctx, texts)
	if err != nil {
		return nil, err
	}
	sess, err := e.session()
	if err != nil {
		return nil, fmt.Errorf("encoder %q: %w", e.name, err)
	}
	// Longest first: the first batch sizes the buffers, later ones reuse them.
	order := make([]int, len(texts))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return len(ids[b]) - len(ids[a]) })

	out := make([][]float32, len(texts))
	slab := make([]float32, len(texts)*e.dim)
	for i := range out {
		out[i] = slab[i*e.dim : (i+1)*e.dim : (i+1)*e.dim]
	}
	lengths := make([]int, len(order))
	for k, i := range order {
		lengths[k] = len(ids[i])
	}
	runs := planRuns(lengths, e.batchSize, e.packed, e.dim)
	// Rows hold indices into texts from here on.
	for _, r := range runs {
		for _, row := range r {
			for k, pos := range row {
				row[k] = order[pos]
			}
		}
	}
	nBatches := len(runs)
	workers := min(e.workers, nBatches)
	var next atomic.Int64 // the next batch to run; batches go longest first
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			buf, _ := e.bufs.Get().(*batchBuffers)
			if buf == nil {
				buf = new(batchBuffers)
			}
			defer e.bufs.Put(buf)
			for {
				k := int(next.Add(1)) - 1
				if k >= nBatches {
					return
				}
				if err := ctx.Err(); err != nil {
					errs[w] = err
					return
				}
				s, done := e.pick(sess)
				err := e.runBatch(s, buf, ids, runs[k], out)
				done()
				if err != nil {
					errs[w] = fmt.Errorf("encoder %q: batch with object %d: %w", e.name, runs[k][0][0], err)
					next.Store(int64(nBatches)) // stop the other workers
					return
				}
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// runOverheadTokens is the fixed cost of one model run, in tokens' worth of
// compute. A run streams every weight of the model from memory whatever its
// size: all-MiniLM-L6-v2 takes about 2.3 ms for a run of one 2-token text
// and about 0.21 ms per further token on one core here, so a run costs about
// as much as 11 tokens on top of its padded tokens. Transformers of other
// sizes scale both sides alike.
const runOverheadTokens = 11

// maxPackedTokens bounds a packed row, whose mask holds its length squared.
const maxPackedTokens = 512

// maxPackedRows is the most rows a packed run is split into.
const maxPackedRows = 4

// sequenceCost is the cost in tokens of one sequence (a row of a run) of n
// tokens through a transformer of hidden size h: its tokens, plus
// attention. The attention term is measured, not counted: ONNX Runtime runs
// BERT attention as small batched products, a mask addition and a softmax
// over n^2 scores per head, which cost all-MiniLM-L6-v2 about n^2/800
// tokens' worth on one core here (the products alone would be n^2/2300).
func sequenceCost(n, h int) float64 {
	return float64(n) + float64(n)*float64(n)/float64(2*h)
}

// A run is the rows of one model call; each row lists texts laid end to
// end (one text per row is ordinary padding).
type run [][]int

// planRuns splits texts sorted longest first, whose token counts are
// lengths, into runs of consecutive texts, at most maxBatch per run. A
// padded run gives each text a row and pads it to the run's first (longest)
// text. With packable, a run may instead pack its texts into 1 to
// maxPackedRows rows, longest first into the shortest row, padding the rows
// to the longest. The split and the layouts minimise the cost in tokens
// (sequenceCost of every row for hidden size h, plus runOverheadTokens per
// run): texts of similar length share a padded run, and a handful of very
// different lengths (the usual micro-batch of a server) is packed or split
// rather than padded to the longest. Rows hold indices into lengths.
func planRuns(lengths []int, maxBatch int, packable bool, h int) []run {
	n := len(lengths)
	// cost[j] is the least cost of the first j texts; from[j] starts its
	// last run, laid out in rows[j] rows (0: padded).
	cost := make([]float64, n+1)
	from := make([]int, n+1)
	rows := make([]int, n+1)
	var sums []int
	for j := 1; j <= n; j++ {
		cost[j] = math.Inf(1)
		total := 0 // tokens of texts i..j-1
		for i := j - 1; i >= 0 && i >= j-maxBatch; i-- {
			total += lengths[i]
			base := cost[i] + runOverheadTokens
			if c := base + float64(j-i)*sequenceCost(lengths[i], h); c < cost[j] {
				cost[j], from[j], rows[j] = c, i, 0
			}
			if !packable {
				continue
			}
			for r := 1; r <= maxPackedRows && r < j-i; r++ {
				// r rows cost at least r rows of total/r tokens: skip the
				// layouts that cannot win (most, for sorted texts).
				if base+float64(r)*sequenceCost((total+r-1)/r, h) >= cost[j] {
					continue
				}
				var longest int
				sums, longest = packRows(sums, lengths[i:j], r, nil)
				if longest > maxPackedTokens {
					continue
				}
				if c := base + float64(r)*sequenceCost(longest, h); c < cost[j] {
					cost[j], from[j], rows[j] = c, i, r
				}
			}
		}
	}
	var runs []run
	for j := n; j > 0; j = from[j] {
		i := from[j]
		var rr run
		if rows[j] == 0 {
			for k := i; k < j; k++ {
				rr = append(rr, []int{k})
			}
		} else {
			rr = make(run, rows[j])
			packRows(nil, lengths[i:j], rows[j], func(k, row int) { rr[row] = append(rr[row], i+k) })
		}
		runs = append(runs, rr)
	}
	slices.Reverse(runs)
	return runs
}

// packRows deals lengths (longest first) into r rows, each to the row with
// the fewest tokens so far, calling place(k, row) for each when it is not
// nil; it returns the rows' token counts (in sums, reused) and the largest.
func packRows(sums []int, lengths []int, r int, place func(k, row int)) ([]int, int) {
	sums = append(sums[:0], make([]int, r)...)
	for k, l := range lengths {
		row := 0
		for q := 1; q < r; q++ {
			if sums[q] < sums[row] {
				row = q
			}
		}
		sums[row] += l
		if place != nil {
			place(k, row)
		}
	}
	return sums, slices.Max(sums)
}

// tokenize encodes all texts, in parallel when there are many.
func (e *TextEncoder) tokenize(ctx context.Context, texts []string) ([][]uint32, error) {
	ids := make([][]uint32, len(texts))
	workers := min(runtime.GOMAXPROCS(0), (len(texts)+63)/64)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for n, i := 0, w; i < len(texts); n, i = n+1, i+workers {
				if n%256 == 0 && ctx.Err() != nil {
					errs[w] = ctx.Err()
					return
				}
				t, err := e.tok.Encode(texts[i])
				if err == nil && len(t) == 0 {
					err = errors.New("the tokenizer returned no tokens")
				}
				if err != nil {
					errs[w] = fmt.Errorf("encoder %q: text %d: %w", e.name, i, err)
					return
				}
				ids[i] = t
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return ids, errors.Join(errs...)
}

// batchBuffers are the input and output tensors' memory, reused across
// batches and calls.
type batchBuffers struct {
	ids, mask, types, pos []int64
	out                   []float32
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// runBatch runs one run through the model and writes its texts' vectors
// into out. Each row of rr lists texts (indices into ids) laid end to end;
// rows of several texts need the session on the packed graph.
func (e *TextEncoder) runBatch(sess *ort.DynamicAdvancedSession, buf *batchBuffers, ids [][]uint32, rr run, out [][]float32) error {
	b, l, h := len(rr), 0, e.dim
	packing := false
	for _, row := range rr {
		n := 0
		for _, i := range row {
			n += len(ids[i])
		}
		l = max(l, n)
		packing = packing || len(row) > 1
	}
	buf.ids = grow(buf.ids, b*l)
	buf.types = grow(buf.types, b*l) // never written: all zeros
	if e.packed {
		buf.mask = grow(buf.mask, b*l*l)
		buf.pos = grow(buf.pos, b*l)
		clear(buf.mask)
	} else {
		buf.mask = grow(buf.mask, b*l)
	}
	if packing {
		e.packedRuns.Add(1)
	}
	for r, row := range rr {
		tokens := buf.ids[r*l : (r+1)*l]
		off := 0
		for _, i := range row {
			n := len(ids[i])
			for t, id := range ids[i] {
				tokens[off+t] = int64(id)
			}
			if e.packed {
				// The text's tokens see each other only, and their
				// positions start at 0.
				for t := range n {
					buf.pos[r*l+off+t] = int64(t)
					q := buf.mask[(r*l+off+t)*l+off : (r*l+off+t)*l+off+n]
					for k := range q {
						q[k] = 1
					}
				}
			} else {
				mask := buf.mask[r*l : (r+1)*l]
				for t := range n {
					mask[t] = 1
				}
				clear(mask[n:])
			}
			off += n
		}
		clear(tokens[off:])
		if e.packed {
			// Padding: positions go on counting; its queries see nothing
			// (their outputs are not read).
			for t := off; t < l; t++ {
				buf.pos[r*l+t] = int64(t)
			}
		}
	}
	inputs := make([]ort.Value, 0, len(e.feed))
	defer func() {
		for _, v := range inputs {
			v.Destroy()
		}
	}()
	for _, name := range e.feed {
		data, shape := buf.ids, ort.NewShape(int64(b), int64(l))
		switch name {
		case attentionMask:
			data = buf.mask
		case tokenTypeIDs:
			data = buf.types
		case packedMaskInput:
			data, shape = buf.mask, ort.NewShape(int64(b), 1, int64(l), int64(l))
		case packedPositionsInput:
			data = buf.pos
		}
		t, err := ort.NewTensor(shape, data)
		if err != nil {
			return fmt.Errorf("input %s: %w", name, err)
		}
		inputs = append(inputs, t)
	}
	outShape := ort.NewShape(int64(b), int64(l), int64(h))
	if e.pooled {
		outShape = ort.NewShape(int64(b), int64(h))
	}
	buf.out = grow(buf.out, int(outShape.FlattenedSize()))
	outT, err := ort.NewTensor(outShape, buf.out)
	if err != nil {
		return fmt.Errorf("output %s: %w", e.output, err)
	}
	defer outT.Destroy()
	if err := sess.Run(inputs, []ort.Value{outT}); err != nil {
		return fmt.Errorf("running the model: %w", err)
	}
	for r, row := range rr {
		off := r * l // where the row's next text starts, in tokens
		for _, i := range row {
			v, n := out[i], len(ids[i])
			if e.pooled {
				copy(v, buf.out[r*h:(r+1)*h])
			} else {
				pool(v, buf.out[off*h:(off+n)*h], n, h, e.cfg.Pooling)
			}
			off += n
			if e.cfg.Normalize {
				normalize(v)
			}
		}
	}
	return nil
}

// pool reduces the first n token vectors of tokens (rows of length h) into v.
func pool(v, tokens []float32, n, h int, p Pooling) {
	switch p {
	case PoolingCLS:
		copy(v, tokens[:h])
	case PoolingMax:
		copy(v, tokens[:h])
		for t := 1; t < n; t++ {
			for j, x := range tokens[t*h : (t+1)*h] {
				if x > v[j] {
					v[j] = x
				}
			}
		}
	default: // PoolingMean
		copy(v, tokens[:h])
		for t := 1; t < n; t++ {
			row := tokens[t*h : (t+1)*h]
			for j := range v {
				v[j] += row[j]
			}
		}
		inv := 1 / float32(n)
		for j := range v {
			v[j] *= inv
		}
	}
}

// normalize scales v to unit L2 norm (as torch.nn.functional.normalize, with
// the norm clamped at 1e-12).
func normalize(v []float32) {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	norm := math.Max(math.Sqrt(ss), 1e-12)
	inv := float32(1 / norm)
	for j := range v {
		v[j] *= inv
	}
}

// String describes the encoder for logs.
func (e *TextEncoder) String() string {
	return fmt.Sprintf("onnx.TextEncoder(%s, %s, dim %d, max_length %d, pooling %s, normalize %t, batch %d, threads %d, workers %d, packing %t, idle threads %d)",
		e.name, e.modelPath, e.dim, e.cfg.MaxLength, e.cfg.Pooling, e.cfg.Normalize, e.batchSize, e.threads, e.workers, e.packing, e.idleThreads)
}
