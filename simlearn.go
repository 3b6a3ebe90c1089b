// Package simlearn is similarity learning for Go: fine-tune small trainable
// heads on top of frozen pretrained encoders.
//
// This package holds the shared vocabulary: PairSample and GroupSample, the
// Labels that turn string labels into group ids without collisions, and
// readers for JSONL and CSV/TSV sample files that report the file, line and
// field of every problem:
//
//	labels := &simlearn.Labels{}
//	train, err := simlearn.ReadGroupsFile("train.jsonl",
//		simlearn.GroupFields{Obj: "description", Group: "label", Labels: labels},
//		simlearn.CSVOptions{})
//
// The sub-packages do the rest: head (trainable heads), loss (losses),
// fit (the training loop), eval (metrics), onnx and models (encoders),
// cache (the embedding store) and serve (the HTTP service).
package simlearn

// PairSample is two objects with a similarity score in [0,1] and an optional
// subgroup (0 means none).
type PairSample struct {
	A, B     any
	Score    float64
	Subgroup int
}

// GroupSample is one object with the id of the group it belongs to.
type GroupSample struct {
	Obj   any
	Group int
}
