/* The library's one thread count (include/nnprobe/runtime.h), read by every parallel loop and
 * handed to the backends. */
#ifndef NNP_CORE_THREADS_H
#define NNP_CORE_THREADS_H

#include <stddef.h>

/* Threads a pass started now may use (≥ 1): nnp_threads_get(). */
size_t nnpi_threads(void);

/* Threads for a loop of `work` independent items of roughly `item_cost` floating-point
 * operations each: 1 when the work is too small to repay waking the other threads, else
 * min(nnpi_threads(), work): the number of parts of nnpi_parallel_range. */
int nnpi_threads_for(size_t work, size_t item_cost);

/* A loop body over items [lo, hi) of some range; ctx carries its arguments. */
typedef void nnpi_range_fn(void *ctx, size_t lo, size_t hi);

/* Runs fn over [0, n) cut into nt = nnpi_threads_for(n, item_cost) contiguous parts, part t
 * being [n·t/nt, n·(t+1)/nt), run by the caller and a pool of passive worker threads (see
 * threads.c), or fn(ctx, 0, n) when nt = 1. The cut depends on n and the thread count only, so
 * a body whose items are independent gives the same bits for every thread count, and one that
 * sums per part gives the same bits on every run at a fixed count. The body must not call the
 * BLAS (which has threads of its own). Safe to call from several threads at once. */
void nnpi_parallel_range(size_t n, size_t item_cost, nnpi_range_fn *fn, void *ctx);

/* Below this many multiply-adds per BLAS call a pass runs the BLAS on one thread. OpenBLAS
 * splits a product statically between its threads and waits for the slowest: when the machine
 * has other work, a descheduled BLAS thread stalls the pass. Measured on the 2-core machine
 * under load (2026-12-04, load average 13-17; bench/bench_train, bench/bench_grad): 2 epochs of
 * FC100-100-10 training at batch 100 (products of 7.8M multiply-adds) took 14.6-25 s with two
 * OpenBLAS threads and 4.1-4.5 s with one; FC200-200-10 gradients at batch 32 (5M) ran at
 * 430-19,000 examples/s with two and 14,500-15,500 with one; at batch 1 (157k, GEMVs) the
 * serial path ran at 11,000-16,500 against 190-9,300. On an idle machine two threads may gain
 * up to ~1.6x on the 5-8M products; this threshold gives that up for passes that never stall. */
#define NNPI_BLAS_SERIAL_MACS ((size_t)1 << 23)

/* Starts a stretch of BLAS calls of at most `macs` multiply-adds each: below
 * NNPI_BLAS_SERIAL_MACS, and with more than one thread, the BLAS's own threads are set to 1
 * until the matching nnpi_blas_serial_end(token). Nested and concurrent stretches are counted:
 * the BLAS's count is saved by the first and restored by the last. A no-op (token 0) without
 * OpenBLAS's thread API. */
int nnpi_blas_serial_begin(size_t macs);
void nnpi_blas_serial_end(int token);

#endif
