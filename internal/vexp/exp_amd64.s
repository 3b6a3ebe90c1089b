//go:build !purego

#include "textflag.h"

// expPoly holds the Taylor coefficients 1/13!, 1/12!, ..., 1/0! of exp,
// each repeated in four lanes.
DATA expPoly<>+0(SB)/8, $0x3de6124613a86d09 // 1/13!
DATA expPoly<>+8(SB)/8, $0x3de6124613a86d09 // 1/13!
DATA expPoly<>+16(SB)/8, $0x3de6124613a86d09 // 1/13!
DATA expPoly<>+24(SB)/8, $0x3de6124613a86d09 // 1/13!
DATA expPoly<>+32(SB)/8, $0x3e21eed8eff8d898 // 1/12!
DATA expPoly<>+40(SB)/8, $0x3e21eed8eff8d898 // 1/12!
DATA expPoly<>+48(SB)/8, $0x3e21eed8eff8d898 // 1/12!
DATA expPoly<>+56(SB)/8, $0x3e21eed8eff8d898 // 1/12!
DATA expPoly<>+64(SB)/8, $0x3e5ae64567f544e4 // 1/11!
DATA expPoly<>+72(SB)/8, $0x3e5ae64567f544e4 // 1/11!
DATA expPoly<>+80(SB)/8, $0x3e5ae64567f544e4 // 1/11!
DATA expPoly<>+88(SB)/8, $0x3e5ae64567f544e4 // 1/11!
DATA expPoly<>+96(SB)/8, $0x3e927e4fb7789f5c // 1/10!
DATA expPoly<>+104(SB)/8, $0x3e927e4fb7789f5c // 1/10!
DATA expPoly<>+112(SB)/8, $0x3e927e4fb7789f5c // 1/10!
DATA expPoly<>+120(SB)/8, $0x3e927e4fb7789f5c // 1/10!
DATA expPoly<>+128(SB)/8, $0x3ec71de3a556c734 // 1/9!
DATA expPoly<>+136(SB)/8, $0x3ec71de3a556c734 // 1/9!
DATA expPoly<>+144(SB)/8, $0x3ec71de3a556c734 // 1/9!
DATA expPoly<>+152(SB)/8, $0x3ec71de3a556c734 // 1/9!
DATA expPoly<>+160(SB)/8, $0x3efa01a01a01a01a // 1/8!
DATA expPoly<>+168(SB)/8, $0x3efa01a01a01a01a // 1/8!
DATA expPoly<>+176(SB)/8, $0x3efa01a01a01a01a // 1/8!
DATA expPoly<>+184(SB)/8, $0x3efa01a01a01a01a // 1/8!
DATA expPoly<>+192(SB)/8, $0x3f2a01a01a01a01a // 1/7!
DATA expPoly<>+200(SB)/8, $0x3f2a01a01a01a01a // 1/7!
DATA expPoly<>+208(SB)/8, $0x3f2a01a01a01a01a // 1/7!
DATA expPoly<>+216(SB)/8, $0x3f2a01a01a01a01a // 1/7!
DATA expPoly<>+224(SB)/8, $0x3f56c16c16c16c17 // 1/6!
DATA expPoly<>+232(SB)/8, $0x3f56c16c16c16c17 // 1/6!
DATA expPoly<>+240(SB)/8, $0x3f56c16c16c16c17 // 1/6!
DATA expPoly<>+248(SB)/8, $0x3f56c16c16c16c17 // 1/6!
DATA expPoly<>+256(SB)/8, $0x3f81111111111111 // 1/5!
DATA expPoly<>+264(SB)/8, $0x3f81111111111111 // 1/5!
DATA expPoly<>+272(SB)/8, $0x3f81111111111111 // 1/5!
DATA expPoly<>+280(SB)/8, $0x3f81111111111111 // 1/5!
DATA expPoly<>+288(SB)/8, $0x3fa5555555555555 // 1/4!
DATA expPoly<>+296(SB)/8, $0x3fa5555555555555 // 1/4!
DATA expPoly<>+304(SB)/8, $0x3fa5555555555555 // 1/4!
DATA expPoly<>+312(SB)/8, $0x3fa5555555555555 // 1/4!
DATA expPoly<>+320(SB)/8, $0x3fc5555555555555 // 1/3!
DATA expPoly<>+328(SB)/8, $0x3fc5555555555555 // 1/3!
DATA expPoly<>+336(SB)/8, $0x3fc5555555555555 // 1/3!
DATA expPoly<>+344(SB)/8, $0x3fc5555555555555 // 1/3!
DATA expPoly<>+352(SB)/8, $0x3fe0000000000000 // 1/2!
DATA expPoly<>+360(SB)/8, $0x3fe0000000000000 // 1/2!
DATA expPoly<>+368(SB)/8, $0x3fe0000000000000 // 1/2!
DATA expPoly<>+376(SB)/8, $0x3fe0000000000000 // 1/2!
DATA expPoly<>+384(SB)/8, $0x3ff0000000000000 // 1/1!
DATA expPoly<>+392(SB)/8, $0x3ff0000000000000 // 1/1!
DATA expPoly<>+400(SB)/8, $0x3ff0000000000000 // 1/1!
DATA expPoly<>+408(SB)/8, $0x3ff0000000000000 // 1/1!
DATA expPoly<>+416(SB)/8, $0x3ff0000000000000 // 1/0!
DATA expPoly<>+424(SB)/8, $0x3ff0000000000000 // 1/0!
DATA expPoly<>+432(SB)/8, $0x3ff0000000000000 // 1/0!
DATA expPoly<>+440(SB)/8, $0x3ff0000000000000 // 1/0!
GLOBL expPoly<>(SB), RODATA|NOPTR, $448

// func expAVX(dst, x []float64, k *[6]float64) int
//
// Sets dst[i] = exp(x[i]) four elements at a time and returns how many it
// set: it stops at the end of x rounded down to a multiple of 4, or before
// the first block of 4 holding a value outside [k[3], k[4]] or a NaN.
// x = n ln2 + r with n = round(x log2e) and |r| <= ln2/2 (Cody-Waite, with
// ln2 split in two), exp(r) by its Taylor polynomial of degree 13 in
// Horner form with fused multiply-adds, and 2^n put together in the
// exponent bits. k holds log2e, ln2hi, ln2lo, the lower and upper bounds,
// and 1023 as an integer.
TEXT ·expAVX(SB), NOSPLIT, $0-64
	MOVQ dst_base+0(FP), DI
	MOVQ x_base+24(FP), SI
	MOVQ x_len+32(FP), CX
	MOVQ k+48(FP), AX
	VBROADCASTSD 0(AX), Y15  // log2e
	VBROADCASTSD 8(AX), Y14  // ln2hi
	VBROADCASTSD 16(AX), Y13 // ln2lo
	VBROADCASTSD 24(AX), Y12 // lower bound
	VBROADCASTSD 32(AX), Y11 // upper bound
	VPBROADCASTQ 40(AX), Y10 // exponent bias, an int64
	XORQ BX, BX
	SHRQ $2, CX
	JZ   done

loop:
	VMOVUPD (SI)(BX*8), Y0
	VCMPPD  $0x1d, Y12, Y0, Y1 // x >= lower (false for NaN)
	VCMPPD  $0x12, Y11, Y0, Y2 // x <= upper (false for NaN)
	VANDPD  Y1, Y2, Y1
	VMOVMSKPD Y1, AX
	CMPQ    AX, $15
	JNE     done
	VMULPD  Y15, Y0, Y1        // x log2e
	VROUNDPD $0, Y1, Y1        // n, to nearest
	VFNMADD231PD Y14, Y1, Y0   // x - n ln2hi
	VFNMADD231PD Y13, Y1, Y0   // r = x - n ln2hi - n ln2lo
	VMOVUPD expPoly<>+0(SB), Y2
	VFMADD213PD expPoly<>+32(SB), Y0, Y2
	VFMADD213PD expPoly<>+64(SB), Y0, Y2
	VFMADD213PD expPoly<>+96(SB), Y0, Y2
	VFMADD213PD expPoly<>+128(SB), Y0, Y2
	VFMADD213PD expPoly<>+160(SB), Y0, Y2
	VFMADD213PD expPoly<>+192(SB), Y0, Y2
	VFMADD213PD expPoly<>+224(SB), Y0, Y2
	VFMADD213PD expPoly<>+256(SB), Y0, Y2
	VFMADD213PD expPoly<>+288(SB), Y0, Y2
	VFMADD213PD expPoly<>+320(SB), Y0, Y2
	VFMADD213PD expPoly<>+352(SB), Y0, Y2
	VFMADD213PD expPoly<>+384(SB), Y0, Y2
	VFMADD213PD expPoly<>+416(SB), Y0, Y2 // exp(r)
	VCVTPD2DQY Y1, X3          // n as int32
	VPMOVSXDQ  X3, Y3          // as int64
	VPADDQ  Y10, Y3, Y3
	VPSLLQ  $52, Y3, Y3        // 2^n
	VMULPD  Y3, Y2, Y2
	VMOVUPD Y2, (DI)(BX*8)
	ADDQ    $4, BX
	DECQ    CX
	JNZ     loop

done:
	MOVQ BX, ret+56(FP)
	VZEROUPPER
	RET
