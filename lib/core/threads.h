/* The library's one thread count (include/nnprobe/runtime.h), read by every parallel loop and
 * handed to the backends. */
#ifndef NNP_CORE_THREADS_H
#define NNP_CORE_THREADS_H

#include <stddef.h>

/* Threads a pass started now may use (≥ 1): nnp_threads_get(). */
size_t nnpi_threads(void);

/* Threads for a loop of `work` independent items of roughly `item_cost` floating-point
 * operations each: 1 when the work is too small to repay waking the other threads, else
 * min(nnpi_threads(), work). Used as the num_threads of an OpenMP loop. */
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

/* Below this many multiply-adds per BLAS call a pass runs the BLAS on one thread: handing a
 * product of a few hundred thousand multiply-adds (FC200-200-10 at batch 1: 784×200 GEMVs) to a
 * second BLAS thread costs as much as it saves, and on a busy machine much more (bench_grad). */
#define NNPI_BLAS_SERIAL_MACS ((size_t)1 << 20)

/* Starts a stretch of BLAS calls of at most `macs` multiply-adds each: below
 * NNPI_BLAS_SERIAL_MACS, and with more than one thread, the BLAS's own threads are set to 1
 * until the matching nnpi_blas_serial_end(token). Nested and concurrent stretches are counted:
 * the BLAS's count is saved by the first and restored by the last. A no-op (token 0) without
 * OpenBLAS's thread API. */
int nnpi_blas_serial_begin(size_t macs);
void nnpi_blas_serial_end(int token);

#endif
