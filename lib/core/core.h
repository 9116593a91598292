/* Internal core services: errors, allocation, options, RNG. Not part of the public API. */
#ifndef NNP_CORE_H
#define NNP_CORE_H

#include <stddef.h>
#include <stdint.h>
#include "nnprobe/status.h"

#if defined(__GNUC__) || defined(__clang__)
#define NNPI_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define NNPI_PRINTF(f, a)
#endif

/* Sets the calling thread's message (printf-style) and returns `status`, so that failing
 * paths read `return nnpi_error(NNP_EINVAL, "...")`. */
nnp_status nnpi_error(nnp_status status, const char *fmt, ...) NNPI_PRINTF(2, 3);

/* Sets the message to "<prefix>: <current message>" and returns `status`: adds context
 * to an error raised deeper down. */
nnp_status nnpi_error_prefix(nnp_status status, const char *fmt, ...) NNPI_PRINTF(2, 3);

/* Copies `src` to `dst` (`cap` bytes, cap >= 1, always terminated) with every byte that could
 * act on a terminal written as \xHH: C0 controls (ESC, BEL, CR, LF, ...), DEL, bytes that
 * are not valid UTF-8 and C1 controls; printable ASCII and valid UTF-8 pass unchanged. The
 * output is cut before a character that does not fit. Returns the length written. Used by
 * nnpi_error on every message, so names read from files can never reach a terminal raw. */
size_t nnpi_escape(char *dst, size_t cap, const char *src);

/* Reads a byte cap from the environment variable `env` into *out (`dflt` when unset or
 * empty): decimal, optional K/M/G/T (binary) suffix, > 0. Anything else is NNP_EINVAL naming
 * the variable, so a typo never silently changes a safety cap. */
nnp_status nnpi_limit(const char *env, uint64_t dflt, uint64_t *out);

/* Returns from the calling function when `expr` yields a status other than NNP_OK. */
#define NNPI_TRY(expr)                            \
    do {                                          \
        nnp_status nnpi_try_s_ = (expr);          \
        if (nnpi_try_s_ != NNP_OK) return nnpi_try_s_; \
    } while (0)

/* NULL-argument check that names the parameter and the function. */
#define NNPI_CHECK_NULL(p)                                                       \
    do {                                                                         \
        if ((p) == NULL) return nnpi_error(NNP_EINVAL, "%s: %s is NULL", __func__, #p); \
    } while (0)

/* All library allocation goes through these, so tests can inject failures. */
void *nnpi_malloc(size_t size);
void *nnpi_calloc(size_t count, size_t size);
void *nnpi_realloc(void *p, size_t size);
void nnpi_free(void *p);
/* Product a*b, or SIZE_MAX when it overflows (then the allocation fails cleanly). */
size_t nnpi_mul(size_t a, size_t b);
/* Test hook: the n-th allocation from now fails (0 disables). Not exported. */
void nnpi_fail_alloc_after(long n);

/* Copies a caller's size-prefixed options struct into `dst` (already holding the defaults,
 * `dst_size` bytes), following DESIGN's rule: size 0 -> EINVAL; smaller -> older caller, the
 * rest keeps defaults; larger -> accepted only if the extra bytes are zero (else EVERSION).
 * NULL `src` keeps all defaults. `what` names the struct in messages. */
nnp_status nnpi_opts_copy(void *dst, size_t dst_size, const void *src, const char *what);

/* Writes the defaults (`own_size` bytes at `defaults`) into the caller's struct of
 * `caller_size` bytes: the common prefix is copied, bytes beyond the library's struct are
 * zeroed, and the leading size field is set to caller_size. `what` names the struct. */
nnp_status nnpi_opts_init(void *opts, size_t caller_size, const void *defaults, size_t own_size,
                          const char *what);

/* Index of the first NaN or infinity among v[0..m), or m when all are finite. One pass,
 * vectorised; cheap next to any forward pass over the same values. */
size_t nnpi_first_nonfinite(const float *v, size_t m);

/* The check every query runs on its input before the first pass: NNP_OK when the n examples
 * of d values at x are all finite, else NNP_EINVAL "<func>: <what>[i] = nan (example e,
 * index j) is not finite" for the first that is not (a NaN pixel would otherwise give a
 * plausible-looking result: ReLU nets used to turn it into 0). */
nnp_status nnpi_check_finite_input(const float *x, size_t n, size_t d, const char *func,
                                   const char *what);

/* v as a double for a message: a NaN as "nan", whatever its sign bit (printf shows "-nan"). */
double nnpi_msg_value(float v);

/* Deterministic RNG: xoshiro256** seeded through splitmix64 (Blackman & Vigna, 2018). */
typedef struct nnpi_rng {
    uint64_t s[4];
} nnpi_rng;
void nnpi_rng_seed(nnpi_rng *r, uint64_t seed);
uint64_t nnpi_rng_next(nnpi_rng *r);
double nnpi_rng_uniform(nnpi_rng *r);           /* [0, 1), 53 bits */
uint64_t nnpi_rng_below(nnpi_rng *r, uint64_t n); /* uniform in [0, n), n >= 1, unbiased */
double nnpi_rng_normal(nnpi_rng *r);            /* standard normal (Box–Muller) */

/* Element-wise loops (activations, pooling, the optimiser's sums) are the largest cost outside
 * the GEMMs (bench/): compile them also for AVX2 and AVX-512 and let the loader pick the widest the CPU has (GCC function multiversioning,
 * resolved once through an ifunc). Elsewhere they are built for the baseline only, and so are
 * sanitizer builds: an ifunc resolver runs before the sanitizer runtime is initialised. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && \
    __GNUC__ >= 11 && !defined(NNP_NO_SIMD_CLONES)
#define NNPI_SIMD_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define NNPI_SIMD_CLONES
#endif

#endif
