/**
 * @file lipschitz.h
 * @brief How stable is the map? Per-layer upper Lipschitz bounds (the paper's §4.3 and
 * Table 5), exact operator norms of the linear layers, the whole-net bound, and an empirical
 * lower bound from Jacobian norms at data points.
 *
 * All constants are with respect to the Euclidean norm on each layer's C·H·W values per
 * example.
 *
 * **Per layer** (nnp_lipschitz_bounds()), two numbers side by side:
 * - `bound`, the paper's upper bound (Szegedy et al. 2013, §4.3; docs/paper.md §6):
 *   dense: ‖W‖₂; convolution: the paper's Fourier formula sup_η ‖B(η)‖ / √(sh·sw) evaluated on
 *   an Nh×Nw grid (the stride scale is 1/Δ, not the paper's printed Δ⁻²; paper.md Appendix A).
 *   With the default grid (the smallest multiple of the stride ≥ the padded input, and ≥ the
 *   dilated kernel) it is the norm of the *circular* convolution on that grid, of which the
 *   zero-padded layer is a restriction: a true upper bound. ReLU, tanh and softplus 1, sigmoid
 *   ¼ (largest slope). Max pooling √m, m the largest number of windows that contain one input
 *   cell (1 without overlap; 2 for AlexNet's 3×3 stride-2 pooling). Contrast normalisation
 *   ε^−γ·max(1, 2γ−1) (= ε^−γ for γ ≤ 1, the paper's claim). Batch normalisation
 *   max_c |scale_c|/√(var_c+ε), exact. Average pooling √(r·c) with r, c the largest row and
 *   column sums of its matrix (Schur's test; exact for non-overlapping unpadded windows, an
 *   upper bound otherwise); global average pooling 1/√(H·W). LRN (not in the paper):
 *   k^−β·(1 + 2β·m^¾·β^β/(1+β)^(1+β)), m = min(size, C), derived in lib/net/layer_norm.c
 *   (α drops out).
 *   Flatten and dropout 1. Add: √2 as a map of its two inputs (2 if both are the same layer).
 * - `exact`, for every linear layer (dense, convolution, average and global average pooling,
 *   batch normalisation; bias and batch-norm offsets removed): the operator norm of the layer
 *   *as applied* (zero padding, stride, dilation, groups), computed matrix-free from the
 *   layer's own forward and backward-input passes by Lanczos on AᵀA in double (full
 *   reorthogonalisation, or partial above 2048 inputs: nnp_lipschitz_opts::full_reorth;
 *   a dense layer with fewer outputs than inputs works on AAᵀ, the smaller side; a
 *   convolution's Lanczos starts from the Fourier analysis' top singular vector, refined off
 *   the grid for stride 1 and shaped by the input box's lowest zero-boundary mode, from the
 *   full grid of `bound` or, with nnp_lipschitz_opts::paper_bound = 0, a coarse one), with the
 *   number of operator applications and the estimated relative accuracy. A Lanczos value
 *   approaches the norm from below: it is within `accuracy` of it, not above it (the same holds
 *   for the dense `bound`, which is this value). NaN for non-linear layers (their `bound` is
 *   their exact Lipschitz constant for ReLU/sigmoid/tanh/softplus, and for max pooling when
 *   some input can be the maximum of m windows at once).
 *
 * **Whole net.** A layer's `upper_to` bounds the Lipschitz constant of the map from the net's
 * input to that layer's output: the product of `bound` along a chain; at an add layer the
 * bounds of its two branches are summed (‖f(x)+g(x) − f(y)−g(y)‖ ≤ (L_f + L_g)‖x−y‖), which is
 * how residual graphs are handled. `upper_to_exact` does the same with `exact` in place of
 * `bound` wherever it is known (a tighter bound, valid up to the exact norms' accuracy). The
 * last layer's values are the whole-net bounds.
 *
 * **Empirical lower bound** (nnp_lipschitz_lower()): max over data points x of ‖J(x)‖₂, J the
 * Jacobian of a layer's output with respect to the input, by power iteration on JᵀJ. Jv is a
 * forward-mode (tangent) pass through the net's layers, exact up to float rounding (not finite
 * differences); Jᵀu is the library's vector–Jacobian product. Any Lipschitz constant is at
 * least ‖J(x)‖, so the result shows how loose `upper_to` is.
 *
 * **Local estimate** (nnp_lipschitz_clever()): a CLEVER-style estimate, not a bound.
 *
 * @par Thread safety
 * Read-only on the net: concurrent calls on one `const nnp_net *` are safe.
 */
#ifndef NNPROBE_LIPSCHITZ_H
#define NNPROBE_LIPSCHITZ_H

#include "net.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief Options of nnp_lipschitz_bounds() and nnp_lipschitz_lower(). Initialise with
 * nnp_lipschitz_opts_init(&o), then change fields.
 */
typedef struct nnp_lipschitz_opts {
    size_t size;            /**< sizeof(nnp_lipschitz_opts), set by nnp_lipschitz_opts_init() */
    int exact;              /**< non-zero: compute the exact norms of linear layers (default 1) */
    double tol;             /**< relative accuracy of exact norms, in (0, 0.1] (default 1e-6);
                                 also the relative-change stop of the lower bound's power
                                 iteration */
    size_t max_iter;        /**< Lanczos steps per layer, each one application of the layer
                                 and one of its transpose, ≥ 1 (default 1000) */
    size_t max_basis;       /**< Lanczos vectors kept before a restart, ≥ 2 (default 128);
                                 memory is max_basis × the layer's input size doubles */
    size_t fourier_grid_h;  /**< Fourier grid rows for convolutions; 0 = automatic (see the
                                 file comment); else a multiple of every conv's vertical stride
                                 (default 0) */
    size_t fourier_grid_w;  /**< Fourier grid columns, as fourier_grid_h (default 0) */
    size_t power_iters;     /**< nnp_lipschitz_lower(): power-iteration steps per point, ≥ 1
                                 (default 100) */
    size_t batch_size;      /**< nnp_lipschitz_lower(): points per batched pass, ≥ 1 (default 32) */
    uint64_t seed;          /**< seed of all start vectors (default 1) */
    /** called with (done, total) as work proceeds; non-zero cancels. For the bounds the
     *  units are each convolution's (group, frequency) pairs of its Fourier bound plus the
     *  Lanczos step budget (max_iter per linear layer; a layer that converges early jumps
     *  `done` to the end of its budget); for the lower bound, power_iters steps per batch of
     *  points, likewise; for nnp_lipschitz_clever(), batches. NULL = none */
    nnp_progress_fn progress;
    void *progress_user;    /**< passed to `progress` */
    /** non-zero: orthogonalise every Lanczos vector against the whole basis. Default 0:
     *  layers with more than 2048 inputs use partial reorthogonalisation (Simon, 1984), which
     *  keeps the basis orthogonal to √ε, enough for fully accurate norms, at a fraction of
     *  the cost; smaller ones are always fully reorthogonalised */
    int full_reorth;
    /** nnp_lipschitz_lower(): the layer whose output is the Jacobian's variable, 0 (the
     *  input) … layer−1 (default 0). With l > 0 the bound is for the map φ_l → φ_layer at
     *  φ_l(x), every layer that does not descend from l held fixed (for a chain: the block of
     *  layers l+1 … layer) */
    size_t lower_from;
    size_t clever_batches;  /**< nnp_lipschitz_clever(): batches of samples, ≥ 2 (default 50) */
    size_t clever_samples;  /**< nnp_lipschitz_clever(): samples per batch, ≥ 1 (default 128) */
    /** nnp_lipschitz_bounds(): non-zero (default 1) computes the paper's Fourier bound of
     *  every convolution. 0 skips it, for when only the exact norms are wanted: it is most of
     *  the cost of the call for a convolution (a σ_max per frequency of the grid). Then a
     *  convolution's `bound` is NaN, its grid_h/grid_w are 0, `upper_to` is NaN from it on
     *  (`upper_to_exact` is unaffected when opts.exact is set), and its Lanczos starts from
     *  the peak of a coarse Fourier grid (4 points per kernel extent, at least 8) refined off
     *  the grid, instead of the full grid's. Every other layer's `bound` is computed as
     *  usual (they cost nothing). @since 0.2.0 */
    int paper_bound;
    /** nnp_lipschitz_lower(): global index of x[0] when the call runs one shard of a larger
     *  set of points (shard.h): the start vectors depend on it, `argmax` and messages count
     *  from it (default 0); merge shards with nnp_lipschitz_lower_merge(). @since 0.2.0 */
    size_t first_index;
} nnp_lipschitz_opts;

/**
 * @brief Fills the caller's `size` bytes of `opts` with the defaults of ::nnp_lipschitz_opts
 * (see "Conventions" in nnprobe.h for why the size is passed).
 * @retval NNP_EINVAL `opts` is NULL or size < sizeof(size_t)
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_lipschitz_opts_init_sized(nnp_lipschitz_opts *opts,
                                                               size_t size);
/** @brief nnp_lipschitz_opts_init_sized() with the size of the caller's struct. */
#define nnp_lipschitz_opts_init(opts) nnp_lipschitz_opts_init_sized((opts), sizeof *(opts))

/**
 * @brief One layer's Lipschitz data, filled by nnp_lipschitz_bounds().
 *
 * The caller sets `size = sizeof(nnp_lipschitz_info)` in every element; fields beyond it are
 * not written, so older callers keep working when fields are appended.
 */
typedef struct nnp_lipschitz_info {
    size_t size;            /**< set by the caller to sizeof(nnp_lipschitz_info) */
    nnp_layer_kind kind;    /**< layer kind */
    double bound;           /**< the paper's upper bound of this layer alone (file comment) */
    double exact;           /**< exact operator norm of a linear layer as applied; NaN for
                                 non-linear layers or when opts.exact is 0 */
    double accuracy;        /**< estimated relative error of `exact` from the Lanczos
                                 residual (0 for closed forms). The layer's passes run in
                                 float, so the operator itself is exact to about 1e-7
                                 relative; the estimate does not include that. */
    int converged;          /**< 1 if `exact` reached opts.tol (or is a closed form), else 0 */
    size_t iterations;      /**< Lanczos steps (applications of AᵀA) spent on `exact` */
    size_t applications;    /**< operator applications: A and Aᵀ each count one */
    size_t stride_h;        /**< vertical stride (convolution and pooling; 1 otherwise) */
    size_t stride_w;        /**< horizontal stride (convolution and pooling; 1 otherwise) */
    size_t grid_h;          /**< convolution: rows of the Fourier grid of `bound` (else 0) */
    size_t grid_w;          /**< convolution: columns of the Fourier grid (else 0) */
    size_t overlap;         /**< max pooling: largest number of windows holding one cell (else 0) */
    double upper_to;        /**< upper bound of the Lipschitz constant input → this layer,
                                 from the `bound`s (product; sum over the branches of an add) */
    double upper_to_exact;  /**< the same with `exact` wherever it is known */
} nnp_lipschitz_info;

/**
 * @brief Per-layer upper Lipschitz bounds, exact norms of the linear layers, and the
 * whole-net bounds (see the file comment for every rule).
 *
 * Not converging within opts.max_iter is not an error: that layer's `converged` is 0 and its
 * `accuracy` says how far it got.
 * @param[in]  net    network
 * @param[in]  opts   options, or NULL for the defaults
 * @param[out] infos  `count` elements; the caller sets each element's `size`, all equal (the
 *                    element stride is infos[0].size)
 * @param[in]  count  must be nnp_net_layer_count(net); element l describes layer l (layer 0,
 *                    the input, has bound 1)
 * @retval NNP_EINVAL NULL argument, wrong count, an element's size 0 or different from
 *         infos[0].size, or an option out of range (the message names the field)
 * @retval NNP_EVERSION opts->size larger than this library's struct with non-zero extra bytes
 * @retval NNP_EUNSUPPORTED a layer kind this module does not know (named)
 * @retval NNP_ENUMERIC a layer's operator produced NaN (e.g. batch norm with var + ε ≤ 0)
 * @retval NNP_ECANCELLED the progress callback asked to stop (infos then hold partial results
 *         and must not be used)
 * @retval NNP_ENOMEM out of memory
 * @par Thread safety Read-only on `net`.
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_lipschitz_bounds(const nnp_net *net,
                                                      const nnp_lipschitz_opts *opts,
                                                      nnp_lipschitz_info *infos, size_t count);

/**
 * @brief Empirical lower bound of the Lipschitz constant of input → layer `layer` (or of
 * layer opts.lower_from → `layer`): the largest ‖J(x_i)‖₂ over n data points, by power
 * iteration on JᵀJ at each point (see the file comment). Every value is a true lower bound of
 * that map's Lipschitz constant, up to float rounding, whether or not the iteration has
 * converged.
 * @param[in]  net     network
 * @param[in]  x       n × nnp_net_input_size() floats
 * @param[in]  n       number of points ≥ 1
 * @param[in]  layer   1 … nnp_net_layer_count()−1 (the last layer: the whole net)
 * @param[in]  opts    options (power_iters, batch_size, tol, seed, progress), or NULL
 * @param[out] norms   n doubles: ‖J(x_i)‖₂ estimate per point, or NULL
 * @param[out] lower   max_i of them
 * @param[out] argmax  index of the point that gives `lower` (the first such on ties), plus
 *                     opts.first_index; or NULL
 * @retval NNP_EINVAL NULL net/x/lower, n = 0, layer out of range, an option out of range
 *         (opts.lower_from ≥ layer included), a NaN or infinite value in x (the message names
 *         the example and the index)
 * @retval NNP_ENUMERIC φ_layer of a point is NaN or infinite (the message names the point and
 *         the layer where the value first became non-finite), or a Jacobian estimate is
 * @retval NNP_EVERSION as nnp_lipschitz_bounds()
 * @retval NNP_EUNSUPPORTED a layer kind without a tangent rule (named)
 * @retval NNP_ECANCELLED the progress callback asked to stop (outputs unspecified)
 * @retval NNP_ENOMEM out of memory
 * @par Thread safety Read-only on `net`.
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_lipschitz_lower(const nnp_net *net, const float *x, size_t n,
                                                     size_t layer, const nnp_lipschitz_opts *opts,
                                                     double *norms, double *lower, size_t *argmax);

/**
 * @brief Merges the lower bounds of nnp_lipschitz_lower() runs over disjoint shards of one set
 * of points (each with its opts.first_index, shard.h) into the whole run's: the largest
 * `lower`, and on equal values the smallest global `argmax` (the whole run keeps the first
 * point that reaches the maximum), so the merged pair equals the single run's bit for bit.
 * @param[in]  lower          n_parts lower bounds, each finite and ≥ 0
 * @param[in]  argmax         n_parts global argmax indices
 * @param[in]  n_parts        ≥ 1
 * @param[out] merged         the largest bound
 * @param[out] merged_argmax  its global index, or NULL
 * @retval NNP_EINVAL NULL lower/argmax/merged, n_parts 0, a bound negative or not finite, two
 *         parts with the same argmax (overlapping shards; the message names both parts)
 * @par Thread safety Reentrant.
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_lipschitz_lower_merge(const double *lower,
                                                           const size_t *argmax, size_t n_parts,
                                                           double *merged,
                                                           size_t *merged_argmax);

/**
 * @brief CLEVER-style **estimate** (not a bound) of the local Lipschitz constant of the margin
 * g(x) = z_label(x) − z_target(x) in the L2 ball of radius `radius` around `x` (Weng et al.,
 * 2018, "Evaluating the robustness of neural networks: an extreme value theory approach").
 *
 * opts.clever_batches batches of opts.clever_samples points are drawn uniformly in the ball
 * (not clipped to any box), ‖∇g‖₂ is computed at each (one batched VJP per batch), and a
 * reverse Weibull distribution is fitted by maximum likelihood to the batch maxima (shape
 * restricted to [1, 1000]); its location, the upper end of its support, is the estimate. The
 * largest sampled norm is a true lower bound of the local constant; the estimate is not
 * certified and may fall below the true value.
 * @param[in]  net          classifier (the last layer gives the logits)
 * @param[in]  x            one input, nnp_net_input_size() floats
 * @param[in]  label        the class whose margin is measured (usually the true or predicted one)
 * @param[in]  target       another class
 * @param[in]  radius       ball radius > 0 (L2, in input units)
 * @param[in]  opts         options (clever_batches, clever_samples, seed, progress), or NULL
 * @param[out] estimate     the fitted location: the local Lipschitz estimate
 * @param[out] max_sampled  the largest sampled gradient norm (a lower bound), or NULL
 * @param[out] score        CLEVER score min(g(x)/estimate, radius) (0 if g(x) ≤ 0), an
 *                          estimated L2 robustness radius for this target, or NULL
 * @retval NNP_EINVAL NULL net/x/estimate, label or target out of range or equal, radius not
 *         positive, clever_batches < 2 or clever_samples = 0, a NaN or infinite value in x
 * @retval NNP_EVERSION as nnp_lipschitz_bounds()
 * @retval NNP_ENUMERIC the logits at a sample or at x are NaN or infinite (the message names
 *         the batch of samples and the layer where the value first became non-finite), or a
 *         gradient is
 * @retval NNP_ECANCELLED the progress callback (called per batch) asked to stop
 * @retval NNP_ENOMEM out of memory
 * @par Thread safety Read-only on `net`.
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_lipschitz_clever(const nnp_net *net, const float *x,
                                                      int32_t label, int32_t target, double radius,
                                                      const nnp_lipschitz_opts *opts,
                                                      double *estimate, double *max_sampled,
                                                      double *score);

#ifdef __cplusplus
}
#endif
#endif
