/* Ranks of an MPI run (see par.h). With NNP_HAVE_MPI: MPI, joined only when an MPI launcher
 * started the program; without: one rank. */
#define _POSIX_C_SOURCE 200809L
#include "par.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#ifdef NNP_HAVE_MPI
#include <mpi.h>
#endif

static int g_rank = 0, g_size = 1, g_joined = 0;

/* OpenBLAS's own call, found at run time so that the programs need not link OpenBLAS
 * themselves (the library does); absent with another BLAS, then nothing is set. Another
 * branch adds a library thread-count API (nnp_threads_set); until then this is the knob. */
static void set_blas_threads(int threads)
{
    if (getenv("OPENBLAS_NUM_THREADS") || getenv("OMP_NUM_THREADS")) return;
    void (*set)(int);
    *(void **)&set = dlsym(RTLD_DEFAULT, "openblas_set_num_threads");
    if (set) set(threads < 1 ? 1 : threads);
}

#ifdef NNP_HAVE_MPI
static int launched_by_mpi(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK",
                                       "PMI_RANK", "MPI_LOCALNRANKS"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        if (getenv(vars[i])) return 1;
    return 0;
}
#endif

void par_init(int *argc, char ***argv)
{
#ifdef NNP_HAVE_MPI
    if (!launched_by_mpi()) return;
    if (MPI_Init(argc, argv) != MPI_SUCCESS) {
        fprintf(stderr, "MPI_Init failed: running as one process\n");
        return;
    }
    g_joined = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    /* ranks on this node share its cores: each gets cores / local ranks BLAS threads */
    MPI_Comm node;
    int local = 1;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) ==
        MPI_SUCCESS) {
        MPI_Comm_size(node, &local);
        MPI_Comm_free(&node);
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    set_blas_threads(cores > local ? (int)(cores / local) : 1);
    if (g_rank != 0 && freopen("/dev/null", "w", stdout) == NULL) {
        /* nothing to do: the rank's report would just be duplicated */
    }
#else
    (void)argc, (void)argv;
    (void)set_blas_threads;
#endif
}

void par_finalize(void)
{
#ifdef NNP_HAVE_MPI
    if (g_joined) MPI_Finalize();
    g_joined = 0;
#endif
}

int par_rank(void) { return g_rank; }
int par_size(void) { return g_size; }

int par_max_int(int v)
{
#ifdef NNP_HAVE_MPI
    int m = v;
    if (g_joined) MPI_Allreduce(&v, &m, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return m;
#else
    return v;
#endif
}

int par_gather_rows(void *buf, size_t row_bytes, const size_t *first, const size_t *len)
{
#ifdef NNP_HAVE_MPI
    if (!g_joined || g_size == 1) return 0;
    int *counts = malloc((size_t)g_size * sizeof *counts);
    int *displs = malloc((size_t)g_size * sizeof *displs);
    int bad = !counts || !displs;
    for (int r = 0; !bad && r < g_size; r++) {
        const size_t end = first[r] + len[r];
        if (row_bytes && end > (size_t)INT_MAX / row_bytes) bad = 1;
        else {
            counts[r] = (int)(len[r] * row_bytes);
            displs[r] = (int)(first[r] * row_bytes);
        }
    }
    bad = par_max_int(bad);
    if (!bad) {
        char *b = buf;
        const void *send = g_rank == 0 ? MPI_IN_PLACE : b + displs[g_rank];
        bad = MPI_Gatherv(send, counts[g_rank], MPI_BYTE, b, counts, displs, MPI_BYTE, 0,
                          MPI_COMM_WORLD) != MPI_SUCCESS;
    }
    if (bad) fprintf(stderr, "gathering the ranks' results failed (more than 2 GiB?)\n");
    free(counts);
    free(displs);
    return bad;
#else
    (void)buf, (void)row_bytes, (void)first, (void)len;
    return 0;
#endif
}
