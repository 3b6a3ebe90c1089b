package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/simlearn/simlearn/onnx"
	"github.com/simlearn/simlearn/serve"
)

const serveSynopsis = `
Usage: simlearn serve [flags] MODEL

Serves MODEL's embeddings over HTTP until SIGINT or SIGTERM, then stops
accepting connections, finishes the requests in flight and exits 0.

  POST /v1/embeddings  OpenAI embeddings API: {"input": "text" or ["a", "b"],
                       "encoding_format": "float" or "base64"}
  GET  /healthz        the process is up
  GET  /readyz         the model is loaded and the service accepts requests
  GET  /metrics        Prometheus text format

Requests arriving together are encoded together (micro-batching, up to
--max-batch texts, waiting at most --max-wait for more). With a token
(--token, or the SIMLEARN_API_TOKEN environment variable, which keeps it out
of the process list) /v1/ routes require "Authorization: Bearer <token>".
Once listening, the bound address is printed on standard output as
"listening on http://HOST:PORT" (useful with --addr 127.0.0.1:0). Unless
--threads is given, each worker's ONNX Runtime calls use the number of CPUs
divided by --workers, and a call that starts while no other runs uses all of
them (--idle-threads), so that a lone request is answered sooner; under
concurrent load (calls overlapping in the last 200 ms) every call keeps to
its share.

MODEL is a servable directory (written by fit) or an encoder directory
(model.onnx and tokenizer.json) served as the frozen encoder.
`

const serveExamples = `
  simlearn serve models/products
  curl -s localhost:8080/v1/embeddings -d '{"input": ["a red shirt", "blue jeans"]}'

  # all interfaces, a token, larger batches
  SIMLEARN_API_TOKEN=s3cret simlearn serve --addr :8080 --max-batch 128 models/products
`

func runServe(ctx context.Context, e *env, args []string) error {
	enc := defaultEncoder()
	f := newFlagSet("serve", serveSynopsis, serveExamples)
	enc.register(f, false)
	var cfg serve.Config
	f.StringVar(&cfg.Addr, "addr", "127.0.0.1:8080", "listen `address`; port 0 picks a free port")
	f.StringVar(&cfg.ModelName, "name", "", "model `name` reported in responses (default: MODEL's directory name)")
	f.StringVar(&cfg.BearerToken, "token", "", "bearer `token` required on /v1/ routes (default $SIMLEARN_API_TOKEN; empty: no auth)")
	f.Int64Var(&cfg.MaxBodyBytes, "max-body", 4<<20, "largest request body in `bytes` (larger: 413)")
	f.IntVar(&cfg.MaxInputs, "max-inputs", 2048, "most texts per request (more: 400)")
	f.IntVar(&cfg.MaxTextRunes, "max-text", 32768, "most characters per text (longer: 400)")
	f.IntVar(&cfg.MaxBatch, "max-batch", 64, "most texts encoded in one model call")
	f.DurationVar(&cfg.MaxWait, "max-wait", 2*time.Millisecond, "longest wait for more texts while requests arrive (negative: never wait)")
	f.IntVar(&cfg.Workers, "workers", 2, "model calls running at the same time")
	f.IntVar(&enc.IdleThreads, "idle-threads", -1, "ONNX Runtime `threads` of a second session for model calls that start while no other runs, unless calls overlapped in the last 200 ms (default: the number of CPUs when --threads leaves some unused; 0: none)")
	f.IntVar(&cfg.QueueSize, "queue", 1024, "request parts that may wait for a batch")
	f.BoolVar(&cfg.NoBatching, "no-batching", false, "encode each request on its own, without micro-batching")
	f.DurationVar(&cfg.RequestTimeout, "timeout", 30*time.Second, "longest time to answer a request (exceeded: 504)")
	f.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "longest wait for requests in flight at shutdown")
	pos, err := f.parse(e, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, "MODEL"); err != nil {
		return err
	}
	if cfg.Workers <= 0 || cfg.MaxBatch <= 0 || cfg.MaxInputs <= 0 || cfg.MaxTextRunes <= 0 || cfg.MaxBodyBytes <= 0 || cfg.QueueSize <= 0 {
		return usagef("--workers, --max-batch, --max-inputs, --max-text, --max-body and --queue must be positive")
	}
	if !f.isSet("token") {
		// Read here, not as the flag's default, which --help would show.
		cfg.BearerToken = os.Getenv("SIMLEARN_API_TOKEN")
	}
	if !f.isSet("threads") {
		// Each worker runs its own model call: share the cores.
		enc.Threads = max(1, runtime.NumCPU()/cfg.Workers)
	}
	if enc.IdleThreads < 0 {
		// A call running alone may use every core.
		enc.IdleThreads = 0
		if enc.Threads < runtime.NumCPU() {
			enc.IdleThreads = runtime.NumCPU()
		}
	}
	if cfg.ModelName == "" {
		cfg.ModelName = filepath.Base(filepath.Clean(pos[0]))
	}
	cfg.Logger = slog.Default()

	m, err := openModel(pos[0], enc, f)
	if err != nil {
		return err
	}
	defer m.Close()
	// Open the ONNX Runtime session before accepting requests, so that the
	// first client does not pay for it and a broken model fails here.
	if _, err := m.Encode(ctx, []any{"warm up"}); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	for _, enc := range m.Encoders() {
		if te, ok := enc.(*onnx.TextEncoder); ok {
			if on, why := te.Packing(); on {
				fmt.Fprintf(e.stdout, "encoder %s: packed runs", te.Name())
			} else {
				fmt.Fprintf(e.stdout, "encoder %s: padded runs (%s)", te.Name(), why)
			}
			fmt.Fprintf(e.stdout, ", %d MiB of model memory in huge pages\n", te.HugePages()>>20)
		}
	}
	srv, err := serve.New(m, cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "listening on http://%s\n", ln.Addr())
	return srv.Serve(ctx, ln)
}
