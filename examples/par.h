/* Ranks of an MPI run for the example programs (docs/cluster.md): `mpirun -np N prog ...`
 * gives rank r shard r/N of the work and gathers the results on rank 0, which writes the same
 * outputs as a single-process run. Built with MPI when CMake finds it (option NNP_MPI, the
 * macro NNP_HAVE_MPI); otherwise, or when the program was not started by an MPI launcher,
 * there is one rank and every call is trivial. The library itself knows nothing of MPI. */
#ifndef NNPROBE_EXAMPLES_PAR_H
#define NNPROBE_EXAMPLES_PAR_H

#include <stddef.h>

/* Joins the MPI run if the program was started by an MPI launcher (mpirun/srun), else does
 * nothing. Ranks other than 0 get stdout sent to /dev/null (rank 0 reports). Each rank's
 * OpenBLAS thread count is set so that the ranks on one node share its cores, unless
 * OPENBLAS_NUM_THREADS or OMP_NUM_THREADS is set (then the user's count stands). */
void par_init(int *argc, char ***argv);

/* Leaves the MPI run (if joined). */
void par_finalize(void);

/* This rank, 0 … par_size()−1, and the number of ranks (1 without MPI). */
int par_rank(void);
int par_size(void);

/* The largest v over all ranks (every rank gets it): a status agreed by all. */
int par_max_int(int v);

/* Gathers on rank 0 the rows each rank computed: rank r's rows first[r] … first[r]+len[r]−1
 * (rows of row_bytes bytes) are already in place in its `buf`; afterwards rank 0's buf holds
 * every rank's. Returns 0, or 1 after a message. */
int par_gather_rows(void *buf, size_t row_bytes, const size_t *first, const size_t *len);

#endif
