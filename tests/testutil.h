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

/* n examples of 8 values in four blobs at corners of the box (centres 0.2/0.8, uniform noise
 * ±0.14, so inside [0,1]): linearly separable with a wide margin; example i has class i % 4,
 * labelled or not. The training suites share it. */
nnp_dataset *tu_blobs8(size_t n, uint64_t seed, int labelled);

/* A net built by an allocation-failure run and the clone it makes of it. */
typedef struct tu_net_pair {
    nnp_net *net, *copy;
} tu_net_pair;

/* tu_alloc_failures' `after` callback for a tu_net_pair: on NNP_ENOMEM the clone's
 * out-parameter is NULL; both handles are freed. */
void tu_net_pair_free(void *user, long k, nnp_status s);

/* ---- The allocation-failure loop ------------------------------------------------------------
 * For k = 1, 2, …, max_k: arms nnpi_fail_alloc_after(k) (the k-th allocation from then on
 * fails), calls run(user, k), disarms, and asserts that the status is NNP_OK, NNP_ENOMEM or
 * `also_allowed`; with check_message, an NNP_ENOMEM run must leave "out of memory" in
 * nnp_last_error(). Then after(user, k, status), if given, checks the run's state (handles
 * NULL, inputs untouched, …) and frees what it made, with nothing armed. With until_ok the loop
 * stops after the first NNP_OK run. The counts let the caller assert how often each happened
 * (e.g. that failures were injected at all, or that the operation finally succeeded). Leaks
 * are found by ASan/valgrind running the suites (scripts/run-tests).
 * A `run` that makes several calls and wants each to meet its own k-th failure re-arms with
 * nnpi_fail_alloc_after(k) before each. */
typedef nnp_status (*tu_alloc_run_fn)(void *user, long k);
typedef void (*tu_alloc_after_fn)(void *user, long k, nnp_status s);

typedef struct tu_alloc_loop {
    const char *what;        /* names the operation in failure messages */
    long max_k;              /* the largest k tried, ≥ 1 */
    int until_ok;            /* stop after the first run that returns NNP_OK */
    int check_message;       /* NNP_ENOMEM runs must say "out of memory" */
    nnp_status also_allowed; /* a status accepted besides NNP_OK and NNP_ENOMEM; NNP_OK: none */
    tu_alloc_run_fn run;     /* the operation under test, called with failure k armed */
    tu_alloc_after_fn after; /* or NULL */
    void *user;              /* passed to run and after */
} tu_alloc_loop;

typedef struct tu_alloc_counts {
    long runs;          /* runs made */
    long failures;      /* runs that returned NNP_ENOMEM */
    long successes;     /* runs that returned NNP_OK */
    long first_ok;      /* k of the first NNP_OK run, 0 if none */
    nnp_status last;    /* status of the last run */
} tu_alloc_counts;

tu_alloc_counts tu_alloc_failures(const tu_alloc_loop *loop);

/* The layers' own arithmetic, without the finiteness checks of the public queries (which
 * refuse non-finite input and output): out = φ_layer(x) for n examples, and, if dx is not
 * NULL, dx = J(x)ᵀ v. For tests of how the layers themselves treat NaN and infinity. */
void tu_pass_unchecked(const nnp_net *net, const float *x, size_t n, size_t layer, float *out,
                       const float *v, float *dx);

/* Runs a suite; returns the process exit status (0 if every test passed). */
int tu_run(Suite *s);

#endif
