package fit

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Dataset is the training or validation data of Fit: a *PairData or a
// *GroupData.
type Dataset interface {
	// Len is the number of samples.
	Len() int
	// Validate reports the first problem that would make training fail.
	Validate() error
	dataset()
}

// PairData is a set of pairs over an embedding matrix: pair i is rows A[i] and
// B[i] of X, with score Scores[i] in [0,1] (nil means every score is 1) and
// subgroup Subgroups[i] (nil means 0, no subgroup).
type PairData struct {
	X         *mat.Dense
	A, B      []int
	Scores    []float64
	Subgroups []int
	// Objects[r] is the object of row r of X, which the trainable
	// encoders (Config.Trainable) encode; required with them, unused
	// otherwise. cache.Matrix.Objects is such a list.
	Objects []any
}

// GroupData is a set of objects with group ids over an embedding matrix:
// sample i is row Rows[i] of X (nil Rows means row i) in group Groups[i].
type GroupData struct {
	X      *mat.Dense
	Rows   []int
	Groups []int
	// Objects[r] is the object of row r of X, which the trainable
	// encoders (Config.Trainable) encode; required with them, unused
	// otherwise. cache.Matrix.Objects is such a list.
	Objects []any
}

func (*PairData) dataset()  {}
func (*GroupData) dataset() {}

// Len is the number of pairs.
func (d *PairData) Len() int { return len(d.A) }

// Len is the number of samples.
func (d *GroupData) Len() int { return len(d.Groups) }

// ErrEmpty is returned for a dataset without samples.
var ErrEmpty = errors.New("empty dataset")

// Validate checks lengths (Objects, when set, has one object per row of X),
// row indices, scores and that every referenced embedding is finite.
func (d *PairData) Validate() error {
	if d == nil || d.X == nil {
		return errors.New("pair data: X is nil")
	}
	n := len(d.A)
	if n == 0 {
		return fmt.Errorf("pair data: %w", ErrEmpty)
	}
	if len(d.B) != n {
		return fmt.Errorf("pair data: %d A rows but %d B rows", n, len(d.B))
	}
	if d.Scores != nil && len(d.Scores) != n {
		return fmt.Errorf("pair data: %d pairs but %d scores", n, len(d.Scores))
	}
	if d.Subgroups != nil && len(d.Subgroups) != n {
		return fmt.Errorf("pair data: %d pairs but %d subgroups", n, len(d.Subgroups))
	}
	rows, _ := d.X.Dims()
	if d.Objects != nil && len(d.Objects) != rows {
		return fmt.Errorf("pair data: %d objects for X's %d rows", len(d.Objects), rows)
	}
	checked := make(map[int]bool)
	for i := range n {
		for side, r := range [2]int{d.A[i], d.B[i]} {
			name := [2]string{"A", "B"}[side]
			if r < 0 || r >= rows {
				return fmt.Errorf("pair data: pair %d: %s row %d outside X's %d rows", i, name, r, rows)
			}
			if !checked[r] {
				checked[r] = true
				if err := finiteRow(d.X, r); err != nil {
					return fmt.Errorf("pair data: pair %d (%s): %w", i, name, err)
				}
			}
		}
		if d.Scores != nil {
			if s := d.Scores[i]; math.IsNaN(s) || s < 0 || s > 1 {
				return fmt.Errorf("pair data: pair %d: score %v, want a number in [0, 1]", i, s)
			}
		}
	}
	return nil
}

// Validate checks lengths (Objects, when set, has one object per row of X),
// row indices, group ids (>= 0) and that every referenced embedding is
// finite.
func (d *GroupData) Validate() error {
	if d == nil || d.X == nil {
		return errors.New("group data: X is nil")
	}
	n := len(d.Groups)
	if n == 0 {
		return fmt.Errorf("group data: %w", ErrEmpty)
	}
	rows, _ := d.X.Dims()
	if d.Rows == nil && n != rows {
		return fmt.Errorf("group data: %d groups for X's %d rows (set Rows to index X)", n, rows)
	}
	if d.Rows != nil && len(d.Rows) != n {
		return fmt.Errorf("group data: %d rows but %d groups", len(d.Rows), n)
	}
	if d.Objects != nil && len(d.Objects) != rows {
		return fmt.Errorf("group data: %d objects for X's %d rows", len(d.Objects), rows)
	}
	checked := make(map[int]bool)
	for i := range n {
		r := d.row(i)
		if r < 0 || r >= rows {
			return fmt.Errorf("group data: sample %d: row %d outside X's %d rows", i, r, rows)
		}
		if d.Groups[i] < 0 {
			return fmt.Errorf("group data: sample %d: group id %d, want >= 0", i, d.Groups[i])
		}
		if !checked[r] {
			checked[r] = true
			if err := finiteRow(d.X, r); err != nil {
				return fmt.Errorf("group data: sample %d: %w", i, err)
			}
		}
	}
	return nil
}

func (d *GroupData) row(i int) int {
	if d.Rows == nil {
		return i
	}
	return d.Rows[i]
}

func (d *PairData) score(i int) float64 {
	if d.Scores == nil {
		return 1
	}
	return d.Scores[i]
}

func (d *PairData) subgroup(i int) int {
	if d.Subgroups == nil {
		return 0
	}
	return d.Subgroups[i]
}

func finiteRow(x *mat.Dense, r int) error {
	for j, v := range x.RawRowView(r) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("embedding row %d column %d is %v", r, j, v)
		}
	}
	return nil
}

// dim is the embedding width of a dataset.
func dim(d Dataset) int {
	switch d := d.(type) {
	case *PairData:
		_, c := d.X.Dims()
		return c
	case *GroupData:
		_, c := d.X.Dims()
		return c
	}
	return 0
}
