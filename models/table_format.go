package models

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/simlearn/simlearn/head"
)

// KindEmbeddingTable is the servable kind of an EmbeddingTable.
const KindEmbeddingTable = "embedding_table"

// tableWeightsFile holds an EmbeddingTable's rows inside its encoder directory.
const tableWeightsFile = "weights.safetensors"

// tableConfig is the stored configuration of an EmbeddingTable.
type tableConfig struct {
	Categories []string `json:"categories"`
	Dim        int      `json:"dim"`
	Field      string   `json:"field,omitempty"`
}

func init() {
	RegisterEncoder(EncoderFormat{
		Kind:    KindEmbeddingTable,
		Handles: func(e Encoder) bool { _, ok := e.(*EmbeddingTable); return ok },
		Save:    saveTable,
		Load:    loadTable,
	})
}

func saveTable(e Encoder, dir string) (any, error) {
	t := e.(*EmbeddingTable)
	var buf bytes.Buffer
	if err := head.WriteSafetensors(&buf, t.Params(), head.F32, map[string]string{"format": "pt"}); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, tableWeightsFile), buf.Bytes(), 0o644); err != nil {
		return nil, err
	}
	return tableConfig{Categories: t.cfg.Categories, Dim: t.cfg.Dim, Field: t.cfg.Field}, nil
}

func loadTable(dir string, raw json.RawMessage, _ Runtime) (Encoder, error) {
	var c tableConfig
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	t, err := NewEmbeddingTable(EmbeddingTableConfig{Name: filepath.Base(dir), Categories: c.Categories, Dim: c.Dim, Field: c.Field})
	if err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(dir, tableWeightsFile))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := head.ReadSafetensors(f, t.Params()); err != nil {
		return nil, fmt.Errorf("%s: %w", tableWeightsFile, err)
	}
	return t, nil
}
