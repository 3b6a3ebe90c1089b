package head_test

import (
	"fmt"

	"gonum.org/v1/gonum/mat"

	"github.com/simlearn/simlearn/head"
)

// A fresh SkipConnection head is close to the identity: its gates start at
// -4, so each residual branch is scaled by sigmoid(-4) ≈ 0.018.
func ExampleNew() {
	h, err := head.New(head.Config{Kind: head.KindSkipConnection}, 4, 7)
	if err != nil {
		fmt.Println(err)
		return
	}
	x := mat.NewDense(1, 4, []float64{1, 0, 0, 0})
	y := h.Forward(x, false)
	fmt.Printf("out %d, y[0][0] ≈ %.1f\n", h.OutDim(), y.At(0, 0))
	for _, p := range h.Params() {
		fmt.Println(p.Name, p.Shape())
	}
	// Output:
	// out 4, y[0][0] ≈ 1.0
	// fc_0.weight [4 4]
	// fc_0.bias [4]
	// gates_0 [4]
}

// One training step: forward, a gradient from a loss, backward.
func ExampleHead_backward() {
	h, _ := head.New(head.Config{Kind: head.KindLinear, Out: 2}, 3, 1)
	x := mat.NewDense(2, 3, []float64{1, 2, 3, 4, 5, 6})
	h.Forward(x, true)
	dy := mat.NewDense(2, 2, []float64{1, 0, 0, 1}) // dL/dy
	head.ZeroGrad(h.Params())
	head.BackwardParams(h, dy)
	fmt.Println(mat.Formatted(h.Params()[0].Grad)) // dL/dW = dy^T x
	// Output:
	// ⎡1  2  3⎤
	// ⎣4  5  6⎦
}
