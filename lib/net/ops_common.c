/* Pieces of ops entries that several layer kinds share (declared in net_internal.h): the two
 * generic tangent rules, the bound of 1-Lipschitz kinds and the bias-zeroing offset removal.
 * Each kind still names them in its own table, so what a kind provides reads off its file. */
#include <string.h>

#include "net/net_internal.h"

/* A linear kind's Jacobian is its linear part, which is what forward computes once the
 * offsets are zero: J t = forward(t) with lin_params. */
void nnpi_jvp_by_forward(const nnpi_node *node, const float *params, const float *lin_params,
                         const float *const *in, const float *out, const float *const *tin,
                         float *tout, size_t n, float *scratch)
{
    (void)params, (void)in, (void)out;
    node->ops->forward(node, lin_params, tin, tout, n, scratch);
}

/* A symmetric Jacobian equals its transpose, which backward_input applies: J t = Jᵀ t. Using
 * the layer's own backward keeps the tangent map exactly the transpose of the backward pass,
 * rounding and tie rules included. */
void nnpi_jvp_by_backward(const nnpi_node *node, const float *params, const float *lin_params,
                          const float *const *in, const float *out, const float *const *tin,
                          float *tout, size_t n, float *scratch)
{
    (void)lin_params;
    static const unsigned char overwrite[NNP_MAX_LAYER_INPUTS] = {0};
    float *din[1] = {tout};
    node->ops->backward_input(node, params, in, out, tin[0], din, n, overwrite, scratch);
}

nnp_status nnpi_lip_bound_one(const nnpi_node *node, const float *params,
                              const nnpi_lip_query *q, nnpi_lip_rule *r)
{
    (void)node, (void)params, (void)q;
    r->bound = 1.0;
    return NNP_OK;
}

void nnpi_zero_bias(const nnpi_node *node, float *params)
{
    memset(params + node->n_weights, 0, node->n_bias * sizeof(float));
}
