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

int main(void)
{
    Suite *s = suite_create("runtime");
    TCase *tc = tcase_create("threads");
    tcase_add_test(tc, set_and_get);
    tcase_add_test(tc, default_follows_environment);
    tcase_add_test(tc, too_many_is_refused);
    tcase_add_test(tc, small_loops_stay_serial);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
