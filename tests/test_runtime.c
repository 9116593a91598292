#define _POSIX_C_SOURCE 200809L
/* The thread-count setting (include/nnprobe/runtime.h) and the loop-splitting rule built on
 * it (lib/core/threads.h). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "core/threads.h"
#include "nnprobe/nnprobe.h"
#include "testutil.h"

START_TEST(set_and_get)
{
    ck_assert_int_eq(nnp_threads_set(3), NNP_OK);
    ck_assert_uint_eq(nnp_threads_get(), 3);
    ck_assert_uint_eq(nnpi_threads(), 3);
    ck_assert_int_eq(nnp_threads_set(1), NNP_OK);
    ck_assert_uint_eq(nnp_threads_get(), 1);
    /* 0 restores the default: NNPROBE_THREADS if valid, else the CPUs we may use (≥ 1) */
    ck_assert_int_eq(nnp_threads_set(0), NNP_OK);
    ck_assert_uint_ge(nnp_threads_get(), 1);
}
END_TEST

START_TEST(default_follows_environment)
{
    ck_assert_int_eq(setenv("NNPROBE_THREADS", "5", 1), 0);
    ck_assert_int_eq(nnp_threads_set(0), NNP_OK);
    ck_assert_uint_eq(nnp_threads_get(), 5);
    /* an invalid value falls back to the CPU count, never to 0 or to the bad number */
    ck_assert_int_eq(setenv("NNPROBE_THREADS", "5x", 1), 0);
    ck_assert_int_eq(nnp_threads_set(0), NNP_OK);
    size_t fallback = nnp_threads_get();
    ck_assert_uint_ge(fallback, 1);
    ck_assert_int_eq(setenv("NNPROBE_THREADS", "0", 1), 0);
    ck_assert_int_eq(nnp_threads_set(0), NNP_OK);
    ck_assert_uint_eq(nnp_threads_get(), fallback);
    ck_assert_int_eq(unsetenv("NNPROBE_THREADS"), 0);
    ck_assert_int_eq(nnp_threads_set(0), NNP_OK);
    ck_assert_uint_eq(nnp_threads_get(), fallback);
}
END_TEST

START_TEST(too_many_is_refused)
{
    ck_assert_int_eq(nnp_threads_set(2), NNP_OK);
    ck_assert_int_eq(nnp_threads_set(1025), NNP_EINVAL);
    ck_assert_ptr_nonnull(strstr(nnp_last_error(), "nnp_threads_set"));
    ck_assert_uint_eq(nnp_threads_get(), 2); /* unchanged by the refused call */
    ck_assert_int_eq(nnp_threads_set(1024), NNP_OK);
    ck_assert_uint_eq(nnp_threads_get(), 1024);
    ck_assert_int_eq(nnp_threads_set(0), NNP_OK);
}
END_TEST

START_TEST(small_loops_stay_serial)
{
    ck_assert_int_eq(nnp_threads_set(4), NNP_OK);
    ck_assert_int_eq(nnpi_threads_for(1, 1u << 30), 1);   /* one item cannot be split */
    ck_assert_int_eq(nnpi_threads_for(100, 10), 1);       /* 1000 flops: not worth a team */
    ck_assert_int_eq(nnpi_threads_for(1000, 1000), 4);
    ck_assert_int_eq(nnpi_threads_for(3, 1u << 20), 3);   /* never more threads than items */
    ck_assert_int_eq(nnp_threads_set(1), NNP_OK);
    ck_assert_int_eq(nnpi_threads_for(1000, 1000), 1);
    ck_assert_int_eq(nnp_threads_set(0), NNP_OK);
}
END_TEST

/* OpenBLAS's thread API, if the BLAS linked is OpenBLAS (weak: NULL with another BLAS). */
extern int openblas_get_num_threads(void) __attribute__((weak));

/* nnpi_parallel_range covers [0, n) exactly once, in the fixed parts of the contract (each
 * part's bounds recorded by the body), at 1, 2 and 3 threads, and nested calls run too. */
typedef struct cover {
    unsigned char hits[4096];
    size_t n;
} cover;

static void mark(void *ctx, size_t lo, size_t hi)
{
    cover *c = ctx;
    for (size_t i = lo; i < hi; i++) c->hits[i]++;
}

START_TEST(parallel_range_covers_each_item_once)
{
    static cover c;
    for (size_t t = 1; t <= 3; t++) {
        ck_assert_int_eq(nnp_threads_set(t), NNP_OK);
        for (size_t n = 1; n <= 4096; n = n * 3 + 1) {
            memset(c.hits, 0, sizeof c.hits);
            nnpi_parallel_range(n, 1000000, mark, &c); /* heavy items: split whenever t > 1 */
            for (size_t i = 0; i < n; i++)
                ck_assert_msg(c.hits[i] == 1, "%zu threads, n %zu: item %zu hit %d times", t, n,
                              i, c.hits[i]);
            for (size_t i = n; i < sizeof c.hits; i++) ck_assert_int_eq(c.hits[i], 0);
        }
    }
    ck_assert_int_eq(nnp_threads_set(0), NNP_OK);
}
END_TEST

/* A pass of small products runs OpenBLAS on one thread and gives the count back, also when
 * stretches nest; large products leave it alone. */
START_TEST(blas_serial_stretch_restores_the_count)
{
    ck_assert_int_eq(nnp_threads_set(2), NNP_OK);
    const int big = nnpi_blas_serial_begin(NNPI_BLAS_SERIAL_MACS);
    ck_assert_int_eq(big, 0);
    nnpi_blas_serial_end(big);
    if (openblas_get_num_threads == NULL) return; /* not OpenBLAS: nothing to change */
    const int before = openblas_get_num_threads();
    const int a = nnpi_blas_serial_begin(1000), b = nnpi_blas_serial_begin(1000);
    ck_assert_int_eq(openblas_get_num_threads(), 1);
    nnpi_blas_serial_end(b);
    ck_assert_int_eq(openblas_get_num_threads(), 1); /* the outer stretch still runs */
    nnpi_blas_serial_end(a);
    ck_assert_int_eq(openblas_get_num_threads(), before);
    ck_assert_int_eq(nnp_threads_set(0), NNP_OK);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("runtime");
    TCase *tc = tcase_create("threads");
    tcase_add_test(tc, set_and_get);
    tcase_add_test(tc, default_follows_environment);
    tcase_add_test(tc, too_many_is_refused);
    tcase_add_test(tc, small_loops_stay_serial);
    tcase_add_test(tc, parallel_range_covers_each_item_once);
    tcase_add_test(tc, blas_serial_stretch_restores_the_count);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
