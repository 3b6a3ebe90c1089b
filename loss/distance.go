package loss

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/simlearn/simlearn/internal/mixed"
	"github.com/simlearn/simlearn/internal/par"
)

// Distance names one of the distances of SPEC section 1. Its row-wise form
// d(x_i, y_i) and matrix form D[i,j] = d(x_i, y_j) use one scale.
type Distance string

// The distances of SPEC section 1.
const (
	// Cosine distance 1 - cos(x, y) in [0, 2]; similarity cos(x, y).
	Cosine Distance = "cosine"
	// Euclidean distance |x - y|_2; similarity 1/(1+d).
	Euclidean Distance = "euclidean"
	// Manhattan distance sum_k |x_k - y_k|; similarity 1/(1+d).
	Manhattan Distance = "manhattan"
	// Dot distance -x.y; similarity x.y.
	Dot Distance = "dot"
)

// normEps is the smallest norm cosine divides by, as F.normalize does.
const normEps = 1e-12

// Validate reports whether d names a known distance.
func (d Distance) Validate() error {
	switch d {
	case Cosine, Euclidean, Manhattan, Dot:
		return nil
	}
	return fmt.Errorf("unknown distance %q (want cosine, euclidean, manhattan or dot)", string(d))
}

// Similarity converts a distance value of d into the similarity of d.
func (d Distance) Similarity(dist float64) float64 {
	switch d {
	case Cosine:
		return 1 - dist
	case Dot:
		return -dist
	}
	return 1 / (1 + dist)
}

// simGrad is ds/dd at distance dist.
func (d Distance) simGrad(dist float64) float64 {
	switch d {
	case Cosine, Dot:
		return -1
	}
	return -1 / ((1 + dist) * (1 + dist))
}

// Matrix returns D[i,j] = d(x_i, y_j).
func (d Distance) Matrix(x, y *mat.Dense) (*mat.Dense, error) {
	if err := checkPairShapes(d, x, y, false); err != nil {
		return nil, err
	}
	var p pairwise
	return mat.DenseCopyOf(p.compute(d, x, y, false)), nil
}

// SimilarityMatrix returns S[i,j] = s(x_i, y_j).
func (d Distance) SimilarityMatrix(x, y *mat.Dense) (*mat.Dense, error) {
	m, err := d.Matrix(x, y)
	if err != nil {
		return nil, err
	}
	mapInPlace(m, d.Similarity)
	return m, nil
}

// MatrixGrad returns dL/dx and dL/dy given g = dL/dD for D = d.Matrix(x, y).
func (d Distance) MatrixGrad(x, y, g *mat.Dense) (dx, dy *mat.Dense, err error) {
	if err := checkPairShapes(d, x, y, false); err != nil {
		return nil, nil, err
	}
	n, _ := x.Dims()
	m, _ := y.Dims()
	if r, c := g.Dims(); r != n || c != m {
		return nil, nil, fmt.Errorf("distance gradient is %dx%d, want %dx%d", r, c, n, m)
	}
	var p pairwise
	p.compute(d, x, y, false)
	dx, dy = zerosLike(x), zerosLike(y)
	p.backward(g, dx, dy, true)
	return dx, dy, nil
}

// Rows returns d(x_i, y_i) for each row i.
func (d Distance) Rows(x, y *mat.Dense) ([]float64, error) {
	if err := checkPairShapes(d, x, y, true); err != nil {
		return nil, err
	}
	n, _ := x.Dims()
	out := make([]float64, n)
	rowDistances(d, out, x, y)
	return out, nil
}

// RowSimilarities returns s(x_i, y_i) for each row i.
func (d Distance) RowSimilarities(x, y *mat.Dense) ([]float64, error) {
	out, err := d.Rows(x, y)
	if err != nil {
		return nil, err
	}
	for i, v := range out {
		out[i] = d.Similarity(v)
	}
	return out, nil
}

// RowsGrad returns dL/dx and dL/dy given g_i = dL/dd(x_i, y_i).
func (d Distance) RowsGrad(x, y *mat.Dense, g []float64) (dx, dy *mat.Dense, err error) {
	if err := checkPairShapes(d, x, y, true); err != nil {
		return nil, nil, err
	}
	if n, _ := x.Dims(); len(g) != n {
		return nil, nil, fmt.Errorf("%d row gradients for %d rows", len(g), n)
	}
	dx, dy = zerosLike(x), zerosLike(y)
	rowDistancesGrad(d, g, x, y, dx, dy)
	return dx, dy, nil
}

func checkPairShapes(d Distance, x, y *mat.Dense, sameRows bool) error {
	if err := d.Validate(); err != nil {
		return err
	}
	if x == nil || y == nil || x.IsEmpty() || y.IsEmpty() {
		return fmt.Errorf("distance %s of an empty matrix", d)
	}
	n, dx := x.Dims()
	m, dy := y.Dims()
	if dx != dy {
		return fmt.Errorf("distance %s: x has %d columns, y has %d", d, dx, dy)
	}
	if sameRows && n != m {
		return fmt.Errorf("row-wise distance %s: x has %d rows, y has %d", d, n, m)
	}
	return nil
}

func zerosLike(m *mat.Dense) *mat.Dense {
	r, c := m.Dims()
	return mat.NewDense(r, c, nil)
}

func mapInPlace(m *mat.Dense, f func(float64) float64) {
	rows(m, func(_ int, r []float64) {
		for j, v := range r {
			r[j] = f(v)
		}
	})
}

// pairwise computes a distance matrix and its gradient, keeping its
// workspaces between calls.
type pairwise struct {
	dist       Distance
	self       bool
	x, y       *mat.Dense // inputs of the last compute
	xn, yn     *mat.Dense // cosine: rows scaled by 1/nx, 1/ny
	nx, ny     []float64  // cosine: max(|row|, eps); euclidean: squared norms
	ynBuf      *mat.Dense // storage of yn when y is not x (yn aliases xn on self calls)
	nyBuf      []float64  // storage of ny, likewise
	d          *mat.Dense // the distance matrix
	w          *mat.Dense // gradient workspace (n×m)
	gxn, gyn   *mat.Dense // gradient workspaces (n×dim, m×dim)
	rs, cs     []float64
	sparseRows [][]int32 // nonzero columns of the gradient, per row

	// f32 asks for float32 products (Precision Float32); on32 says that the
	// last compute used them (cosine and dot only), with its operands in
	// a32 and b32 (b32 unused on self calls).
	f32, on32     bool
	a32, b32, g32 blas32.General
	s32           blas32.General // scratch for a float32 product
}

// compute returns D for x and y; with self, y must be x and the gradient of
// backward is the total one with respect to x.
func (p *pairwise) compute(d Distance, x, y *mat.Dense, self bool) *mat.Dense {
	p.begin(d, x, y, self)
	n, _ := x.Dims()
	m, _ := y.Dims()
	p.d = resize(p.d, n, m)
	if p.on32 {
		s := p.product32()
		c := 0.0 // D = c - s
		if d == Cosine {
			c = 1
		}
		prows(p.d, func(i int, dr []float64) {
			for j, v := range s.Data[i*s.Stride : i*s.Stride+len(dr)] {
				dr[j] = c - float64(v)
			}
		})
		return p.d
	}
	switch d {
	case Cosine:
		p.normalize(nil, nil)
		negProduct(p.d, p.xn, p.yn, self)
		rows(p.d, func(_ int, r []float64) {
			for j := range r {
				r[j]++
			}
		})
	case Dot:
		negProduct(p.d, x, y, self)
	case Euclidean:
		p.nx = sqNorms(p.nx, x)
		p.nyBuf = sqNorms(p.nyBuf, y)
		p.ny = p.nyBuf
		blas64.Gemm(blas.NoTrans, blas.Trans, -2, x.RawMatrix(), y.RawMatrix(), 0, p.d.RawMatrix())
		rows(p.d, func(i int, r []float64) {
			xi := row(x, i)
			for j := range r {
				s := p.nx[i] + p.ny[j]
				d2 := r[j] + s
				// Cancellation makes the expanded form inexact for close rows:
				// compute those directly (exactly 0 on identical rows).
				if d2 < 1e-4*s {
					d2 = sqDiff(xi, row(y, j))
				}
				r[j] = math.Sqrt(math.Max(d2, 0))
			}
		})
	case Manhattan:
		rows(p.d, func(i int, r []float64) {
			xi := row(x, i)
			for j := range r {
				r[j] = floats.Distance(xi, row(y, j), 1)
			}
		})
	}
	return p.d
}

// negProduct writes -x y^T into dst; with self (y = x) it computes one
// triangle with a symmetric rank-k update and mirrors it, half the work.
func negProduct(dst, x, y *mat.Dense, self bool) {
	if !self {
		blas64.Gemm(blas.NoTrans, blas.Trans, -1, x.RawMatrix(), y.RawMatrix(), 0, dst.RawMatrix())
		return
	}
	raw := dst.RawMatrix()
	blas64.Syrk(blas.NoTrans, -1, x.RawMatrix(), 0, blas64.Symmetric{N: raw.Rows, Stride: raw.Stride, Data: raw.Data, Uplo: blas.Upper})
	for i := 0; i < raw.Rows; i++ {
		for j := i + 1; j < raw.Cols; j++ {
			raw.Data[j*raw.Stride+i] = raw.Data[i*raw.Stride+j]
		}
	}
}

// begin records the inputs of a compute or products32 call.
func (p *pairwise) begin(d Distance, x, y *mat.Dense, self bool) {
	p.dist, p.self, p.x, p.y = d, self, x, y
	p.on32 = p.f32 && (d == Cosine || d == Dot)
}

// normalize sets xn, nx, yn and ny for the cosine distance; with a32 and
// b32 it also rounds the normalised rows to float32 there as they are
// written, rather than in a second pass over them.
func (p *pairwise) normalize(a32, b32 *blas32.General) {
	p.xn, p.nx = normalizeRows(p.xn, p.nx, p.x, a32)
	if p.self {
		p.yn, p.ny = p.xn, p.nx
		return
	}
	p.ynBuf, p.nyBuf = normalizeRows(p.ynBuf, p.nyBuf, p.y, b32)
	p.yn, p.ny = p.ynBuf, p.nyBuf
}

// product32 returns s = xn yn^T (cosine) or x y^T (dot) as a float32
// product of operands rounded into p.a32 and p.b32 (p.a32 alone on self
// calls, with mixed.Gram32's exactly symmetric product), which backward
// reuses; D is c - s with c 1 (cosine) or 0 (dot). s is valid until the
// next call or backward.
func (p *pairwise) product32() blas32.General {
	if p.dist == Cosine {
		p.normalize(&p.a32, &p.b32)
	} else {
		mixed.Narrow(&p.a32, p.x.RawMatrix())
		if !p.self {
			mixed.Narrow(&p.b32, p.y.RawMatrix())
		}
	}
	n, _ := p.x.Dims()
	m, _ := p.y.Dims()
	s := mixed.Resize(&p.s32, n, m)
	if p.self {
		mixed.Gram32(p.a32, s)
	} else {
		mixed.Gemm32(blas.NoTrans, blas.Trans, 1, p.a32, p.b32, 0, s)
	}
	return s
}

// products32 is compute without the distance matrix for the cosine and
// dot distances with float32 products (ok false otherwise, and nothing
// done): it returns s of product32, for a caller that maps each row of D =
// c - s on as it uses it rather than in a pass of its own. backward then
// works as after compute.
func (p *pairwise) products32(d Distance, x, y *mat.Dense) (s blas32.General, ok bool) {
	if !p.f32 || (d != Cosine && d != Dot) {
		return blas32.General{}, false
	}
	p.begin(d, x, y, false)
	return p.product32(), true
}

// backward adds dL/dx and dL/dy into dx and dy given g = dL/dD; with set it
// stores them there instead, whatever dx and dy held. With self, dy must be
// nil and the whole gradient goes to dx. g is only read.
func (p *pairwise) backward(g, dx, dy *mat.Dense, set bool) {
	n, dim := p.x.Dims()
	m, _ := p.y.Dims()
	// Manhattan walks the nonzeros of every row; the others only need to
	// know whether g is sparse.
	sparse := p.collectNonzeros(g, p.dist != Manhattan)*4 < n*m
	if p.dist == Cosine {
		// D = 1 - xn yn^T: dL/dxn = -g yn, dL/dyn = -g^T xn.
		if p.on32 && !sparse {
			p.cosineGrad32(g, dx, dy, set)
			return
		}
		p.gxn = resize(p.gxn, n, dim)
		if !p.self {
			p.gyn = resize(p.gyn, m, dim)
		}
		p.matGrad(g, p.xn, p.yn, -1, p.gxn, p.gyn, sparse, true)
		normalizeBackward(dx, p.gxn, p.xn, p.nx, set)
		if !p.self {
			normalizeBackward(dy, p.gyn, p.yn, p.ny, set)
		}
		return
	}
	if set {
		dx.Zero()
		if dy != nil {
			dy.Zero()
		}
	}
	switch p.dist {
	case Dot:
		p.matGrad(g, p.x, p.y, -1, dx, dy, sparse, false)
	case Euclidean:
		// dd/dx_i = (x_i - y_j)/d: with w = g/d, dx_i = x_i rowsum(w) - (w y)_i
		// and dy_j = y_j colsum(w) - (w^T x)_j.
		p.w = resize(p.w, n, m)
		p.rs = growZero(p.rs, n)
		p.cs = growZero(p.cs, m)
		rows(g, func(i int, gr []float64) {
			wr, dr := row(p.w, i), row(p.d, i)
			for j, v := range gr {
				if v == 0 || dr[j] == 0 {
					wr[j] = 0
					continue
				}
				wr[j] = v / dr[j]
				p.rs[i] += wr[j]
				p.cs[j] += wr[j]
			}
		})
		p.matGrad(p.w, p.x, p.y, -1, dx, dy, sparse, false)
		if p.self {
			for i := range p.rs {
				floats.AddScaled(row(dx, i), p.rs[i]+p.cs[i], row(p.x, i))
			}
			return
		}
		for i := range p.rs {
			floats.AddScaled(row(dx, i), p.rs[i], row(p.x, i))
		}
		for j := range p.cs {
			floats.AddScaled(row(dy, j), p.cs[j], row(p.y, j))
		}
	case Manhattan:
		if dy == nil {
			dy = dx
		}
		for i, cols := range p.sparseRows {
			xi, gr, dxi := row(p.x, i), row(g, i), row(dx, i)
			for _, j := range cols {
				v, yj, dyj := gr[j], row(p.y, int(j)), row(dy, int(j))
				for k := range xi {
					if xi[k] > yj[k] {
						dxi[k] += v
						dyj[k] -= v
					} else if xi[k] < yj[k] {
						dxi[k] -= v
						dyj[k] += v
					}
				}
			}
		}
	}
}

// cosineGrad32 is backward for the cosine distance after a compute with
// float32 products, given a dense g: dL/dxn and dL/dyn are float32
// products of g with the rounded operands of compute, which
// normalizeBackward32 carries to dx and dy as it widens them.
func (p *pairwise) cosineGrad32(g, dx, dy *mat.Dense, set bool) {
	n, dim := p.x.Dims()
	m, _ := p.y.Dims()
	g32 := mixed.Narrow(&p.g32, g.RawMatrix())
	if p.self {
		// dL/dxn = -(g + g^T) xn.
		s := mixed.Resize(&p.s32, n, dim)
		mixed.Gemm32(blas.NoTrans, blas.NoTrans, -1, g32, p.a32, 0, s)
		mixed.Gemm32(blas.Trans, blas.NoTrans, -1, g32, p.a32, 1, s)
		normalizeBackward32(dx, s, p.xn, p.nx, set)
		return
	}
	s := mixed.Resize(&p.s32, n, dim)
	mixed.Gemm32(blas.NoTrans, blas.NoTrans, -1, g32, p.b32, 0, s)
	normalizeBackward32(dx, s, p.xn, p.nx, set)
	s = mixed.Resize(&p.s32, m, dim)
	mixed.Gemm32(blas.Trans, blas.NoTrans, -1, g32, p.a32, 0, s)
	normalizeBackward32(dy, s, p.yn, p.ny, set)
}

// collectNonzeros records the nonzero columns of each row of g in
// p.sparseRows and returns their count. With stopWhenDense it stops (with
// p.sparseRows incomplete) once a quarter of g is nonzero, which is all
// that a dense gradient, such as a softmax's, needs to be told apart.
func (p *pairwise) collectNonzeros(g *mat.Dense, stopWhenDense bool) int {
	n, m := g.Dims()
	if cap(p.sparseRows) < n {
		p.sparseRows = make([][]int32, n)
	}
	p.sparseRows = p.sparseRows[:n]
	nnz := 0
	for i := range n {
		cols := p.sparseRows[i][:0]
		for j, v := range row(g, i) {
			if v != 0 {
				cols = append(cols, int32(j))
			}
		}
		p.sparseRows[i] = cols
		nnz += len(cols)
		if stopWhenDense && nnz*4 >= n*m {
			break
		}
	}
	return nnz
}

// matGrad adds alpha*g*b into da and alpha*g^T*a into db (both into da when
// self), as a sparse loop when g is mostly zero and as matrix products
// otherwise; with overwrite it sets da and db instead of adding into them.
func (p *pairwise) matGrad(g, a, b *mat.Dense, alpha float64, da, db *mat.Dense, sparse, overwrite bool) {
	if p.self {
		db = da
	}
	beta := 1.0
	if overwrite {
		beta = 0
		if sparse {
			da.Zero()
			db.Zero()
		}
	}
	// On self calls the second product adds into the first.
	beta2 := beta
	if p.self {
		beta2 = 1
	}
	if sparse {
		for i, cols := range p.sparseRows {
			ai, gr, dai := row(a, i), row(g, i), row(da, i)
			for _, j := range cols {
				v := alpha * gr[j]
				floats.AddScaled(dai, v, row(b, int(j)))
				floats.AddScaled(row(db, int(j)), v, ai)
			}
		}
		return
	}
	if p.on32 {
		// a and b are the operands of compute, rounded there.
		a32, b32 := p.a32, p.b32
		if p.self {
			b32 = a32
		}
		g32 := mixed.Narrow(&p.g32, g.RawMatrix())
		mixed.Gemm(blas.NoTrans, blas.NoTrans, float32(alpha), g32, b32, beta, da.RawMatrix(), &p.s32)
		mixed.Gemm(blas.Trans, blas.NoTrans, float32(alpha), g32, a32, beta2, db.RawMatrix(), &p.s32)
		return
	}
	blas64.Gemm(blas.NoTrans, blas.NoTrans, alpha, g.RawMatrix(), b.RawMatrix(), beta, da.RawMatrix())
	blas64.Gemm(blas.Trans, blas.NoTrans, alpha, g.RawMatrix(), a.RawMatrix(), beta2, db.RawMatrix())
}

// normalizeRows writes x_i / max(|x_i|, eps) into dst and the divisors into
// norms; with dst32 it also writes the rows rounded to float32 there.
func normalizeRows(dst *mat.Dense, norms []float64, x *mat.Dense, dst32 *blas32.General) (*mat.Dense, []float64) {
	n, c := x.Dims()
	dst = resize(dst, n, c)
	norms = grow(norms, n)
	var r32 blas32.General
	if dst32 != nil {
		r32 = mixed.Resize(dst32, n, c)
	}
	prows(x, func(i int, r []float64) {
		nr := math.Max(norm(r), normEps)
		norms[i] = nr
		out := row(dst, i)
		floats.ScaleTo(out, 1/nr, r)
		if dst32 != nil {
			mixed.NarrowSlice(r32.Data[i*r32.Stride:], out)
		}
	})
	return dst, norms
}

// norm is the L2 norm of r: the square root of a vectorised dot product,
// or gonum's scaled (overflow- and underflow-safe) norm when the squares
// overflow or underflow.
func norm(r []float64) float64 {
	ss := floats.Dot(r, r)
	if ss > 1e-280 && ss < 1e280 {
		return math.Sqrt(ss)
	}
	return floats.Norm(r, 2)
}

// normalizeBackward adds dL/dx into dx (with set, stores it there) given
// gn = dL/dxn for xn = x/max(|x|, eps).
func normalizeBackward(dx, gn, xn *mat.Dense, norms []float64, set bool) {
	prows(gn, func(i int, g []float64) { normalizeRowBackward(row(dx, i), g, row(xn, i), norms[i], set) })
}

// normalizeBackward32 is normalizeBackward with gn in float32, as a float32
// product left it: each row is widened in a buffer as it is used, rather
// than the whole matrix in a pass of its own.
func normalizeBackward32(dx *mat.Dense, gn blas32.General, xn *mat.Dense, norms []float64, set bool) {
	par.For(gn.Rows, 4096/max(gn.Cols, 1), func(lo, hi int) {
		g := make([]float64, gn.Cols)
		for i := lo; i < hi; i++ {
			mixed.WidenSlice(g, gn.Data[i*gn.Stride:])
			normalizeRowBackward(row(dx, i), g, row(xn, i), norms[i], set)
		}
	})
}

// normalizeRowBackward adds (with set, stores) into dr the gradient with
// respect to a row x of g = dL/dxn for xn = x/norm: (g - xn (xn·g)) / norm,
// or g/eps when the norm was clamped to eps.
func normalizeRowBackward(dr, g, xr []float64, norm float64, set bool) {
	if norm <= normEps {
		if set {
			floats.ScaleTo(dr, 1/normEps, g)
			return
		}
		floats.AddScaled(dr, 1/normEps, g)
		return
	}
	inv := 1 / norm
	if set {
		floats.ScaleTo(dr, inv, g)
	} else {
		floats.AddScaled(dr, inv, g)
	}
	floats.AddScaled(dr, -floats.Dot(xr, g)*inv, xr)
}

func sqNorms(dst []float64, x *mat.Dense) []float64 {
	n, _ := x.Dims()
	dst = grow(dst, n)
	rows(x, func(i int, r []float64) { dst[i] = floats.Dot(r, r) })
	return dst
}

func sqDiff(a, b []float64) float64 {
	s := 0.0
	for k, v := range a {
		d := v - b[k]
		s += d * d
	}
	return s
}

// rowDistances writes d(x_i, y_i) into out.
func rowDistances(d Distance, out []float64, x, y *mat.Dense) {
	rows(x, func(i int, xi []float64) {
		yi := row(y, i)
		switch d {
		case Cosine:
			nx := math.Max(floats.Norm(xi, 2), normEps)
			ny := math.Max(floats.Norm(yi, 2), normEps)
			out[i] = 1 - floats.Dot(xi, yi)/(nx*ny)
		case Dot:
			out[i] = -floats.Dot(xi, yi)
		case Euclidean:
			out[i] = math.Sqrt(sqDiff(xi, yi))
		case Manhattan:
			out[i] = floats.Distance(xi, yi, 1)
		}
	})
}

// rowDistancesGrad adds into dx, dy the gradient of sum_i g_i d(x_i, y_i).
func rowDistancesGrad(d Distance, g []float64, x, y, dx, dy *mat.Dense) {
	rows(x, func(i int, xi []float64) {
		gi := g[i]
		if gi == 0 {
			return
		}
		yi, dxi, dyi := row(y, i), row(dx, i), row(dy, i)
		switch d {
		case Cosine:
			nx, ny := floats.Norm(xi, 2), floats.Norm(yi, 2)
			cx, cy := math.Max(nx, normEps), math.Max(ny, normEps)
			s := floats.Dot(xi, yi) / (cx * cy)
			// d = 1 - s; ds/dx = y/(cx cy) - s x/cx^2 (the second term only
			// where the norm is not clamped).
			ax, bx := -gi/(cx*cy), 0.0
			if nx > normEps {
				bx = gi * s / (cx * cx)
			}
			ay, by := -gi/(cx*cy), 0.0
			if ny > normEps {
				by = gi * s / (cy * cy)
			}
			for k := range xi {
				dxi[k] += ax*yi[k] + bx*xi[k]
				dyi[k] += ay*xi[k] + by*yi[k]
			}
		case Dot:
			floats.AddScaled(dxi, -gi, yi)
			floats.AddScaled(dyi, -gi, xi)
		case Euclidean:
			dist := math.Sqrt(sqDiff(xi, yi))
			if dist == 0 {
				return
			}
			for k := range xi {
				v := gi * (xi[k] - yi[k]) / dist
				dxi[k] += v
				dyi[k] -= v
			}
		case Manhattan:
			for k := range xi {
				if xi[k] > yi[k] {
					dxi[k] += gi
					dyi[k] -= gi
				} else if xi[k] < yi[k] {
					dxi[k] -= gi
					dyi[k] += gi
				}
			}
		}
	})
}
