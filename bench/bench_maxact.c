/* bench_maxact: throughput of the maximum-activation search (nnp_maxact_search) against plain
 * forward passes of the same net over the same data, in the same run (issue 6's speed bar:
 * top-k search over the 10,000 Fashion-MNIST test images for 100 directions at once at
 * ≥ forward-pass throughput).
 *
 * Workload: the test images of an IDX file (default: Fashion-MNIST's t10k set), nets with
 * parameters from nnp_net_init_params (throughput does not depend on training):
 *   fc200  784-200s-200s-10 (the paper's FC200-200-10), search at layer 4 (the second sigmoid)
 *   cnn    the MNIST CNN of bench_cnn (conv5x5x32 p2, relu, maxpool2, conv5x5x64 p2, relu,
 *          maxpool2, dense 1024, relu, dense 10), search at layer 8 (the 1024 relu)
 * Cases per net, each over all N images in batches of 256:
 *   forward  nnp_net_forward() to the logits, batch after batch, one reused workspace
 *   search   nnp_maxact_search() for D random unit directions (default 100), top-k and
 *            bottom-k (k = 9), one call on the same workspace
 * Timing: one warm-up call of each, then R rounds (default 5) of both cases, forward first in
 * even rounds and search first in odd ones; the best time of each is kept, and the median of
 * the per-round ratios is printed too. Printed: images/s of each and the ratio search / forward.
 *
 * Usage: bench_maxact [--images FILE] [--net fc200|cnn|all] [--directions D] [--top K]
 *                     [--rounds R] [--limit N]
 * Exit status 0, 1 on a failed call, 2 on a bad argument. */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nnprobe/nnprobe.h>

#define BATCH 256
#define PROG "bench_maxact"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void check(nnp_status s, const char *what)
{
    if (s == NNP_OK) return;
    fprintf(stderr, PROG ": %s failed: %s: %s\n", what, nnp_status_name(s), nnp_last_error());
    exit(1);
}

static nnp_net *build(const char *name, size_t *layer)
{
    nnp_net *net = NULL;
    check(nnp_net_create(1, 28, 28, &net), "nnp_net_create");
    if (strcmp(name, "fc200") == 0) {
        check(nnp_net_add_dense(net, 200, NULL), "dense");
        check(nnp_net_add_activation(net, NNP_LAYER_SIGMOID, NULL), "sigmoid");
        check(nnp_net_add_dense(net, 200, NULL), "dense");
        check(nnp_net_add_activation(net, NNP_LAYER_SIGMOID, layer), "sigmoid");
        check(nnp_net_add_dense(net, 10, NULL), "dense");
    } else {
        nnp_net_conv2d_opts co;
        nnp_net_pool2d_opts po;
        check(nnp_net_pool2d_opts_init(&po), "pool opts");
        for (int i = 0; i < 2; i++) {
            check(nnp_net_conv2d_opts_init(&co), "conv opts");
            co.out_channels = i ? 64 : 32;
            co.kernel_h = co.kernel_w = 5;
            co.pad_top = co.pad_left = co.pad_bottom = co.pad_right = 2;
            check(nnp_net_add_conv2d(net, &co, NULL), "conv");
            check(nnp_net_add_activation(net, NNP_LAYER_RELU, NULL), "relu");
            check(nnp_net_add_maxpool2d(net, &po, NULL), "maxpool");
        }
        check(nnp_net_add_flatten(net, NULL), "flatten");
        check(nnp_net_add_dense(net, 1024, NULL), "dense");
        check(nnp_net_add_activation(net, NNP_LAYER_RELU, layer), "relu");
        check(nnp_net_add_dense(net, 10, NULL), "dense");
    }
    check(nnp_net_init_params(net, 42), "nnp_net_init_params");
    return net;
}

static void run(const char *name, const nnp_dataset *ds, size_t n_dir, size_t k, int rounds)
{
    size_t layer = 0;
    nnp_net *net = build(name, &layer);
    nnp_layer_info info = {.size = sizeof info};
    check(nnp_net_layer_info(net, layer, &info), "nnp_net_layer_info");
    const size_t N = nnp_dataset_count(ds), D = nnp_dataset_example_size(ds);
    const size_t dim = info.output_size, C = nnp_net_output_size(net);
    float *dirs = malloc(n_dir * dim * sizeof *dirs), *logits = malloc(BATCH * C * sizeof *logits);
    size_t *ti = malloc(n_dir * k * sizeof *ti), *bi = malloc(n_dir * k * sizeof *bi);
    float *ts = malloc(n_dir * k * sizeof *ts), *bs = malloc(n_dir * k * sizeof *bs);
    if (!dirs || !logits || !ti || !bi || !ts || !bs) {
        fprintf(stderr, PROG ": out of memory\n");
        exit(1);
    }
    check(nnp_maxact_directions_random(dim, n_dir, 7, dirs), "nnp_maxact_directions_random");
    nnp_workspace *ws = NULL;
    check(nnp_workspace_create(net, BATCH, &ws), "nnp_workspace_create");
    nnp_maxact_search_opts so;
    check(nnp_maxact_search_opts_init(&so), "opts");
    so.batch_size = BATCH;
    const float *x = nnp_dataset_images(ds);
    double best_f = INFINITY, best_s = INFINITY, checksum = 0, *ratio = malloc((size_t)rounds * sizeof *ratio);
    if (!ratio) {
        fprintf(stderr, PROG ": out of memory\n");
        exit(1);
    }
    for (int r = -1; r < rounds; r++) { /* r = −1: warm-up; odd rounds run the search first */
        double tf = 0, ts_ = 0;
        for (int half = 0; half < 2; half++) {
            double t0 = now();
            if ((half == 0) == (r % 2 == 0 || r < 0)) {
                for (size_t i = 0; i < N; i += BATCH) {
                    size_t n = N - i < BATCH ? N - i : BATCH;
                    check(nnp_net_forward(net, ws, x + i * D, n, logits), "nnp_net_forward");
                }
                tf = now() - t0;
            } else {
                check(nnp_maxact_search(net, ws, ds, layer, dirs, n_dir, k, &so, ti, ts, bi, bs, NULL),
                      "nnp_maxact_search");
                ts_ = now() - t0;
            }
        }
        checksum += logits[0] + ts[0] + bs[0];
        if (r < 0) continue;
        ratio[r] = tf / ts_;
        if (tf < best_f) best_f = tf;
        if (ts_ < best_s) best_s = ts_;
    }
    if (!isfinite(checksum)) {
        fprintf(stderr, PROG ": non-finite results\n");
        exit(1);
    }
    /* median of the per-round ratios: steadier than the ratio of the bests on a busy machine */
    for (int i = 1; i < rounds; i++)
        for (int j = i; j > 0 && ratio[j] < ratio[j - 1]; j--) {
            double t = ratio[j];
            ratio[j] = ratio[j - 1];
            ratio[j - 1] = t;
        }
    double median = rounds % 2 ? ratio[rounds / 2] : 0.5 * (ratio[rounds / 2 - 1] + ratio[rounds / 2]);
    printf("%-6s layer %zu (%s, %zu units)\n"
           "       forward  %9.0f img/s (best round)\n"
           "       search   %9.0f img/s (best round; %zu directions, top-%zu and bottom-%zu)\n"
           "       ratio search/forward: %.2f of the best rounds, %.2f median of %d rounds\n",
           name, layer, nnp_layer_kind_name(info.kind), dim, (double)N / best_f,
           (double)N / best_s, n_dir, k, k, best_f / best_s, median, rounds);
    free(ratio);
    fflush(stdout);
    nnp_workspace_free(ws);
    nnp_net_free(net);
    free(dirs);
    free(logits);
    free(ti);
    free(bi);
    free(ts);
    free(bs);
}

int main(int argc, char **argv)
{
    const char *images = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
    const char *which = "all";
    long n_dir = 100, k = 9, rounds = 5, limit = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long *num = strcmp(a, "--directions") == 0 ? &n_dir : strcmp(a, "--top") == 0 ? &k
                  : strcmp(a, "--rounds") == 0 ? &rounds : strcmp(a, "--limit") == 0 ? &limit : NULL;
        if (strcmp(a, "--help") == 0) {
            printf("usage: " PROG " [--images FILE] [--net fc200|cnn|all] [--directions D] "
                   "[--top K] [--rounds R] [--limit N]\n");
            return 0;
        } else if (v && strcmp(a, "--images") == 0) {
            images = v;
        } else if (v && strcmp(a, "--net") == 0) {
            which = v;
        } else if (v && num) {
            char *end;
            *num = strtol(v, &end, 10);
            if (*end || *num < (num == &limit ? 0 : 1)) {
                fprintf(stderr, PROG ": %s: bad value '%s'\n", a, v);
                return 2;
            }
        } else {
            fprintf(stderr, PROG ": bad argument '%s' (try --help)\n", a);
            return 2;
        }
        i++;
    }
    if (strcmp(which, "fc200") && strcmp(which, "cnn") && strcmp(which, "all")) {
        fprintf(stderr, PROG ": --net: fc200, cnn or all\n");
        return 2;
    }
    nnp_dataset *all = NULL, *ds = NULL;
    check(nnp_dataset_load_idx(images, NULL, &all), "loading the images");
    size_t c, h, w;
    check(nnp_dataset_shape(all, &c, &h, &w), "nnp_dataset_shape");
    if (c * h * w != 784) {
        fprintf(stderr, PROG ": %s: expected 28x28 images\n", images);
        return 2;
    }
    if (limit > 0 && (size_t)limit < nnp_dataset_count(all))
        check(nnp_dataset_subset(all, 0, (size_t)limit, &ds), "--limit");
    printf(PROG ": %zu images of %s, batch %d, best of %ld rounds, nnprobe %s\n",
           nnp_dataset_count(ds ? ds : all), images, BATCH, rounds, nnp_version_string());
    if (strcmp(which, "cnn")) run("fc200", ds ? ds : all, (size_t)n_dir, (size_t)k, (int)rounds);
    if (strcmp(which, "fc200")) run("cnn", ds ? ds : all, (size_t)n_dir, (size_t)k, (int)rounds);
    nnp_dataset_free(ds);
    nnp_dataset_free(all);
    return 0;
}
