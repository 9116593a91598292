/* Gradient-of-input queries: one batched forward and one batched backward pass per call. */
#include <string.h>

#include "net/loss.h"
#include "net/net_internal.h"

static nnp_status check_batch(const nnp_net *net, const float *x, size_t n, const float *dx,
                              const char *func)
{
    if (net == NULL) return nnpi_error(NNP_EINVAL, "%s: net is NULL", func);
    if (x == NULL) return nnpi_error(NNP_EINVAL, "%s: x is NULL", func);
    if (dx == NULL) return nnpi_error(NNP_EINVAL, "%s: dx is NULL", func);
    if (n == 0) return nnpi_error(NNP_EINVAL, "%s: batch size n is 0", func);
    return nnpi_check_finite_input(x, n, net->nodes[0].out_size, func, "x");
}

/* After the backward pass: finite outputs can still give an infinite gradient (a large weight
 * on the way back); one scan of dx, which costs far less than the pass that wrote it. */
static nnp_status check_dx(const nnp_net *net, const float *dx, size_t n, const char *func)
{
    const size_t d = net->nodes[0].out_size, m = n * d, i = nnpi_first_nonfinite(dx, m);
    if (i == m) return NNP_OK;
    return nnpi_error(NNP_ENUMERIC, "%s: example %zu: the gradient dx[%zu] (index %zu) is %g", func,
                      i / d, i, i % d, nnpi_msg_value(dx[i]));
}

static nnp_status check_probe_layer(const nnp_net *net, size_t layer, const char *func)
{
    NNPI_TRY(nnpi_check_layer(net, layer, func));
    if (layer == 0)
        return nnpi_error(NNP_EINVAL, "%s: layer 0 is the input; its Jacobian is the identity", func);
    return NNP_OK;
}

/* The forward pass every query starts with, on the workspace it chooses (*use; *owned if the
 * call made it), refused (and *owned freed) when the output of `layer` is not finite: the
 * backward pass would only turn that into a gradient that looks like one. */
static nnp_status checked_forward(const nnp_net *net, nnp_workspace *ws, const float *x, size_t n,
                                  size_t layer, nnp_workspace **use, nnp_workspace **owned,
                                  const char *func)
{
    NNPI_TRY(nnpi_workspace_prepare(net, ws, n, use, owned));
    nnpi_forward(net, *use, x, n, layer);
    nnp_status st = nnpi_check_output(net, *use, x, n, layer, 0, func);
    if (st != NNP_OK) {
        nnp_workspace_free(*owned);
        *owned = NULL;
    }
    return st;
}

NNP_API nnp_status nnp_grad_loss(const nnp_net *net, nnp_workspace *ws, const float *x,
                                 const int32_t *labels, size_t n, float *dx, float *loss,
                                 float *logits)
{
    NNPI_TRY(check_batch(net, x, n, dx, __func__));
    NNPI_CHECK_NULL(labels);
    const size_t last = net->n_nodes - 1, classes = net->nodes[last].out_size;
    size_t bad = nnpi_first_bad_label(labels, n, classes);
    if (bad < n)
        return nnpi_error(NNP_EINVAL, "nnp_grad_loss: labels[%zu] = %d is not a class 0..%zu", bad,
                          (int)labels[bad], classes - 1);
    nnp_workspace *use = NULL, *owned = NULL;
    NNPI_TRY(checked_forward(net, ws, x, n, last, &use, &owned, __func__));
    const float *z = nnpi_node_output(use, x, last);
    nnpi_backward_begin(use);
    nnpi_softmax_xent(z, labels, n, classes, 1.0f, use->grad[last], loss);
    use->grad_set[last] = 1;
    if (logits) memcpy(logits, z, n * classes * sizeof(float));
    nnpi_backward(net, use, x, n, last, dx, NULL, 0);
    nnp_workspace_free(owned);
    return check_dx(net, dx, n, __func__);
}

NNP_API nnp_status nnp_grad_unit(const nnp_net *net, nnp_workspace *ws, const float *x, size_t n,
                                 size_t layer, size_t unit, float *dx, float *value)
{
    NNPI_TRY(check_batch(net, x, n, dx, __func__));
    NNPI_TRY(check_probe_layer(net, layer, __func__));
    const size_t size = net->nodes[layer].out_size;
    if (unit >= size)
        return nnpi_error(NNP_EINVAL, "nnp_grad_unit: unit %zu out of range (layer %zu has %zu units)",
                          unit, layer, size);
    nnp_workspace *use = NULL, *owned = NULL;
    NNPI_TRY(checked_forward(net, ws, x, n, layer, &use, &owned, __func__));
    const float *phi = use->act[layer];
    float *seed = use->grad[layer];
    memset(seed, 0, n * size * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        seed[i * size + unit] = 1.0f;
        if (value) value[i] = phi[i * size + unit];
    }
    nnpi_backward_begin(use);
    use->grad_set[layer] = 1;
    nnpi_backward(net, use, x, n, layer, dx, NULL, 0);
    nnp_workspace_free(owned);
    return check_dx(net, dx, n, __func__);
}

NNP_API nnp_status nnp_grad_vjp(const nnp_net *net, nnp_workspace *ws, const float *x, size_t n,
                                size_t layer, const float *v, float *dx)
{
    NNPI_TRY(check_batch(net, x, n, dx, __func__));
    NNPI_TRY(check_probe_layer(net, layer, __func__));
    NNPI_CHECK_NULL(v);
    NNPI_TRY(nnpi_check_finite_input(v, n, net->nodes[layer].out_size, __func__, "v"));
    nnp_workspace *use = NULL, *owned = NULL;
    NNPI_TRY(checked_forward(net, ws, x, n, layer, &use, &owned, __func__));
    memcpy(use->grad[layer], v, n * net->nodes[layer].out_size * sizeof(float));
    nnpi_backward_begin(use);
    use->grad_set[layer] = 1;
    nnpi_backward(net, use, x, n, layer, dx, NULL, 0);
    nnp_workspace_free(owned);
    return check_dx(net, dx, n, __func__);
}
