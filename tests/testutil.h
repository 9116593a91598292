/* Helpers shared by the Check suites. */
#ifndef NNP_TESTUTIL_H
#define NNP_TESTUTIL_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "nnprobe/nnprobe.h"

/* Asserts that `expr` returns `want`; on mismatch prints both names and nnp_last_error(). */
#define ck_assert_status(expr, want)                                                   \
    do {                                                                               \
        nnp_status got_ = (expr);                                                      \
        ck_assert_msg(got_ == (want), "%s returned %s, expected %s (last error: %s)", #expr, \
                      nnp_status_name(got_), nnp_status_name(want), nnp_last_error());  \
    } while (0)

#define ck_assert_ok(expr) ck_assert_status(expr, NNP_OK)

/* Asserts that nnp_last_error() contains `needle`. */
#define ck_assert_error_has(needle)                                                   \
    ck_assert_msg(strstr(nnp_last_error(), (needle)) != NULL,                         \
                  "last error \"%s\" does not mention \"%s\"", nnp_last_error(), (needle))

/* Path of a fresh file in the test's scratch directory (NNP_TEST_TMPDIR, else /tmp); the
 * returned buffer is static per call site pattern: copy it if you need two. */
const char *tu_tmp_path(char *buf, size_t cap, const char *name);

/* Fills `x` with uniform values in [lo, hi) from a small deterministic generator. */
void tu_fill_uniform(float *x, size_t n, float lo, float hi, uint64_t seed);

/* Runs a suite; returns the process exit status (0 if every test passed). */
int tu_run(Suite *s);

#endif
