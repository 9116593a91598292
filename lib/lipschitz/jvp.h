/* Forward-mode (tangent) pass: Jacobian–vector products J(x)·t of a layer's output with
 * respect to the net's input (lib/lipschitz/jvp.c). Internal: the Lipschitz module's lower
 * bound uses it; no public header.
 *
 * Rules per layer kind, chosen so that the tangent map is exactly the transpose of the
 * library's backward pass (same tie rules), which power iteration on JᵀJ needs:
 *  - linear kinds (dense, conv, average pools, batch norm, flatten, dropout, add): the layer's
 *    own forward pass on the tangent with the affine offsets removed (nnpi_linear_params);
 *  - kinds with a symmetric Jacobian (element-wise activations; contrast normalisation, whose
 *    Jacobian s·I + 2s'·x xᵀ is symmetric): the layer's own backward-input pass on the tangent;
 *  - max pooling: the tangent at each window's argmax (first maximum in row-major order, first
 *    NaN wins: layer_pool.c's rule);
 *  - LRN: (J t)_c = t_c d_c^−β − (2αβ/size) x_c d_c^(−β−1) Σ_{j∈W(c)} x_j t_j (layer_norm.c's
 *    Jacobian, applied from the right). */
#ifndef NNP_PROBE_LIP_JVP_H
#define NNP_PROBE_LIP_JVP_H

#include "net/net_internal.h"

/* NNP_OK if every layer 1..last has a tangent rule, else NNP_EUNSUPPORTED naming the first
 * that has none. */
nnp_status nnpi_jvp_check(const nnp_net *net, size_t last);

/* A copy of net->params (caller frees with nnpi_free) in which dense and convolution biases
 * and batch-norm means and biases are 0, so a linear layer's forward pass is its linear part. */
nnp_status nnpi_linear_params(const nnp_net *net, float **out);

/* After nnpi_forward(net, ws, x, n, last): propagates the tangent t (n × out_size(first)) of
 * node `first` (0: the input) to every node up to `last`, into ws->grad[i], so J·t is
 * ws->grad[last], J the Jacobian of φ_last with respect to φ_first with every node that does
 * not descend from `first` held fixed (the same partial derivative the backward pass gives at
 * node `first`). Nodes below `first` get zero tangents. Call nnpi_jvp_check first. */
void nnpi_jvp(const nnp_net *net, nnp_workspace *ws, const float *x, const float *lin_params,
              size_t n, size_t first, size_t last, const float *t);

#endif
