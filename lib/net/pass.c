/* Batched forward and backward passes over the DAG, and the workspace they run in. */
#include <stdint.h>
#include <string.h>

#include "core/threads.h"
#include "net/net_internal.h"

static void free_masks(float **mask, size_t n_nodes)
{
    if (mask == NULL) return;
    for (size_t i = 0; i < n_nodes; i++) nnpi_free(mask[i]);
    nnpi_free(mask);
}

/* The masks of training mode for `cap` examples of the net's current layers, or NULL out of
 * memory. */
static float **alloc_masks(const nnp_net *net, size_t cap)
{
    float **mask = nnpi_calloc(net->n_nodes, sizeof *mask);
    if (mask == NULL) return NULL;
    for (size_t i = 0; i < net->n_nodes; i++) {
        if (net->nodes[i].ops->train_mask == NULL) continue;
        mask[i] = nnpi_malloc(nnpi_mul(nnpi_mul(cap, net->nodes[i].out_size), sizeof(float)));
        if (mask[i] == NULL) {
            free_masks(mask, net->n_nodes);
            return NULL;
        }
    }
    return mask;
}

static void free_buffers(nnp_workspace *ws)
{
    for (size_t i = 0; i < ws->n_nodes; i++) {
        if (ws->act) nnpi_free(ws->act[i]);
        if (ws->grad) nnpi_free(ws->grad[i]);
    }
    free_masks(ws->mask, ws->n_nodes);
    ws->mask = NULL;
    nnpi_free(ws->act);
    nnpi_free(ws->grad);
    nnpi_free(ws->grad_set);
    nnpi_free(ws->scratch);
    ws->act = ws->grad = NULL;
    ws->grad_set = NULL;
    ws->scratch = NULL;
    ws->n_nodes = 0;
    ws->cap = 0;
}

/* Default workspace cap (docs/reliability.md "Caps and bounds"): 4 GiB is far above what the
 * paper's nets need with any batch used in practice (a few MB to a few hundred MB) and still
 * well below what brings a workstation to swap; a model whose layers grow the map (issue 17's
 * 207-byte model asks for 5 GB) is refused before anything is allocated. */
#define WS_CAP_DEFAULT ((uint64_t)1 << 32)
#define WS_CAP_ENV "NNPROBE_MAX_WORKSPACE_BYTES"

/* Floats of the scratch buffer shared by all nodes: the most any of them needs (at least 1). */
static size_t scratch_floats_max(const nnp_net *net, size_t cap)
{
    size_t scratch = 1;
    for (size_t i = 0; i < net->n_nodes; i++) {
        const nnpi_layer_ops *ops = net->nodes[i].ops;
        size_t need = ops->scratch_floats ? ops->scratch_floats(&net->nodes[i], cap) : 0;
        if (need > scratch) scratch = need;
    }
    return scratch;
}

static size_t add_sat(size_t a, size_t b) { return a > SIZE_MAX - b ? SIZE_MAX : a + b; }

/* What size_buffers() allocates for `cap` examples (saturating at SIZE_MAX); kept next to it
 * so that the two cannot drift apart. */
static size_t buffers_bytes(const nnp_net *net, size_t cap, int train)
{
    size_t n = net->n_nodes;
    size_t total = add_sat(nnpi_mul(2 * sizeof(float *), n), n); /* act, grad, grad_set */
    size_t scratch = scratch_floats_max(net, cap);
    total = add_sat(total, nnpi_mul(scratch, sizeof(float)));
    for (size_t i = 0; i < n; i++) {
        size_t bytes = nnpi_mul(nnpi_mul(cap, net->nodes[i].out_size), sizeof(float));
        size_t copies = (i == 0 ? 1 : 2) + (train && net->nodes[i].ops->train_mask ? 1 : 0);
        total = add_sat(total, nnpi_mul(copies, bytes));
    }
    return total;
}

NNP_API nnp_status nnp_workspace_bytes(const nnp_net *net, size_t batch, size_t *bytes)
{
    NNPI_CHECK_NULL(bytes);
    *bytes = 0;
    NNPI_CHECK_NULL(net);
    if (batch == 0) return nnpi_error(NNP_EINVAL, "nnp_workspace_bytes: batch is 0");
    *bytes = buffers_bytes(net, batch, 0);
    return NNP_OK;
}

/* The workspace cap against what `cap` examples need (with masks when `train`): checked
 * before anything is freed or allocated, so a refused size leaves the workspace usable. */
static nnp_status check_cap(const nnp_net *net, size_t cap, int train)
{
    uint64_t limit;
    NNPI_TRY(nnpi_limit(WS_CAP_ENV, WS_CAP_DEFAULT, &limit));
    size_t need = buffers_bytes(net, cap, train);
    if ((uint64_t)need <= limit) return NNP_OK;
    return nnpi_error(NNP_ENOMEM,
                      "workspace: a batch of %zu needs %s%zu bytes, above the workspace cap of "
                      "%llu bytes (set %s to raise it, or use a smaller batch)",
                      cap, need == SIZE_MAX ? "more than " : "", need, (unsigned long long)limit,
                      WS_CAP_ENV);
}

/* (Re)sizes every buffer for `cap` examples of the net's current layers. */
static nnp_status size_buffers(nnp_workspace *ws, size_t cap)
{
    const nnp_net *net = ws->net;
    NNPI_TRY(check_cap(net, cap, ws->train));
    free_buffers(ws);
    size_t n = net->n_nodes;
    ws->act = nnpi_calloc(n, sizeof *ws->act);
    ws->grad = nnpi_calloc(n, sizeof *ws->grad);
    ws->grad_set = nnpi_calloc(n, 1);
    size_t scratch = scratch_floats_max(net, cap);
    ws->scratch = nnpi_malloc(nnpi_mul(scratch, sizeof(float)));
    if (!ws->act || !ws->grad || !ws->grad_set || !ws->scratch) goto oom;
    ws->n_nodes = n;
    for (size_t i = 0; i < n; i++) {
        size_t bytes = nnpi_mul(nnpi_mul(cap, net->nodes[i].out_size), sizeof(float));
        ws->grad[i] = nnpi_malloc(bytes);
        if (ws->grad[i] == NULL) goto oom;
        if (i == 0) continue; /* the input is read from the caller's buffer */
        ws->act[i] = nnpi_malloc(bytes);
        if (ws->act[i] == NULL) goto oom;
    }
    if (ws->train && (ws->mask = alloc_masks(net, cap)) == NULL) goto oom;
    ws->cap = cap;
    return NNP_OK;
oom:
    ws->n_nodes = n; /* free what was allocated */
    free_buffers(ws);
    return nnpi_error(NNP_ENOMEM, "workspace: out of memory for a batch of %zu", cap);
}

NNP_API nnp_status nnp_workspace_create(const nnp_net *net, size_t max_batch, nnp_workspace **out)
{
    NNPI_CHECK_NULL(out);
    *out = NULL;
    NNPI_CHECK_NULL(net);
    if (max_batch == 0) return nnpi_error(NNP_EINVAL, "nnp_workspace_create: max_batch is 0");
    nnp_workspace *ws = nnpi_calloc(1, sizeof *ws);
    if (ws == NULL) return nnpi_error(NNP_ENOMEM, "nnp_workspace_create: out of memory");
    ws->net = net;
    nnp_status s = size_buffers(ws, max_batch);
    if (s != NNP_OK) {
        nnpi_free(ws);
        return s;
    }
    *out = ws;
    return NNP_OK;
}

NNP_API void nnp_workspace_free(nnp_workspace *ws)
{
    if (ws == NULL) return;
    free_buffers(ws);
    nnpi_free(ws);
}

nnp_status nnpi_workspace_prepare(const nnp_net *net, nnp_workspace *ws, size_t n,
                                  nnp_workspace **use, nnp_workspace **owned)
{
    *owned = NULL;
    if (ws == NULL) {
        NNPI_TRY(nnp_workspace_create(net, n, owned));
        *use = *owned;
        return NNP_OK;
    }
    if (ws->net != net)
        return nnpi_error(NNP_EINVAL, "workspace was created for another net");
    if (ws->n_nodes != net->n_nodes || ws->cap < n) {
        size_t cap = ws->cap > n ? ws->cap : n;
        NNPI_TRY(size_buffers(ws, cap));
    }
    *use = ws;
    return NNP_OK;
}

nnp_status nnpi_workspace_set_train(nnp_workspace *ws)
{
    if (ws->train) return NNP_OK;
    NNPI_TRY(check_cap(ws->net, ws->cap, 1));
    float **mask = alloc_masks(ws->net, ws->cap);
    if (mask == NULL) return nnpi_error(NNP_ENOMEM, "workspace: out of memory for the dropout masks");
    ws->mask = mask;
    ws->train = 1;
    return NNP_OK;
}

void nnpi_workspace_draw_masks(nnp_workspace *ws, size_t n, nnpi_rng *rng)
{
    for (size_t i = 0; ws->mask && i < ws->n_nodes; i++)
        if (ws->mask[i]) ws->net->nodes[i].ops->train_mask(&ws->net->nodes[i], ws->mask[i], n, rng);
}

/* v ⊙= mask over m values: a training-mode node's output, or its output gradient (the mask's
 * Jacobian is diag(mask), so the backward pass multiplies by the same mask). */
static void apply_mask(float *v, const float *mask, size_t m)
{
    for (size_t j = 0; j < m; j++) v[j] *= mask[j];
}

const float *nnpi_node_output(const nnp_workspace *ws, const float *x, size_t i)
{
    return i == 0 ? x : ws->act[i];
}

/* Multiply-adds of the largest BLAS call of nodes 1..last at batch n, roughly: a node's weights
 * times its output positions per channel (1 for a dense layer), times n for a dense layer past
 * its per-example GEMV range (layer_dense.c: batches above 12). Passes whose every product is
 * small run the BLAS on one thread (nnpi_blas_serial_begin, core/threads.h). */
static size_t largest_product(const nnp_net *net, size_t n, size_t last)
{
    size_t most = 0;
    for (size_t i = 1; i <= last; i++) {
        const nnpi_node *node = &net->nodes[i];
        if (node->n_weights == 0 || node->c == 0) continue;
        size_t macs = nnpi_mul(node->n_weights, node->out_size / node->c);
        if (node->h == 1 && node->w == 1 && n > 12) macs = nnpi_mul(macs, n);
        if (macs > most) most = macs;
    }
    return most;
}

static void forward_nodes(const nnp_net *net, nnp_workspace *ws, const float *x, size_t n,
                          size_t last)
{
    const float *in[NNP_MAX_LAYER_INPUTS];
    for (size_t i = 1; i <= last; i++) {
        const nnpi_node *node = &net->nodes[i];
        for (size_t k = 0; k < node->n_inputs; k++) in[k] = nnpi_node_output(ws, x, node->inputs[k]);
        /* a net without parameters has params == NULL, and NULL + 0 is undefined in C */
        const float *params = net->params ? net->params + node->param_offset : NULL;
        node->ops->forward(node, params, in, ws->act[i], n, ws->scratch);
        if (ws->mask && ws->mask[i]) apply_mask(ws->act[i], ws->mask[i], n * node->out_size);
    }
}

void nnpi_forward(const nnp_net *net, nnp_workspace *ws, const float *x, size_t n, size_t last)
{
    const int serial = nnpi_blas_serial_begin(largest_product(net, n, last));
    forward_nodes(net, ws, x, n, last);
    nnpi_blas_serial_end(serial);
}

void nnpi_backward_begin(nnp_workspace *ws) { memset(ws->grad_set, 0, ws->n_nodes); }

static void backward_nodes(const nnp_net *net, nnp_workspace *ws, const float *x, size_t n,
                           size_t last, float *dx, float *dparams, size_t first_param_node)
{
    const float *in[NNP_MAX_LAYER_INPUTS];
    float *din[NNP_MAX_LAYER_INPUTS];
    unsigned char acc[NNP_MAX_LAYER_INPUTS];
    float *input_grad = dx ? dx : ws->grad[0];
    for (size_t i = last; i >= 1; i--) {
        if (!ws->grad_set[i]) continue; /* not an ancestor of `last` */
        const nnpi_node *node = &net->nodes[i];
        const float *params = net->params ? net->params + node->param_offset : NULL;
        if (ws->mask && ws->mask[i]) apply_mask(ws->grad[i], ws->mask[i], n * node->out_size);
        int needed = 0;
        for (size_t k = 0; k < node->n_inputs; k++) {
            size_t j = node->inputs[k];
            in[k] = nnpi_node_output(ws, x, j);
            din[k] = j == 0 ? input_grad : ws->grad[j];
            acc[k] = ws->grad_set[j];
            needed |= j != 0 || dx != NULL;
        }
        if (dparams && i >= first_param_node && node->ops->backward_params)
            node->ops->backward_params(node, params, in, ws->grad[i], dparams + node->param_offset, n,
                                       ws->scratch);
        /* training needs no gradient for the input itself: skip that GEMM */
        if (!needed) continue;
        node->ops->backward_input(node, params, in, ws->act[i], ws->grad[i], din, n, acc,
                                  ws->scratch);
        for (size_t k = 0; k < node->n_inputs; k++) ws->grad_set[node->inputs[k]] = 1;
    }
    const size_t bytes = nnpi_mul(n, net->nodes[0].out_size) * sizeof(float);
    if (dx && last == 0)
        memcpy(dx, ws->grad[0], bytes); /* a net that is only its input: J = I */
    else if (dx && !ws->grad_set[0])
        memset(dx, 0, bytes);
}

void nnpi_backward(const nnp_net *net, nnp_workspace *ws, const float *x, size_t n, size_t last,
                   float *dx, float *dparams, size_t first_param_node)
{
    const int serial = nnpi_blas_serial_begin(largest_product(net, n, last));
    backward_nodes(net, ws, x, n, last, dx, dparams, first_param_node);
    nnpi_blas_serial_end(serial);
}

nnp_status nnpi_check_output(const nnp_net *net, const nnp_workspace *ws, const float *x,
                              size_t n, size_t layer, size_t first, const char *func)
{
    const size_t size = net->nodes[layer].out_size, m = n * size;
    const float *z = nnpi_node_output(ws, x, layer);
    const size_t i = nnpi_first_nonfinite(z, m);
    if (i == m) return NNP_OK;
    /* Error path only: the first layer, in node order, whose output for this example is not
     * finite, so that the message points at the cause (an overflowing weight, a negative
     * variance) rather than at the logits. */
    const size_t e = i / size;
    size_t at = layer;
    for (size_t l = 0; l < layer; l++) {
        const size_t sz = net->nodes[l].out_size;
        if (nnpi_first_nonfinite(nnpi_node_output(ws, x, l) + e * sz, sz) < sz) {
            at = l;
            break;
        }
    }
    if (first == NNPI_UNNUMBERED)
        return nnpi_error(NNP_ENUMERIC, "%s: row %zu of an internal batch: output %zu of layer "
                          "%zu (%s) is %g; it first became non-finite at layer %zu (%s)", func, e,
                          i % size, layer, net->nodes[layer].ops->name, nnpi_msg_value(z[i]), at,
                          net->nodes[at].ops->name);
    return nnpi_error(NNP_ENUMERIC, "%s: example %zu: output %zu of layer %zu (%s) is %g; it "
                      "first became non-finite at layer %zu (%s)", func, first + e, i % size,
                      layer, net->nodes[layer].ops->name, nnpi_msg_value(z[i]), at,
                      net->nodes[at].ops->name);
}

static nnp_status forward_checked(const nnp_net *net, nnp_workspace *ws, const float *x, size_t n,
                                  size_t layer, float *out, const char *func)
{
    NNPI_TRY(nnpi_check_layer(net, layer, func));
    if (x == NULL) return nnpi_error(NNP_EINVAL, "%s: x is NULL", func);
    if (out == NULL) return nnpi_error(NNP_EINVAL, "%s: output buffer is NULL", func);
    if (n == 0) return nnpi_error(NNP_EINVAL, "%s: batch size n is 0", func);
    NNPI_TRY(nnpi_check_finite_input(x, n, net->nodes[0].out_size, func, "x"));
    nnp_workspace *use = NULL, *owned = NULL;
    NNPI_TRY(nnpi_workspace_prepare(net, ws, n, &use, &owned));
    nnpi_forward(net, use, x, n, layer);
    /* the output is copied also when it is refused: the caller may want to look at it */
    size_t bytes = nnpi_mul(n, net->nodes[layer].out_size) * sizeof(float);
    memcpy(out, nnpi_node_output(use, x, layer), bytes);
    nnp_status st = nnpi_check_output(net, use, x, n, layer, 0, func);
    nnp_workspace_free(owned);
    return st;
}

NNP_API nnp_status nnp_net_forward(const nnp_net *net, nnp_workspace *ws, const float *x, size_t n,
                               float *logits)
{
    NNPI_CHECK_NULL(net);
    return forward_checked(net, ws, x, n, net->n_nodes - 1, logits, __func__);
}

NNP_API nnp_status nnp_net_forward_layer(const nnp_net *net, nnp_workspace *ws, const float *x,
                                     size_t n, size_t layer, float *out)
{
    return forward_checked(net, ws, x, n, layer, out, __func__);
}
