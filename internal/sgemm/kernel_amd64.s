//go:build !purego

#include "textflag.h"

// The kernel's last steps, for one row of the block of c held in lo and
// hi: scale it by alpha (in Y0); add it to the row at DX; store it there.
// The last two move DX on to the next row (R8 bytes on).
#define SCALEROW(lo, hi) VMULPS Y0, lo, lo; VMULPS Y0, hi, hi
#define ADDROW(lo, hi) VADDPS (DX), lo, lo; VMOVUPS lo, (DX); VADDPS 32(DX), hi, hi; VMOVUPS hi, 32(DX); ADDQ R8, DX
#define STOREROW(lo, hi) VMOVUPS lo, (DX); VMOVUPS hi, 32(DX); ADDQ R8, DX

// func kernel(kb int, a *float32, rsa, csa int, b *float32, ldb int, c *float32, ldc int, alpha float32, set bool)
//
// Element (i, p) of the 6×kb block of a is at a + i*rsa + p*csa (in
// float32s): rows 0-2 are addressed from SI and rows 3-5 from R10 = SI +
// 3*rsa, so that any layout costs the same, packed or read in place.
// Y0, Y1: a row of b (16 values); Y2, Y3: broadcast values of a; Y4-Y15:
// the 6x16 block of c, two registers a row. The block is scaled by alpha,
// then stored into c with set and added to it otherwise.
TEXT ·kernel(SB), NOSPLIT, $0-69
	MOVQ kb+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ rsa+16(FP), R11
	SHLQ $2, R11
	MOVQ csa+24(FP), R12
	SHLQ $2, R12
	LEAQ (SI)(R11*2), R10
	ADDQ R11, R10
	MOVQ b+32(FP), DI
	MOVQ ldb+40(FP), R9
	SHLQ $2, R9
	MOVQ c+48(FP), DX
	MOVQ ldc+56(FP), R8
	SHLQ $2, R8
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	VXORPS Y14, Y14, Y14
	VXORPS Y15, Y15, Y15
	TESTQ CX, CX
	JZ    done

loop:
	VMOVUPS (DI), Y0
	VMOVUPS 32(DI), Y1
	VBROADCASTSS (SI), Y2
	VFMADD231PS Y0, Y2, Y4
	VFMADD231PS Y1, Y2, Y5
	VBROADCASTSS (SI)(R11*1), Y3
	VFMADD231PS Y0, Y3, Y6
	VFMADD231PS Y1, Y3, Y7
	VBROADCASTSS (SI)(R11*2), Y2
	VFMADD231PS Y0, Y2, Y8
	VFMADD231PS Y1, Y2, Y9
	VBROADCASTSS (R10), Y3
	VFMADD231PS Y0, Y3, Y10
	VFMADD231PS Y1, Y3, Y11
	VBROADCASTSS (R10)(R11*1), Y2
	VFMADD231PS Y0, Y2, Y12
	VFMADD231PS Y1, Y2, Y13
	VBROADCASTSS (R10)(R11*2), Y3
	VFMADD231PS Y0, Y3, Y14
	VFMADD231PS Y1, Y3, Y15
	ADDQ R12, SI
	ADDQ R12, R10
	ADDQ R9, DI
	DECQ CX
	JNZ  loop

done:
	VBROADCASTSS alpha+64(FP), Y0
	SCALEROW(Y4, Y5)
	SCALEROW(Y6, Y7)
	SCALEROW(Y8, Y9)
	SCALEROW(Y10, Y11)
	SCALEROW(Y12, Y13)
	SCALEROW(Y14, Y15)
	MOVBLZX set+68(FP), AX
	TESTL AX, AX
	JNZ   store

	ADDROW(Y4, Y5)
	ADDROW(Y6, Y7)
	ADDROW(Y8, Y9)
	ADDROW(Y10, Y11)
	ADDROW(Y12, Y13)
	ADDROW(Y14, Y15)
	VZEROUPPER
	RET

store:
	STOREROW(Y4, Y5)
	STOREROW(Y6, Y7)
	STOREROW(Y8, Y9)
	STOREROW(Y10, Y11)
	STOREROW(Y12, Y13)
	STOREROW(Y14, Y15)
	VZEROUPPER
	RET

// func packA6T(dst, src *float32, lda, kb int)
//
// dst[p*6+i] = src[p*lda+i] for p < kb, i < 6: a transposed a's six
// columns, one step of the sum at a time, as 16 bytes and 8.
TEXT ·packA6T(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ lda+16(FP), R8
	SHLQ $2, R8
	MOVQ kb+24(FP), CX
	TESTQ CX, CX
	JZ    packadone

packaloop:
	VMOVUPS (SI), X0
	MOVQ    16(SI), AX
	VMOVUPS X0, (DI)
	MOVQ    AX, 16(DI)
	ADDQ    R8, SI
	ADDQ    $24, DI
	DECQ    CX
	JNZ     packaloop

packadone:
	RET

// TRANSPOSE8X8 stores the transpose of the 8x8 block whose rows are Y0-Y7:
// its row k (element k of each of Y0-Y7) at k*64(AX). Y8-Y15 are scratch.
#define TRANSPOSE8X8 \
	VUNPCKLPS Y1, Y0, Y8 \
	VUNPCKHPS Y1, Y0, Y9 \
	VUNPCKLPS Y3, Y2, Y10 \
	VUNPCKHPS Y3, Y2, Y11 \
	VUNPCKLPS Y5, Y4, Y12 \
	VUNPCKHPS Y5, Y4, Y13 \
	VUNPCKLPS Y7, Y6, Y14 \
	VUNPCKHPS Y7, Y6, Y15 \
	VSHUFPS $0x44, Y10, Y8, Y0 \
	VSHUFPS $0xEE, Y10, Y8, Y1 \
	VSHUFPS $0x44, Y11, Y9, Y2 \
	VSHUFPS $0xEE, Y11, Y9, Y3 \
	VSHUFPS $0x44, Y14, Y12, Y4 \
	VSHUFPS $0xEE, Y14, Y12, Y5 \
	VSHUFPS $0x44, Y15, Y13, Y6 \
	VSHUFPS $0xEE, Y15, Y13, Y7 \
	VPERM2F128 $0x20, Y4, Y0, Y8 \
	VPERM2F128 $0x20, Y5, Y1, Y9 \
	VPERM2F128 $0x20, Y6, Y2, Y10 \
	VPERM2F128 $0x20, Y7, Y3, Y11 \
	VPERM2F128 $0x31, Y4, Y0, Y12 \
	VPERM2F128 $0x31, Y5, Y1, Y13 \
	VPERM2F128 $0x31, Y6, Y2, Y14 \
	VPERM2F128 $0x31, Y7, Y3, Y15 \
	VMOVUPS Y8, 0(AX) \
	VMOVUPS Y9, 64(AX) \
	VMOVUPS Y10, 128(AX) \
	VMOVUPS Y11, 192(AX) \
	VMOVUPS Y12, 256(AX) \
	VMOVUPS Y13, 320(AX) \
	VMOVUPS Y14, 384(AX) \
	VMOVUPS Y15, 448(AX)

// func packB16T(dst, src *float32, ldb, blocks int)
//
// dst[p*16+j] = src[j*ldb+p] for j < 16 and p < 8*blocks: a panel of 16
// columns of op(b) = b^T, from 16 rows of b, transposing 8x8 blocks in
// registers (unpack, shuffle, then swap 128-bit halves).
TEXT ·packB16T(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ldb+16(FP), R8
	SHLQ $2, R8
	MOVQ blocks+24(FP), CX
	LEAQ (SI)(R8*2), R9
	ADDQ R8, R9           // R9: row 3
	LEAQ (R9)(R8*2), R10
	ADDQ R8, R10          // R10: row 6
	LEAQ (R10)(R8*2), R11
	ADDQ R8, R11          // R11: row 9
	LEAQ (R11)(R8*2), R12
	ADDQ R8, R12          // R12: row 12
	LEAQ (R12)(R8*2), R13
	ADDQ R8, R13          // R13: row 15
	TESTQ CX, CX
	JZ    packbdone

packbloop:
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(R8*1), Y1
	VMOVUPS (SI)(R8*2), Y2
	VMOVUPS (R9), Y3
	VMOVUPS (R9)(R8*1), Y4
	VMOVUPS (R9)(R8*2), Y5
	VMOVUPS (R10), Y6
	VMOVUPS (R10)(R8*1), Y7
	MOVQ    DI, AX
	TRANSPOSE8X8
	VMOVUPS (R10)(R8*2), Y0
	VMOVUPS (R11), Y1
	VMOVUPS (R11)(R8*1), Y2
	VMOVUPS (R11)(R8*2), Y3
	VMOVUPS (R12), Y4
	VMOVUPS (R12)(R8*1), Y5
	VMOVUPS (R12)(R8*2), Y6
	VMOVUPS (R13), Y7
	LEAQ    32(DI), AX
	TRANSPOSE8X8
	ADDQ    $32, SI
	ADDQ    $32, R9
	ADDQ    $32, R10
	ADDQ    $32, R11
	ADDQ    $32, R12
	ADDQ    $32, R13
	ADDQ    $512, DI
	DECQ    CX
	JNZ     packbloop

packbdone:
	VZEROUPPER
	RET
