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

#endif
