/* The library's thread count: one setting for our OpenMP loops, the BLAS and the backends, so
 * that they never oversubscribe the cores between them (include/nnprobe/runtime.h). */
#define _GNU_SOURCE
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "core.h"
#include "threads.h"
#include "nnprobe/runtime.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#ifdef NNP_HAVE_OPENBLAS_THREADS
void openblas_set_num_threads(int num_threads);
#endif

#define NNPI_MAX_THREADS 1024
/* Below this many floating-point operations a loop runs on one thread: waking an OpenMP team
 * costs a few microseconds, the time of ~10⁵ operations on one core. */
#define NNPI_PARALLEL_MIN_FLOPS 100000u

static atomic_size_t threads_now; /* 0: not yet initialised */

static size_t cpus_available(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return (size_t)n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (size_t)n : 1;
}

/* NNPROBE_THREADS as a count in 1..NNPI_MAX_THREADS, or 0 if unset or invalid (an invalid value
 * falls back to the default: a run-time setting cannot fail a pass that has no status for it). */
static size_t env_threads(void)
{
    const char *v = getenv("NNPROBE_THREADS");
    if (v == NULL || v[0] < '1' || v[0] > '9') return 0;
    char *end;
    unsigned long n = strtoul(v, &end, 10);
    return *end == '\0' && n <= NNPI_MAX_THREADS ? (size_t)n : 0;
}

static void apply_to_blas(size_t n)
{
#ifdef NNP_HAVE_OPENBLAS_THREADS
    openblas_set_num_threads((int)n);
#else
    (void)n;
#endif
}

static size_t default_threads(int *from_env)
{
    size_t n = env_threads();
    *from_env = n != 0;
    return n ? n : cpus_available();
}

size_t nnpi_threads(void)
{
    size_t n = atomic_load_explicit(&threads_now, memory_order_relaxed);
    if (n) return n;
    int from_env;
    n = default_threads(&from_env);
    size_t expected = 0;
    /* the first caller to initialise applies an explicit NNPROBE_THREADS to the BLAS */
    if (atomic_compare_exchange_strong(&threads_now, &expected, n) && from_env) apply_to_blas(n);
    return atomic_load_explicit(&threads_now, memory_order_relaxed);
}

int nnpi_threads_for(size_t work, size_t item_cost)
{
    size_t t = nnpi_threads();
    if (t == 1 || work < 2 || work * item_cost < NNPI_PARALLEL_MIN_FLOPS) return 1;
    return (int)(t < work ? t : work);
}

nnp_status nnp_threads_set(size_t count)
{
    if (count > NNPI_MAX_THREADS)
        return nnpi_error(NNP_EINVAL, "nnp_threads_set: count %zu is above %d", count,
                          NNPI_MAX_THREADS);
    int from_env;
    size_t n = count ? count : default_threads(&from_env);
    atomic_store(&threads_now, n);
    apply_to_blas(n);
    return NNP_OK;
}

size_t nnp_threads_get(void) { return nnpi_threads(); }

void nnpi_parallel_range(size_t n, size_t item_cost, nnpi_range_fn *fn, void *ctx)
{
    const int nt = n ? nnpi_threads_for(n, item_cost) : 1;
    if (nt <= 1) {
        if (n) fn(ctx, 0, n);
        return;
    }
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
    {
        /* the team may be smaller than asked (OMP_THREAD_LIMIT, nesting): cut by its size */
        const size_t t = (size_t)omp_get_thread_num(), k = (size_t)omp_get_num_threads();
        fn(ctx, n * t / k, n * (t + 1) / k);
    }
#else
    fn(ctx, 0, n);
#endif
}
