// Command simserve serves embeddings with package serve for benchmarks:
// either a servable directory, or a base ONNX model directory (model.onnx
// and tokenizer.json) with mean pooling, normalisation and an empty head,
// which computes what sentence-transformers (and hugot's feature-extraction
// pipeline with normalisation) compute.
//
//	simserve -model ~/.cache/simlearn/models/all-MiniLM-L6-v2 -addr 127.0.0.1:8081
//	simserve -servable path/to/servable
//
// The user-facing server is `simlearn serve`; this program exists so that
// scripts/bench-serve can tune the batching from flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/simlearn/simlearn/head"
	"github.com/simlearn/simlearn/models"
	"github.com/simlearn/simlearn/onnx"
	"github.com/simlearn/simlearn/serve"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "simserve:", err)
		os.Exit(1)
	}
}

func run() error {
	modelDir := flag.String("model", "", "base model directory (model.onnx, tokenizer.json)")
	servable := flag.String("servable", "", "servable directory (instead of -model)")
	addr := flag.String("addr", "127.0.0.1:8081", "listen address")
	maxBatch := flag.Int("max-batch", 32, "most texts per model call")
	maxWait := flag.Duration("max-wait", 2*time.Millisecond, "longest wait for more texts while requests arrive")
	workers := flag.Int("workers", 2, "model calls running at the same time")
	threads := flag.Int("threads", 1, "ONNX Runtime intra-op threads per call")
	encBatch := flag.Int("encoder-batch", onnx.DefaultBatchSize, "most texts per ONNX Runtime run (a model call is split into runs of similar lengths)")
	encWorkers := flag.Int("encoder-workers", 1, "ONNX Runtime runs at once within one model call")
	packing := flag.Bool("packing", true, "pack texts of different lengths into one sequence where cheaper than padding")
	idleThreads := flag.Int("idle-threads", runtime.NumCPU(), "threads of a second session for model calls that start alone (0: none)")
	quiet := flag.Bool("quiet", true, "log warnings only (no access log)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the serving to this file on shutdown")
	flag.Parse()

	level := slog.LevelInfo
	if *quiet {
		level = slog.LevelWarn
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	rt := models.Runtime{Threads: *threads, BatchSize: *encBatch, Workers: *encWorkers, NoPacking: !*packing, IdleThreads: *idleThreads}
	var m *models.SimilarityModel
	var err error
	switch {
	case *servable != "" && *modelDir != "":
		return errors.New("give -model or -servable, not both")
	case *servable != "":
		m, err = models.Load(*servable, models.WithRuntime(rt))
	default:
		m, err = baseModel(*modelDir, rt)
	}
	if err != nil {
		return err
	}
	defer m.Close()
	// Open the ONNX Runtime session before reporting ready.
	if _, err := m.Encode(context.Background(), []any{"warm up"}); err != nil {
		return err
	}
	srv, err := serve.New(m, serve.Config{
		Addr: *addr, ModelName: "simlearn", MaxBatch: *maxBatch, MaxWait: *maxWait, Workers: *workers, Logger: logger,
	})
	if err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return srv.ListenAndServe(ctx)
}

func baseModel(dir string, rt models.Runtime) (*models.SimilarityModel, error) {
	opts := models.TextOptions(rt)
	if dir != "" {
		opts = append(opts, onnx.WithModelDir(dir))
	}
	enc, err := onnx.NewTextEncoder(opts...)
	if err != nil {
		return nil, err
	}
	h, err := head.New(head.Config{Kind: head.KindEmpty}, enc.Dim(), 0)
	if err != nil {
		return nil, err
	}
	return models.New([]models.Encoder{enc}, h)
}
