/* bench_cnn: gradient-of-input throughput of a small MNIST CNN through the public API,
 *   conv5x5x32(pad 2)-relu-maxpool2-conv5x5x64(pad 2)-relu-maxpool2-fc1024-relu-fc10
 * on 1×28×28 inputs, beside the rate CBLAS sgemm reaches on the matrix products of an im2col
 * convolution in the same run.
 *
 * Cases, for each batch size n (as bench_grad):
 *   grad     nnp_grad_loss(): d softmax-xent / dx with labels (one forward + one backward)
 *   forward  nnp_net_forward(): logits only
 * One nnp_workspace, created for the largest batch, serves every call. Parameters from
 * nnp_net_init_params(); inputs uniform in [0, 1), labels i mod 10.
 *
 * FLOPs counted (multiply-add = 2), forward, per example: conv1 2·28·28·32·25, conv2
 * 2·14·14·64·(32·25), fc1 2·(7·7·64)·1024, fc2 2·1024·10 (27.8 MFLOP); the gradient adds the
 * backward-to-input products, the same count again. ReLU, pooling, softmax, biases, and
 * im2col/col2im copies are not counted.
 *
 * "BLAS chain": the GEMMs of an im2col convolution (lib/net/layer_conv.c's NCHW lowering, P =
 * OH·OW positions, K = C·5·5) with the whole batch in one product, issued straight to CBLAS
 * back to back with the net's weights: conv forward W (OC × K) · col (K × n·P), conv
 * backward-to-input dcol = Wᵀ · dY (K × n·P, before col2im); the dense layers as bench_grad
 * (sgemv when n = 1). The im2col/col2im copies, ReLU and pooling are not in it, so it is the
 * ceiling of an im2col implementation on this BLAS, not of every conceivable one.
 *
 * Usage and exit status as bench_grad (bench/benchutil.c holds the shared code):
 *   bench_cnn [--min-time S] [--reps N] [--batches 1,32,256] [--seed N] [--csv | --json]
 *             [--case grad|forward|all] [--no-ref]
 */
#include <stdlib.h>

#include <cblas.h>

#include "benchutil.h"

#define SIDE 28
#define IN_SIZE (SIDE * SIDE)
#define C1 32
#define C2 64
#define K 5
#define P1 (SIDE / 2)              /* 14: side after the first pooling */
#define P2 (SIDE / 4)              /* 7: side after the second */
#define FLAT (C2 * P2 * P2)        /* 3136 */
#define FC1 1024
#define CLASSES 10

/* multiply-adds of one forward pass of one example */
#define FWD_MACS                                                                         \
    ((double)IN_SIZE * C1 * (K * K) + (double)P1 * P1 * C2 * (C1 * K * K) + (double)FLAT * FC1 + \
     (double)FC1 * CLASSES)

/* ---- the BLAS reference ---- */

typedef struct {
    const float *w1, *w2, *w3, *w4;
    float *col1, *y1, *col2, *y2, *p2, *h, *z; /* forward: inputs and outputs of each product */
    float *dh, *dp2, *dcol2, *dcol1;           /* backward outputs */
} chain_ctx;

/* Convolution by im2col, cols = n·P columns: forward Y = W · col, backward dcol = Wᵀ · dY. */
static void conv_fwd(int cols, int oc, int k, const float *col, const float *W, float *Y)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, oc, cols, k, 1.0f, W, k, col, cols,
                0.0f, Y, cols);
}

static void conv_bwd(int cols, int oc, int k, const float *dY, const float *W, float *dcol)
{
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, k, cols, oc, 1.0f, W, k, dY, cols, 0.0f,
                dcol, cols);
}

static void run_chain(void *p, int n, int backward)
{
    chain_ctx *c = p;
    conv_fwd(n * IN_SIZE, C1, K * K, c->col1, c->w1, c->y1);
    conv_fwd(n * P1 * P1, C2, C1 * K * K, c->col2, c->w2, c->y2);
    bench_dense_fwd(n, FC1, FLAT, c->p2, c->w3, c->h);
    bench_dense_fwd(n, CLASSES, FC1, c->h, c->w4, c->z);
    if (!backward) return;
    bench_dense_bwd(n, CLASSES, FC1, c->z, c->w4, c->dh);
    bench_dense_bwd(n, FC1, FLAT, c->dh, c->w3, c->dp2);
    conv_bwd(n * P1 * P1, C2, C1 * K * K, c->y2, c->w2, c->dcol2);
    conv_bwd(n * IN_SIZE, C1, K * K, c->y1, c->w1, c->dcol1);
}

static float *random_buffer(size_t count)
{
    float *p = bench_xmalloc(count * sizeof(float));
    for (size_t i = 0; i < count; i++) p[i] = bench_rnd01();
    return p;
}

static size_t add_conv(nnp_net *net, size_t out_channels, const char *what)
{
    nnp_net_conv2d_opts o;
    size_t layer;
    bench_check(nnp_net_conv2d_opts_init(&o), "nnp_net_conv2d_opts_init");
    o.out_channels = out_channels;
    o.kernel_h = o.kernel_w = K;
    o.pad_top = o.pad_left = o.pad_bottom = o.pad_right = K / 2;
    bench_check(nnp_net_add_conv2d(net, &o, &layer), what);
    bench_check(nnp_net_add_activation(net, NNP_LAYER_RELU, NULL), "nnp_net_add_activation(relu)");
    bench_check(nnp_net_add_maxpool2d(net, NULL, NULL), "nnp_net_add_maxpool2d");
    return layer;
}

int main(int argc, char **argv)
{
    bench_parse_args("bench_cnn", argc, argv);
    const size_t max_n = bench_max_batch();

    nnp_net *net = NULL;
    size_t layer[4];
    bench_check(nnp_net_create(1, SIDE, SIDE, &net), "nnp_net_create");
    layer[0] = add_conv(net, C1, "nnp_net_add_conv2d(32)");
    layer[1] = add_conv(net, C2, "nnp_net_add_conv2d(64)");
    bench_check(nnp_net_add_dense(net, FC1, &layer[2]), "nnp_net_add_dense(1024)");
    bench_check(nnp_net_add_activation(net, NNP_LAYER_RELU, NULL), "nnp_net_add_activation(relu)");
    bench_check(nnp_net_add_dense(net, CLASSES, &layer[3]), "nnp_net_add_dense(10)");
    bench_data d;
    nnp_workspace *ws = bench_prepare(net, IN_SIZE, CLASSES, &d);

    /* BLAS chain buffers, with the net's own weights (conv: OC × C·K·K, row-major); none
     * with --no-ref, so that a profile shows the library alone */
    static const size_t wsize[4] = {C1 * K * K, C2 * C1 * K * K, FC1 * FLAT, CLASSES * FC1};
    const size_t rows1 = max_n * IN_SIZE, rows2 = max_n * P1 * P1;
    float *w[4] = {NULL, NULL, NULL, NULL};
    chain_ctx cc = {0};
    if (!bench_opt.no_ref) {
        for (int l = 0; l < 4; l++) {
            w[l] = bench_xmalloc(wsize[l] * sizeof(float));
            bench_check(nnp_net_get_params(net, layer[l], w[l], NULL), "nnp_net_get_params");
        }
        cc = (chain_ctx){
            w[0], w[1], w[2], w[3],
            random_buffer(rows1 * K * K), random_buffer(rows1 * C1),
            random_buffer(rows2 * C1 * K * K), random_buffer(rows2 * C2),
            random_buffer(max_n * FLAT), random_buffer(max_n * FC1),
            random_buffer(max_n * CLASSES),
            bench_xmalloc(max_n * FC1 * sizeof(float)), bench_xmalloc(max_n * FLAT * sizeof(float)),
            bench_xmalloc(rows2 * C1 * K * K * sizeof(float)),
            bench_xmalloc(rows1 * K * K * sizeof(float)),
        };
    }

    bench_result res[2 * BENCH_MAX_BATCHES];
    const size_t n_res = bench_run_passes(net, ws, &d, 2.0 * FWD_MACS, run_chain, &cc, res);

    /* single sgemm calls (M×N×K, row-major; T marks a transposed operand): conv2, the
     * costliest layer, for one example (as the library tiles it) and for a batch of 256 in one
     * product; fc1 at batch 256; one large square product as the machine's near-peak */
    static const bench_sgemm_shape shapes[] = {
        {C2, P1 * P1, C1 * K * K, 0, 0, "conv2 fwd 64x196x800 NN"},
        {C1 * K * K, P1 * P1, C2, 1, 0, "conv2 bwd 800x196x64 TN"},
        {C2, 256 * P1 * P1, C1 * K * K, 0, 0, "conv2 fwd 64x50176x800 NN"},
        {C1 * K * K, 256 * P1 * P1, C2, 1, 0, "conv2 bwd 800x50176x64 TN"},
        {256, FC1, FLAT, 0, 1, "fc1 fwd 256x1024x3136 NT"},
        {256, FLAT, FC1, 0, 0, "fc1 bwd 256x3136x1024 NN"},
        {1024, 1024, 1024, 0, 0, "square 1024x1024x1024 NN"},
    };
    bench_sgemm_result sres[sizeof shapes / sizeof shapes[0]];
    const size_t n_sres = bench_sgemm_rates(shapes, sizeof shapes / sizeof shapes[0], sres);

    bench_print("CNN conv5x5x32-pool-conv5x5x64-pool-fc1024-fc10 (relu)", res, n_res, sres,
                n_sres);

    for (int l = 0; l < 4; l++) free(w[l]);
    float *bufs[] = {cc.col1, cc.y1, cc.col2, cc.y2, cc.p2, cc.h, cc.z,
                     cc.dh, cc.dp2, cc.dcol2, cc.dcol1};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    bench_release(net, ws, &d);
    return 0;
}
