package onnx_test

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/simlearn/simlearn/onnx"
)

// benchEnv reads a positive integer from the environment.
func benchEnv(b *testing.B, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return n
}

// stsbSentences returns the distinct sentences of all three STS Benchmark
// splits, in order of first appearance.
func stsbSentences(b *testing.B) []string {
	seen := map[string]bool{}
	var texts []string
	for _, split := range []string{"test", "dev", "train"} { // the Python peers' order
		for _, p := range readSTSB(b, split) {
			for _, s := range []string{p.s1, p.s2} {
				if !seen[s] {
					seen[s] = true
					texts = append(texts, s)
				}
			}
		}
	}
	return texts
}

// BenchmarkEncodeSTSB encodes every distinct STS Benchmark sentence (all
// three splits) per iteration with all-MiniLM-L6-v2: tokenising, length-sorted
// batches, inference, pooling, normalisation. SIMLEARN_BENCH_BATCH (default
// 32), SIMLEARN_BENCH_THREADS (default 1) and SIMLEARN_BENCH_WORKERS
// (default 1) set the batch size, ONNX Runtime's intra-op threads and the
// number of batches run at once. Run it with
//
//	make bench   # or: go test ./onnx -run '^$' -bench EncodeSTSB -benchtime 3x
func BenchmarkEncodeSTSB(b *testing.B) {
	batch := benchEnv(b, "SIMLEARN_BENCH_BATCH", onnx.DefaultBatchSize)
	threads := benchEnv(b, "SIMLEARN_BENCH_THREADS", onnx.DefaultThreads)
	workers := benchEnv(b, "SIMLEARN_BENCH_WORKERS", onnx.DefaultWorkers)
	texts := stsbSentences(b)
	enc := newEncoder(b, onnx.WithBatchSize(batch), onnx.WithThreads(threads), onnx.WithWorkers(workers))
	// Open the session and warm up outside the timing, as the Python peers of
	// scripts/bench do: every 16th sentence, which spans all lengths and so
	// all batch shapes.
	var warm []string
	for i := 0; i < len(texts); i += 16 {
		warm = append(warm, texts[i])
	}
	encodeTexts(b, enc, warm)
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		encodeTexts(b, enc, texts)
	}
	b.ReportMetric(float64(len(texts)*b.N)/time.Since(start).Seconds(), "sentences/s")
	b.ReportMetric(float64(len(texts)), "sentences/op")
}

// BenchmarkTokenizeSTSB isolates tokenisation of the same sentences.
func BenchmarkTokenizeSTSB(b *testing.B) {
	texts := stsbSentences(b)
	enc := newEncoder(b)
	start := time.Now()
	for b.Loop() {
		if _, err := enc.Tokenize(b.Context(), texts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(texts)*b.N)/time.Since(start).Seconds(), "sentences/s")
}
