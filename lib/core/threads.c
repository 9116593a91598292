/* The library's thread count: one setting for our split loops, the BLAS and the backends, so
 * that they never oversubscribe the cores between them (include/nnprobe/runtime.h). */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "core.h"
#include "threads.h"
#include "nnprobe/runtime.h"

#ifdef NNP_HAVE_OPENBLAS_THREADS
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
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

/* ---- nnpi_parallel_range: a small pool of our own, passive (idle workers sleep) ----
 *
 * Why not an OpenMP team: libgomp's idle threads spin for a while after every parallel region
 * (OMP_WAIT_POLICY active by default, read once when the runtime loads, so the library cannot
 * change it). Beside OpenBLAS's own pthreads that oversubscribed the cores: the MNIST CNN's
 * gradient pass ran 10–20× slower on the 2-core machine under load (bench_cnn, 2026-12-04;
 * with OMP_WAIT_POLICY=PASSIVE in the environment it was as fast as before).
 *
 * A call cuts [0, n) into `parts` fixed ranges (nnpi_parallel_range's contract) and publishes
 * the job; the caller and the woken workers take parts from a shared counter until none are
 * left. Which thread runs a part does not matter (the cut is fixed), so a worker that wakes late
 * on a busy machine costs nothing: the caller takes its parts. The job lives on the caller's
 * stack; the caller unpublishes it and waits until no worker still holds it. One job at a
 * time: a call made while another runs (another thread of the caller's, or a nested call) runs
 * its parts itself, in order. */

#define POOL_MAX_WORKERS 255

typedef struct pool_job {
    nnpi_range_fn *fn;
    void *ctx;
    size_t n, parts;
    atomic_size_t next;    /* the next part to take */
    size_t holders;        /* workers that took the job and have not let go (under mu) */
} pool_job;

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_wake = PTHREAD_COND_INITIALIZER; /* a job was published */
static pthread_cond_t pool_idle = PTHREAD_COND_INITIALIZER; /* a worker let go of a job */
static pool_job *pool_current;     /* the published job, or NULL (under pool_mu) */
static unsigned long pool_gen;     /* publications so far (under pool_mu) */
static size_t pool_workers;        /* workers started (under pool_mu) */

static void run_parts(pool_job *j)
{
    for (size_t p; (p = atomic_fetch_add(&j->next, 1)) < j->parts;)
        j->fn(j->ctx, j->n * p / j->parts, j->n * (p + 1) / j->parts);
}

static void *pool_worker(void *arg)
{
    (void)arg;
    unsigned long seen = 0;
    pthread_mutex_lock(&pool_mu);
    for (;;) {
        while (pool_gen == seen) pthread_cond_wait(&pool_wake, &pool_mu);
        seen = pool_gen;
        pool_job *j = pool_current;
        if (j == NULL) continue;
        j->holders++;
        pthread_mutex_unlock(&pool_mu);
        run_parts(j);
        pthread_mutex_lock(&pool_mu);
        if (--j->holders == 0) pthread_cond_broadcast(&pool_idle);
    }
    return NULL;
}

/* Starts workers up to `want` (under pool_mu); a failure leaves fewer, which only means the
 * caller runs more parts itself. */
static void pool_grow(size_t want)
{
    if (want > POOL_MAX_WORKERS) want = POOL_MAX_WORKERS;
    while (pool_workers < want) {
        pthread_t t;
        pthread_attr_t at;
        if (pthread_attr_init(&at) != 0) return;
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        const int r = pthread_create(&t, &at, pool_worker, NULL);
        pthread_attr_destroy(&at);
        if (r != 0) return;
        pool_workers++;
    }
}

void nnpi_parallel_range(size_t n, size_t item_cost, nnpi_range_fn *fn, void *ctx)
{
    const int nt = n ? nnpi_threads_for(n, item_cost) : 1;
    if (nt <= 1) {
        if (n) fn(ctx, 0, n);
        return;
    }
    pool_job j = {.fn = fn, .ctx = ctx, .n = n, .parts = (size_t)nt};
    atomic_init(&j.next, 0);
    pthread_mutex_lock(&pool_mu);
    if (pool_current != NULL) { /* the pool is taken: the same parts, here, in order */
        pthread_mutex_unlock(&pool_mu);
        run_parts(&j);
        return;
    }
    pool_grow((size_t)nt - 1);
    pool_current = &j;
    pool_gen++;
    pthread_cond_broadcast(&pool_wake);
    pthread_mutex_unlock(&pool_mu);
    run_parts(&j);
    /* every part is taken: those not run here are held by workers until they finish */
    pthread_mutex_lock(&pool_mu);
    pool_current = NULL;
    while (j.holders > 0) pthread_cond_wait(&pool_idle, &pool_mu);
    pthread_mutex_unlock(&pool_mu);
}

/* ---- one BLAS thread for passes of small products ---- */

static pthread_mutex_t serial_mu = PTHREAD_MUTEX_INITIALIZER;
static size_t serial_users;  /* stretches running (under serial_mu) */
static int serial_saved;     /* the BLAS's count before the first of them (under serial_mu) */

int nnpi_blas_serial_begin(size_t macs)
{
#ifdef NNP_HAVE_OPENBLAS_THREADS
    if (macs >= NNPI_BLAS_SERIAL_MACS || nnpi_threads() == 1) return 0;
    pthread_mutex_lock(&serial_mu);
    if (serial_users++ == 0) {
        serial_saved = openblas_get_num_threads();
        if (serial_saved > 1) openblas_set_num_threads(1);
    }
    pthread_mutex_unlock(&serial_mu);
    return 1;
#else
    (void)macs;
    return 0;
#endif
}

void nnpi_blas_serial_end(int token)
{
#ifdef NNP_HAVE_OPENBLAS_THREADS
    if (!token) return;
    pthread_mutex_lock(&serial_mu);
    if (--serial_users == 0 && serial_saved > 1) openblas_set_num_threads(serial_saved);
    pthread_mutex_unlock(&serial_mu);
#else
    (void)token;
#endif
}
