/**
 * @file runtime.h
 * @brief Process-wide run-time settings: how many threads the library's passes use.
 *
 * One thread count governs all parallel work of the library: its own loops (OpenMP, when the
 * build has it), the BLAS it calls (OpenBLAS's pthreads) and, in builds with a oneDNN backend,
 * oneDNN's OpenMP threads. Work is split statically, so results are deterministic for a
 * given thread count (they may differ in the last bits between thread counts, as the BLAS's
 * own summation order does).
 *
 * The default is the environment variable `NNPROBE_THREADS` (a positive integer) if set and
 * valid, otherwise the number of CPUs this process may run on (`sched_getaffinity`). With
 * the default, the library leaves the BLAS's own thread setting (e.g. `OPENBLAS_NUM_THREADS`)
 * as the environment made it; a valid `NNPROBE_THREADS` and every nnp_threads_set() call
 * (0 included) apply the count to the BLAS too.
 */
#ifndef NNPROBE_RUNTIME_H
#define NNPROBE_RUNTIME_H

#include <stddef.h>

#include "nnprobe/export.h"
#include "nnprobe/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief Sets the number of threads every later pass of the library uses.
 *
 * Use it to keep several processes (MPI ranks, Slurm tasks) on one node from oversubscribing
 * its cores: e.g. 1 thread per process when each process gets one core.
 *
 * @param count threads, 1 to 1024; 0 restores the default (see the file's description)
 * @retval NNP_OK
 * @retval NNP_EINVAL count above 1024
 * @par Thread safety Safe from any thread; passes already running keep the count they started
 *      with. It also sets OpenBLAS's process-wide thread count (openblas_set_num_threads),
 *      which other users of OpenBLAS in the process share.
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_threads_set(size_t count);

/**
 * @brief The number of threads the library's passes use now (≥ 1).
 * @par Thread safety Safe from any thread.
 * @since 0.2.0
 */
NNP_API size_t nnp_threads_get(void);

#ifdef __cplusplus
}
#endif
#endif
