/* Shared by the Lipschitz module's files (bounds.c: options and nnp_lipschitz_bounds;
 * rules.c: the paper's bound per layer kind; lower.c: the empirical lower bound;
 * clever.c: the CLEVER-style estimate). Internal. */
#ifndef NNP_PROBE_LIP_INTERNAL_H
#define NNP_PROBE_LIP_INTERNAL_H

#include "net/net_internal.h"
#include "nnprobe/lipschitz.h"
#include "lipschitz/spectral.h"

/* The defaults of nnp_lipschitz_opts (documented there). */
void nnpi_lip_default_opts(nnp_lipschitz_opts *o);

/* Range checks of the options every entry point uses; `f` names the function in messages. */
nnp_status nnpi_lip_check_opts(const nnp_lipschitz_opts *o, const char *f);

/* Fourier grid of a convolution node under the options (default or opts.fourier_grid_*). */
nnp_status nnpi_lip_conv_grid(const nnpi_node *node, const nnp_lipschitz_opts *o, size_t index,
                              size_t *gh, size_t *gw);

/* The paper's bound of layer `index` into info (bound, strides, grid, overlap). Dense layers
 * get NaN (their bound is the exact norm, filled by the caller). For a convolution with
 * `start` not NULL, *start receives a newly allocated (nnpi_malloc) Lanczos start vector of
 * the layer's input size (the Fourier bound's singular vector), NULL on failure; `pg` reports
 * the Fourier bound's progress (or NULL). */
nnp_status nnpi_lip_layer_bound(const nnp_net *net, size_t index, const nnp_lipschitz_opts *o,
                                nnp_lipschitz_info *info, double **start, const nnpi_progress *pg);

/* Lanczos start vector of convolution layer `index` without its paper bound: the peak of a
 * coarse Fourier grid, refined (rules.c). *start: newly allocated (nnpi_malloc), in_size
 * doubles; NULL on failure. */
nnp_status nnpi_lip_conv_start(const nnp_net *net, size_t index, double **start);

#endif
