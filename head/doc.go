// Package head holds the trainable heads of simlearn: small layers applied to
// frozen encoder embeddings, with hand-written gradients on gonum matrices.
//
// Every head of the SPEC (empty, linear, gated, skip_connection,
// softmax_embeddings, stacked_projection, widening, sequential) is built from
// a JSON-serialisable Config by New, with a seeded initialisation:
//
//	h, err := head.New(head.Config{Kind: head.KindSkipConnection, NLayers: 1}, 384, seed)
//	y := h.Forward(x, true)      // x [B, 384]
//	dx := h.Backward(dy)         // accumulates into each Param's Grad
//	head.BackwardParams(h, dy)   // the same without dL/dx (frozen inputs)
//
// Parameters carry PyTorch-like names ("fc_0.weight", "gates_0", ...), which
// are also their names in the safetensors files written by SaveFile.
//
// Float64 products go through gonum's blas64; float32 ones (Float32
// precision, the training default) through an AVX2/FMA kernel of this
// module's own. Building with the openblas tag (see blas_openblas.go) hands
// both to OpenBLAS.
package head
