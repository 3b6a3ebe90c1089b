//go:build ORT

// Command hugotpeer serves github.com/knights-analytics/hugot's
// feature-extraction pipeline (ONNX Runtime backend) behind the same
// OpenAI-compatible handler as simlearn (package serve, with micro-batching
// off: each request is one pipeline call, hugot's own way of serving). It is
// the baseline of scripts/bench-serve and lives in its own module so that
// hugot's dependencies never enter simlearn's.
//
//	CGO_LDFLAGS=-L$SIMLEARN_HOME/lib go build -tags ORT -o hugotpeer .
//	hugotpeer -model DIR -ort-dir $SIMLEARN_HOME/lib -addr 127.0.0.1:8082
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/knights-analytics/hugot"
	"github.com/knights-analytics/hugot/options"
	"github.com/knights-analytics/hugot/pipelines"

	"github.com/simlearn/simlearn/serve"
)

// pipelineModel adapts a hugot pipeline to serve.Model.
type pipelineModel struct {
	p   *pipelines.FeatureExtractionPipeline
	dim int
}

func (m *pipelineModel) Dim() int { return m.dim }

func (m *pipelineModel) Encode(_ context.Context, objs []any) ([][]float32, error) {
	texts := make([]string, len(objs))
	for i, o := range objs {
		s, ok := o.(string)
		if !ok {
			return nil, fmt.Errorf("object %d is a %T, not a string", i, o)
		}
		texts[i] = s
	}
	out, err := m.p.RunPipeline(texts)
	if err != nil {
		return nil, err
	}
	return out.Embeddings, nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "hugotpeer:", err)
		os.Exit(1)
	}
}

func run() error {
	modelDir := flag.String("model", "", "directory holding model.onnx and tokenizer.json")
	ortDir := flag.String("ort-dir", "", "directory holding libonnxruntime.so")
	threads := flag.Int("threads", 0, "ONNX Runtime intra-op threads (0: hugot's default)")
	addr := flag.String("addr", "127.0.0.1:8082", "listen address")
	quiet := flag.Bool("quiet", true, "log warnings only (no access log)")
	flag.Parse()
	if *modelDir == "" || *ortDir == "" {
		return errors.New("-model and -ort-dir are required")
	}
	level := slog.LevelInfo
	if *quiet {
		level = slog.LevelWarn
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	opts := []options.WithOption{options.WithOnnxLibraryPath(*ortDir)}
	if *threads > 0 {
		opts = append(opts, options.WithIntraOpNumThreads(*threads))
	}
	session, err := hugot.NewORTSession(opts...)
	if err != nil {
		return fmt.Errorf("ORT session: %w", err)
	}
	defer session.Destroy()
	p, err := hugot.NewPipeline(session, hugot.FeatureExtractionConfig{
		ModelPath: *modelDir,
		Name:      "hugot-feature-extraction",
		Options:   []hugot.FeatureExtractionOption{pipelines.WithNormalization()},
	})
	if err != nil {
		return fmt.Errorf("pipeline: %w", err)
	}
	probe, err := p.RunPipeline([]string{"probe"})
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	m := &pipelineModel{p: p, dim: len(probe.Embeddings[0])}
	srv, err := serve.New(m, serve.Config{Addr: *addr, ModelName: "hugot", NoBatching: true, Logger: logger})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return srv.ListenAndServe(ctx)
}
