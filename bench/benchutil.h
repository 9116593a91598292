/* benchutil: what the C benchmarks (bench_grad.c, bench_cnn.c) share — the command line, the
 * timing loop, status checks, the input data, the timed nnprobe passes beside a "BLAS chain"
 * of the same matrix products, single-sgemm rates, and the text/CSV/JSON output.
 * See bench/README.md for what the numbers mean.
 */
#ifndef NNP_BENCHUTIL_H
#define NNP_BENCHUTIL_H

#include <stddef.h>
#include <stdint.h>

#include <nnprobe/nnprobe.h>

#define BENCH_MAX_BATCHES 16

enum bench_format { BENCH_TEXT, BENCH_CSV, BENCH_JSON };

/* The command line shared by every bench program:
 *   [--min-time S] [--reps N] [--batches 1,32,256] [--seed N] [--csv | --json]
 *   [--case grad|forward|all] [--no-ref] */
typedef struct bench_opts {
    double min_time;
    int reps;
    size_t batches[BENCH_MAX_BATCHES];
    size_t n_batches;
    uint64_t seed;
    enum bench_format format;
    int cases;  /* bit 0: grad, bit 1: forward */
    int no_ref; /* skip the BLAS chain and the sgemm rates (to profile the library alone) */
} bench_opts;

extern bench_opts bench_opt;

/* Names the program in messages ("PROG: ...") and parses the command line into bench_opt;
 * exits 0 after --help, 2 on a bad argument. */
void bench_parse_args(const char *prog, int argc, char **argv);

/* Largest batch of bench_opt.batches. */
size_t bench_max_batch(void);

/* On a status other than NNP_OK: prints "PROG: WHAT failed: ..." with nnp_last_error(), exits 1. */
void bench_check(nnp_status s, const char *what);
/* Prints "PROG: MESSAGE" to stderr and exits 1. */
void bench_fail(const char *message);
/* malloc that exits 1 when out of memory. */
void *bench_xmalloc(size_t bytes);

/* Uniform in [0, 1), deterministic from bench_seed_rng(). */
void bench_seed_rng(uint64_t seed);
float bench_rnd01(void);

typedef void (*bench_work_fn)(void *ctx);
/* Best seconds per call of fn(ctx) over bench_opt.reps repetitions of ~bench_opt.min_time s,
 * after a warm-up of at least 0.2 s and 3 calls; *iters_out (if not NULL) gets the calls per
 * repetition. */
double bench_time_best(bench_work_fn fn, void *ctx, long *iters_out);

/* Inputs like MNIST pixels, uniform in [0, 1), labels i mod classes, and the output buffers,
 * for bench_max_batch() examples. Seeds the generator with bench_opt.seed. */
typedef struct bench_data {
    size_t in_size, classes;
    float *x, *dx, *logits;
    int32_t *labels;
} bench_data;

/* For a built net: sets its parameters (nnp_net_init_params with bench_opt.seed), checks that
 * it maps in_size floats to `classes` logits, fills *d, and returns a workspace for
 * bench_max_batch() examples. Exits 1 on failure. */
nnp_workspace *bench_prepare(nnp_net *net, size_t in_size, size_t classes, bench_data *d);
/* Frees what bench_prepare() made, and the net. */
void bench_release(nnp_net *net, nnp_workspace *ws, bench_data *d);

/* The reference for a pass: the matrix products it needs, issued straight to CBLAS for a batch
 * of n; backward != 0 adds the backward-to-input products. */
typedef void (*bench_chain_fn)(void *ctx, int n, int backward);

/* The products of a row-major dense layer of `in` inputs and `out` units (W is out×in) for n
 * rows: forward Y = X·Wᵀ, backward-to-input dX = dY·W; sgemv when n = 1, as the library. */
void bench_dense_fwd(int n, int out, int in, const float *X, const float *W, float *Y);
void bench_dense_bwd(int n, int out, int in, const float *dY, const float *W, float *dX);

typedef struct bench_result {
    const char *kase;
    size_t batch;
    double ex_per_s, gflops, blas_gflops;
    long iters;
} bench_result;

/* Times nnp_grad_loss() ("grad", 2 × fwd_flops per example) and nnp_net_forward() ("forward",
 * fwd_flops per example) at each batch of bench_opt, the cases bench_opt.cases selects, each
 * beside chain(chain_ctx, n, backward) unless bench_opt.no_ref. Exits 1 on a failed call or a
 * non-finite result. Fills res (room for 2 × BENCH_MAX_BATCHES) and returns the count. */
size_t bench_run_passes(const nnp_net *net, nnp_workspace *ws, const bench_data *d,
                        double fwd_flops, bench_chain_fn chain, void *chain_ctx,
                        bench_result *res);

/* One cblas_sgemm, row-major: C (m×n) = A (m×k, or k×m when trans_a) · B (k×n, or n×k when
 * trans_b). */
typedef struct bench_sgemm_shape {
    int m, n, k, trans_a, trans_b;
    const char *what;
} bench_sgemm_shape;

typedef struct bench_sgemm_result {
    char name[64];
    double gflops;
} bench_sgemm_result;

/* GFLOP/s of single sgemm calls of each shape on random matrices; nothing when
 * bench_opt.no_ref. Returns the count written to out. */
size_t bench_sgemm_rates(const bench_sgemm_shape *shapes, size_t n_shapes,
                         bench_sgemm_result *out);

/* Prints the results in bench_opt.format; `title` describes the workload on the text header
 * line ("PROG: TITLE, nnprobe VERSION"). */
void bench_print(const char *title, const bench_result *res, size_t n_res,
                 const bench_sgemm_result *sres, size_t n_sres);

#endif
