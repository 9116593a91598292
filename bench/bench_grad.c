/* bench_grad: gradient-of-input throughput of FC200-200-10 (784-200-200-10, sigmoid after each
 * hidden dense layer) through the public API, beside the rate CBLAS sgemm reaches on the
 * same matrix products in the same run.
 *
 * Cases, for each batch size n:
 *   grad     nnp_grad_loss(): d softmax-xent / dx with labels (one forward + one backward)
 *   forward  nnp_forward(): logits only
 * One nnp_workspace, created for the largest batch, serves every call (no allocation inside
 * the timed loops).
 *
 * Timing (same method as bench/torch_grad.py): the case runs until 0.2 s have passed (warm-up
 * and calibration), then the iteration count is fixed so one repetition lasts about
 * --min-time seconds; the best (highest) examples/s of --reps repetitions is reported.
 *
 * FLOPs counted (multiply-add = 2): forward 2·n·(784·200 + 200·200 + 200·10); the gradient adds
 * the backward-to-input products, the same count again. Activations, softmax and bias adds are
 * not counted.
 *
 * "BLAS chain" is the reference for the GFLOP/s: the same matrix products the pass needs
 * (same shapes, same transposes, same buffers sizes) issued straight to CBLAS back to back with
 * nothing in between: sgemm for n > 1, sgemv for n = 1 (a matrix-vector product). The % column
 * is our pass's GFLOP/s over that chain's: 100% would mean everything but the BLAS calls is free.
 *
 * Usage: bench_grad [--min-time S] [--reps N] [--batches 1,32,256] [--seed N] [--csv | --json]
 *                   [--case grad|forward|all] [--no-ref]
 * --case and --no-ref (skip the BLAS chain and sgemm measurements) are for profiling.
 * Exit status 0 on success, 1 if any nnp_ call fails (the message of nnp_last_error() is
 * printed), 2 on a bad command line.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include <nnprobe/nnprobe.h>

#define IN_SIZE 784
#define H1 200
#define H2 200
#define CLASSES 10
#define MAX_BATCHES 16

/* multiply-adds of one forward pass of one example */
#define FWD_MACS ((double)IN_SIZE * H1 + (double)H1 * H2 + (double)H2 * CLASSES)

enum out_format { OUT_TEXT, OUT_CSV, OUT_JSON };

static struct {
    double min_time;
    int reps;
    size_t batches[MAX_BATCHES];
    size_t n_batches;
    uint64_t seed;
    enum out_format format;
    int cases;  /* bit 0: grad, bit 1: forward */
    int no_ref; /* skip the BLAS chain and the sgemm rates (to profile the library alone) */
} opt = {1.0, 3, {1, 32, 256}, 3, 42, OUT_TEXT, 3, 0};

/* ---- failure reporting ---- */

static void check(nnp_status s, const char *what)
{
    if (s == NNP_OK) return;
    fprintf(stderr, "bench_grad: %s failed: %s (%s): %s\n", what, nnp_status_name(s),
            nnp_status_str(s), nnp_last_error());
    exit(1);
}

static void *xmalloc(size_t bytes)
{
    void *p = malloc(bytes);
    if (p == NULL) {
        fprintf(stderr, "bench_grad: out of memory (%zu bytes)\n", bytes);
        exit(1);
    }
    return p;
}

/* ---- timing ---- */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef void (*work_fn)(void *ctx);

/* Best seconds per call of fn(ctx) over opt.reps repetitions, each ~opt.min_time long. */
static double time_best(work_fn fn, void *ctx, long *iters_out)
{
    /* warm-up and calibration: at least 0.2 s and 3 calls */
    long calls = 0;
    double t0 = now(), el;
    do {
        fn(ctx);
        calls++;
        el = now() - t0;
    } while (el < 0.2 || calls < 3);
    double per = el / (double)calls;
    long iters = (long)ceil(opt.min_time / per);
    if (iters < 1) iters = 1;
    double best = INFINITY;
    for (int r = 0; r < opt.reps; r++) {
        double s = now();
        for (long i = 0; i < iters; i++) fn(ctx);
        double t = (now() - s) / (double)iters;
        if (t < best) best = t;
    }
    if (iters_out) *iters_out = iters;
    return best;
}

/* ---- the nnprobe cases ---- */

typedef struct {
    const nnp_net *net;
    nnp_workspace *ws;
    const float *x;
    const int32_t *labels;
    size_t n;
    float *dx, *logits;
} pass_ctx;

static void run_grad(void *p)
{
    pass_ctx *c = p;
    check(nnp_grad_loss(c->net, c->ws, c->x, c->labels, c->n, c->dx, NULL, NULL), "nnp_grad_loss");
}

static void run_forward(void *p)
{
    pass_ctx *c = p;
    check(nnp_forward(c->net, c->ws, c->x, c->n, c->logits), "nnp_forward");
}

/* ---- the BLAS reference ---- */

typedef struct {
    int n;        /* batch */
    int backward; /* also the three backward-to-input products */
    const float *x, *w1, *w2, *w3;
    float *a1, *a2, *z, *g2, *g1, *dx;
} chain_ctx;

/* The products of FC200-200-10, as a row-major dense layer does them: Y = X·Wᵀ forward,
 * dX = dY·W backward; sgemv when n = 1. */
static void gemm_nt(int n, int out, int in, const float *X, const float *W, float *Y)
{
    if (n == 1)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, out, in, 1.0f, W, in, X, 1, 0.0f, Y, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.0f, X, in, W, in, 0.0f,
                    Y, out);
}

static void gemm_nn(int n, int out, int in, const float *dY, const float *W, float *dX)
{
    if (n == 1)
        cblas_sgemv(CblasRowMajor, CblasTrans, out, in, 1.0f, W, in, dY, 1, 0.0f, dX, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, in, out, 1.0f, dY, out, W, in,
                    0.0f, dX, in);
}

static void run_chain(void *p)
{
    chain_ctx *c = p;
    gemm_nt(c->n, H1, IN_SIZE, c->x, c->w1, c->a1);
    gemm_nt(c->n, H2, H1, c->a1, c->w2, c->a2);
    gemm_nt(c->n, CLASSES, H2, c->a2, c->w3, c->z);
    if (!c->backward) return;
    gemm_nn(c->n, CLASSES, H2, c->z, c->w3, c->g2);
    gemm_nn(c->n, H2, H1, c->g2, c->w2, c->g1);
    gemm_nn(c->n, H1, IN_SIZE, c->g1, c->w1, c->dx);
}

typedef struct {
    int m, n, k, trans_b;
    const float *A, *B;
    float *C;
} sgemm_ctx;

static void run_sgemm(void *p)
{
    sgemm_ctx *c = p;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, c->trans_b ? CblasTrans : CblasNoTrans, c->m, c->n,
                c->k, 1.0f, c->A, c->k, c->B, c->trans_b ? c->k : c->n, 0.0f, c->C, c->n);
}

/* ---- results ---- */

typedef struct {
    const char *kase;
    size_t batch;
    double ex_per_s, gflops, blas_gflops;
    long iters;
} pass_result;

typedef struct {
    char name[64];
    double gflops;
} sgemm_result;

static uint64_t rng_state;
static float rnd01(void) /* xorshift64*, top 24 bits */
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (float)((rng_state * 2685821657736338717ULL) >> 40) / 16777216.0f;
}

static void usage(FILE *f)
{
    fputs("usage: bench_grad [--min-time SECONDS] [--reps N] [--batches 1,32,256] [--seed N]\n"
          "                  [--csv | --json] [--case grad|forward|all] [--no-ref]\n",
          f);
}

static int parse_batches(const char *s)
{
    opt.n_batches = 0;
    while (*s) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (end == s || errno || v == 0 || v > 65536 || opt.n_batches == MAX_BATCHES) return -1;
        opt.batches[opt.n_batches++] = (size_t)v;
        s = end;
        if (*s == ',') s++;
        else if (*s) return -1;
    }
    return opt.n_batches ? 0 : -1;
}

static void parse_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (!strcmp(a, "--csv")) opt.format = OUT_CSV;
        else if (!strcmp(a, "--json")) opt.format = OUT_JSON;
        else if (!strcmp(a, "--no-ref")) opt.no_ref = 1;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        } else if (v == NULL) bad = 1;
        else if (!strcmp(a, "--min-time")) {
            opt.min_time = strtod(v, NULL);
            bad = !(opt.min_time > 0.0 && opt.min_time < 1000.0);
            i++;
        } else if (!strcmp(a, "--reps")) {
            opt.reps = atoi(v);
            bad = opt.reps < 1 || opt.reps > 1000;
            i++;
        } else if (!strcmp(a, "--batches")) {
            bad = parse_batches(v) != 0;
            i++;
        } else if (!strcmp(a, "--case")) {
            opt.cases = !strcmp(v, "grad") ? 1 : !strcmp(v, "forward") ? 2 : !strcmp(v, "all") ? 3 : 0;
            bad = opt.cases == 0;
            i++;
        } else if (!strcmp(a, "--seed")) {
            opt.seed = strtoull(v, NULL, 10);
            i++;
        } else bad = 1;
        if (bad) {
            fprintf(stderr, "bench_grad: bad argument '%s'\n", a);
            usage(stderr);
            exit(2);
        }
    }
}

static const char *blas_info(void)
{
#ifdef NNP_BENCH_OPENBLAS
    static char buf[256];
    snprintf(buf, sizeof buf, "%s; core %s; %d threads", openblas_get_config(),
             openblas_get_corename(), openblas_get_num_threads());
    return buf;
#else
    return "CBLAS (not OpenBLAS: no thread/core query)";
#endif
}

static const char *env_or(const char *name)
{
    const char *v = getenv(name);
    return v ? v : "(unset)";
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);

    size_t max_n = 0;
    for (size_t b = 0; b < opt.n_batches; b++)
        if (opt.batches[b] > max_n) max_n = opt.batches[b];

    /* the network: 1×28×28 → dense 200 → sigmoid → dense 200 → sigmoid → dense 10 */
    nnp_net *net = NULL;
    size_t dense[3];
    check(nnp_net_create(1, 28, 28, &net), "nnp_net_create");
    check(nnp_net_add_dense(net, H1, &dense[0]), "nnp_net_add_dense(200)");
    check(nnp_net_add_activation(net, NNP_LAYER_SIGMOID, NULL), "nnp_net_add_activation(sigmoid)");
    check(nnp_net_add_dense(net, H2, &dense[1]), "nnp_net_add_dense(200)");
    check(nnp_net_add_activation(net, NNP_LAYER_SIGMOID, NULL), "nnp_net_add_activation(sigmoid)");
    check(nnp_net_add_dense(net, CLASSES, &dense[2]), "nnp_net_add_dense(10)");
    check(nnp_net_init_params(net, opt.seed), "nnp_net_init_params");
    if (nnp_net_input_size(net) != IN_SIZE || nnp_net_output_size(net) != CLASSES) {
        fprintf(stderr, "bench_grad: unexpected net shape %zu -> %zu\n", nnp_net_input_size(net),
                nnp_net_output_size(net));
        return 1;
    }
    nnp_workspace *ws = NULL;
    check(nnp_workspace_create(net, max_n, &ws), "nnp_workspace_create");

    /* inputs like MNIST pixels: uniform in [0, 1); labels cycle through the classes */
    rng_state = opt.seed * 0x9E3779B97F4A7C15ULL + 1;
    float *x = xmalloc(max_n * IN_SIZE * sizeof(float));
    float *dx = xmalloc(max_n * IN_SIZE * sizeof(float));
    float *logits = xmalloc(max_n * CLASSES * sizeof(float));
    int32_t *labels = xmalloc(max_n * sizeof(int32_t));
    for (size_t i = 0; i < max_n * IN_SIZE; i++) x[i] = rnd01();
    for (size_t i = 0; i < max_n; i++) labels[i] = (int32_t)(i % CLASSES);

    /* BLAS chain buffers, with the net's own weights */
    float *w1 = xmalloc((size_t)H1 * IN_SIZE * sizeof(float));
    float *w2 = xmalloc((size_t)H2 * H1 * sizeof(float));
    float *w3 = xmalloc((size_t)CLASSES * H2 * sizeof(float));
    check(nnp_net_get_params(net, dense[0], w1, NULL), "nnp_net_get_params(dense 1)");
    check(nnp_net_get_params(net, dense[1], w2, NULL), "nnp_net_get_params(dense 2)");
    check(nnp_net_get_params(net, dense[2], w3, NULL), "nnp_net_get_params(dense 3)");
    float *a1 = xmalloc(max_n * H1 * sizeof(float)), *a2 = xmalloc(max_n * H2 * sizeof(float));
    float *z = xmalloc(max_n * CLASSES * sizeof(float));
    float *g2 = xmalloc(max_n * H2 * sizeof(float)), *g1 = xmalloc(max_n * H1 * sizeof(float));
    float *cdx = xmalloc(max_n * IN_SIZE * sizeof(float));

    pass_result res[2 * MAX_BATCHES];
    size_t n_res = 0;
    double checksum = 0.0;
    for (size_t b = 0; b < opt.n_batches; b++) {
        const size_t n = opt.batches[b];
        pass_ctx pc = {net, ws, x, labels, n, dx, logits};
        chain_ctx cc = {(int)n, 0, x, w1, w2, w3, a1, a2, z, g2, g1, cdx};
        for (int mode = 0; mode < 2; mode++) { /* 0: grad, 1: forward */
            if (!(opt.cases & (1 << mode))) continue;
            const double flops = (mode == 0 ? 4.0 : 2.0) * (double)n * FWD_MACS;
            pass_result *r = &res[n_res++];
            r->kase = mode == 0 ? "grad" : "forward";
            r->batch = n;
            double t = time_best(mode == 0 ? run_grad : run_forward, &pc, &r->iters);
            r->ex_per_s = (double)n / t;
            r->gflops = flops / t * 1e-9;
            cc.backward = mode == 0;
            r->blas_gflops = opt.no_ref ? NAN : flops / time_best(run_chain, &cc, NULL) * 1e-9;
            /* use the outputs so the results are visibly sane (and finite) */
            if (mode == 0)
                for (size_t i = 0; i < n * IN_SIZE; i++) checksum += fabs((double)dx[i]);
            else
                for (size_t i = 0; i < n * CLASSES; i++) checksum += fabs((double)logits[i]);
        }
    }
    if (!isfinite(checksum)) {
        fprintf(stderr, "bench_grad: non-finite gradient or logits\n");
        return 1;
    }

    /* single sgemm calls: the batch-256 shapes of the pass (M×N×K, row-major, B transposed
     * for the forward products) and one large square product as the machine's near-peak */
    static const struct { int m, n, k, tb; const char *what; } shapes[] = {
        {256, 200, 784, 1, "fwd dense1 256x200x784 NT"},
        {256, 784, 200, 0, "bwd dense1 256x784x200 NN"},
        {256, 200, 200, 1, "fwd dense2 256x200x200 NT"},
        {1024, 1024, 1024, 0, "square 1024x1024x1024 NN"},
    };
    const size_t n_shapes = opt.no_ref ? 0 : sizeof shapes / sizeof shapes[0];
    sgemm_result sres[sizeof shapes / sizeof shapes[0]];
    if (n_shapes > 0) {
        float *A = xmalloc((size_t)1024 * 1024 * sizeof(float));
        float *B = xmalloc((size_t)1024 * 1024 * sizeof(float));
        float *C = xmalloc((size_t)1024 * 1024 * sizeof(float));
        for (size_t i = 0; i < (size_t)1024 * 1024; i++) {
            A[i] = rnd01() - 0.5f;
            B[i] = rnd01() - 0.5f;
        }
        for (size_t s = 0; s < n_shapes; s++) {
            sgemm_ctx sc = {shapes[s].m, shapes[s].n, shapes[s].k, shapes[s].tb, A, B, C};
            double t = time_best(run_sgemm, &sc, NULL);
            snprintf(sres[s].name, sizeof sres[s].name, "%s", shapes[s].what);
            sres[s].gflops = 2.0 * shapes[s].m * shapes[s].n * (double)shapes[s].k / t * 1e-9;
        }
        free(A);
        free(B);
        free(C);
    }

    /* ---- output ---- */
    if (opt.format == OUT_CSV) {
        printf("record,case,batch,ex_per_s,gflop_per_s,blas_chain_gflop_per_s,pct_of_blas_chain\n");
        for (size_t i = 0; i < n_res; i++)
            printf("nnprobe,%s,%zu,%.1f,%.3f,%.3f,%.1f\n", res[i].kase, res[i].batch,
                   res[i].ex_per_s, res[i].gflops, res[i].blas_gflops,
                   100.0 * res[i].gflops / res[i].blas_gflops);
        for (size_t s = 0; s < n_shapes; s++)
            printf("sgemm,%s,,,%.3f,,\n", sres[s].name, sres[s].gflops);
        printf("info,blas,%s\n", blas_info());
    } else if (opt.format == OUT_JSON) {
        printf("{\n  \"nnprobe_version\": \"%s\",\n  \"blas\": \"%s\",\n", NNP_VERSION_STRING,
               blas_info());
        printf("  \"env\": {\"OPENBLAS_NUM_THREADS\": \"%s\", \"OPENBLAS_CORETYPE\": \"%s\"},\n",
               env_or("OPENBLAS_NUM_THREADS"), env_or("OPENBLAS_CORETYPE"));
        printf("  \"min_time_s\": %g, \"reps\": %d,\n  \"cases\": [\n", opt.min_time, opt.reps);
        for (size_t i = 0; i < n_res; i++) {
            char chain[32] = "null"; /* JSON has no NaN: null when --no-ref */
            if (!isnan(res[i].blas_gflops)) snprintf(chain, sizeof chain, "%.3f", res[i].blas_gflops);
            printf("    {\"case\": \"%s\", \"batch\": %zu, \"ex_per_s\": %.1f, \"gflop_per_s\": %.3f, "
                   "\"blas_chain_gflop_per_s\": %s, \"iters\": %ld}%s\n",
                   res[i].kase, res[i].batch, res[i].ex_per_s, res[i].gflops, chain, res[i].iters,
                   i + 1 < n_res ? "," : "");
        }
        printf("  ],\n  \"sgemm\": [\n");
        for (size_t s = 0; s < n_shapes; s++)
            printf("    {\"shape\": \"%s\", \"gflop_per_s\": %.3f}%s\n", sres[s].name,
                   sres[s].gflops, s + 1 < n_shapes ? "," : "");
        printf("  ]\n}\n");
    } else {
        printf("bench_grad: FC200-200-10 (784-200-200-10, sigmoid), nnprobe %s\n",
               NNP_VERSION_STRING);
        printf("BLAS: %s\n", blas_info());
        printf("env: OPENBLAS_NUM_THREADS=%s OPENBLAS_CORETYPE=%s\n",
               env_or("OPENBLAS_NUM_THREADS"), env_or("OPENBLAS_CORETYPE"));
        printf("timing: best of %d repetitions of ~%.2f s each, after a 0.2 s warm-up\n\n",
               opt.reps, opt.min_time);
        printf("%-8s %6s %14s %10s %12s %8s\n", "case", "batch", "examples/s", "GFLOP/s",
               "BLAS chain", "% chain");
        for (size_t i = 0; i < n_res; i++)
            printf("%-8s %6zu %14.1f %10.2f %12.2f %7.1f%%\n", res[i].kase, res[i].batch,
                   res[i].ex_per_s, res[i].gflops, res[i].blas_gflops,
                   100.0 * res[i].gflops / res[i].blas_gflops);
        if (n_shapes > 0) printf("\nsgemm alone (GFLOP/s):\n");
        for (size_t s = 0; s < n_shapes; s++)
            printf("  %-28s %8.2f\n", sres[s].name, sres[s].gflops);
    }

    free(x);
    free(dx);
    free(logits);
    free(labels);
    free(w1);
    free(w2);
    free(w3);
    free(a1);
    free(a2);
    free(z);
    free(g2);
    free(g1);
    free(cdx);
    nnp_workspace_free(ws);
    nnp_net_free(net);
    return 0;
}
