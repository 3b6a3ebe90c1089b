package loss_test

import (
	"encoding/json"
	"fmt"

	"gonum.org/v1/gonum/mat"

	"github.com/simlearn/simlearn/loss"
)

func ExampleDistance_Matrix() {
	x := mat.NewDense(2, 2, []float64{1, 0, 0, 2})
	y := mat.NewDense(1, 2, []float64{3, 4})
	for _, d := range []loss.Distance{loss.Cosine, loss.Euclidean, loss.Manhattan, loss.Dot} {
		m, _ := d.Matrix(x, y)
		fmt.Printf("%-9s %.2f %.2f\n", d, m.At(0, 0), m.At(1, 0))
	}
	// Output:
	// cosine    0.40 0.20
	// euclidean 4.47 3.61
	// manhattan 6.00 5.00
	// dot       -3.00 -8.00
}

// Batch-hard triplet loss: each anchor's farthest positive against its
// nearest negative.
func ExampleTriplet() {
	e := mat.NewDense(4, 2, []float64{
		1, 0, // group 0
		0.8, 0.6, // group 0
		0, 1, // group 1
		0.6, 0.8, // group 1
	})
	t := loss.NewTriplet()
	t.Distance = loss.Euclidean
	v, grad, err := t.Loss(e, []int{0, 0, 1, 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	r, c := grad.Dims()
	fmt.Printf("loss %.4f, gradient %dx%d\n", v, r, c)
	// Output:
	// loss 0.5438, gradient 4x2
}

// Losses can be built by name from configuration.
func ExampleNewPair() {
	l, err := loss.NewPair(loss.Spec{Name: "multiple_negatives_ranking", Params: json.RawMessage(`{"scale": 20, "symmetric": true}`)})
	if err != nil {
		fmt.Println(err)
		return
	}
	a := mat.NewDense(2, 2, []float64{1, 0, 0, 1})
	b := mat.NewDense(2, 2, []float64{1, 0.1, 0.1, 1})
	v, _, _, err := l.Loss(a, b, []float64{1, 1}, nil)
	fmt.Printf("%.6f %v\n", v, err)
	// Output:
	// 0.000000 <nil>
}
