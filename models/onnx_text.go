package models

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/simlearn/simlearn/onnx"
)

// KindONNXText is the servable kind of an onnx.TextEncoder.
const KindONNXText = "onnx_text"

// Files of an onnx_text encoder directory.
const (
	ONNXModelFile     = "model.onnx"
	ONNXTokenizerFile = "tokenizer.json"
)

func init() {
	RegisterEncoder(EncoderFormat{
		Kind:    KindONNXText,
		Handles: func(e Encoder) bool { _, ok := e.(*onnx.TextEncoder); return ok },
		Save:    saveONNXText,
		Load:    loadONNXText,
	})
}

// saveONNXText copies the encoder's model.onnx and tokenizer.json; its
// configuration is the onnx.TextConfig (max length, pooling, normalize,
// field).
func saveONNXText(e Encoder, dir string) (any, error) {
	t := e.(*onnx.TextEncoder)
	src := filepath.Dir(t.ModelPath())
	for _, f := range []struct{ from, to string }{
		{t.ModelPath(), ONNXModelFile},
		{filepath.Join(src, ONNXTokenizerFile), ONNXTokenizerFile},
	} {
		if err := copyFile(f.from, filepath.Join(dir, f.to)); err != nil {
			return nil, err
		}
	}
	return t.Config(), nil
}

func loadONNXText(dir string, raw json.RawMessage, rt Runtime) (Encoder, error) {
	var cfg onnx.TextConfig
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	opts := []onnx.TextOption{onnx.WithModelDir(dir), onnx.WithName(filepath.Base(dir)), onnx.WithConfig(cfg)}
	return onnx.NewTextEncoder(append(opts, TextOptions(rt)...)...)
}

// TextOptions returns the onnx.TextEncoder options that apply rt (none for
// its zero fields), for programs that build text encoders themselves.
func TextOptions(rt Runtime) []onnx.TextOption {
	var opts []onnx.TextOption
	if rt.Threads > 0 {
		opts = append(opts, onnx.WithThreads(rt.Threads))
	}
	if rt.BatchSize > 0 {
		opts = append(opts, onnx.WithBatchSize(rt.BatchSize))
	}
	if rt.Workers > 0 {
		opts = append(opts, onnx.WithWorkers(rt.Workers))
	}
	if rt.Library != "" {
		opts = append(opts, onnx.WithLibrary(rt.Library))
	}
	if rt.NoPacking {
		opts = append(opts, onnx.WithPacking(false))
	}
	if rt.IdleThreads > 0 {
		opts = append(opts, onnx.WithIdleThreads(rt.IdleThreads))
	}
	return opts
}

// copyFile copies src to dst (a new file).
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copying %s: %w", src, err)
	}
	return out.Close()
}
