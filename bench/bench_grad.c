/* bench_grad: gradient-of-input throughput of FC200-200-10 (784-200-200-10, sigmoid after each
 * hidden dense layer) through the public API, beside the rate CBLAS sgemm reaches on the
 * same matrix products in the same run.
 *
 * Cases, for each batch size n:
 *   grad     nnp_grad_loss(): d softmax-xent / dx with labels (one forward + one backward)
 *   forward  nnp_net_forward(): logits only
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
 * The command line, timing loop, data, checks and output are bench/benchutil.c's.
 * Exit status 0 on success, 1 if any nnp_ call fails (the message of nnp_last_error() is
 * printed), 2 on a bad command line.
 */
#include <stdlib.h>

#include "benchutil.h"

#define IN_SIZE 784
#define H1 200
#define H2 200
#define CLASSES 10

/* multiply-adds of one forward pass of one example */
#define FWD_MACS ((double)IN_SIZE * H1 + (double)H1 * H2 + (double)H2 * CLASSES)

/* ---- the BLAS reference ---- */

typedef struct {
    const float *x, *w1, *w2, *w3;
    float *a1, *a2, *z, *g2, *g1, *dx;
} chain_ctx;

/* The products of FC200-200-10, as its dense layers do them (sgemv when n = 1). */
static void run_chain(void *p, int n, int backward)
{
    chain_ctx *c = p;
    bench_dense_fwd(n, H1, IN_SIZE, c->x, c->w1, c->a1);
    bench_dense_fwd(n, H2, H1, c->a1, c->w2, c->a2);
    bench_dense_fwd(n, CLASSES, H2, c->a2, c->w3, c->z);
    if (!backward) return;
    bench_dense_bwd(n, CLASSES, H2, c->z, c->w3, c->g2);
    bench_dense_bwd(n, H2, H1, c->g2, c->w2, c->g1);
    bench_dense_bwd(n, H1, IN_SIZE, c->g1, c->w1, c->dx);
}

int main(int argc, char **argv)
{
    bench_parse_args("bench_grad", argc, argv);
    const size_t max_n = bench_max_batch();

    /* the network: 1×28×28 → dense 200 → sigmoid → dense 200 → sigmoid → dense 10 */
    nnp_net *net = NULL;
    size_t dense[3];
    bench_check(nnp_net_create(1, 28, 28, &net), "nnp_net_create");
    bench_check(nnp_net_add_dense(net, H1, &dense[0]), "nnp_net_add_dense(200)");
    bench_check(nnp_net_add_activation(net, NNP_LAYER_SIGMOID, NULL),
                "nnp_net_add_activation(sigmoid)");
    bench_check(nnp_net_add_dense(net, H2, &dense[1]), "nnp_net_add_dense(200)");
    bench_check(nnp_net_add_activation(net, NNP_LAYER_SIGMOID, NULL),
                "nnp_net_add_activation(sigmoid)");
    bench_check(nnp_net_add_dense(net, CLASSES, &dense[2]), "nnp_net_add_dense(10)");
    bench_data d;
    nnp_workspace *ws = bench_prepare(net, IN_SIZE, CLASSES, &d);

    /* BLAS chain buffers, with the net's own weights */
    float *w1 = bench_xmalloc((size_t)H1 * IN_SIZE * sizeof(float));
    float *w2 = bench_xmalloc((size_t)H2 * H1 * sizeof(float));
    float *w3 = bench_xmalloc((size_t)CLASSES * H2 * sizeof(float));
    bench_check(nnp_net_get_params(net, dense[0], w1, NULL), "nnp_net_get_params(dense 1)");
    bench_check(nnp_net_get_params(net, dense[1], w2, NULL), "nnp_net_get_params(dense 2)");
    bench_check(nnp_net_get_params(net, dense[2], w3, NULL), "nnp_net_get_params(dense 3)");
    float *a1 = bench_xmalloc(max_n * H1 * sizeof(float));
    float *a2 = bench_xmalloc(max_n * H2 * sizeof(float));
    float *z = bench_xmalloc(max_n * CLASSES * sizeof(float));
    float *g2 = bench_xmalloc(max_n * H2 * sizeof(float));
    float *g1 = bench_xmalloc(max_n * H1 * sizeof(float));
    float *cdx = bench_xmalloc(max_n * IN_SIZE * sizeof(float));
    chain_ctx cc = {d.x, w1, w2, w3, a1, a2, z, g2, g1, cdx};

    bench_result res[2 * BENCH_MAX_BATCHES];
    const size_t n_res = bench_run_passes(net, ws, &d, 2.0 * FWD_MACS, run_chain, &cc, res);

    /* single sgemm calls: the batch-256 shapes of the pass (M×N×K, row-major, B transposed
     * for the forward products) and one large square product as the machine's near-peak */
    static const bench_sgemm_shape shapes[] = {
        {256, 200, 784, 0, 1, "fwd dense1 256x200x784 NT"},
        {256, 784, 200, 0, 0, "bwd dense1 256x784x200 NN"},
        {256, 200, 200, 0, 1, "fwd dense2 256x200x200 NT"},
        {1024, 1024, 1024, 0, 0, "square 1024x1024x1024 NN"},
    };
    bench_sgemm_result sres[sizeof shapes / sizeof shapes[0]];
    const size_t n_sres = bench_sgemm_rates(shapes, sizeof shapes / sizeof shapes[0], sres);

    bench_print("FC200-200-10 (784-200-200-10, sigmoid)", res, n_res, sres, n_sres);

    free(w1);
    free(w2);
    free(w3);
    free(a1);
    free(a2);
    free(z);
    free(g2);
    free(g1);
    free(cdx);
    bench_release(net, ws, &d);
    return 0;
}
