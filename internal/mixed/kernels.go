package mixed

// The elementwise kernels below convert between float64 and float32 slices
// on the way into and out of the float32 products. Each has a Go version
// (the reference, and what runs without AVX2) and an AVX2 one for the
// prefix whose length is a multiple of its vector width; both compute the
// same operations in the same order, so their results are equal.

// narrow sets dst[i] = float32(src[i]).
func narrow(dst []float32, src []float64) {
	dst = dst[:len(src)]
	n := narrowBlocks(dst, src)
	for i, v := range src[n:] {
		dst[n+i] = float32(v)
	}
}

// NarrowSlice sets dst[i] = float32(src[i]) for every i of src: Narrow for
// one row, for callers that round a row they have just computed.
func NarrowSlice(dst []float32, src []float64) { narrow(dst, src) }

// WidenSlice sets dst[i] = float64(src[i]) for every i of dst.
func WidenSlice(dst []float64, src []float32) { widenSet(dst, src) }

// widenSet sets dst[i] = float64(src[i]).
func widenSet(dst []float64, src []float32) {
	src = src[:len(dst)]
	n := widenBlocks(dst, src, false)
	for i, v := range src[n:] {
		dst[n+i] = float64(v)
	}
}

// widenAdd adds float64(src[i]) to dst[i].
func widenAdd(dst []float64, src []float32) {
	src = src[:len(dst)]
	n := widenBlocks(dst, src, true)
	for i, v := range src[n:] {
		dst[n+i] += float64(v)
	}
}

// GateAdd sets y[j] = (b[j] + z[j]) * s[j] + x[j]: a gated layer's output
// with a skip connection, from its float32 product z. b, s, z and x must be
// at least as long as y.
func GateAdd(y []float64, z []float32, b, s, x []float64) {
	z, b, s, x = z[:len(y)], b[:len(y)], s[:len(y)], x[:len(y)]
	n := gateAddBlocks(y, z, b, s, x)
	for j := n; j < len(y); j++ {
		y[j] = (b[j]+float64(z[j]))*s[j] + x[j]
	}
}

// GateBack is the row kernel of a gated layer's backward pass given the
// row dy of dL/dy and the row z of the layer's float32 product: it adds dy
// into sum and dy ⊙ z into sumZ, and sets dz = float32(dy ⊙ s). The other
// slices must be at least as long as dy.
func GateBack(dy []float64, z []float32, s, sum, sumZ []float64, dz []float32) {
	z, s, sum, sumZ, dz = z[:len(dy)], s[:len(dy)], sum[:len(dy)], sumZ[:len(dy)], dz[:len(dy)]
	n := gateBackBlocks(dy, z, s, sum, sumZ, dz)
	for j := n; j < len(dy); j++ {
		v := dy[j]
		sum[j] += v
		sumZ[j] += v * float64(z[j])
		dz[j] = float32(v * s[j])
	}
}
