// x86-64 paths of the int8 matrix product: AVX2 (int8 widened to int16, vpmaddwd) and
// AVX-512 VNNI (vpdpbusd on unsigned activations A + 128, corrected by 128 * row sums of B).
// Each function carries its own target attribute, so the file builds with default flags.

#include "gemm_s8_internal.h"
#include "transpose_x86.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2")))
#define VNNI __attribute__((target("avx2,avx512f,avx512bw,avx512vnni")))

// ---- AVX2: 6 rows x 16 columns, in two halves of 8 ----------------------------------------

// FIXME(perf): about a third of the vpmaddwd peak on Zen 5 (~130 of ~380 GOPS); left untuned
// because CPUs with AVX-512 VNNI take that path, and the AVX2 one only serves older x86.
enum { AVX2_MR = 6 };

// scratch: int16 [group][row][4], zero-padded to AVX2_MR rows and whole groups.
static void pack_a_avx2(void *scratch, const int8_t *a, size_t lda, size_t rows, size_t k) {
    size_t groups = s8_groups(k);
    int16_t *out = scratch;
    memset(out, 0, groups * AVX2_MR * S8_GROUP_K * sizeof(int16_t));
    for (size_t i = 0; i < rows; i++) {
        const int8_t *row = a + i * lda;
        for (size_t g = 0; g < groups; g++) {
            int16_t *dst = out + (g * AVX2_MR + i) * S8_GROUP_K;
            size_t count = k - S8_GROUP_K * g < S8_GROUP_K ? k - S8_GROUP_K * g : S8_GROUP_K;
            for (size_t q = 0; q < count; q++) dst[q] = row[S8_GROUP_K * g + q];
        }
    }
}

// Columns 8h ..< 8h + 8 of the panel whose groups start at b. vpmaddwd leaves, per column,
// two int32 halves (k-values 0-1 and 2-3 of each group); one horizontal add joins them.
AVX2 static void tile_avx2_half(const int16_t *a, size_t groups, const int8_t *b, int half,
                                int32_t *out) {
    __m256i acc[AVX2_MR][2];
    S8_UNROLL
    for (int i = 0; i < AVX2_MR; i++) acc[i][0] = acc[i][1] = _mm256_setzero_si256();

    b += 32 * half;
    for (size_t g = 0; g < groups; g++, b += S8_GROUP_BYTES, a += AVX2_MR * S8_GROUP_K) {
        __m256i b0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)b));
        __m256i b1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b + 16)));
        S8_UNROLL
        for (int i = 0; i < AVX2_MR; i++) {
            long long four;
            memcpy(&four, a + i * S8_GROUP_K, sizeof four);
            __m256i av = _mm256_set1_epi64x(four);
            acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(av, b0));
            acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(av, b1));
        }
    }

    // hadd gives columns 0 1 4 5 | 2 3 6 7; the permutation puts them in order.
    const __m256i order = _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7);
    S8_UNROLL
    for (int i = 0; i < AVX2_MR; i++) {
        __m256i sums = _mm256_permutevar8x32_epi32(_mm256_hadd_epi32(acc[i][0], acc[i][1]), order);
        _mm256_storeu_si256((__m256i *)(out + i * S8_PANEL_ROWS + 8 * half), sums);
    }
}

AVX2 static void tile_avx2(const void *scratch, size_t groups, const int8_t *b,
                           const int8_t *sums, size_t panel_bytes, size_t panels, int32_t *out) {
    (void)sums;
    (void)panel_bytes;
    (void)panels;
    tile_avx2_half(scratch, groups, b, 0, out);
    tile_avx2_half(scratch, groups, b, 1, out);
}

const s8_tile_path s8_path_avx2 = {AVX2_MR, 1, sizeof(int16_t), pack_a_avx2, tile_avx2};

// ---- AVX-512 VNNI: 8 rows x 32 columns (two panels) ---------------------------------------

enum { VNNI_MR = 8 };

// scratch: uint8 [group][row][4] holding A + 128 (A xor 0x80), padded with 0x80 (A = 0).
// A full tile of 8 rows goes 8 groups at a time: 32 bytes of each row, flipped, make an 8 x 8
// block of 4-byte groups whose transpose is the scratch's next 8 groups. The rest (a partial
// tile, the last k % 32 values) is packed by s8_pack_a_bytes.
AVX2 static void pack_a_vnni(void *scratch, const int8_t *a, size_t lda, size_t rows, size_t k) {
    uint8_t *out = scratch;
    size_t blocks = rows == VNNI_MR ? k / 32 : 0;
    const __m256i flip = _mm256_set1_epi8((char)0x80);
    for (size_t block = 0; block < blocks; block++) {
        __m256 r[VNNI_MR];
        for (int i = 0; i < VNNI_MR; i++) {
            __m256i bytes = _mm256_loadu_si256((const __m256i *)(a + (size_t)i * lda + 32 * block));
            r[i] = _mm256_castsi256_ps(_mm256_xor_si256(bytes, flip));
        }
        mvad_transpose8x8(r);
        for (int g = 0; g < 8; g++) {
            _mm256_storeu_si256((__m256i *)(out + (8 * block + (size_t)g) * 32),
                                _mm256_castps_si256(r[g]));
        }
    }
    size_t done = 32 * blocks;
    if (done < k) {
        s8_pack_a_bytes(out + done * VNNI_MR, VNNI_MR, a + done, lda, rows, k - done, 0x80,
                        0x80808080u);
    }
}

// Lane r of group register p is output column 16p + r; vpdpbusd adds the 4 products of the
// broadcast activation bytes with that column's 4 weights.
VNNI static inline __attribute__((always_inline)) void
tile_vnni_panels(const uint8_t *a, size_t groups, const int8_t *b, const int8_t *sums,
                 size_t panel_bytes, int np, int32_t *out) {
    __m512i acc[VNNI_MR][2];
    S8_UNROLL
    for (int i = 0; i < VNNI_MR; i++) acc[i][0] = acc[i][1] = _mm512_setzero_si512();

    for (size_t g = 0; g < groups; g++, b += S8_GROUP_BYTES, a += VNNI_MR * S8_GROUP_K) {
        __m512i bp[2];
        S8_UNROLL
        for (int p = 0; p < np; p++) bp[p] = _mm512_loadu_si512(b + p * panel_bytes);
        S8_UNROLL
        for (int i = 0; i < VNNI_MR; i++) {
            __m512i av = _mm512_set1_epi32(s8_load_i32(a + i * S8_GROUP_K));
            S8_UNROLL
            for (int p = 0; p < np; p++) acc[i][p] = _mm512_dpbusd_epi32(acc[i][p], av, bp[p]);
        }
    }

    // sum (A + 128) B - 128 sum B = sum A B, modulo 2^32 and so exactly. With k split into
    // blocks, the whole correction goes with the first block.
    S8_UNROLL
    for (int p = 0; p < np; p++) {
        __m512i bias = _mm512_setzero_si512();
        if (sums != NULL) bias = _mm512_slli_epi32(_mm512_loadu_si512(sums + p * panel_bytes), 7);
        S8_UNROLL
        for (int i = 0; i < VNNI_MR; i++) {
            __m512i c = _mm512_sub_epi32(acc[i][p], bias);
            _mm512_storeu_si512(out + i * 2 * S8_PANEL_ROWS + p * S8_PANEL_ROWS, c);
        }
    }
}

VNNI static void tile_vnni(const void *scratch, size_t groups, const int8_t *b,
                           const int8_t *sums, size_t panel_bytes, size_t panels, int32_t *out) {
    if (panels == 2) {
        tile_vnni_panels(scratch, groups, b, sums, panel_bytes, 2, out);
    } else {
        tile_vnni_panels(scratch, groups, b, sums, panel_bytes, 1, out);
    }
}

const s8_tile_path s8_path_avx512vnni = {VNNI_MR, 2, 1, pack_a_vnni, tile_vnni};

// ---- peak rates ---------------------------------------------------------------------------

// Register-only loops of independent accumulators. The empty asm makes the weights opaque on
// every iteration so the compiler cannot hoist the multiplies out of the loop.
enum { PEAK_CHAINS = 12, PEAK_INNER = 1 << 16 };

AVX2 double s8_peak_gops_avx2(double seconds) {
    __m256i acc[PEAK_CHAINS], a = _mm256_set1_epi16(3), b = _mm256_set1_epi16(-5);
    S8_UNROLL  // distinct starting values, so the compiler cannot merge chains
    for (int j = 0; j < PEAK_CHAINS; j++) acc[j] = _mm256_set1_epi32(j);
    double start = s8_now_seconds(), elapsed = 0, rounds = 0;
    do {
        for (int it = 0; it < PEAK_INNER; it++) {
            __asm__("" : "+x"(b));
            S8_UNROLL
            for (int j = 0; j < PEAK_CHAINS; j++) {
                acc[j] = _mm256_add_epi32(acc[j], _mm256_madd_epi16(a, b));
            }
        }
        rounds += 1;
        elapsed = s8_now_seconds() - start;
    } while (elapsed < seconds);
    volatile int sink = 0;
    S8_UNROLL
    for (int j = 0; j < PEAK_CHAINS; j++) sink += _mm256_extract_epi32(acc[j], 0);
    double macs = rounds * PEAK_INNER * PEAK_CHAINS * 16.0;  // 16 int16 products per madd
    return 2 * macs / elapsed * 1e-9;
}

VNNI double s8_peak_gops_avx512vnni(double seconds) {
    __m512i acc[PEAK_CHAINS], a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-5);
    S8_UNROLL  // distinct starting values, so the compiler cannot merge chains
    for (int j = 0; j < PEAK_CHAINS; j++) acc[j] = _mm512_set1_epi32(j);
    double start = s8_now_seconds(), elapsed = 0, rounds = 0;
    do {
        for (int it = 0; it < PEAK_INNER; it++) {
            __asm__("" : "+v"(b));
            S8_UNROLL
            for (int j = 0; j < PEAK_CHAINS; j++) acc[j] = _mm512_dpbusd_epi32(acc[j], a, b);
        }
        rounds += 1;
        elapsed = s8_now_seconds() - start;
    } while (elapsed < seconds);
    volatile int sink = 0;
    S8_UNROLL
    for (int j = 0; j < PEAK_CHAINS; j++) sink += _mm512_reduce_add_epi32(acc[j]);
    double macs = rounds * PEAK_INNER * PEAK_CHAINS * 64.0;  // 64 byte products per vpdpbusd
    return 2 * macs / elapsed * 1e-9;
}

#endif
