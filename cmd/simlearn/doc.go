// Command simlearn fine-tunes similarity heads on frozen encoders, evaluates
// and serves the result, without writing Go.
//
// Usage:
//
//	simlearn fit [flags] --train FILE [--val FILE] --out DIR   train and save a servable model
//	simlearn eval [flags] MODEL DATA [--compare OTHER]          print the metrics table
//	simlearn embed [flags] MODEL < in.jsonl > out.jsonl          add vectors to JSONL records
//	simlearn serve [flags] MODEL                                 OpenAI-compatible HTTP service
//	simlearn export [flags] MODEL OUT.onnx                       one ONNX file: encoder, pooling, head
//	simlearn cache stats|verify|rm [FINGERPRINT]                 inspect the embedding cache
//
// MODEL is a servable directory written by fit (or models.SimilarityModel.Save)
// or an encoder directory holding model.onnx and tokenizer.json, used as the
// frozen encoder under an empty head. Each command prints its flags and
// examples with --help.
//
// A typical session:
//
//	simlearn fit --train train.jsonl --val val.jsonl --obj description --group label --out model
//	simlearn eval model test.jsonl --obj description --compare ~/.cache/simlearn/models/all-MiniLM-L6-v2
//	simlearn serve model
//
// Errors are printed on standard error as "simlearn <command>: <error>".
// Exit codes: 0 success, 1 runtime failure, 2 usage error, and 128 plus the
// signal number (130 for SIGINT, 143 for SIGTERM) when a command is
// interrupted; fit then writes a checkpoint that --resume continues from.
// serve treats SIGINT and SIGTERM as the normal end: it shuts down gracefully
// and exits 0. Progress bars are drawn only when standard error is a
// terminal; logs go to standard error (--log-level).
package main
