//go:build !amd64 || purego

package sgemm

const hasKernel = false

func kernel(kb int, a *float32, rsa, csa int, b *float32, ldb int, c *float32, ldc int, alpha float32, set bool) {
	panic("sgemm: no kernel")
}

func packA6T(dst, src *float32, lda, kb int)      { panic("sgemm: no kernel") }
func packB16T(dst, src *float32, ldb, blocks int) { panic("sgemm: no kernel") }
