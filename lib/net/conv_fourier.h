/* The paper's Fourier bound of a 2-D convolution and the searches built on it
 * (lib/net/conv_fourier.c). Internal numeric module of the conv2d kind: its Lipschitz rule
 * (layer_conv.c) is the only user besides the tests. It sits in lib/net, next to the layer it
 * analyses, so that the conv kind's ops entry can give its own bound without lib/net calling up
 * into lib/lipschitz; the Lanczos solver it runs is lib/core's (core/spectral.h). */
#ifndef NNP_NET_CONV_FOURIER_H
#define NNP_NET_CONV_FOURIER_H

#include <stddef.h>

#include "core/spectral.h"

/* Paper bound of a 2-D convolution (docs/paper.md §6): the operator norm of the same
 * convolution applied circularly on an Nh × Nw grid with stride (sh, sw),
 *     ‖W‖ = (sh·sw)^−½ · max_η σ_max(B(η)),
 *     B(η) = [ K̂(η + (lh·Nh/sh, lw·Nw/sw)) ]_{lh < sh, lw < sw} ∈ C^{D × C·sh·sw},
 * η over the (Nh/sh) × (Nw/sw) output frequencies, K̂ the Nh×Nw-point DFT of the (dilated)
 * kernel. The paper prints the scale as Δ^−2; docs/paper.md Appendix A checked that
 * (sh·sw)^−½ = 1/Δ is the correct one for the standard DFT. Weights are D × (C/groups) × kh × kw
 * (the library's layout); the matrix is block diagonal over groups, so the max is taken group
 * by group. Requires sh | Nh and sw | Nw. Each σ_max is computed by nnpi_lanczos_top on the
 * real form of B(η)ᴴB(η) to relative accuracy 1e-8 (conv_fourier.c). If `peak` is not NULL
 * it receives where the max is attained and the singular vector there (used to start the
 * exact norm's Lanczos near the top singular vector, layer_conv.c). `pg` (or NULL): called
 * after each of the groups·(Nh/sh)·(Nw/sw) (group, frequency) pairs with base + pairs done;
 * non-zero cancels (NNP_ECANCELLED). */
typedef struct nnpi_fourier_peak {
    size_t group, eh, ew;  /* where the max is attained: group and output frequency η */
    /* caller's 2·(C/groups)·sh·sw doubles: the top right singular vector of B(η) in real form
     * (real parts, then imaginary parts; column (c, lh, lw) at (c·sh + lh)·sw + lw) */
    double *vec;
} nnpi_fourier_peak;

nnp_status nnpi_conv_fourier_norm(const float *w, size_t D, size_t C, size_t groups, size_t kh,
                                  size_t kw, size_t sh, size_t sw, size_t dh, size_t dw,
                                  size_t Nh, size_t Nw, double *out, nnpi_fourier_peak *peak,
                                  const nnpi_progress_span *pg);

/* Refines the peak of σ_max(B(ω)) of group `group` of a stride-1 convolution over continuous
 * frequencies ω = (*oh, *ow) (radians per input cell; B(ω) is the formula above with
 * ω = 2πf/N, so every grid point is one of them): compass search from the caller's point with
 * steps `step`, halved down to `min_step`, each σ_max by Lanczos warm-started from the last
 * singular vector, to 1% of step² relative (σ varies by about step² between the points
 * compared), within [1e-9, 1e-4]. In: *oh, *ow, and `vec` (2·C/groups doubles, real then
 * imaginary parts: a start vector, e.g. the grid peak's). Out: the best point found, its
 * singular vector in `vec` and σ_max in *sigma (≥ the start point's). A local search: it finds
 * the maximum of the start point's basin, which is all the exact norm's start vector needs. */
nnp_status nnpi_conv_fourier_refine(const float *w, size_t D, size_t C, size_t groups, size_t kh,
                                    size_t kw, size_t dh, size_t dw, size_t group, double step,
                                    double min_step, double *oh, double *ow, double *vec,
                                    double *sigma);

/* A start point for the exact norm of a stride-1 convolution without the full paper bound:
 * σ_max(B(η)) on a coarse Nh × Nw grid of all groups (to 1e-6), the n_try (≥ 1) largest grid
 * points that are local maxima on the torus, each refined by nnpi_conv_fourier_refine (from
 * half a grid spacing down to min_step), and the best refined one, refined on down to
 * fine_step (if smaller), returned: its group,
 * frequency (*oh, *ow) and singular vector `vec` (2·C/groups doubles). Several basins are
 * tried because a coarse grid can rank a lower peak first (measured on the benchmark's 64→64
 * 3×3 kernel of seed 1: 8×8, 9×9 and 15×15 grids did, and the Lanczos from that peak took 94
 * steps instead of 35). */
nnp_status nnpi_conv_fourier_start(const float *w, size_t D, size_t C, size_t groups, size_t kh,
                                   size_t kw, size_t dh, size_t dw, size_t Nh, size_t Nw,
                                   size_t n_try, double min_step, double fine_step, size_t *group,
                                   double *oh, double *ow, double *vec);

#endif
