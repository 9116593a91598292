/* Shared pieces of the attacks (see common.h). */
#include "attack/common.h"

#include <math.h>
#include <string.h>

int32_t nnpi_argmax(const float *z, size_t k)
{
    size_t best = 0;
    for (size_t j = 1; j < k; j++)
        if (z[j] > z[best]) best = j;
    return (int32_t)best;
}

double nnpi_goal_loss(const float *z, size_t k, int32_t label, int32_t target, double scale,
                      float *dz)
{
    double zmax = z[0];
    for (size_t j = 1; j < k; j++) zmax = fmax(zmax, (double)z[j]);
    double all = 0.0;
    for (size_t j = 0; j < k; j++) all += exp((double)z[j] - zmax);
    if (target >= 0) {
        /* cross-entropy of the target: log Σ e^z − z_t; d/dz = softmax − e_t */
        double loss = zmax + log(all) - (double)z[target];
        if (dz)
            for (size_t j = 0; j < k; j++)
                dz[j] = (float)(scale * (exp((double)z[j] - zmax) / all - (j == (size_t)target)));
        return scale * loss;
    }
    /* −log(1 − p_y) = log Σ_k e^{z_k} − log Σ_{k≠y} e^{z_k}; d/dz_j = p_j − q_j with q the
     * softmax over the other labels (q_y = 0). Computed from the sums, never from 1 − p_y,
     * which underflows when the net is confident. */
    double others = all - exp((double)z[label] - zmax);
    if (!(others > 0.0)) others = 0x1p-1022; /* k = 1 or all mass on y: keep the loss finite */
    double loss = log(all) - log(others);
    if (dz)
        for (size_t j = 0; j < k; j++) {
            double e = exp((double)z[j] - zmax);
            dz[j] = (float)(scale * (e / all - (j == (size_t)label ? 0.0 : e / others)));
        }
    return scale * loss;
}

void nnpi_attack_distortion(const float *x, const float *x_adv, size_t d, nnp_attack_result *r)
{
    double ss = 0.0, mx = 0.0;
    for (size_t j = 0; j < d; j++) {
        double v = (double)x_adv[j] - (double)x[j];
        ss += v * v;
        mx = fmax(mx, fabs(v));
    }
    r->l2 = sqrt(ss);
    r->rms = sqrt(ss / (double)d);
    r->linf = mx;
}

/* Index of row `row` of a batch on ws in the caller's numbering (see nnp_workspace). */
static size_t example_of(const nnp_workspace *ws, size_t row)
{
    return ws->first_example == NNPI_UNNUMBERED ? NNPI_UNNUMBERED : ws->first_example + row;
}

nnp_status nnpi_classify(const nnp_net *net, nnp_workspace *ws, const float *x, size_t n,
                         int32_t *predicted)
{
    const size_t d = net->nodes[0].out_size, last = net->n_nodes - 1, k = net->nodes[last].out_size;
    const size_t chunk = ws->cap > 0 ? ws->cap : 1;
    for (size_t s = 0; s < n; s += chunk) {
        size_t m = n - s < chunk ? n - s : chunk;
        nnp_workspace *use = NULL, *owned = NULL;
        NNPI_TRY(nnpi_workspace_prepare(net, ws, m, &use, &owned));
        nnpi_forward(net, use, x + s * d, m, last);
        /* a NaN logit must not classify as label 0 (the argmax of NaNs) */
        nnp_status st = nnpi_check_output(net, use, x + s * d, m, last, example_of(ws, s),
                                          "classification");
        if (st != NNP_OK) {
            nnp_workspace_free(owned);
            return st;
        }
        const float *z = nnpi_node_output(use, x + s * d, last);
        for (size_t i = 0; i < m; i++) predicted[s + i] = nnpi_argmax(z + i * k, k);
    }
    return NNP_OK;
}

nnp_status nnpi_goal_grad(const nnp_net *net, nnp_workspace *ws, const float *x, size_t n,
                          const int32_t *labels, const int32_t *targets, const double *scale,
                          double *loss, float *dx, float *logits)
{
    const size_t last = net->n_nodes - 1, k = net->nodes[last].out_size;
    nnp_workspace *use = NULL, *owned = NULL;
    NNPI_TRY(nnpi_workspace_prepare(net, ws, n, &use, &owned));
    nnpi_forward(net, use, x, n, last);
    nnp_status st = nnpi_check_output(net, use, x, n, last, example_of(ws, 0), "goal gradient");
    if (st != NNP_OK) {
        nnp_workspace_free(owned);
        return st;
    }
    const float *z = nnpi_node_output(use, x, last);
    if (logits) memcpy(logits, z, n * k * sizeof(float));
    nnpi_backward_begin(use);
    float *dz = use->grad[last];
    for (size_t i = 0; i < n; i++)
        loss[i] = nnpi_goal_loss(z + i * k, k, labels ? labels[i] : -1, targets ? targets[i] : -1,
                                 scale ? scale[i] : 1.0, dz + i * k);
    use->grad_set[last] = 1;
    nnpi_backward(net, use, x, n, last, dx, NULL, 0);
    nnp_workspace_free(owned);
    return NNP_OK;
}

nnp_status nnpi_attack_forward(const nnp_net *net, nnp_workspace *ws, const float *x, size_t n,
                               const float **logits)
{
    const size_t last = net->n_nodes - 1;
    nnp_workspace *use = NULL, *owned = NULL;
    NNPI_TRY(nnpi_workspace_prepare(net, ws, n, &use, &owned));
    /* the attacks always pass their own workspace, sized for their batch */
    if (owned != NULL) {
        nnp_workspace_free(owned);
        return nnpi_error(NNP_EINVAL, "attack: internal error, no workspace");
    }
    nnpi_forward(net, use, x, n, last);
    *logits = nnpi_node_output(use, x, last);
    return nnpi_check_output(net, use, x, n, last, example_of(ws, 0), "forward pass");
}

void nnpi_attack_backward(const nnp_net *net, nnp_workspace *ws, const float *x, size_t n,
                          const float *v, float *dx)
{
    const size_t last = net->n_nodes - 1;
    memcpy(ws->grad[last], v, n * net->nodes[last].out_size * sizeof(float));
    nnpi_backward_begin(ws);
    ws->grad_set[last] = 1;
    nnpi_backward(net, ws, x, n, last, dx, NULL, 0);
}
