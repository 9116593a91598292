/* Small inline math kernels shared by the layers and the attacks: branch-free, so the loops
 * that call them vectorise. Internal. */
#ifndef NNP_CORE_FASTMATH_H
#define NNP_CORE_FASTMATH_H

#include <stdint.h>
#include <string.h>

/* e^x in float without branches or library calls, so that loops over it vectorise.
 * Range reduction x = n·ln2 + r, |r| ≤ ln2/2, with ln2 split in two (Cody & Waite, 1980) so
 * n·ln2_hi is exact; e^r by its Taylor polynomial to degree 6 (truncation < 1.2e-7 relative);
 * 2^n assembled in the exponent bits. Inputs are clamped to [-87, 88], inside float's normal
 * range; NaN stays NaN (the comparisons leave it unchanged). */
static inline float nnpi_exp_fast(float x)
{
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    const float round_magic = 12582912.0f; /* 1.5·2^23: adding it rounds to an integer */
    const float n = (x * 1.44269504f + round_magic) - round_magic;
    const float r = (x - n * 0.693145751953125f) - n * 1.42860677e-6f;
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    const float n_int = n == n ? n : 0.0f; /* NaN -> int is undefined; p carries the NaN */
    const int32_t bits = ((int32_t)n_int + 127) * (1 << 23);
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

#endif
