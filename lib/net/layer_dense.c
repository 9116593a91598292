/* Dense (fully connected) layer: y = W x + b, W is units × fan_in row-major (PyTorch's
 * Linear layout). A batch is one GEMM: Y (n×O) = X (n×I) · Wᵀ + 1 bᵀ. */
#include <string.h>

#include <cblas.h>

#include "net/net_internal.h"

static int blas_int(size_t v) { return (int)v; } /* sizes are bounded by 2^31 when built */

/* Below this batch size one GEMV per example beats one GEMM: OpenBLAS's sgemm repacks the
 * whole weight matrix on every call, which dominates when there are few rows (measured with
 * bench/bench_grad on FC200-200-10: GEMM at batch 4 was 2.4× slower per example than GEMV). */
#define GEMV_MAX_BATCH 12

static void dense_forward(const nnpi_node *node, const float *params, const float *const *in,
                          float *out, size_t n, float *scratch)
{
    (void)scratch;
    const size_t n_out = node->out_size, n_in = node->in_size;
    const float *W = params, *b = params + node->n_weights;
    for (size_t i = 0; i < n; i++) memcpy(out + i * n_out, b, n_out * sizeof(float));
    if (n <= GEMV_MAX_BATCH)
        for (size_t i = 0; i < n; i++)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, blas_int(n_out), blas_int(n_in), 1.0f, W,
                        blas_int(n_in), in[0] + i * n_in, 1, 1.0f, out + i * n_out, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blas_int(n), blas_int(n_out),
                    blas_int(n_in), 1.0f, in[0], blas_int(n_in), W, blas_int(n_in), 1.0f, out, blas_int(n_out));
}

/* dX (n×n_in) (+)= dY (n×n_out) · W (n_out×n_in) */
static void dense_backward_input(const nnpi_node *node, const float *params,
                                 const float *const *in, const float *out, const float *dout,
                                 float *const *din, size_t n,
                                 const unsigned char *accumulate, float *scratch)
{
    (void)in;
    (void)scratch;
    (void)out;
    const size_t n_out = node->out_size, n_in = node->in_size;
    const float beta = accumulate[0] ? 1.0f : 0.0f;
    if (n <= GEMV_MAX_BATCH)
        for (size_t i = 0; i < n; i++)
            cblas_sgemv(CblasRowMajor, CblasTrans, blas_int(n_out), blas_int(n_in), 1.0f, params,
                        blas_int(n_in), dout + i * n_out, 1, beta, din[0] + i * n_in, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blas_int(n), blas_int(n_in),
                    blas_int(n_out), 1.0f, dout, blas_int(n_out), params, blas_int(n_in), beta, din[0],
                    blas_int(n_in));
}

/* dW (n_out×n_in) += dYᵀ · X;  db += Σ_i dY_i */
static void dense_backward_params(const nnpi_node *node, const float *params, const float *const *in,
                                  const float *dout, float *dparams, size_t n, float *scratch)
{
    (void)params, (void)scratch;
    const size_t n_out = node->out_size, n_in = node->in_size;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, blas_int(n_out), blas_int(n_in), blas_int(n),
                1.0f, dout, blas_int(n_out), in[0], blas_int(n_in), 1.0f, dparams, blas_int(n_in));
    float *db = dparams + node->n_weights;
    for (size_t i = 0; i < n; i++)
        for (size_t o = 0; o < n_out; o++) db[o] += dout[i * n_out + o];
}

/* Lipschitz: the paper's bound of a dense layer is ‖W‖₂ (§4.3), the same quantity as its exact
 * norm, so lib/lipschitz fills it from the Lanczos value (NNPI_LIP_BOUND_IS_NORM) and there is
 * no lip_bound. The backward-input pass reads neither `in` nor `out`, so the norm may be
 * computed on WWᵀ when the layer narrows (784 → 200 doubles for the 784→200 layer of
 * bench/bench_lipschitz.c, whose Gram–Schmidt products then stay under OpenBLAS's threading
 * threshold). */
const nnpi_layer_ops nnpi_dense_ops = {
    .kind = NNP_LAYER_DENSE,
    .name = "dense",
    .forward = dense_forward,
    .backward_input = dense_backward_input,
    .backward_params = dense_backward_params,
    .lip_flags = NNPI_LIP_LINEAR | NNPI_LIP_BOUND_IS_NORM | NNPI_LIP_GRAM_OUTPUT_SIDE,
    .zero_offset = nnpi_zero_bias,
    .jvp = nnpi_jvp_by_forward};

/* The input layer only names the shape; passes read the caller's x in place. It is the
 * identity for the Lipschitz module (the start of every product) and never gets a tangent of
 * its own (the tangent pass starts at its output). */
const nnpi_layer_ops nnpi_input_ops = {.kind = NNP_LAYER_INPUT,
                                       .name = "input",
                                       .lip_flags = NNPI_LIP_IDENTITY,
                                       .lip_bound = nnpi_lip_bound_one};
