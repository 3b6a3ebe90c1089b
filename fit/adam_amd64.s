//go:build !purego

#include "textflag.h"

// func adamAVX(w, g, m, v []float64, k *[7]float64)
//
// The Adam update of adamGo, four elements at a time, with the same
// operations in the same order (no fused multiply-add), so that the results
// are those of adamGo. len(w) must be a multiple of 4 and g, m, v at least
// as long. k holds b1, 1-b1, b2, 1-b2, stepSize, bc2, eps.
TEXT ·adamAVX(SB), NOSPLIT, $0-104
	MOVQ w_base+0(FP), DI
	MOVQ w_len+8(FP), CX
	MOVQ g_base+24(FP), SI
	MOVQ m_base+48(FP), R8
	MOVQ v_base+72(FP), R9
	MOVQ k+96(FP), AX
	VBROADCASTSD 0(AX), Y8   // b1
	VBROADCASTSD 8(AX), Y9   // 1-b1
	VBROADCASTSD 16(AX), Y10 // b2
	VBROADCASTSD 24(AX), Y11 // 1-b2
	VBROADCASTSD 32(AX), Y12 // stepSize
	VBROADCASTSD 40(AX), Y13 // bc2
	VBROADCASTSD 48(AX), Y14 // eps
	XORQ BX, BX
	SHRQ $2, CX
	JZ   done

loop:
	VMOVUPD (SI)(BX*8), Y0    // d = g
	VMULPD  (R8)(BX*8), Y8, Y1 // b1*m
	VMULPD  Y0, Y9, Y2        // (1-b1)*d
	VADDPD  Y2, Y1, Y1        // m = b1*m + (1-b1)*d
	VMOVUPD Y1, (R8)(BX*8)
	VMULPD  (R9)(BX*8), Y10, Y3 // b2*v
	VMULPD  Y0, Y11, Y4       // (1-b2)*d
	VMULPD  Y0, Y4, Y4        // (1-b2)*d*d
	VADDPD  Y4, Y3, Y3        // v = b2*v + (1-b2)*d*d
	VMOVUPD Y3, (R9)(BX*8)
	VSQRTPD Y3, Y3
	VDIVPD  Y13, Y3, Y3       // sqrt(v)/bc2
	VADDPD  Y14, Y3, Y3       // + eps
	VMULPD  Y1, Y12, Y1       // stepSize*m
	VDIVPD  Y3, Y1, Y1        // stepSize*m / (sqrt(v)/bc2 + eps)
	VMOVUPD (DI)(BX*8), Y5
	VSUBPD  Y1, Y5, Y5
	VMOVUPD Y5, (DI)(BX*8)
	ADDQ    $4, BX
	DECQ    CX
	JNZ     loop

done:
	VZEROUPPER
	RET
