// Package sgemm multiplies float32 matrices with an AVX2/FMA kernel in Go
// assembly, for builds whose BLAS is gonum's pure-Go one: on these cores
// gonum's Sgemm runs at about 8-10 GFLOP/s, and this kernel at several
// times that, with no cgo.
//
// The method is the usual one (Goto's): op(B) is cut in panels of nr
// columns and op(A) in panels of mr rows, kc deep, so that an mr×nr block
// of C accumulates in registers while the kernel streams both panels. A
// panel is read where it lies when its layout allows (the rows of an
// untransposed A or B) and packed otherwise, by assembly routines for the
// full panels of a transposed operand.
package sgemm

import (
	"runtime"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/simlearn/simlearn/internal/par"
)

const (
	mr = 6    // rows of a register block of C
	nr = 16   // columns of a register block of C (two AVX registers)
	kc = 256  // depth of a packed panel
	nc = 1024 // columns of B packed at a time: kc*nc values (1 MiB) stay in L2
)

// Installed reports whether the program's float32 products should come
// here: the CPU has AVX2 and FMA, and the installed float32 BLAS is gonum's
// pure-Go one, which the kernel outruns about five times. Any other BLAS
// (OpenBLAS under the openblas build tag) does its products itself. Without
// the kernel, Gemm calls blas32.Gemm.
func Installed() bool {
	_, native := blas32.Implementation().(gonum.Implementation)
	return native && hasKernel
}

// Gemm sets c = alpha*op(a)*op(b) + beta*c, as blas32.Gemm does, with the
// rows of a large product split between GOMAXPROCS goroutines.
func Gemm(tA, tB blas.Transpose, alpha float32, a, b blas32.General, beta float32, c blas32.General) {
	gemm(tA, tB, alpha, a, b, beta, c, true)
}

// SerialGemm is Gemm on the calling goroutine alone, for callers that run
// products in parallel themselves.
//
// Every element of c comes out the same whichever rows a call covers, so
// a product cut into strips equals the whole product: each element sums
// its products in order, kc at a time, in registers, and adds each block
// sum to c in turn.
func SerialGemm(tA, tB blas.Transpose, alpha float32, a, b blas32.General, beta float32, c blas32.General) {
	gemm(tA, tB, alpha, a, b, beta, c, false)
}

func gemm(tA, tB blas.Transpose, alpha float32, a, b blas32.General, beta float32, c blas32.General, parallel bool) {
	m, n := c.Rows, c.Cols
	k := a.Cols
	if tA != blas.NoTrans {
		k = a.Rows
	}
	if !hasKernel || m == 0 || n == 0 {
		blas32.Gemm(tA, tB, alpha, a, b, beta, c)
		return
	}
	am, ak := a.Rows, a.Cols
	if tA != blas.NoTrans {
		am, ak = ak, am
	}
	bk, bn := b.Rows, b.Cols
	if tB != blas.NoTrans {
		bk, bn = bn, bk
	}
	if am != m || bn != n || ak != k || bk != k {
		panic("sgemm: shape mismatch")
	}
	// The assembly reads a and b and writes c without bounds checks.
	for _, g := range []blas32.General{a, b, c} {
		if g.Rows > 0 && g.Cols > 0 && (g.Cols > g.Stride || len(g.Data) < (g.Rows-1)*g.Stride+g.Cols) {
			panic("sgemm: matrix data shorter than its shape and stride")
		}
	}
	if k == 0 || alpha == 0 {
		scale(c, beta)
		return
	}
	// With beta 0 the first panel's products are stored rather than added,
	// which saves clearing c first; otherwise c is scaled by beta first.
	set := beta == 0
	if !set {
		scale(c, beta)
	}
	// Row blocks of C are split between the team's goroutines when the
	// product is large enough to pay for the hand-over; the caller takes
	// the first share. Unless op(b) is packed once for all of them (below),
	// each packs the panels of op(b) it needs itself, which costs 1/(2*its
	// rows) of its multiplies.
	workers := 1
	if parallel && 2*m*n*k >= 1<<25 {
		workers = min(runtime.GOMAXPROCS(0), (m+mr-1)/mr)
	}
	// A transposed op(b) needs all its panels packed: when it is small
	// enough, the workers pack it once, a share of the panels each, rather
	// than each all of it.
	var shared []float32
	ldp := (n + nr - 1) / nr * nr // in shared, panel p0 of op(b) starts at p0*ldp
	if workers > 1 && tB != blas.NoTrans && k*n <= sharedB {
		shared = getBuf(k * ldp)
		defer putBuf(shared)
		panels := ldp / nr
		par.Do(workers, func(w int) {
			lo, hi := w*panels/workers*nr, min((w+1)*panels/workers*nr, n)
			for p0 := 0; p0 < k; p0 += kc {
				kb := min(kc, k-p0)
				packB(shared[p0*ldp+lo*kb:], b, tB, p0, kb, lo, hi-lo)
			}
		})
	}
	blocks := (m + mr - 1) / mr
	par.Do(workers, func(w int) {
		lo, hi := w*blocks/workers*mr, min((w+1)*blocks/workers*mr, m)
		var bp []float32
		if shared == nil {
			bp = getBuf(min(n+nr-1, nc) / nr * nr * min(k, kc))
			defer putBuf(bp)
		}
		for p0 := 0; p0 < k; p0 += kc {
			kb := min(kc, k-p0)
			for j0 := 0; j0 < n; j0 += nc {
				cols := min(nc, n-j0)
				panels := bp
				if shared != nil {
					panels = shared[p0*ldp+j0*kb:]
				} else {
					packB(bp, b, tB, p0, kb, j0, cols)
				}
				rowBlocks(c, a, tA, alpha, b, tB, panels, p0, kb, lo, hi, j0, cols, set && p0 == 0)
			}
		}
	})
}

// sharedB is the most values of a transposed op(b) that the team packs
// once, together, rather than each worker all of it: 1 MiB of float32s.
const sharedB = 1 << 18

// rowBlocks adds alpha*op(a)[lo:hi, p0:p0+kb] times op(b)[p0:p0+kb,
// jc:jc+n] into rows lo to hi of c (with set, stores it there), reading
// b's panels from bp as packB left them (see there) and from b itself
// otherwise. A full block of mr rows of op(a) = a is read from a in
// place: its six rows are streams the prefetcher follows. op(a) = a^T is
// packed, since reading its columns in place touches a cache line per
// step of the sum (20% slower, measured), and so is a last, shorter block.
func rowBlocks(c, a blas32.General, tA blas.Transpose, alpha float32, b blas32.General, tB blas.Transpose, bp []float32, p0, kb, lo, hi, jc, n int, set bool) {
	var ap []float32
	var edge [mr * nr]float32
	for i0 := lo; i0 < hi; i0 += mr {
		rows := min(mr, hi-i0)
		// The rows of a full block of a are read in place; anything else
		// is packed.
		var pa *float32
		rsa, csa := a.Stride, 1
		if tA == blas.NoTrans && rows == mr {
			pa = &a.Data[i0*a.Stride+p0]
		} else {
			if ap == nil {
				ap = getBuf(mr * kb)
				defer putBuf(ap)
			}
			packA(ap, a, tA, i0, rows, p0, kb)
			pa, rsa, csa = &ap[0], 1, mr
		}
		for jj := 0; jj < n; jj += nr {
			cols := min(nr, n-jj)
			j0 := jc + jj
			panel, ldb := &bp[jj*kb], nr
			if direct(tB, cols) {
				panel, ldb = &b.Data[p0*b.Stride+j0], b.Stride
			}
			if rows == mr && cols == nr {
				kernel(kb, pa, rsa, csa, panel, ldb, &c.Data[i0*c.Stride+j0], c.Stride, alpha, set)
				continue
			}
			kernel(kb, pa, rsa, csa, panel, ldb, &edge[0], nr, alpha, true)
			for i := range rows {
				cr := c.Data[(i0+i)*c.Stride+j0:][:cols]
				if set {
					copy(cr, edge[i*nr:i*nr+cols])
					continue
				}
				for j, v := range edge[i*nr : i*nr+cols] {
					cr[j] += v
				}
			}
		}
	}
}

// direct reports whether the kernel reads a panel of nr columns of op(b)
// from b itself: when b is not transposed its rows already hold the
// panel's rows, and only a panel cut short by the last column needs a
// zero-padded copy.
func direct(tB blas.Transpose, cols int) bool { return tB == blas.NoTrans && cols == nr }

// packB writes the panels of op(b)[p0:p0+kb, jc:jc+n] that the kernel does
// not read directly (see direct) into dst, each kb rows of nr values,
// zero-padded past column n, the panel of columns jj to jj+nr at jj*kb.
func packB(dst []float32, b blas32.General, tB blas.Transpose, p0, kb, jc, n int) {
	for jj := 0; jj < n; jj += nr {
		cols := min(nr, n-jj)
		if direct(tB, cols) {
			continue
		}
		panel := dst[jj*kb : jj*kb+kb*nr]
		j0 := jc + jj
		if cols < nr {
			clear(panel)
		}
		if tB == blas.NoTrans {
			for p := range kb {
				copy(panel[p*nr:p*nr+cols], b.Data[(p0+p)*b.Stride+j0:][:cols])
			}
			continue
		}
		// Row j of b is column j of op(b): a full panel is sixteen rows of
		// b transposed, eight steps at a time in registers (packB16T), and
		// the remaining steps one by one.
		if cols == nr {
			st := b.Stride
			base := b.Data[j0*st+p0:]
			var r [nr][]float32
			for j := range r {
				r[j] = base[j*st:][:kb]
			}
			done := kb / 8 * 8
			if done > 0 {
				packB16T(&panel[0], &base[0], st, kb/8)
			}
			for p := done; p < kb; p++ {
				o := (*[nr]float32)(panel[p*nr:])
				o[0], o[1], o[2], o[3] = r[0][p], r[1][p], r[2][p], r[3][p]
				o[4], o[5], o[6], o[7] = r[4][p], r[5][p], r[6][p], r[7][p]
				o[8], o[9], o[10], o[11] = r[8][p], r[9][p], r[10][p], r[11][p]
				o[12], o[13], o[14], o[15] = r[12][p], r[13][p], r[14][p], r[15][p]
			}
			continue
		}
		for j := range cols {
			src := b.Data[(j0+j)*b.Stride+p0:][:kb]
			out := panel[j:]
			for p, v := range src {
				out[p*nr] = v
			}
		}
	}
}

// packA writes op(a)[i0:i0+rows, p0:p0+kb] as kb columns of mr values,
// zero-padded past row rows.
func packA(dst []float32, a blas32.General, tA blas.Transpose, i0, rows, p0, kb int) {
	dst = dst[:kb*mr]
	if rows < mr {
		clear(dst)
	}
	if tA == blas.NoTrans {
		for i := range rows {
			src := a.Data[(i0+i)*a.Stride+p0:][:kb]
			for p, v := range src {
				dst[p*mr+i] = v
			}
		}
		return
	}
	if rows == mr {
		_ = a.Data[(p0+kb-1)*a.Stride+i0+mr-1] // the last value read
		packA6T(&dst[0], &a.Data[p0*a.Stride+i0], a.Stride, kb)
		return
	}
	for p := range kb {
		copy(dst[p*mr:p*mr+rows], a.Data[(p0+p)*a.Stride+i0:][:rows])
	}
}

// scale sets c = beta*c (c = 0 when beta is 0, whatever c held).
func scale(c blas32.General, beta float32) {
	if beta == 1 {
		return
	}
	for i := range c.Rows {
		r := c.Data[i*c.Stride:][:c.Cols]
		if beta == 0 {
			clear(r)
			continue
		}
		for j := range r {
			r[j] *= beta
		}
	}
}

var bufs sync.Pool

func getBuf(n int) []float32 {
	if p, ok := bufs.Get().(*[]float32); ok && cap(*p) >= n {
		return (*p)[:n]
	}
	return make([]float32, n)
}

func putBuf(b []float32) { bufs.Put(&b) }
