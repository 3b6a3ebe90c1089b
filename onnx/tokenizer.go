package onnx

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/daulet/tokenizers"
)

// Tokenizer turns text into the token ids a model takes. Implementations
// must be safe for concurrent use.
type Tokenizer interface {
	// Encode returns the ids of text with the special tokens the tokenizer
	// adds ([CLS] ... [SEP] for BERT), truncated to the maximum length the
	// tokenizer was built with. text is valid UTF-8.
	Encode(text string) ([]uint32, error)
	// Close releases the tokenizer.
	Close() error
}

// NewTokenizerFunc builds a Tokenizer from the bytes of a Hugging Face
// tokenizer.json, truncating at maxLength tokens (special tokens included)
// and never padding: the encoder pads each batch itself.
type NewTokenizerFunc func(tokenizerJSON []byte, maxLength int) (Tokenizer, error)

// HFTokenizer is the Rust Hugging Face tokenizers library, through
// github.com/daulet/tokenizers (linked from libtokenizers.a, which
// scripts/setup builds).
type HFTokenizer struct {
	tk *tokenizers.Tokenizer
}

// NewHFTokenizer loads a tokenizer.json, replacing its truncation and padding
// settings the way sentence-transformers does: truncate (longest first, from
// the right) at maxLength, pad nothing.
func NewHFTokenizer(tokenizerJSON []byte, maxLength int) (*HFTokenizer, error) {
	if maxLength < 2 {
		return nil, fmt.Errorf("tokenizer: max length %d is too small", maxLength)
	}
	cfg, err := withTruncation(tokenizerJSON, maxLength)
	if err != nil {
		return nil, err
	}
	tk, err := tokenizers.FromBytes(cfg)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	return &HFTokenizer{tk: tk}, nil
}

// withTruncation rewrites the "truncation" and "padding" members of a
// tokenizer.json, leaving everything else byte for byte.
func withTruncation(tokenizerJSON []byte, maxLength int) ([]byte, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(tokenizerJSON, &top); err != nil {
		return nil, fmt.Errorf("tokenizer.json: %w", err)
	}
	if _, ok := top["model"]; !ok {
		return nil, errors.New("tokenizer.json has no \"model\": not a Hugging Face tokenizer file")
	}
	top["truncation"] = json.RawMessage(fmt.Sprintf(
		`{"direction":"Right","max_length":%d,"strategy":"LongestFirst","stride":0}`, maxLength))
	top["padding"] = json.RawMessage("null")
	return json.Marshal(top)
}

// Encode implements Tokenizer. The C interface of the library takes
// NUL-terminated strings, so NUL bytes are removed first; BERT's normaliser
// removes them anyway.
func (t *HFTokenizer) Encode(text string) ([]uint32, error) {
	if strings.IndexByte(text, 0) >= 0 {
		text = strings.ReplaceAll(text, "\x00", "")
	}
	enc := t.tk.EncodeWithOptions(text, true)
	if len(enc.IDs) == 0 {
		return nil, errors.New("tokenizer returned no tokens")
	}
	return enc.IDs, nil
}

// Close implements Tokenizer.
func (t *HFTokenizer) Close() error {
	if t.tk == nil {
		return nil
	}
	err := t.tk.Close()
	t.tk = nil
	return err
}
