package fit

import "gonum.org/v1/gonum/mat"

// memory is the cross-batch memory: a ring of the last embeddings with their
// groups, filled as Quaterion's XbmBuffer fills it (a batch that does not
// fit before the end is written over the last rows and the write position
// returns to the start).
type memory struct {
	x      *mat.Dense
	groups []int
	ptr    int
	full   bool
}

func newMemory(size, dim int) *memory {
	return &memory{x: mat.NewDense(size, dim, nil), groups: make([]int, size)}
}

// push stores copies of the batch's embeddings y with their groups.
func (m *memory) push(y *mat.Dense, groups []int) {
	size, _ := m.x.Dims()
	n := len(groups)
	if n > size {
		// Only the last size rows fit.
		off := n - size
		_, c := y.Dims()
		y = y.Slice(off, n, 0, c).(*mat.Dense)
		groups, n = groups[off:], size
	}
	at := m.ptr
	if m.ptr+n > size {
		at, m.ptr, m.full = size-n, 0, true
	} else {
		m.ptr += n
	}
	for k := range n {
		copy(m.x.RawRowView(at+k), y.RawRowView(k))
		m.groups[at+k] = groups[k]
	}
}

// len is the number of filled rows.
func (m *memory) len() int {
	if m.full {
		return len(m.groups)
	}
	return m.ptr
}

// contents returns the filled rows (views, not copies); len must be > 0.
func (m *memory) contents() (*mat.Dense, []int) {
	n := m.len()
	return rowsView(m.x, 0, n), m.groups[:n]
}
