//go:build !purego

package mixed

import "golang.org/x/sys/cpu"

var hasAVX2 = cpu.X86.HasAVX2

//go:noescape
func narrowAVX(dst []float32, src []float64)

//go:noescape
func widenSetAVX(dst []float64, src []float32)

//go:noescape
func widenAddAVX(dst []float64, src []float32)

//go:noescape
func gateAddAVX(y []float64, z []float32, b, s, x []float64)

//go:noescape
func gateBackAVX(dy []float64, z []float32, s, sum, sumZ []float64, dz []float32)

// The blocks functions run the AVX2 kernel on the longest prefix that is a
// multiple of 4 and return its length (0 without AVX2).

func narrowBlocks(dst []float32, src []float64) int {
	n := len(src) &^ 3
	if !hasAVX2 || n == 0 {
		return 0
	}
	narrowAVX(dst[:n], src[:n])
	return n
}

func widenBlocks(dst []float64, src []float32, add bool) int {
	n := len(dst) &^ 3
	if !hasAVX2 || n == 0 {
		return 0
	}
	if add {
		widenAddAVX(dst[:n], src[:n])
	} else {
		widenSetAVX(dst[:n], src[:n])
	}
	return n
}

func gateAddBlocks(y []float64, z []float32, b, s, x []float64) int {
	n := len(y) &^ 3
	if !hasAVX2 || n == 0 {
		return 0
	}
	gateAddAVX(y[:n], z, b, s, x)
	return n
}

func gateBackBlocks(dy []float64, z []float32, s, sum, sumZ []float64, dz []float32) int {
	n := len(dy) &^ 3
	if !hasAVX2 || n == 0 {
		return 0
	}
	gateBackAVX(dy[:n], z, s, sum, sumZ, dz)
	return n
}
