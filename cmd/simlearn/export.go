package main

import (
	"context"
	"fmt"

	"github.com/simlearn/simlearn/onnx"
	"github.com/simlearn/simlearn/onnx/export"
)

const exportSynopsis = `
Usage: simlearn export [flags] MODEL OUT.onnx

Writes MODEL as one ONNX file: the encoder's transformer graph, the pooling,
the L2 normalisation and the trained head, with the tokenizer's input_ids,
attention_mask and token_type_ids as inputs and one output,
sentence_embedding [batch, dim]. Any ONNX Runtime (Python, JavaScript, Java,
C#) runs it; tokenise with the model's tokenizer.json (in the servable's
encoders/<name>/ directory), truncating at its max_length.

MODEL is a servable directory (written by fit) or an encoder directory
(model.onnx and tokenizer.json), exported with the --pooling, --max-length
and --normalize settings. A servable of several text encoders exports as one
graph whose inputs carry each encoder's name ("title/input_ids", ...), each
fed that encoder's tokenisation of its own text; their outputs are
concatenated before the head. OUT.onnx is written completely or not at all.
`

const exportExamples = `
  simlearn export models/products products.onnx

  # in Python:
  #   import onnxruntime as ort
  #   s = ort.InferenceSession("products.onnx")
  #   (vectors,) = s.run(None, {"input_ids": ..., "attention_mask": ..., "token_type_ids": ...})
`

func runExport(ctx context.Context, e *env, args []string) error {
	enc := defaultEncoder()
	f := newFlagSet("export", exportSynopsis, exportExamples)
	enc.register(f, false)
	pos, err := f.parse(e, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, "MODEL", "OUT.onnx"); err != nil {
		return err
	}
	m, err := openModel(pos[0], enc, f)
	if err != nil {
		return err
	}
	defer m.Close()
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := export.File(m, pos[1]); err != nil {
		return err
	}
	info, err := onnx.ReadModelInfo(pos[1])
	if err != nil {
		return fmt.Errorf("reading back %s: %w", pos[1], err)
	}
	fmt.Fprintf(e.stdout, "wrote %s (sha256 %s)\n", pos[1], info.SHA256)
	for _, v := range info.Inputs {
		fmt.Fprintf(e.stdout, "  input  %s\n", v)
	}
	for _, v := range info.Outputs {
		fmt.Fprintf(e.stdout, "  output %s\n", v)
	}
	return nil
}
