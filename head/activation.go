package head

import (
	"fmt"
	"math"
)

// Activation names an element-wise nonlinearity: relu, gelu (erf form),
// tanh, sigmoid, leaky_relu (slope 0.01) or silu.
type Activation string

// The activations of SPEC section 2.
const (
	ReLU      Activation = "relu"
	GELU      Activation = "gelu"
	Tanh      Activation = "tanh"
	Sigmoid   Activation = "sigmoid"
	LeakyReLU Activation = "leaky_relu"
	SiLU      Activation = "silu"
)

// Validate reports whether a names a known activation.
func (a Activation) Validate() error {
	switch a {
	case ReLU, GELU, Tanh, Sigmoid, LeakyReLU, SiLU:
		return nil
	}
	return fmt.Errorf("unknown activation %q (want relu, gelu, tanh, sigmoid, leaky_relu or silu)", string(a))
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// apply writes act(z) into y.
func (a Activation) apply(y, z []float64) {
	switch a {
	case ReLU:
		for k, v := range z {
			y[k] = math.Max(v, 0)
		}
	case GELU:
		for k, v := range z {
			y[k] = 0.5 * v * (1 + math.Erf(v/math.Sqrt2))
		}
	case Tanh:
		for k, v := range z {
			y[k] = math.Tanh(v)
		}
	case Sigmoid:
		for k, v := range z {
			y[k] = sigmoid(v)
		}
	case LeakyReLU:
		for k, v := range z {
			if v < 0 {
				v *= 0.01
			}
			y[k] = v
		}
	case SiLU:
		for k, v := range z {
			y[k] = v * sigmoid(v)
		}
	}
}

// grad writes dy * act'(z) into dz, given y = act(z).
func (a Activation) grad(dz, dy, z, y []float64) {
	switch a {
	case ReLU:
		for k, v := range z {
			if v > 0 {
				dz[k] = dy[k]
			} else {
				dz[k] = 0
			}
		}
	case GELU:
		for k, v := range z {
			cdf := 0.5 * (1 + math.Erf(v/math.Sqrt2))
			pdf := math.Exp(-0.5*v*v) / math.Sqrt(2*math.Pi)
			dz[k] = dy[k] * (cdf + v*pdf)
		}
	case Tanh:
		for k, t := range y {
			dz[k] = dy[k] * (1 - t*t)
		}
	case Sigmoid:
		for k, s := range y {
			dz[k] = dy[k] * s * (1 - s)
		}
	case LeakyReLU:
		for k, v := range z {
			if v > 0 {
				dz[k] = dy[k]
			} else {
				dz[k] = 0.01 * dy[k]
			}
		}
	case SiLU:
		for k, v := range z {
			s := sigmoid(v)
			dz[k] = dy[k] * s * (1 + v*(1-s))
		}
	}
}
