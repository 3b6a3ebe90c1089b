package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/simlearn/simlearn/head"
	"github.com/simlearn/simlearn/models"
	"github.com/simlearn/simlearn/onnx"
)

// isServable reports whether dir holds a servable model (simlearn.json).
func isServable(dir string) (bool, error) {
	if _, err := os.Stat(filepath.Join(dir, models.ManifestFile)); err == nil {
		return true, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	if _, err := os.Stat(filepath.Join(dir, models.ONNXModelFile)); err == nil {
		return false, nil
	}
	if _, err := os.Stat(dir); err != nil {
		return false, fmt.Errorf("model: %w", err)
	}
	return false, fmt.Errorf("model %s: neither a servable directory (%s) nor an encoder directory (%s, %s)",
		dir, models.ManifestFile, models.ONNXModelFile, models.ONNXTokenizerFile)
}

// openModel loads the model at dir: a servable directory as it was saved,
// or an encoder directory (model.onnx and tokenizer.json) configured by enc
// under an empty head, so that it embeds as the frozen encoder does. The
// encoder flags that change the output apply to encoder directories only:
// given with a servable they are a usage error.
func openModel(dir string, enc encoderConfig, f *flagSet) (*models.SimilarityModel, error) {
	servable, err := isServable(dir)
	if err != nil {
		return nil, err
	}
	if servable {
		for _, name := range encoderOutputFlags {
			if f.isSet(name) {
				return nil, usagef("--%s applies to an encoder directory; the servable %s records its own settings", name, dir)
			}
		}
		return models.Load(dir, models.WithRuntime(models.Runtime{Threads: enc.Threads, BatchSize: enc.BatchSize, IdleThreads: enc.IdleThreads}))
	}
	enc.Model = dir
	return rawModel(enc)
}

// rawModel wraps the encoder enc configures in a model with an empty head.
func rawModel(enc encoderConfig) (*models.SimilarityModel, error) {
	e, err := onnx.NewTextEncoder(enc.options()...)
	if err != nil {
		return nil, err
	}
	h, err := head.New(head.Config{Kind: head.KindEmpty}, e.Dim(), 0)
	if err != nil {
		e.Close()
		return nil, err
	}
	m, err := models.New([]models.Encoder{e}, h)
	if err != nil {
		e.Close()
		return nil, err
	}
	return m, nil
}
