package loss

import "gonum.org/v1/gonum/mat"

// GroupLoss scores a batch of embeddings e [B, d] with group ids; it returns
// the loss and dL/de.
type GroupLoss interface {
	Loss(e *mat.Dense, groups []int) (float64, *mat.Dense, error)
}

// PairLoss scores N pairs (a_i, b_i) with scores in [0,1] and subgroups; it
// returns the loss, dL/da and dL/db.
type PairLoss interface {
	Loss(a, b *mat.Dense, scores []float64, subgroups []int) (float64, *mat.Dense, *mat.Dense, error)
}
