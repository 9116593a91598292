/* Forward-mode tangent pass (contract in jvp.h). Allocation-free: tangents live in the
 * workspace's gradient buffers, per-layer scratch in its scratch buffer. Each kind's tangent
 * rule is its ops entry's jvp (lib/net); this file only walks the DAG. */
#include <string.h>

#include "lipschitz/jvp.h"

nnp_status nnpi_jvp_check(const nnp_net *net, size_t last)
{
    for (size_t i = 1; i <= last; i++)
        if (net->nodes[i].ops->jvp == NULL)
            return nnpi_error(NNP_EUNSUPPORTED, "layer %zu (%s): no tangent rule for this kind", i,
                              net->nodes[i].ops->name);
    return NNP_OK;
}

nnp_status nnpi_linear_params(const nnp_net *net, float **out)
{
    *out = NULL;
    float *p = nnpi_malloc(nnpi_mul(net->n_params > 0 ? net->n_params : 1, sizeof(float)));
    if (p == NULL) return nnpi_error(NNP_ENOMEM, "out of memory for a copy of the parameters");
    if (net->n_params) memcpy(p, net->params, net->n_params * sizeof(float));
    for (size_t i = 0; i < net->n_nodes; i++) {
        const nnpi_node *node = &net->nodes[i];
        if (node->ops->zero_offset) node->ops->zero_offset(node, p + node->param_offset);
    }
    *out = p;
    return NNP_OK;
}

void nnpi_jvp(const nnp_net *net, nnp_workspace *ws, const float *x, const float *lin_params,
              size_t n, size_t first, size_t last, const float *t)
{
    const float *in[NNP_MAX_LAYER_INPUTS], *tin[NNP_MAX_LAYER_INPUTS];
    if (first > 0) { /* nodes below `first` are held fixed: zero tangents */
        for (size_t i = 0; i < first; i++)
            memset(ws->grad[i], 0, n * net->nodes[i].out_size * sizeof(float));
        memcpy(ws->grad[first], t, n * net->nodes[first].out_size * sizeof(float));
    }
    for (size_t i = first + 1; i <= last; i++) {
        const nnpi_node *node = &net->nodes[i];
        for (size_t k = 0; k < node->n_inputs; k++) {
            const size_t j = node->inputs[k];
            in[k] = nnpi_node_output(ws, x, j);
            tin[k] = j == 0 && first == 0 ? t : ws->grad[j];
        }
        node->ops->jvp(node, net->params + node->param_offset, lin_params + node->param_offset,
                       in, ws->act[i], tin, ws->grad[i], n, ws->scratch);
    }
}
