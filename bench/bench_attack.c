/* bench_attack: the paper's L-BFGS attack (nnp_attack_lbfgs) on Fashion-MNIST, for the
 * reference comparison of bench/run-lbfgs-attack-bench.
 *
 *   bench_attack --out DIR [--data-dir D] [--count N] [--epochs N]
 *
 * Trains FC10(1e-4) and FC100-100-10 (λ 1e-5, 1e-5, 1e-6) with the library's trainer (its
 * defaults, seed 1), writes for the reference (bench/scipy_attack.py) the weights as raw
 * float32 (per dense layer: W units×inputs row-major, then b), the first N test images
 * (float32), their labels and targets (int32; target = (label + 1 + i mod 9) mod 10), then
 * runs the targeted attack with default options and prints one line per model:
 *   model=<name> success=<k>/<n> mean_rms=<r> seconds=<s> evals=<e per example>
 * mean_rms is over the successes that needed a change. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nnprobe/nnprobe.h>

static void die(const char *what, nnp_status s)
{
    fprintf(stderr, "bench_attack: %s: %s: %s\n", what, nnp_status_name(s), nnp_last_error());
    exit(1);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void write_file(const char *dir, const char *name, const void *p, size_t bytes)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, bytes, f) != bytes || fclose(f) != 0) {
        fprintf(stderr, "bench_attack: cannot write %s\n", path);
        exit(1);
    }
}

typedef struct model {
    const char *name;
    size_t hidden[2], n_hidden;
    double lambda[3];
} model;

static nnp_net *train(const model *m, const nnp_dataset *ds, size_t epochs)
{
    nnp_net *net = NULL;
    nnp_status s = nnp_net_create(1, 28, 28, &net);
    for (size_t i = 0; s == NNP_OK && i < m->n_hidden; i++) {
        s = nnp_net_add_dense(net, m->hidden[i], NULL);
        if (s == NNP_OK) s = nnp_net_add_activation(net, NNP_LAYER_SIGMOID, NULL);
    }
    if (s == NNP_OK) s = nnp_net_add_dense(net, 10, NULL);
    if (s == NNP_OK) s = nnp_net_init_params(net, 1);
    nnp_train_opts o;
    if (s == NNP_OK) s = nnp_train_opts_init(&o);
    if (s != NNP_OK) die("building the net", s);
    o.weight_decay = m->lambda;
    o.n_weight_decay = m->n_hidden + 1;
    if (epochs) o.epochs = epochs;
    if ((s = nnp_train(net, ds, &o, NULL)) != NNP_OK) die("nnp_train", s);
    return net;
}

/* Raw float32 weights of every dense layer, in order: W (units × inputs), b. */
static void save_weights(const nnp_net *net, const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.bin", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "bench_attack: cannot write %s\n", path);
        exit(1);
    }
    for (size_t l = 1; l < nnp_net_layer_count(net); l++) {
        nnp_layer_info info = {.size = sizeof info};
        nnp_status s = nnp_net_layer_info(net, l, &info);
        if (s != NNP_OK) die("nnp_net_layer_info", s);
        if (info.kind != NNP_LAYER_DENSE) continue;
        size_t n = info.weight_count + info.bias_count;
        float *w = malloc(n * sizeof *w);
        if (!w) exit(1);
        if ((s = nnp_net_get_params(net, l, w, w + info.weight_count)) != NNP_OK)
            die("nnp_net_get_params", s);
        if (fwrite(w, sizeof *w, n, f) != n) exit(1);
        free(w);
    }
    if (fclose(f) != 0) exit(1);
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *data = "/usr/share/datasets/fashion-mnist";
    size_t count = 100, epochs = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--out") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(argv[i], "--data-dir") && i + 1 < argc) data = argv[++i];
        else if (!strcmp(argv[i], "--count") && i + 1 < argc) count = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--epochs") && i + 1 < argc) epochs = strtoul(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: bench_attack --out DIR [--data-dir D] [--count N] [--epochs N]\n");
            return 2;
        }
    }
    if (!dir || count == 0 || count > 10000) {
        fprintf(stderr, "bench_attack: --out DIR is required; --count in 1..10000\n");
        return 2;
    }
    char ip[4096], lp[4096];
    nnp_dataset *tr = NULL, *te = NULL;
    snprintf(ip, sizeof ip, "%s/train-images-idx3-ubyte.gz", data);
    snprintf(lp, sizeof lp, "%s/train-labels-idx1-ubyte.gz", data);
    nnp_status s = nnp_dataset_load_idx(ip, lp, &tr);
    if (s != NNP_OK) die("loading the training set", s);
    snprintf(ip, sizeof ip, "%s/t10k-images-idx3-ubyte.gz", data);
    snprintf(lp, sizeof lp, "%s/t10k-labels-idx1-ubyte.gz", data);
    if ((s = nnp_dataset_load_idx(ip, lp, &te)) != NNP_OK) die("loading the test set", s);

    const size_t d = 784;
    const float *x = nnp_dataset_images(te);
    const int32_t *y = nnp_dataset_labels(te);
    int32_t *t = malloc(count * sizeof *t);
    float *xa = malloc(count * d * sizeof *xa);
    nnp_attack_result *r = malloc(count * sizeof *r);
    if (!t || !xa || !r) return 1;
    for (size_t i = 0; i < count; i++) t[i] = (int32_t)((y[i] + 1 + (int32_t)(i % 9)) % 10);
    write_file(dir, "x.bin", x, count * d * sizeof *x);
    write_file(dir, "labels.bin", y, count * sizeof *y);
    write_file(dir, "targets.bin", t, count * sizeof *t);

    const model models[2] = {{"fc10", {0, 0}, 0, {1e-4, 0, 0}},
                             {"fc100-100-10", {100, 100}, 2, {1e-5, 1e-5, 1e-6}}};
    for (int k = 0; k < 2; k++) {
        nnp_net *net = train(&models[k], tr, epochs);
        save_weights(net, dir, models[k].name);
        double t0 = now();
        if ((s = nnp_attack_lbfgs(net, x, y, t, count, NULL, xa, r)) != NNP_OK)
            die("nnp_attack_lbfgs", s);
        double sec = now() - t0, rms = 0, evals = 0;
        size_t ok = 0, changed = 0;
        for (size_t i = 0; i < count; i++) {
            ok += (size_t)r[i].success;
            evals += (double)r[i].evaluations;
            if (r[i].success && r[i].rms > 0) {
                changed++;
                rms += r[i].rms;
            }
        }
        printf("model=%s success=%zu/%zu mean_rms=%.6f seconds=%.4f evals=%.1f\n", models[k].name,
               ok, count, changed ? rms / (double)changed : 0.0, sec, evals / (double)count);
        fflush(stdout);
        nnp_net_free(net);
    }
    free(t);
    free(xa);
    free(r);
    nnp_dataset_free(tr);
    nnp_dataset_free(te);
    return 0;
}
