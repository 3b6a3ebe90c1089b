//go:build !amd64 || purego

package sgemm

const hasKernel = false

func kernel(kb int, a, b *float32, ldb int, c *float32, ldc int, set bool) {
	panic("sgemm: no kernel")
}
