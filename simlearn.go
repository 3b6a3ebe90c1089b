// Package simlearn is similarity learning for Go: fine-tune small trainable
// heads on top of frozen pretrained encoders.
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
