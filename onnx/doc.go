// Package onnx runs frozen encoders exported to ONNX through ONNX Runtime.
//
// The ONNX Runtime shared library is found through $SIMLEARN_ORT_LIB or the
// cache directory scripts/setup fills ($SIMLEARN_HOME, by default
// ~/.cache/simlearn); the library is checked (architecture, version >= 1.24)
// before it is loaded, once per process. Building needs libtokenizers.a on the
// linker path: `eval "$(scripts/env)"` sets CGO_LDFLAGS (the Makefile does it).
//
// TextEncoder embeds text the way sentence-transformers does: Hugging Face
// tokenizer (truncate at 256 tokens, pad each batch to its longest text),
// model, mean/cls/max pooling, L2 normalisation. With all-MiniLM-L6-v2 it
// reproduces sentence-transformers' token ids exactly and its vectors to a
// cosine of at least 0.9999:
//
//	enc, err := onnx.NewTextEncoder() // all-MiniLM-L6-v2 from the cache directory
//	if err != nil {
//		return err
//	}
//	defer enc.Close()
//	vecs, err := enc.Encode(ctx, []any{"A man is playing a guitar.", "Someone plays music."})
//
// Encode sorts texts by length and plans its model runs by cost: texts of
// similar lengths share a padded run, and a mix of lengths, the usual
// micro-batch of a server, is packed, laid end to end in a few rows with each
// text attending only to itself (WithPacking; packed and padded vectors agree
// to float32 rounding).
//
// TextEncoder satisfies models.Encoder without importing it.
package onnx
