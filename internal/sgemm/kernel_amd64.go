//go:build !purego

package sgemm

import "golang.org/x/sys/cpu"

var hasKernel = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// kernel adds the product of an mr×kb panel a (stored column by column) and
// a kb×nr block of b whose rows are ldb apart (nr for a packed panel) into
// the mr×nr block of c whose rows are ldc apart; with set it stores the
// product there instead.
//
//go:noescape
func kernel(kb int, a, b *float32, ldb int, c *float32, ldc int, set bool)
