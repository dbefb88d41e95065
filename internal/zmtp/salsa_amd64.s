//go:build amd64 && !purego

#include "textflag.h"

// Salsa20/20 keystream XOR, many blocks at once. Vector register i holds
// state word i of consecutive blocks, one block per 32-bit lane, so the
// quarter-rounds are plain lane-wise adds, rotates and XORs with no
// shuffling inside the rounds; the only data movement is one transpose per
// batch to turn the word-major result back into 64-byte blocks.

// Per-lane block-counter offsets.
DATA salsaIota<>+0x00(SB)/8, $0x0000000100000000
DATA salsaIota<>+0x08(SB)/8, $0x0000000300000002
DATA salsaIota<>+0x10(SB)/8, $0x0000000500000004
DATA salsaIota<>+0x18(SB)/8, $0x0000000700000006
DATA salsaIota<>+0x20(SB)/8, $0x0000000900000008
DATA salsaIota<>+0x28(SB)/8, $0x0000000b0000000a
DATA salsaIota<>+0x30(SB)/8, $0x0000000d0000000c
DATA salsaIota<>+0x38(SB)/8, $0x0000000f0000000e
GLOBL salsaIota<>(SB), RODATA|NOPTR, $64

// salsaIota's first 8 lanes with the sign bit flipped: AVX2 has only a
// signed compare, and a <u b iff (a^2^31) <s (b^2^31).
DATA salsaIotaFlip<>+0x00(SB)/8, $0x8000000180000000
DATA salsaIotaFlip<>+0x08(SB)/8, $0x8000000380000002
DATA salsaIotaFlip<>+0x10(SB)/8, $0x8000000580000004
DATA salsaIotaFlip<>+0x18(SB)/8, $0x8000000780000006
GLOBL salsaIotaFlip<>(SB), RODATA|NOPTR, $32

DATA salsaSign<>+0x00(SB)/4, $0x80000000
GLOBL salsaSign<>(SB), RODATA|NOPTR, $4

// ---- AVX-512: 16 blocks per batch ----
//
// Z0-Z15 state words 0-15; Z16, Z17 the batch's input counter words (8, 9)
// for the feed-forward (the other 14 input words are the same in every lane
// and are re-broadcast from memory); Z18-Z21 one temporary per
// quarter-round; Z30 all ones; Z31 lane offsets 0..15.

// One quarter-round step, t ^= (x+y) <<< r, for the four independent
// quarter-rounds of a round side by side so that the dependent add, rotate,
// XOR of each are interleaved with the others'.
#define STEP16(x0, y0, t0, x1, y1, t1, x2, y2, t2, x3, y3, t3, r) \
	VPADDD x0, y0, Z18; VPADDD x1, y1, Z19; VPADDD x2, y2, Z20; VPADDD x3, y3, Z21; \
	VPROLD r, Z18, Z18; VPROLD r, Z19, Z19; VPROLD r, Z20, Z20; VPROLD r, Z21, Z21; \
	VPXORD Z18, t0, t0; VPXORD Z19, t1, t1; VPXORD Z20, t2, t2; VPXORD Z21, t3, t3

// Four quarter-rounds (a, b, c, d): b ^= (a+d)<<<7; c ^= (b+a)<<<9;
// d ^= (c+b)<<<13; a ^= (d+c)<<<18.
#define ROUND16(a0, b0, c0, d0, a1, b1, c1, d1, a2, b2, c2, d2, a3, b3, c3, d3) \
	STEP16(a0, d0, b0, a1, d1, b1, a2, d2, b2, a3, d3, b3, $7); \
	STEP16(b0, a0, c0, b1, a1, c1, b2, a2, c2, b3, a3, c3, $9); \
	STEP16(c0, b0, d0, c1, b1, d1, c2, b2, d2, c3, b3, d3, $13); \
	STEP16(d0, c0, a0, d1, c1, a1, d2, c2, a2, d3, c3, a3, $18)

// In each 128-bit lane, transpose the 4x4 words of registers a, b, c, d:
// afterwards register k's lane L holds the four words (of a, b, c, d) of
// block 4L+k.
#define TRANS4x4_16(a, b, c, d) \
	VPUNPCKLDQ b, a, Z18; VPUNPCKHDQ b, a, Z19; VPUNPCKLDQ d, c, Z20; VPUNPCKHDQ d, c, Z21; \
	VPUNPCKLQDQ Z20, Z18, a; VPUNPCKHQDQ Z20, Z18, b; VPUNPCKLQDQ Z21, Z19, c; VPUNPCKHQDQ Z21, Z19, d

// After TRANS4x4_16 on each group of four words, u0..u3 (words 0-3, 4-7,
// 8-11, 12-15 of blocks k, 4+k, 8+k, 12+k in lanes 0-3) are a 4x4 matrix of
// 128-bit lanes; transposing it gives whole blocks, XORed with in and
// stored at out.
#define OUT16(u0, u1, u2, u3, k) \
	VSHUFI32X4 $0x44, u1, u0, Z22; VSHUFI32X4 $0xee, u1, u0, Z23; \
	VSHUFI32X4 $0x44, u3, u2, Z24; VSHUFI32X4 $0xee, u3, u2, Z25; \
	VSHUFI32X4 $0x88, Z24, Z22, Z26; VSHUFI32X4 $0xdd, Z24, Z22, Z27; \
	VSHUFI32X4 $0x88, Z25, Z23, Z28; VSHUFI32X4 $0xdd, Z25, Z23, Z29; \
	VPXORD (64*(k))(SI), Z26, Z26; VMOVDQU32 Z26, (64*(k))(DI); \
	VPXORD (64*(4+k))(SI), Z27, Z27; VMOVDQU32 Z27, (64*(4+k))(DI); \
	VPXORD (64*(8+k))(SI), Z28, Z28; VMOVDQU32 Z28, (64*(8+k))(DI); \
	VPXORD (64*(12+k))(SI), Z29, Z29; VMOVDQU32 Z29, (64*(12+k))(DI)

// func salsaXOR16AVX512(out, in *byte, batches int, state *[16]uint32)
TEXT ·salsaXOR16AVX512(SB), NOSPLIT, $0-32
	MOVQ out+0(FP), DI
	MOVQ in+8(FP), SI
	MOVQ batches+16(FP), CX
	MOVQ state+24(FP), AX
	MOVQ 32(AX), R8 // block counter (words 8, 9)
	VMOVDQU32 salsaIota<>(SB), Z31
	VPTERNLOGD $0xff, Z30, Z30, Z30

batch16:
	// Counter words: low = c + lane, high = c>>32 + carry.
	VPBROADCASTD R8, Z16
	MOVQ R8, R9
	SHRQ $32, R9
	VPBROADCASTD R9, Z17
	VPADDD Z31, Z16, Z16
	VPCMPUD $1, Z31, Z16, K1   // low < offset: it wrapped
	VPSUBD Z30, Z17, K1, Z17   // high -= -1 where it did

	VPBROADCASTD 0(AX), Z0
	VPBROADCASTD 4(AX), Z1
	VPBROADCASTD 8(AX), Z2
	VPBROADCASTD 12(AX), Z3
	VPBROADCASTD 16(AX), Z4
	VPBROADCASTD 20(AX), Z5
	VPBROADCASTD 24(AX), Z6
	VPBROADCASTD 28(AX), Z7
	VMOVDQA32 Z16, Z8
	VMOVDQA32 Z17, Z9
	VPBROADCASTD 40(AX), Z10
	VPBROADCASTD 44(AX), Z11
	VPBROADCASTD 48(AX), Z12
	VPBROADCASTD 52(AX), Z13
	VPBROADCASTD 56(AX), Z14
	VPBROADCASTD 60(AX), Z15

	MOVL $10, DX

rounds16:
	// Column round, then row round.
	ROUND16(Z0, Z4, Z8, Z12, Z5, Z9, Z13, Z1, Z10, Z14, Z2, Z6, Z15, Z3, Z7, Z11)
	ROUND16(Z0, Z1, Z2, Z3, Z5, Z6, Z7, Z4, Z10, Z11, Z8, Z9, Z15, Z12, Z13, Z14)
	DECL DX
	JNZ  rounds16

	// Feed-forward.
	VPADDD.BCST 0(AX), Z0, Z0
	VPADDD.BCST 4(AX), Z1, Z1
	VPADDD.BCST 8(AX), Z2, Z2
	VPADDD.BCST 12(AX), Z3, Z3
	VPADDD.BCST 16(AX), Z4, Z4
	VPADDD.BCST 20(AX), Z5, Z5
	VPADDD.BCST 24(AX), Z6, Z6
	VPADDD.BCST 28(AX), Z7, Z7
	VPADDD Z16, Z8, Z8
	VPADDD Z17, Z9, Z9
	VPADDD.BCST 40(AX), Z10, Z10
	VPADDD.BCST 44(AX), Z11, Z11
	VPADDD.BCST 48(AX), Z12, Z12
	VPADDD.BCST 52(AX), Z13, Z13
	VPADDD.BCST 56(AX), Z14, Z14
	VPADDD.BCST 60(AX), Z15, Z15

	TRANS4x4_16(Z0, Z1, Z2, Z3)
	TRANS4x4_16(Z4, Z5, Z6, Z7)
	TRANS4x4_16(Z8, Z9, Z10, Z11)
	TRANS4x4_16(Z12, Z13, Z14, Z15)
	OUT16(Z0, Z4, Z8, Z12, 0)
	OUT16(Z1, Z5, Z9, Z13, 1)
	OUT16(Z2, Z6, Z10, Z14, 2)
	OUT16(Z3, Z7, Z11, Z15, 3)

	ADDQ $1024, SI
	ADDQ $1024, DI
	ADDQ $16, R8
	DECQ CX
	JNZ  batch16

	VZEROUPPER
	RET

// ---- AVX2: 8 blocks per batch ----
//
// Sixteen state words do not fit in 16 ymm registers next to the four
// temporaries that let two quarter-rounds run interleaved, so four words
// at a time live on the stack: words 2, 3, 6, 7 during the row round's
// second half and the column round's first, words 8, 9, 12, 13 otherwise
// (neither group is touched by the quarter-rounds that run while it is
// out). Registers: words 0, 1, 4, 5 in Y0, Y1, Y4, Y5; 10, 11 in Y2, Y3;
// 14, 15 in Y6, Y7; words 8, 9, 12, 13 or 2, 3, 6, 7 in Y8-Y11;
// temporaries Y12-Y15. AVX2 has no rotate: two shifts, both XORed into the
// target.

// Stack frame.
#define CTR8 0     // the batch's input counter words 8, 9 (2x32 bytes)
#define SPILL2 64  // words 2, 3, 6, 7 while out of registers (4x32 bytes)
#define SPILL8 192 // words 8, 9, 12, 13 while out of registers
#define HIGH 320   // finished words 8-15 (8x32 bytes) during output

// t ^= (x+y) <<< r (rr = 32-r) for two independent quarter-rounds.
#define STEP8(x0, y0, t0, x1, y1, t1, r, rr) \
	VPADDD x0, y0, Y12; VPADDD x1, y1, Y13; \
	VPSLLD r, Y12, Y14; VPSLLD r, Y13, Y15; VPSRLD rr, Y12, Y12; VPSRLD rr, Y13, Y13; \
	VPXOR Y14, t0, t0; VPXOR Y15, t1, t1; VPXOR Y12, t0, t0; VPXOR Y13, t1, t1

// Two quarter-rounds, as ROUND16.
#define QR8x2(a0, b0, c0, d0, a1, b1, c1, d1) \
	STEP8(a0, d0, b0, a1, d1, b1, $7, $25); \
	STEP8(b0, a0, c0, b1, a1, c1, $9, $23); \
	STEP8(c0, b0, d0, c1, b1, d1, $13, $19); \
	STEP8(d0, c0, a0, d1, c1, a1, $18, $14)

// Move Y8-Y11 to the stack at out, and fill them from the stack at in.
#define SWAP8(out, in) \
	VMOVDQU Y8, (out+0)(SP); VMOVDQU Y9, (out+32)(SP); VMOVDQU Y10, (out+64)(SP); VMOVDQU Y11, (out+96)(SP); \
	VMOVDQU (in+0)(SP), Y8; VMOVDQU (in+32)(SP), Y9; VMOVDQU (in+64)(SP), Y10; VMOVDQU (in+96)(SP), Y11

// Feed-forward of word w (not 8 or 9) into y.
#define FF8(w, y) VPBROADCASTD (4*(w))(AX), Y15; VPADDD Y15, y, y

// Words off/4..off/4+7 of blocks 0-7, in Y0-Y7, to 32 bytes at off in each
// of the 8 blocks: 4x4 transposes in the 128-bit lanes (as TRANS4x4_16),
// then pair the lanes of words 0-3 with those of words 4-7.
#define OUT8(off) \
	VPUNPCKLDQ Y1, Y0, Y8; VPUNPCKHDQ Y1, Y0, Y9; VPUNPCKLDQ Y3, Y2, Y10; VPUNPCKHDQ Y3, Y2, Y11; \
	VPUNPCKLQDQ Y10, Y8, Y0; VPUNPCKHQDQ Y10, Y8, Y1; VPUNPCKLQDQ Y11, Y9, Y2; VPUNPCKHQDQ Y11, Y9, Y3; \
	VPUNPCKLDQ Y5, Y4, Y8; VPUNPCKHDQ Y5, Y4, Y9; VPUNPCKLDQ Y7, Y6, Y10; VPUNPCKHDQ Y7, Y6, Y11; \
	VPUNPCKLQDQ Y10, Y8, Y4; VPUNPCKHQDQ Y10, Y8, Y5; VPUNPCKLQDQ Y11, Y9, Y6; VPUNPCKHQDQ Y11, Y9, Y7; \
	VPERM2I128 $0x20, Y4, Y0, Y8; VPERM2I128 $0x31, Y4, Y0, Y9; \
	VPERM2I128 $0x20, Y5, Y1, Y10; VPERM2I128 $0x31, Y5, Y1, Y11; \
	VPERM2I128 $0x20, Y6, Y2, Y12; VPERM2I128 $0x31, Y6, Y2, Y13; \
	VPERM2I128 $0x20, Y7, Y3, Y14; VPERM2I128 $0x31, Y7, Y3, Y15; \
	VPXOR (0*64+(off))(SI), Y8, Y8; VMOVDQU Y8, (0*64+(off))(DI); \
	VPXOR (4*64+(off))(SI), Y9, Y9; VMOVDQU Y9, (4*64+(off))(DI); \
	VPXOR (1*64+(off))(SI), Y10, Y10; VMOVDQU Y10, (1*64+(off))(DI); \
	VPXOR (5*64+(off))(SI), Y11, Y11; VMOVDQU Y11, (5*64+(off))(DI); \
	VPXOR (2*64+(off))(SI), Y12, Y12; VMOVDQU Y12, (2*64+(off))(DI); \
	VPXOR (6*64+(off))(SI), Y13, Y13; VMOVDQU Y13, (6*64+(off))(DI); \
	VPXOR (3*64+(off))(SI), Y14, Y14; VMOVDQU Y14, (3*64+(off))(DI); \
	VPXOR (7*64+(off))(SI), Y15, Y15; VMOVDQU Y15, (7*64+(off))(DI)

// func salsaXOR8AVX2(out, in *byte, batches int, state *[16]uint32)
TEXT ·salsaXOR8AVX2(SB), NOSPLIT, $576-32
	MOVQ out+0(FP), DI
	MOVQ in+8(FP), SI
	MOVQ batches+16(FP), CX
	MOVQ state+24(FP), AX
	MOVQ 32(AX), R8 // block counter (words 8, 9)

batch8:
	// Counter words: low = c + lane, high = c>>32 + carry.
	VMOVQ R8, X14
	VPBROADCASTD X14, Y8
	VPSRLQ $32, X14, X15
	VPBROADCASTD X15, Y9
	VPADDD salsaIota<>(SB), Y8, Y8
	VPBROADCASTD salsaSign<>(SB), Y14
	VPXOR Y14, Y8, Y14
	VMOVDQU salsaIotaFlip<>(SB), Y15
	VPCMPGTD Y14, Y15, Y15 // offset >u low: it wrapped (all ones)
	VPSUBD Y15, Y9, Y9
	VMOVDQU Y8, (CTR8+0)(SP)
	VMOVDQU Y9, (CTR8+32)(SP)

	VPBROADCASTD 8(AX), Y12
	VPBROADCASTD 12(AX), Y13
	VPBROADCASTD 24(AX), Y14
	VPBROADCASTD 28(AX), Y15
	VMOVDQU Y12, (SPILL2+0)(SP)
	VMOVDQU Y13, (SPILL2+32)(SP)
	VMOVDQU Y14, (SPILL2+64)(SP)
	VMOVDQU Y15, (SPILL2+96)(SP)
	VPBROADCASTD 0(AX), Y0
	VPBROADCASTD 4(AX), Y1
	VPBROADCASTD 16(AX), Y4
	VPBROADCASTD 20(AX), Y5
	VPBROADCASTD 40(AX), Y2
	VPBROADCASTD 44(AX), Y3
	VPBROADCASTD 56(AX), Y6
	VPBROADCASTD 60(AX), Y7
	VPBROADCASTD 48(AX), Y10
	VPBROADCASTD 52(AX), Y11

	MOVL $10, DX

rounds8:
	// Column round: (0, 4, 8, 12), (5, 9, 13, 1) with Y8-Y11 = words 8, 9,
	// 12, 13; (10, 14, 2, 6), (15, 3, 7, 11) with Y8-Y11 = words 2, 3, 6, 7.
	QR8x2(Y0, Y4, Y8, Y10, Y5, Y9, Y11, Y1)
	SWAP8(SPILL8, SPILL2)
	QR8x2(Y2, Y6, Y8, Y10, Y7, Y9, Y11, Y3)
	// Row round: (0, 1, 2, 3), (5, 6, 7, 4); then, with words 8, 9, 12,
	// 13 back, (10, 11, 8, 9), (15, 12, 13, 14).
	QR8x2(Y0, Y1, Y8, Y9, Y5, Y10, Y11, Y4)
	SWAP8(SPILL2, SPILL8)
	QR8x2(Y2, Y3, Y8, Y9, Y7, Y10, Y11, Y6)
	DECL DX
	JNZ  rounds8

	// Feed-forward; words 8-15 wait on the stack while 0-7 go out.
	VPADDD (CTR8+0)(SP), Y8, Y8
	VMOVDQU Y8, (HIGH+0*32)(SP)
	VPADDD (CTR8+32)(SP), Y9, Y9
	VMOVDQU Y9, (HIGH+1*32)(SP)
	FF8(10, Y2)
	VMOVDQU Y2, (HIGH+2*32)(SP)
	FF8(11, Y3)
	VMOVDQU Y3, (HIGH+3*32)(SP)
	FF8(12, Y10)
	VMOVDQU Y10, (HIGH+4*32)(SP)
	FF8(13, Y11)
	VMOVDQU Y11, (HIGH+5*32)(SP)
	FF8(14, Y6)
	VMOVDQU Y6, (HIGH+6*32)(SP)
	FF8(15, Y7)
	VMOVDQU Y7, (HIGH+7*32)(SP)
	VMOVDQU (SPILL2+0)(SP), Y2
	VMOVDQU (SPILL2+32)(SP), Y3
	VMOVDQU (SPILL2+64)(SP), Y6
	VMOVDQU (SPILL2+96)(SP), Y7
	FF8(0, Y0)
	FF8(1, Y1)
	FF8(2, Y2)
	FF8(3, Y3)
	FF8(4, Y4)
	FF8(5, Y5)
	FF8(6, Y6)
	FF8(7, Y7)
	OUT8(0)
	VMOVDQU (HIGH+0*32)(SP), Y0
	VMOVDQU (HIGH+1*32)(SP), Y1
	VMOVDQU (HIGH+2*32)(SP), Y2
	VMOVDQU (HIGH+3*32)(SP), Y3
	VMOVDQU (HIGH+4*32)(SP), Y4
	VMOVDQU (HIGH+5*32)(SP), Y5
	VMOVDQU (HIGH+6*32)(SP), Y6
	VMOVDQU (HIGH+7*32)(SP), Y7
	OUT8(32)

	ADDQ $512, SI
	ADDQ $512, DI
	ADDQ $8, R8
	DECQ CX
	JNZ  batch8

	VZEROUPPER
	RET
