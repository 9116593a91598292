/* An independent, naive double-precision implementation of the forward pass of the dense,
 * activation and structural (flatten, dropout, add) layer kinds, written for the tests only: the library's float passes are checked against it, and
 * finite differences are taken on it (in double, so they are accurate to ~1e-9). */
#ifndef NNP_REFNET_H
#define NNP_REFNET_H

#include <stddef.h>
#include <stdint.h>

#include "nnprobe/nnprobe.h"

/* Activations of every layer of `net` for one example x (double, input_size values).
 * Returns an array of layer_count arrays (free with ref_free_acts). */
double **ref_forward(const nnp_net *net, const double *x);
void ref_free_acts(const nnp_net *net, double **acts);

/* φ_layer(x)·v (v: output_size(layer) values, NULL = e_unit) for one example. */
double ref_unit_dot(const nnp_net *net, const double *x, size_t layer, size_t unit,
                    const float *v);

/* Softmax cross-entropy of the logits for label y. */
double ref_xent(const nnp_net *net, const double *x, int32_t y);

/* Central finite-difference gradient of f at x (step h), f(x) = fn(ctx, x). */
typedef double (*ref_scalar_fn)(void *ctx, const double *x);
void ref_fd_grad(ref_scalar_fn fn, void *ctx, const double *x, size_t d, double h, double *grad);

/* max_i |a_i − b_i| / max(1, max_i |b_i|) */
double ref_rel_err(const float *a, const double *b, size_t n);

#endif
