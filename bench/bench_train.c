/* bench_train: training FC100-100-10 on Fashion-MNIST with nnp_train()'s defaults, for the
 * reference comparison of bench/run-train-bench (bench/torch_train.py).
 *
 *   bench_train [--data-dir D] [--epochs N] [--seed N]
 *
 * Net: 784 – dense 100 – sigmoid – dense 100 – sigmoid – dense 10 (the paper's FC100-100-10),
 * parameters from nnp_net_init_params(seed). Training: nnp_train() with its defaults (minibatch
 * SGD, batch 100, learning rate 0.1, heavy-ball momentum 0.9, no weight decay, no learning-rate
 * decay, softmax cross-entropy, examples shuffled every epoch) for --epochs (default 15) over
 * the 60,000 training images. Timed: the nnp_train() call only (loading is not). Prints one line
 *   side=nnprobe epochs=<e> seconds=<s> test_error=<fraction> train_loss=<final mean loss>
 * test_error is nnp_eval_error_rate() on the 10,000 test images. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nnprobe/nnprobe.h>

static void die(const char *what, nnp_status s)
{
    fprintf(stderr, "bench_train: %s: %s: %s\n", what, nnp_status_name(s), nnp_last_error());
    exit(1);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static nnp_dataset *load(const char *dir, const char *prefix)
{
    char ip[4096], lp[4096];
    snprintf(ip, sizeof ip, "%s/%s-images-idx3-ubyte.gz", dir, prefix);
    snprintf(lp, sizeof lp, "%s/%s-labels-idx1-ubyte.gz", dir, prefix);
    nnp_dataset *ds = NULL;
    nnp_status s = nnp_dataset_load_idx(ip, lp, &ds);
    if (s != NNP_OK) die(ip, s);
    return ds;
}

int main(int argc, char **argv)
{
    const char *data = "/usr/share/datasets/fashion-mnist";
    size_t epochs = 15;
    unsigned long long seed = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--data-dir") && i + 1 < argc) data = argv[++i];
        else if (!strcmp(argv[i], "--epochs") && i + 1 < argc) epochs = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: bench_train [--data-dir D] [--epochs N] [--seed N]\n");
            return 2;
        }
    }
    if (epochs == 0) {
        fprintf(stderr, "bench_train: --epochs must be >= 1\n");
        return 2;
    }
    nnp_dataset *tr = load(data, "train"), *te = load(data, "t10k");

    nnp_net *net = NULL;
    nnp_status s = nnp_net_create(1, 28, 28, &net);
    for (int i = 0; s == NNP_OK && i < 2; i++) {
        s = nnp_net_add_dense(net, 100, NULL);
        if (s == NNP_OK) s = nnp_net_add_activation(net, NNP_LAYER_SIGMOID, NULL);
    }
    if (s == NNP_OK) s = nnp_net_add_dense(net, 10, NULL);
    if (s == NNP_OK) s = nnp_net_init_params(net, seed);
    nnp_train_opts o;
    if (s == NNP_OK) s = nnp_train_opts_init(&o);
    if (s != NNP_OK) die("building the net", s);
    o.epochs = epochs;
    o.seed = seed;

    double loss = 0;
    const double t0 = now();
    if ((s = nnp_train(net, tr, &o, &loss)) != NNP_OK) die("nnp_train", s);
    const double seconds = now() - t0;

    double err = 0;
    if ((s = nnp_eval_error_rate(net, nnp_dataset_images(te), nnp_dataset_labels(te),
                                 nnp_dataset_count(te), &err, NULL)) != NNP_OK)
        die("nnp_eval_error_rate", s);
    printf("side=nnprobe epochs=%zu seconds=%.4f test_error=%.4f train_loss=%.5f threads=%zu\n",
           epochs, seconds, err, loss, nnp_threads_get());
    nnp_net_free(net);
    nnp_dataset_free(tr);
    nnp_dataset_free(te);
    return 0;
}
