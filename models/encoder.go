package models

import "context"

// Encoder turns objects into fixed-size vectors. Frozen encoders (ONNX models)
// are cached by their Fingerprint; trainable encoders are never cached.
type Encoder interface {
	// Name is a stable key for the encoder, e.g. "description".
	Name() string
	// Dim is the length of every vector Encode returns.
	Dim() int
	// Trainable reports whether the encoder has parameters updated by training.
	Trainable() bool
	// Fingerprint changes whenever the output for the same object could change
	// (weights, tokenizer, pooling, normalisation, max length, field).
	Fingerprint() string
	// Encode returns one vector per object, in input order.
	Encode(ctx context.Context, objs []any) ([][]float32, error)
}
