package head

import "gonum.org/v1/gonum/mat"

// Param is one named trainable tensor of a head (or of a loss with learnable
// weights). Value and Grad have the same shape; Backward accumulates into Grad.
type Param struct {
	Name  string
	Value *mat.Dense
	Grad  *mat.Dense
}

// Head is a trainable layer applied to the concatenated encoder output.
type Head interface {
	InDim() int
	OutDim() int
	// Forward maps x [B, InDim] to y [B, OutDim]. With train set, dropout is
	// active and the head keeps what Backward needs.
	Forward(x *mat.Dense, train bool) *mat.Dense
	// Backward takes dL/dy and returns dL/dx, accumulating parameter gradients.
	Backward(dy *mat.Dense) *mat.Dense
	// Params lists the trainable parameters with their saved names.
	Params() []*Param
}
