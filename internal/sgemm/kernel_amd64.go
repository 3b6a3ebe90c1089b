//go:build !purego

package sgemm

import "golang.org/x/sys/cpu"

var hasKernel = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// kernel adds alpha times the product of an mr×kb block of a and a kb×nr
// block of b whose rows are ldb apart (nr for a packed panel) into the
// mr×nr block of c whose rows are ldc apart; with set it stores it there
// instead. Element (i, p) of a's block is at a[i*rsa+p*csa]: (1, mr) for a
// packed panel, (lda, 1) for rows of a read in place, (1, lda) for columns.
//
//go:noescape
func kernel(kb int, a *float32, rsa, csa int, b *float32, ldb int, c *float32, ldc int, alpha float32, set bool)

// packA6T sets dst[p*6+i] = src[p*lda+i] for p < kb and i < 6: packA's
// full block of a transposed a.
//
//go:noescape
func packA6T(dst, src *float32, lda, kb int)

// packB16T sets dst[p*16+j] = src[j*ldb+p] for j < 16 and p < 8*blocks:
// packB's full panel of a transposed b, eight steps of the sum at a time.
//
//go:noescape
func packB16T(dst, src *float32, ldb, blocks int)
