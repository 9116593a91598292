/* bench_lipschitz: exact operator norms by nnp_lipschitz_bounds() (Lanczos on AᵀA) on the two
 * workloads of issue 6, timed, with the weights written out so that bench/lipschitz_ref.py
 * computes the references (NumPy SVD, PyTorch power iteration, a float64 value) on the very
 * same operators; bench/run-lipschitz-bench runs both and prints the ratios.
 *
 *   dense  784 → 200 (weights W 200×784, Glorot uniform from the seed)
 *   conv   64 → 64, 3×3, zero padding 1, stride 1, on 64×32×32 (Glorot uniform from the seed)
 *
 * Usage: bench_lipschitz [--reps N] [--seed N] [--tol T] [--out DIR] [--csv]
 * Writes DIR/dense.f32 (200×784 row-major float32) and DIR/conv.f32 (64×64×3×3) when --out is
 * given. Prints per workload: σ, Lanczos steps, operator applications, estimated accuracy,
 * best seconds of --reps runs of nnp_lipschitz_bounds() (see below for the conv).
 *
 * The timed calls for the conv are nnp_lipschitz_bounds() on a net holding only that conv,
 * the whole call each time: with opts.paper_bound = 0 (the exact norm alone, its Lanczos
 * started from a coarse Fourier grid's refined peak: csv row conv_exact_only); with the
 * defaults (the paper's Fourier bound, then the exact norm started from its refined singular
 * vector: row conv); the same with opts.full_reorth = 1 (conv_full_reorth); and the Fourier
 * bound on its own (exact = 0: conv_fourier_bound), to show the split. The dense layer's call
 * is the default one (its bound is its exact norm). */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nnprobe/nnprobe.h>

static void check(nnp_status s, const char *what)
{
    if (s == NNP_OK) return;
    fprintf(stderr, "bench_lipschitz: %s failed: %s: %s\n", what, nnp_status_name(s),
            nnp_last_error());
    exit(1);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void save(const nnp_net *net, size_t layer, const char *dir, const char *name)
{
    if (dir == NULL) return;
    nnp_layer_info li = {.size = sizeof li};
    check(nnp_net_layer_info(net, layer, &li), "nnp_net_layer_info");
    float *w = malloc(li.weight_count * sizeof *w);
    if (w == NULL) exit(1);
    check(nnp_net_get_params(net, layer, w, NULL), "nnp_net_get_params");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(w, sizeof *w, li.weight_count, f) != li.weight_count || fclose(f)) {
        fprintf(stderr, "bench_lipschitz: cannot write %s\n", path);
        exit(1);
    }
    free(w);
}

typedef struct run {
    double best, sigma, accuracy;
    size_t iterations, applications;
    int converged;
} run;

/* Best time of `reps` calls of nnp_lipschitz_bounds(net, exact?) and the last result. */
static run time_bounds(const nnp_net *net, int exact, int paper, int full, size_t grid, double tol,
                       int reps, uint64_t seed)
{
    nnp_lipschitz_opts o;
    check(nnp_lipschitz_opts_init(&o), "nnp_lipschitz_opts_init");
    o.exact = exact;
    o.paper_bound = paper;
    o.full_reorth = full;
    o.fourier_grid_h = o.fourier_grid_w = grid;
    o.tol = tol;
    o.seed = seed;
    nnp_lipschitz_info info[2] = {{.size = sizeof info[0]}, {.size = sizeof info[0]}};
    run r = {INFINITY, 0, 0, 0, 0, 0};
    for (int i = 0; i < reps; i++) {
        const double t0 = now();
        check(nnp_lipschitz_bounds(net, &o, info, 2), "nnp_lipschitz_bounds");
        const double t = now() - t0;
        if (t < r.best) r.best = t;
    }
    r.sigma = exact ? info[1].exact : info[1].bound;
    r.accuracy = info[1].accuracy;
    r.iterations = info[1].iterations;
    r.applications = info[1].applications;
    r.converged = info[1].converged;
    return r;
}

int main(int argc, char **argv)
{
    int reps = 3, csv = 0;
    uint64_t seed = 1;
    double tol = 1e-6;
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--tol") && i + 1 < argc) tol = strtod(argv[++i], NULL);
        else if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
        else if (!strcmp(argv[i], "--csv")) csv = 1;
        else {
            fprintf(stderr, "usage: bench_lipschitz [--reps N] [--seed N] [--tol T] [--out DIR] [--csv]\n");
            return 2;
        }
    }
    if (reps < 1) reps = 1;

    nnp_net *dense = NULL, *conv = NULL;
    check(nnp_net_create(1, 28, 28, &dense), "nnp_net_create");
    check(nnp_net_add_dense(dense, 200, NULL), "nnp_net_add_dense");
    check(nnp_net_init_params(dense, seed), "nnp_net_init_params");
    check(nnp_net_create(64, 32, 32, &conv), "nnp_net_create");
    nnp_net_conv2d_opts co;
    check(nnp_net_conv2d_opts_init(&co), "nnp_net_conv2d_opts_init");
    co.out_channels = 64;
    co.pad_top = co.pad_left = co.pad_bottom = co.pad_right = 1;
    check(nnp_net_add_conv2d(conv, &co, NULL), "nnp_net_add_conv2d");
    check(nnp_net_init_params(conv, seed), "nnp_net_init_params");
    save(dense, 1, out, "dense.f32");
    save(conv, 1, out, "conv.f32");

    /* the whole call: the paper's Fourier bound, then the exact norm started from its vector */
    const run d = time_bounds(dense, 1, 1, 0, 0, tol, reps, seed);
    const run ce = time_bounds(conv, 1, 0, 0, 0, tol, reps, seed); /* exact norm only */
    const run c = time_bounds(conv, 1, 1, 0, 0, tol, reps, seed);
    const run cf = time_bounds(conv, 1, 1, 1, 0, tol, reps, seed); /* full reorthogonalisation */
    const run f = time_bounds(conv, 0, 1, 0, 0, tol, reps, seed); /* the Fourier bound alone */
    const double c_exact = c.best, cf_exact = cf.best;
    if (csv) {
        printf("case,sigma,iterations,applications,accuracy,converged,seconds\n");
        printf("dense,%.10g,%zu,%zu,%.3g,%d,%.6g\n", d.sigma, d.iterations, d.applications,
               d.accuracy, d.converged, d.best);
        printf("conv,%.10g,%zu,%zu,%.3g,%d,%.6g\n", c.sigma, c.iterations, c.applications,
               c.accuracy, c.converged, c_exact);
        printf("conv_exact_only,%.10g,%zu,%zu,%.3g,%d,%.6g\n", ce.sigma, ce.iterations,
               ce.applications, ce.accuracy, ce.converged, ce.best);
        printf("conv_full_reorth,%.10g,%zu,%zu,%.3g,%d,%.6g\n", cf.sigma, cf.iterations,
               cf.applications, cf.accuracy, cf.converged, cf_exact);
        printf("conv_fourier_bound,%.10g,,,,,%.6g\n", f.sigma, f.best);
    } else {
        printf("bench_lipschitz: nnprobe %s, tol %g, best of %d\n", nnp_version_string(), tol, reps);
        printf("dense 784->200: sigma %.10g  steps %zu  applications %zu  accuracy %.2g%s  %.4g s\n",
               d.sigma, d.iterations, d.applications, d.accuracy, d.converged ? "" : " (NOT converged)",
               d.best);
        printf("conv 64->64 3x3 pad 1 on 32x32: sigma %.10g  steps %zu  applications %zu  accuracy "
               "%.2g%s  %.4g s (with the paper's Fourier bound %.10g, alone %.4g s)\n",
               c.sigma, c.iterations, c.applications, c.accuracy,
               c.converged ? "" : " (NOT converged)", c_exact, f.sigma, f.best);
        printf("  exact norm only (paper_bound = 0): sigma %.10g  steps %zu  accuracy %.2g%s  %.4g s\n",
               ce.sigma, ce.iterations, ce.accuracy, ce.converged ? "" : " (NOT converged)",
               ce.best);
        printf("  same with full reorthogonalisation: sigma %.10g  steps %zu  %.4g s\n", cf.sigma,
               cf.iterations, cf_exact);
    }
    nnp_net_free(dense);
    nnp_net_free(conv);
    return 0;
}
