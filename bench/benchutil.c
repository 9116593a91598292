/* benchutil: shared by the C benchmarks; see benchutil.h. */
#define _POSIX_C_SOURCE 200809L
#include "benchutil.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

bench_opts bench_opt = {1.0, 3, {1, 32, 256}, 3, 42, BENCH_TEXT, 3, 0};

static const char *prog = "bench";

/* ---- failure reporting ---- */

void bench_check(nnp_status s, const char *what)
{
    if (s == NNP_OK) return;
    fprintf(stderr, "%s: %s failed: %s (%s): %s\n", prog, what, nnp_status_name(s),
            nnp_status_str(s), nnp_last_error());
    exit(1);
}

void bench_fail(const char *message)
{
    fprintf(stderr, "%s: %s\n", prog, message);
    exit(1);
}

void *bench_xmalloc(size_t bytes)
{
    void *p = malloc(bytes);
    if (p == NULL) {
        fprintf(stderr, "%s: out of memory (%zu bytes)\n", prog, bytes);
        exit(1);
    }
    return p;
}

/* ---- command line ---- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: %s [--min-time SECONDS] [--reps N] [--batches 1,32,256] [--seed N]\n"
            "%*s [--csv | --json] [--case grad|forward|all] [--no-ref]\n",
            prog, (int)(strlen("usage: ") + strlen(prog)), "");
}

static int parse_batches(const char *s)
{
    bench_opt.n_batches = 0;
    while (*s) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (end == s || errno || v == 0 || v > 65536 || bench_opt.n_batches == BENCH_MAX_BATCHES)
            return -1;
        bench_opt.batches[bench_opt.n_batches++] = (size_t)v;
        s = end;
        if (*s == ',') s++;
        else if (*s) return -1;
    }
    return bench_opt.n_batches ? 0 : -1;
}

void bench_parse_args(const char *name, int argc, char **argv)
{
    prog = name;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (!strcmp(a, "--csv")) bench_opt.format = BENCH_CSV;
        else if (!strcmp(a, "--json")) bench_opt.format = BENCH_JSON;
        else if (!strcmp(a, "--no-ref")) bench_opt.no_ref = 1;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        } else if (v == NULL) bad = 1;
        else if (!strcmp(a, "--min-time")) {
            bench_opt.min_time = strtod(v, NULL);
            bad = !(bench_opt.min_time > 0.0 && bench_opt.min_time < 1000.0);
            i++;
        } else if (!strcmp(a, "--reps")) {
            bench_opt.reps = atoi(v);
            bad = bench_opt.reps < 1 || bench_opt.reps > 1000;
            i++;
        } else if (!strcmp(a, "--batches")) {
            bad = parse_batches(v) != 0;
            i++;
        } else if (!strcmp(a, "--case")) {
            bench_opt.cases = !strcmp(v, "grad")      ? 1
                              : !strcmp(v, "forward") ? 2
                              : !strcmp(v, "all")     ? 3
                                                      : 0;
            bad = bench_opt.cases == 0;
            i++;
        } else if (!strcmp(a, "--seed")) {
            bench_opt.seed = strtoull(v, NULL, 10);
            i++;
        } else bad = 1;
        if (bad) {
            fprintf(stderr, "%s: bad argument '%s'\n", prog, a);
            usage(stderr);
            exit(2);
        }
    }
}

size_t bench_max_batch(void)
{
    size_t max_n = 0;
    for (size_t b = 0; b < bench_opt.n_batches; b++)
        if (bench_opt.batches[b] > max_n) max_n = bench_opt.batches[b];
    return max_n;
}

/* ---- random numbers and data ---- */

static uint64_t rng_state;

void bench_seed_rng(uint64_t seed) { rng_state = seed * 0x9E3779B97F4A7C15ULL + 1; }

float bench_rnd01(void) /* xorshift64*, top 24 bits */
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (float)((rng_state * 2685821657736338717ULL) >> 40) / 16777216.0f;
}

nnp_workspace *bench_prepare(nnp_net *net, size_t in_size, size_t classes, bench_data *d)
{
    bench_check(nnp_net_init_params(net, bench_opt.seed), "nnp_net_init_params");
    if (nnp_net_input_size(net) != in_size || nnp_net_output_size(net) != classes) {
        fprintf(stderr, "%s: unexpected net shape %zu -> %zu\n", prog, nnp_net_input_size(net),
                nnp_net_output_size(net));
        exit(1);
    }
    const size_t max_n = bench_max_batch();
    nnp_workspace *ws = NULL;
    bench_check(nnp_workspace_create(net, max_n, &ws), "nnp_workspace_create");

    /* inputs like MNIST pixels: uniform in [0, 1); labels cycle through the classes */
    bench_seed_rng(bench_opt.seed);
    d->in_size = in_size;
    d->classes = classes;
    d->x = bench_xmalloc(max_n * in_size * sizeof(float));
    d->dx = bench_xmalloc(max_n * in_size * sizeof(float));
    d->logits = bench_xmalloc(max_n * classes * sizeof(float));
    d->labels = bench_xmalloc(max_n * sizeof(int32_t));
    for (size_t i = 0; i < max_n * in_size; i++) d->x[i] = bench_rnd01();
    for (size_t i = 0; i < max_n; i++) d->labels[i] = (int32_t)(i % classes);
    return ws;
}

void bench_release(nnp_net *net, nnp_workspace *ws, bench_data *d)
{
    free(d->x);
    free(d->dx);
    free(d->logits);
    free(d->labels);
    nnp_workspace_free(ws);
    nnp_net_free(net);
}

/* ---- timing ---- */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double bench_time_best(bench_work_fn fn, void *ctx, long *iters_out)
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
    long iters = (long)ceil(bench_opt.min_time / per);
    if (iters < 1) iters = 1;
    double best = INFINITY;
    for (int r = 0; r < bench_opt.reps; r++) {
        double s = now();
        for (long i = 0; i < iters; i++) fn(ctx);
        double t = (now() - s) / (double)iters;
        if (t < best) best = t;
    }
    if (iters_out) *iters_out = iters;
    return best;
}

/* ---- the nnprobe passes and their BLAS chain ---- */

typedef struct {
    const nnp_net *net;
    nnp_workspace *ws;
    const bench_data *d;
    size_t n;
} pass_ctx;

static void run_grad(void *p)
{
    pass_ctx *c = p;
    bench_check(nnp_grad_loss(c->net, c->ws, c->d->x, c->d->labels, c->n, c->d->dx, NULL, NULL),
                "nnp_grad_loss");
}

static void run_forward(void *p)
{
    pass_ctx *c = p;
    bench_check(nnp_net_forward(c->net, c->ws, c->d->x, c->n, c->d->logits), "nnp_net_forward");
}

void bench_dense_fwd(int n, int out, int in, const float *X, const float *W, float *Y)
{
    if (n == 1)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, out, in, 1.0f, W, in, X, 1, 0.0f, Y, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.0f, X, in, W, in, 0.0f,
                    Y, out);
}

void bench_dense_bwd(int n, int out, int in, const float *dY, const float *W, float *dX)
{
    if (n == 1)
        cblas_sgemv(CblasRowMajor, CblasTrans, out, in, 1.0f, W, in, dY, 1, 0.0f, dX, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, in, out, 1.0f, dY, out, W, in,
                    0.0f, dX, in);
}

typedef struct {
    bench_chain_fn fn;
    void *ctx;
    int n, backward;
} chain_call;

static void run_chain(void *p)
{
    chain_call *c = p;
    c->fn(c->ctx, c->n, c->backward);
}

size_t bench_run_passes(const nnp_net *net, nnp_workspace *ws, const bench_data *d,
                        double fwd_flops, bench_chain_fn chain, void *chain_ctx,
                        bench_result *res)
{
    size_t n_res = 0;
    double checksum = 0.0;
    for (size_t b = 0; b < bench_opt.n_batches; b++) {
        const size_t n = bench_opt.batches[b];
        pass_ctx pc = {net, ws, d, n};
        chain_call cc = {chain, chain_ctx, (int)n, 0};
        for (int mode = 0; mode < 2; mode++) { /* 0: grad, 1: forward */
            if (!(bench_opt.cases & (1 << mode))) continue;
            const double flops = (mode == 0 ? 2.0 : 1.0) * (double)n * fwd_flops;
            bench_result *r = &res[n_res++];
            r->kase = mode == 0 ? "grad" : "forward";
            r->batch = n;
            double t = bench_time_best(mode == 0 ? run_grad : run_forward, &pc, &r->iters);
            r->ex_per_s = (double)n / t;
            r->gflops = flops / t * 1e-9;
            cc.backward = mode == 0;
            r->blas_gflops =
                bench_opt.no_ref ? NAN : flops / bench_time_best(run_chain, &cc, NULL) * 1e-9;
            /* use the outputs so the results are visibly sane (and finite) */
            if (mode == 0)
                for (size_t i = 0; i < n * d->in_size; i++) checksum += fabs((double)d->dx[i]);
            else
                for (size_t i = 0; i < n * d->classes; i++) checksum += fabs((double)d->logits[i]);
        }
    }
    if (!isfinite(checksum)) bench_fail("non-finite gradient or logits");
    return n_res;
}

/* ---- single sgemm calls ---- */

typedef struct {
    const bench_sgemm_shape *s;
    const float *A, *B;
    float *C;
} sgemm_ctx;

static void run_sgemm(void *p)
{
    const sgemm_ctx *c = p;
    const bench_sgemm_shape *s = c->s;
    cblas_sgemm(CblasRowMajor, s->trans_a ? CblasTrans : CblasNoTrans,
                s->trans_b ? CblasTrans : CblasNoTrans, s->m, s->n, s->k, 1.0f, c->A,
                s->trans_a ? s->m : s->k, c->B, s->trans_b ? s->k : s->n, 0.0f, c->C, s->n);
}

size_t bench_sgemm_rates(const bench_sgemm_shape *shapes, size_t n_shapes,
                         bench_sgemm_result *out)
{
    if (bench_opt.no_ref || n_shapes == 0) return 0;
    size_t a = 0, b = 0, c = 0;
    for (size_t s = 0; s < n_shapes; s++) {
        const size_t m = (size_t)shapes[s].m, n = (size_t)shapes[s].n, k = (size_t)shapes[s].k;
        if (m * k > a) a = m * k;
        if (k * n > b) b = k * n;
        if (m * n > c) c = m * n;
    }
    float *A = bench_xmalloc(a * sizeof(float));
    float *B = bench_xmalloc(b * sizeof(float));
    float *C = bench_xmalloc(c * sizeof(float));
    for (size_t i = 0; i < a; i++) A[i] = bench_rnd01() - 0.5f;
    for (size_t i = 0; i < b; i++) B[i] = bench_rnd01() - 0.5f;
    for (size_t s = 0; s < n_shapes; s++) {
        sgemm_ctx sc = {&shapes[s], A, B, C};
        double t = bench_time_best(run_sgemm, &sc, NULL);
        snprintf(out[s].name, sizeof out[s].name, "%s", shapes[s].what);
        out[s].gflops = 2.0 * shapes[s].m * shapes[s].n * (double)shapes[s].k / t * 1e-9;
    }
    free(A);
    free(B);
    free(C);
    return n_shapes;
}

/* ---- output ---- */

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

static void print_csv(const bench_result *res, size_t n_res, const bench_sgemm_result *sres,
                      size_t n_sres)
{
    printf("record,case,batch,ex_per_s,gflop_per_s,blas_chain_gflop_per_s,pct_of_blas_chain\n");
    for (size_t i = 0; i < n_res; i++)
        printf("nnprobe,%s,%zu,%.1f,%.3f,%.3f,%.1f\n", res[i].kase, res[i].batch,
               res[i].ex_per_s, res[i].gflops, res[i].blas_gflops,
               100.0 * res[i].gflops / res[i].blas_gflops);
    for (size_t s = 0; s < n_sres; s++) printf("sgemm,%s,,,%.3f,,\n", sres[s].name, sres[s].gflops);
    printf("info,blas,%s\n", blas_info());
}

static void print_json(const bench_result *res, size_t n_res, const bench_sgemm_result *sres,
                       size_t n_sres)
{
    printf("{\n  \"nnprobe_version\": \"%s\",\n  \"blas\": \"%s\",\n", NNP_VERSION_STRING,
           blas_info());
    printf("  \"env\": {\"OPENBLAS_NUM_THREADS\": \"%s\", \"OPENBLAS_CORETYPE\": \"%s\"},\n",
           env_or("OPENBLAS_NUM_THREADS"), env_or("OPENBLAS_CORETYPE"));
    printf("  \"min_time_s\": %g, \"reps\": %d,\n  \"cases\": [\n", bench_opt.min_time,
           bench_opt.reps);
    for (size_t i = 0; i < n_res; i++) {
        char chain[32] = "null"; /* JSON has no NaN: null when --no-ref */
        if (!isnan(res[i].blas_gflops)) snprintf(chain, sizeof chain, "%.3f", res[i].blas_gflops);
        printf("    {\"case\": \"%s\", \"batch\": %zu, \"ex_per_s\": %.1f, \"gflop_per_s\": %.3f, "
               "\"blas_chain_gflop_per_s\": %s, \"iters\": %ld}%s\n",
               res[i].kase, res[i].batch, res[i].ex_per_s, res[i].gflops, chain, res[i].iters,
               i + 1 < n_res ? "," : "");
    }
    printf("  ],\n  \"sgemm\": [\n");
    for (size_t s = 0; s < n_sres; s++)
        printf("    {\"shape\": \"%s\", \"gflop_per_s\": %.3f}%s\n", sres[s].name, sres[s].gflops,
               s + 1 < n_sres ? "," : "");
    printf("  ]\n}\n");
}

static void print_text(const char *title, const bench_result *res, size_t n_res,
                       const bench_sgemm_result *sres, size_t n_sres)
{
    printf("%s: %s, nnprobe %s\n", prog, title, NNP_VERSION_STRING);
    printf("BLAS: %s\n", blas_info());
    printf("env: OPENBLAS_NUM_THREADS=%s OPENBLAS_CORETYPE=%s\n", env_or("OPENBLAS_NUM_THREADS"),
           env_or("OPENBLAS_CORETYPE"));
    printf("timing: best of %d repetitions of ~%.2f s each, after a 0.2 s warm-up\n\n",
           bench_opt.reps, bench_opt.min_time);
    printf("%-8s %6s %14s %10s %12s %8s\n", "case", "batch", "examples/s", "GFLOP/s",
           "BLAS chain", "% chain");
    for (size_t i = 0; i < n_res; i++)
        printf("%-8s %6zu %14.1f %10.2f %12.2f %7.1f%%\n", res[i].kase, res[i].batch,
               res[i].ex_per_s, res[i].gflops, res[i].blas_gflops,
               100.0 * res[i].gflops / res[i].blas_gflops);
    if (n_sres > 0) printf("\nsgemm alone (GFLOP/s):\n");
    for (size_t s = 0; s < n_sres; s++) printf("  %-28s %8.2f\n", sres[s].name, sres[s].gflops);
}

void bench_print(const char *title, const bench_result *res, size_t n_res,
                 const bench_sgemm_result *sres, size_t n_sres)
{
    if (bench_opt.format == BENCH_CSV) print_csv(res, n_res, sres, n_sres);
    else if (bench_opt.format == BENCH_JSON) print_json(res, n_res, sres, n_sres);
    else print_text(title, res, n_res, sres, n_sres);
}
