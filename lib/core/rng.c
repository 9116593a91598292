/* Deterministic random numbers: splitmix64 seeding + xoshiro256** (Blackman & Vigna,
 * "Scrambled linear pseudorandom number generators", 2018). Same stream on every machine. */
#include <math.h>

#include "core.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void nnpi_rng_seed(nnpi_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

uint64_t nnpi_rng_next(nnpi_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double nnpi_rng_uniform(nnpi_rng *r) { return (double)(nnpi_rng_next(r) >> 11) * 0x1.0p-53; }

uint64_t nnpi_rng_below(nnpi_rng *r, uint64_t n)
{
    /* rejection sampling removes the modulo bias */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t v;
    do v = nnpi_rng_next(r);
    while (v >= limit);
    return v % n;
}

double nnpi_rng_normal(nnpi_rng *r)
{
    double u1 = 1.0 - nnpi_rng_uniform(r); /* (0, 1] so log is finite */
    double u2 = nnpi_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
