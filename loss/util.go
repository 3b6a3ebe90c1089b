package loss

import (
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/simlearn/simlearn/internal/par"
)

// resize returns m reshaped to r×c, reusing its storage when it is large
// enough. The content is unspecified unless the shape changed (then zero).
func resize(m *mat.Dense, r, c int) *mat.Dense {
	if m == nil {
		return mat.NewDense(r, c, nil)
	}
	if rr, cc := m.Dims(); rr == r && cc == c {
		return m
	}
	m.Reset()
	m.ReuseAs(r, c)
	return m
}

// zeroed is resize followed by setting every element to zero.
func zeroed(m *mat.Dense, r, c int) *mat.Dense {
	m = resize(m, r, c)
	par.Clear(m)
	return m
}

// grow returns s with length n, reusing its storage when it is large enough.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// growZero is grow with every element set to the zero value.
func growZero[T any](s []T, n int) []T {
	s = grow(s, n)
	clear(s)
	return s
}

// rows calls f with each row of m as a slice of its backing data.
func rows(m *mat.Dense, f func(i int, row []float64)) {
	raw := m.RawMatrix()
	for i := 0; i < raw.Rows; i++ {
		f(i, raw.Data[i*raw.Stride:i*raw.Stride+raw.Cols])
	}
}

// prows is rows split over par's team; f may write only row i's outputs.
func prows(m *mat.Dense, f func(i int, row []float64)) {
	raw := m.RawMatrix()
	par.For(raw.Rows, 4096/max(raw.Cols, 1), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			f(i, raw.Data[i*raw.Stride:i*raw.Stride+raw.Cols])
		}
	})
}

// row returns row i of m as a slice of its backing data.
func row(m *mat.Dense, i int) []float64 {
	raw := m.RawMatrix()
	return raw.Data[i*raw.Stride : i*raw.Stride+raw.Cols]
}

// scale multiplies every element of m by s in place (mat.Dense.Scale with
// an aliased receiver would allocate a workspace).
func scale(m *mat.Dense, s float64) {
	rows(m, func(_ int, r []float64) { floats.Scale(s, r) })
}
