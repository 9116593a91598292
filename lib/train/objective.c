#include "train/objective.h"

#include <string.h>

#include "net/loss.h"

double nnpi_objective_grad(const nnp_net *net, nnp_workspace *ws, const float *x,
                           const int32_t *labels, size_t n, nnp_loss loss, const double *decay,
                           size_t first_node, float *grad, double *mean_loss)
{
    const size_t last = net->n_nodes - 1, size = net->nodes[last].out_size;
    const size_t start = net->nodes[first_node < net->n_nodes ? first_node : last].param_offset;
    const float scale = 1.0f / (float)n; /* gradient of the batch mean */
    nnpi_forward(net, ws, x, n, last);
    const float *y = nnpi_node_output(ws, x, last);
    nnpi_backward_begin(ws);
    double total = loss == NNP_LOSS_MSE
                       ? nnpi_half_squared_error(y, x, n, size, scale, ws->grad[last])
                       : nnpi_softmax_xent(y, labels, n, size, scale, ws->grad[last], NULL);
    ws->grad_set[last] = 1;
    memset(grad + start, 0, (net->n_params - start) * sizeof(float));
    nnpi_backward(net, ws, x, n, last, NULL, grad, first_node);
    *mean_loss = total / (double)n;

    /* L2 weight decay: penalty λ Σ w², gradient 2 λ w (biases are not decayed) */
    double penalty = 0.0;
    for (size_t i = 0; i < net->n_nodes; i++) {
        const nnpi_node *node = &net->nodes[i];
        if (decay[i] == 0.0 || node->n_weights == 0) continue;
        const float *w = net->params + node->param_offset;
        double ss = 0.0;
        for (size_t j = 0; j < node->n_weights; j++) ss += (double)w[j] * w[j];
        penalty += decay[i] * ss;
        if (i < first_node) continue;
        float *g = grad + node->param_offset;
        const float two_lambda = (float)(2.0 * decay[i]);
        for (size_t j = 0; j < node->n_weights; j++) g[j] += two_lambda * w[j];
    }
    return *mean_loss + penalty;
}

/* The masks of step t come from their own generator, seeded by (a hash of the seed) + t and
 * then splitmix64 (nnpi_rng_seed): apart from the shuffling stream (seeded by the seed
 * itself), so switching dropout on leaves the batches as they were, and a step's masks do
 * not depend on how many values earlier steps drew. */
uint64_t nnpi_train_mask_seed(uint64_t seed, uint64_t step)
{
    nnpi_rng r;
    nnpi_rng_seed(&r, seed ^ 0x6A09E667F3BCC909ull); /* √2's fraction bits: any constant ≠ 0 */
    return nnpi_rng_next(&r) + step;
}
