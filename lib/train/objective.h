/* The training objective and its parameter gradient, kept apart from the SGD loop so that
 * tests can check it against finite differences. Internal. */
#ifndef NNP_OBJECTIVE_H
#define NNP_OBJECTIVE_H

#include "net/net_internal.h"
#include "nnprobe/train.h"

/* Objective of one batch: mean loss over the n examples + Σ_nodes decay[i] · Σ w_i² (weights
 * only). `decay` has one entry per node (0 where there is none), already including any
 * per-unit scaling. Writes its gradient with respect to the parameters of nodes with index
 * ≥ first_node into grad (laid out as net->params; entries of earlier nodes are left as they
 * are). Labels are used by the cross-entropy loss only. *mean_loss receives the mean loss
 * without the decay term. Returns the objective. */
double nnpi_objective_grad(const nnp_net *net, nnp_workspace *ws, const float *x,
                           const int32_t *labels, size_t n, nnp_loss loss, const double *decay,
                           size_t first_node, float *grad, double *mean_loss);

/* Seed of the dropout masks of training step `step` (0-based, across epochs) of a run with
 * nnp_train_opts.seed = seed: nnp_train seeds a generator with it and draws the step's masks
 * (nnpi_workspace_draw_masks) before the step's objective. */
uint64_t nnpi_train_mask_seed(uint64_t seed, uint64_t step);

#endif
