package head

import (
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
)

// dropout zeroes each element with probability p in training and scales the
// others by 1/(1-p); it is the identity otherwise.
type dropout struct {
	p    float64
	rng  *rand.Rand
	on   bool      // the last forward applied a mask
	mask []float64 // 0 or 1/(1-p) per element, row-major
	out  *mat.Dense
}

// forward returns x, or a masked copy of it in training when p > 0.
func (d *dropout) forward(x *mat.Dense, train bool) *mat.Dense {
	d.on = train && d.p > 0
	if !d.on {
		return x
	}
	r, c := x.Dims()
	d.out = resize(d.out, r, c)
	if cap(d.mask) < r*c {
		d.mask = make([]float64, r*c)
	}
	d.mask = d.mask[:r*c]
	scale := 1 / (1 - d.p)
	for k := range d.mask {
		if d.rng.Float64() < d.p {
			d.mask[k] = 0
		} else {
			d.mask[k] = scale
		}
	}
	rows(x, func(i int, xr []float64) {
		or, m := row(d.out, i), d.mask[i*c:(i+1)*c]
		for j, v := range xr {
			or[j] = v * m[j]
		}
	})
	return d.out
}

// backward multiplies dx in place by the last mask, if one was applied.
func (d *dropout) backward(dx *mat.Dense) {
	if !d.on {
		return
	}
	_, c := dx.Dims()
	rows(dx, func(i int, r []float64) {
		m := d.mask[i*c : (i+1)*c]
		for j := range r {
			r[j] *= m[j]
		}
	})
}
