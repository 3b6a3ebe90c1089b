package eval

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// ErrConstant is returned (wrapped) by Pearson and Spearman when one of the
// inputs has zero variance, where the correlation is undefined.
var ErrConstant = errors.New("constant input: correlation undefined")

// Pearson returns the Pearson correlation of x and y, computed in float64
// with centred sums.
func Pearson(x, y []float64) (float64, error) {
	if err := checkPaired(x, y); err != nil {
		return 0, err
	}
	mx, my := mean(x), mean(y)
	var sxy, sxx, syy float64
	for i := range x {
		dx, dy := x[i]-mx, y[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return 0, fmt.Errorf("eval: pearson: %w", ErrConstant)
	}
	return max(-1, min(1, sxy/math.Sqrt(sxx*syy))), nil
}

// Spearman returns the Spearman rank correlation of x and y: the Pearson
// correlation of their ranks, where tied values share their average rank.
func Spearman(x, y []float64) (float64, error) {
	if err := checkPaired(x, y); err != nil {
		return 0, err
	}
	v, err := Pearson(averageRanks(x), averageRanks(y))
	if err != nil {
		return 0, fmt.Errorf("eval: spearman: %w", ErrConstant)
	}
	return v, nil
}

func checkPaired(x, y []float64) error {
	if len(x) != len(y) {
		return fmt.Errorf("eval: correlation of %d values with %d values", len(x), len(y))
	}
	if len(x) < 2 {
		return fmt.Errorf("eval: correlation needs at least 2 values, got %d", len(x))
	}
	for i := range x {
		if math.IsNaN(x[i]) || math.IsInf(x[i], 0) || math.IsNaN(y[i]) || math.IsInf(y[i], 0) {
			return fmt.Errorf("eval: correlation: value %d is not finite (x=%v, y=%v)", i, x[i], y[i])
		}
	}
	return nil
}

func mean(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

// averageRanks returns the 1-based ranks of x, ties getting the mean of the
// ranks they span.
func averageRanks(x []float64) []float64 {
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case x[a] < x[b]:
			return -1
		case x[a] > x[b]:
			return 1
		}
		return 0
	})
	r := make([]float64, len(x))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && x[idx[j+1]] == x[idx[i]] {
			j++
		}
		avg := float64(i+j)/2 + 1
		for t := i; t <= j; t++ {
			r[idx[t]] = avg
		}
		i = j + 1
	}
	return r
}
