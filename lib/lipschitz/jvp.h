/* Forward-mode (tangent) pass: Jacobian–vector products J(x)·t of a layer's output with
 * respect to the net's input (lib/lipschitz/jvp.c). Internal: the Lipschitz module's lower
 * bound uses it; no public header.
 *
 * Each layer kind gives its own tangent rule in its ops entry (nnpi_layer_ops.jvp, lib/net),
 * chosen so that the tangent map is exactly the transpose of the library's backward pass (same
 * tie rules), which power iteration on JᵀJ needs: linear kinds run their forward pass on the
 * tangent with the offsets removed (zero_offset, nnpi_linear_params), kinds with a symmetric
 * Jacobian their backward-input pass, the others (max pooling, LRN) a rule of their own. */
#ifndef NNP_PROBE_LIP_JVP_H
#define NNP_PROBE_LIP_JVP_H

#include "net/net_internal.h"

/* NNP_OK if every layer 1..last has a tangent rule, else NNP_EUNSUPPORTED naming the first
 * that has none. */
nnp_status nnpi_jvp_check(const nnp_net *net, size_t last);

/* A copy of net->params (caller frees with nnpi_free) with every node's zero_offset applied
 * (dense and convolution biases, batch-norm means and biases are 0), so a linear layer's
 * forward pass is its linear part. */
nnp_status nnpi_linear_params(const nnp_net *net, float **out);

/* After nnpi_forward(net, ws, x, n, last): propagates the tangent t (n × out_size(first)) of
 * node `first` (0: the input) to every node up to `last`, into ws->grad[i], so J·t is
 * ws->grad[last], J the Jacobian of φ_last with respect to φ_first with every node that does
 * not descend from `first` held fixed (the same partial derivative the backward pass gives at
 * node `first`). Nodes below `first` get zero tangents. Call nnpi_jvp_check first. */
void nnpi_jvp(const nnp_net *net, nnp_workspace *ws, const float *x, const float *lin_params,
              size_t n, size_t first, size_t last, const float *t);

#endif
