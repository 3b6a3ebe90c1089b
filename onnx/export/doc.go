// Package export writes a servable model as one ONNX file: the encoder's
// transformer graph, the pooling over the attention mask, the L2
// normalisation and the trained head, with a single output
// "sentence_embedding" [batch, dim]. Any ONNX Runtime (Python, JavaScript,
// Java, C#) can run it given the tokenizer's input_ids, attention_mask and
// token_type_ids. A model of several encoders exports as one graph too:
// each encoder keeps its own inputs, prefixed with its name and a slash
// (see InputPrefix), and their outputs are concatenated before the head.
//
// The encoder's model.onnx is parsed with generated ONNX protobuf types
// (github.com/advancedclimatesystems/gonnx/onnx); nodes and initializers are
// appended in Go, using only operators available at the model's opset.
//
//	if err := export.Servable("servable/", "model.onnx"); err != nil { ... }
package export
