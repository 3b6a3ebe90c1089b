// Package models holds the Encoder interface and SimilarityModel: encoders
// whose outputs are concatenated and fed to a trained head, with Encode for
// inference and Save/Load for the servable directory format.
//
// A servable directory holds
//
//	simlearn.json          format version, encoders (kind, config, sha256 of
//	                       their files), head kind and config, dimensions,
//	                       the simlearn version that wrote it
//	head.safetensors       the head's weights, named as in GOLDEN.md
//	encoders/<name>/       each encoder's files, e.g. model.onnx,
//	                       tokenizer.json and encoder.json
//
// Load verifies every checksum and names the file that does not match; Save
// writes a new directory beside the target and swaps it in atomically.
// Encoders are rebuilt by kind through a registry (RegisterEncoder), so that
// loading needs no training code.
//
// Typical use:
//
//	m, err := models.Load("servable/")
//	if err != nil { ... }
//	defer m.Close()
//	vecs, err := m.Encode(ctx, []any{"a sentence", "another one"})
package models
