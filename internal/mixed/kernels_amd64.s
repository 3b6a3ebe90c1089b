//go:build !purego

#include "textflag.h"

// Each kernel handles len (of its first argument) elements, a multiple of
// 4, four at a time; the other slices must be at least as long.

// func narrowAVX(dst []float32, src []float64)
TEXT ·narrowAVX(SB), NOSPLIT, $0-48
	MOVQ dst_base+0(FP), DI
	MOVQ src_base+24(FP), SI
	MOVQ src_len+32(FP), CX
	SHRQ $2, CX
	JZ   narrowDone
	XORQ BX, BX

narrowLoop:
	VCVTPD2PSY (SI)(BX*8), X0
	VMOVUPS    X0, (DI)(BX*4)
	ADDQ       $4, BX
	DECQ       CX
	JNZ        narrowLoop

narrowDone:
	VZEROUPPER
	RET

// func widenSetAVX(dst []float64, src []float32)
TEXT ·widenSetAVX(SB), NOSPLIT, $0-48
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ src_base+24(FP), SI
	SHRQ $2, CX
	JZ   widenSetDone
	XORQ BX, BX

widenSetLoop:
	VCVTPS2PD (SI)(BX*4), Y0
	VMOVUPD   Y0, (DI)(BX*8)
	ADDQ      $4, BX
	DECQ      CX
	JNZ       widenSetLoop

widenSetDone:
	VZEROUPPER
	RET

// func widenAddAVX(dst []float64, src []float32)
TEXT ·widenAddAVX(SB), NOSPLIT, $0-48
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ src_base+24(FP), SI
	SHRQ $2, CX
	JZ   widenAddDone
	XORQ BX, BX

widenAddLoop:
	VCVTPS2PD (SI)(BX*4), Y0
	VADDPD    (DI)(BX*8), Y0, Y0
	VMOVUPD   Y0, (DI)(BX*8)
	ADDQ      $4, BX
	DECQ      CX
	JNZ       widenAddLoop

widenAddDone:
	VZEROUPPER
	RET

// func gateAddAVX(y []float64, z []float32, b, s, x []float64)
// y = (b + z) * s + x, without fused multiply-adds (as the Go version).
TEXT ·gateAddAVX(SB), NOSPLIT, $0-120
	MOVQ y_base+0(FP), DI
	MOVQ y_len+8(FP), CX
	MOVQ z_base+24(FP), SI
	MOVQ b_base+48(FP), R8
	MOVQ s_base+72(FP), R9
	MOVQ x_base+96(FP), R10
	SHRQ $2, CX
	JZ   gateAddDone
	XORQ BX, BX

gateAddLoop:
	VCVTPS2PD (SI)(BX*4), Y0
	VADDPD    (R8)(BX*8), Y0, Y0
	VMULPD    (R9)(BX*8), Y0, Y0
	VADDPD    (R10)(BX*8), Y0, Y0
	VMOVUPD   Y0, (DI)(BX*8)
	ADDQ      $4, BX
	DECQ      CX
	JNZ       gateAddLoop

gateAddDone:
	VZEROUPPER
	RET

// func gateBackAVX(dy []float64, z []float32, s, sum, sumZ []float64, dz []float32)
// sum += dy; sumZ += dy*z; dz = float32(dy*s).
TEXT ·gateBackAVX(SB), NOSPLIT, $0-144
	MOVQ dy_base+0(FP), SI
	MOVQ dy_len+8(FP), CX
	MOVQ z_base+24(FP), R8
	MOVQ s_base+48(FP), R9
	MOVQ sum_base+72(FP), R10
	MOVQ sumZ_base+96(FP), R11
	MOVQ dz_base+120(FP), DI
	SHRQ $2, CX
	JZ   gateBackDone
	XORQ BX, BX

gateBackLoop:
	VMOVUPD    (SI)(BX*8), Y0
	VADDPD     (R10)(BX*8), Y0, Y1
	VMOVUPD    Y1, (R10)(BX*8)
	VCVTPS2PD  (R8)(BX*4), Y2
	VMULPD     Y0, Y2, Y2
	VADDPD     (R11)(BX*8), Y2, Y2
	VMOVUPD    Y2, (R11)(BX*8)
	VMULPD     (R9)(BX*8), Y0, Y3
	VCVTPD2PSY Y3, X3
	VMOVUPS    X3, (DI)(BX*4)
	ADDQ       $4, BX
	DECQ       CX
	JNZ        gateBackLoop

gateBackDone:
	VZEROUPPER
	RET
