/**
 * @file maxact.h
 * @brief What does a unit mean? Maximum-activation search over a data set and input
 * optimisation, for a unit or any direction of a layer (Szegedy et al. 2013, §3).
 *
 * The paper inspects the inputs x′ = argmax_{x ∈ I} ⟨φ(x), v⟩ of a held-out set I, for v
 * the natural basis vector e_i of a unit and for random directions v, and finds both equally
 * "semantically meaningful" (docs/paper.md §1). nnp_maxact_search() ranks a data set by
 * ⟨φ_l(x), v⟩ for many directions in one pass; nnp_maxact_optimise() instead climbs the
 * input itself, within the box [0,1], with L2 and total-variation penalties.
 *
 * Directions are rows of a matrix: `n_dir` rows of nnp_layer_info::output_size floats each
 * (the layer's C×H×W output, flattened). nnp_maxact_directions_unit() and
 * nnp_maxact_directions_random() fill such rows; any other finite vector works too (it is not
 * normalised).
 *
 * @par Thread safety
 * Read-only on the net and the data set: concurrent calls on one `const nnp_net *` and one
 * `const nnp_dataset *` are safe with distinct workspaces (or NULL workspaces).
 */
#ifndef NNPROBE_MAXACT_H
#define NNPROBE_MAXACT_H

#include "dataset.h"
#include "net.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief Writes the natural basis vector e_unit of dimension `dim` into `v`.
 * @param[in]  dim   length of v, ≥ 1 (a layer's output size)
 * @param[in]  unit  0 … dim−1
 * @param[out] v     dim floats
 * @retval NNP_EINVAL NULL `v`, dim 0, or unit ≥ dim
 * @par Thread safety Safe from any thread.
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_maxact_directions_unit(size_t dim, size_t unit, float *v);

/**
 * @brief Writes `count` random unit vectors of dimension `dim` (uniform on the sphere: a
 * standard normal vector from the library's generator, divided by its Euclidean norm,
 * computed in double) into the rows of `v`.
 *
 * Deterministic for a given seed on every machine. Rows are drawn one after another from one
 * stream, so row i does not depend on `count`: the first 10 of 100 directions are the 10
 * directions of the same seed.
 * @param[in]  dim    length of each row, ≥ 1
 * @param[in]  count  rows, ≥ 1
 * @param[in]  seed   any value
 * @param[out] v      count × dim floats
 * @retval NNP_EINVAL NULL `v`, dim or count 0, or count × dim overflows
 * @par Thread safety Safe from any thread.
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_maxact_directions_random(size_t dim, size_t count,
                                                              uint64_t seed, float *v);

/**
 * @brief Options of nnp_maxact_search(). Initialise with nnp_maxact_search_opts_init().
 */
typedef struct nnp_maxact_search_opts {
    size_t size;              /**< sizeof(nnp_maxact_search_opts), set by the init function */
    size_t batch_size;        /**< examples per forward pass, ≥ 1 (default 256) */
    nnp_progress_fn progress; /**< called after each batch with (examples done, examples in
                                   all), or NULL */
    void *progress_user;      /**< passed to `progress` */
    size_t first_index;       /**< global index of the data set's first example when the call
                                   searches one shard of a larger set (shard.h): the lists
                                   report first_index + position (default 0); merge the shards'
                                   lists with nnp_maxact_merge(); @since 0.2.0 */
} nnp_maxact_search_opts;

/**
 * @brief Fills the caller's `size` bytes of `opts` with the defaults of
 * ::nnp_maxact_search_opts and sets `opts->size = size` (the rules are in
 * nnprobe.h, "Conventions").
 * @retval NNP_EINVAL `opts` is NULL or size < sizeof(size_t)
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_maxact_search_opts_init_sized(nnp_maxact_search_opts *opts,
                                                                   size_t size);

/** @brief nnp_maxact_search_opts_init_sized() with the size of the caller's struct. */
#define nnp_maxact_search_opts_init(opts) \
    nnp_maxact_search_opts_init_sized((opts), sizeof *(opts))

/**
 * @brief The k examples of a data set with the largest (top) and smallest (bottom) score
 * s(x) = ⟨φ_l(x), v⟩, for each of `n_dir` directions v, in one pass over the data.
 *
 * The data are streamed in batches: a forward pass to layer `layer`, then the scores of the
 * batch for all directions as one matrix product (n_dir × output size times output size ×
 * batch, float32), then each score is offered to a bounded heap per direction and list. Extra
 * memory: the workspace of one batch, the batch's scores, and O(k) per direction and list,
 * whatever the size of the data set.
 *
 * Ranking: row d of `top_index` lists example indices in decreasing score, row d of
 * `bottom_index` in increasing score. **Ties** (equal scores) are broken by the smaller
 * example index first, in both lists. A NaN score ranks after every other score in both
 * lists (it appears only when fewer than k scores are numbers). If k exceeds the number N of
 * examples, the first N entries of each row are filled and the rest hold index SIZE_MAX and
 * score NaN; `*found` says how many are filled.
 * @param[in]  net          network
 * @param[in,out] ws        workspace made for `net`, or NULL (then the call makes its own for
 *                          one batch: with a large net, reusing one workspace over many calls
 *                          saves allocating and touching its buffers every time)
 * @param[in]  data         examples of nnp_net_input_size() values each
 * @param[in]  layer        0 … nnp_net_layer_count()−1 (0 ranks by the input itself)
 * @param[in]  directions   n_dir × output_size(layer) floats, each finite
 * @param[in]  n_dir        number of directions, ≥ 1
 * @param[in]  k            entries per list, ≥ 1
 * @param[in]  opts         options, or NULL for the defaults
 * @param[out] top_index    n_dir × k example indices (row d: direction d), or NULL
 * @param[out] top_score    n_dir × k scores matching top_index, or NULL
 * @param[out] bottom_index n_dir × k example indices, or NULL
 * @param[out] bottom_score n_dir × k scores matching bottom_index, or NULL
 * @param[out] found        min(k, N), or NULL
 * @retval NNP_EINVAL NULL net/data/directions, `ws` made for another net, all four outputs NULL, layer out of range,
 *         n_dir or k 0, data examples of another size than the net's input, a non-finite
 *         direction value (the message names the row and column), an option out of range
 *         (the message names the field)
 * @retval NNP_EVERSION opts->size is larger than this library's struct and the extra bytes
 *         are not zero
 * @retval NNP_ECANCELLED the progress callback asked to stop; the outputs are untouched
 * @retval NNP_ENUMERIC φ_l of an example is NaN or infinite (the message names the example and
 *         the layer where the value first became non-finite); the outputs are untouched
 * @retval NNP_ENOMEM out of memory
 * @par Ownership The caller owns every buffer; nothing is kept after the call.
 * @par Thread safety Read-only on `net` and `data`; `ws` is written.
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_maxact_search(const nnp_net *net, nnp_workspace *ws,
                                                   const nnp_dataset *data, size_t layer,
                                                   const float *directions, size_t n_dir, size_t k,
                                                   const nnp_maxact_search_opts *opts,
                                                   size_t *top_index, float *top_score,
                                                   size_t *bottom_index, float *bottom_score,
                                                   size_t *found);

/**
 * @brief Merges the top (or bottom) lists of nnp_maxact_search() runs over disjoint shards of
 * one data set (each with its opts.first_index, shard.h) into the lists the single search of
 * the whole set returns: the same indices and scores in the same order, ties included (equal
 * scores by the smaller global index, NaN last), since the k best of the whole set are among
 * the k best of the shards that hold them.
 *
 * Entries with index SIZE_MAX (a shard with fewer than k examples) are empty and skipped.
 * @param[in]  index      n_parts pointers, each to an n_dir × k list of indices (one shard's
 *                        top_index or bottom_index)
 * @param[in]  score      n_parts pointers to the matching n_dir × k scores
 * @param[in]  n_parts    shards, ≥ 1
 * @param[in]  n_dir, k   directions and entries per list, as in the searches, ≥ 1 each
 * @param[in]  top        1: the lists are top lists (decreasing score); 0: bottom lists
 * @param[out] out_index  n_dir × k merged indices (SIZE_MAX past the last filled entry)
 * @param[out] out_score  n_dir × k merged scores (NaN past the last filled entry)
 * @param[out] found      filled entries per row, min(k, entries in all parts), or NULL
 * @retval NNP_EINVAL NULL pointer, a zero count, top not 0 or 1, one global index in two
 *         parts or twice in a row (overlapping shards, or one shard passed twice: the message
 *         names the parts and the index), rows with different numbers of filled entries
 * @retval NNP_ENOMEM out of memory
 * @par Thread safety Reentrant.
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_maxact_merge(const size_t *const *index,
                                                  const float *const *score, size_t n_parts,
                                                  size_t n_dir, size_t k, int top,
                                                  size_t *out_index, float *out_score,
                                                  size_t *found);

/**
 * @brief Options of nnp_maxact_optimise(). Initialise with nnp_maxact_optimise_opts_init().
 *
 * The defaults are plain projected gradient ascent with no penalty: useful penalty weights
 * depend on the scale of the layer's activations, which the library cannot know.
 */
typedef struct nnp_maxact_optimise_opts {
    size_t size;            /**< sizeof(nnp_maxact_optimise_opts), set by the init function */
    size_t steps;           /**< gradient steps, ≥ 1 (default 200) */
    /** step length, > 0 (default 0.05): each step moves x by step_size · g / rms(g), g the
     *  gradient of the objective, rms over the example's values; then clips to [0,1] */
    double step_size;
    double l2;              /**< weight λ₂ ≥ 0 of the penalty λ₂ Σ x² (default 0) */
    double tv;              /**< weight λ_tv ≥ 0 of the total-variation penalty (default 0) */
    /** smoothing ε > 0 of the total variation, in pixel units (default 0.01); see
     *  nnp_maxact_optimise() */
    double tv_eps;
    /** largest random shift, in pixels, of the image before each step (circular, independent
     *  per example and per step; the gradient is shifted back), < height and < width of the
     *  input; 0 = no jitter (default 0) */
    size_t jitter;
    uint64_t seed;          /**< seed of the start point and of the jitter (default 1) */
    /** start points, n_dir × nnp_net_input_size() floats in [0,1], or NULL: then every
     *  value starts at 0.5 + u, u uniform in [−0.1, 0.1) from `seed` (default NULL) */
    const float *start;
    nnp_progress_fn progress; /**< called after each step with (step, steps), or NULL */
    void *progress_user;      /**< passed to `progress` */
} nnp_maxact_optimise_opts;

/**
 * @brief Fills the caller's `size` bytes of `opts` with the defaults of
 * ::nnp_maxact_optimise_opts and sets `opts->size = size` (the rules are in
 * nnprobe.h, "Conventions").
 * @retval NNP_EINVAL `opts` is NULL or size < sizeof(size_t)
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status
nnp_maxact_optimise_opts_init_sized(nnp_maxact_optimise_opts *opts, size_t size);

/** @brief nnp_maxact_optimise_opts_init_sized() with the size of the caller's struct. */
#define nnp_maxact_optimise_opts_init(opts) \
    nnp_maxact_optimise_opts_init_sized((opts), sizeof *(opts))

/**
 * @brief For each direction v, an input x in the box [0,1] that (locally) maximises
 *
 *     J(x) = ⟨φ_l(x), v⟩ − λ₂ Σ_j x_j² − λ_tv TV(x),
 *     TV(x) = Σ_c Σ_{i,j} ( sqrt((x[c,i+1,j] − x[c,i,j])² + (x[c,i,j+1] − x[c,i,j])² + ε²) − ε ),
 *
 * (differences past the last row or column are 0; TV is the smoothed isotropic total
 * variation of Rudin, Osher & Fatemi 1992, the image prior of Mahendran & Vedaldi 2015; the L2
 * term is Simonyan et al. 2014's "Deep inside convolutional networks", eq. 1).
 *
 * All directions are optimised together as one batch: each step is one batched forward and
 * backward pass (the vector–Jacobian product of φ_l with v as cotangent, as nnp_grad_vjp()),
 * the penalties' gradients, then x ← clip_[0,1](x + step_size · g / rms(g)) per example.
 * With jitter, the gradient of ⟨φ_l, v⟩ is taken at a randomly shifted copy of x and shifted
 * back. Deterministic for a given seed (with a fixed BLAS thread count).
 * @param[in]  net        network
 * @param[in,out] ws      workspace made for `net`, or NULL (then the call makes its own)
 * @param[in]  layer      1 … nnp_net_layer_count()−1
 * @param[in]  directions n_dir × output_size(layer) floats, each finite
 * @param[in]  n_dir      number of directions (= examples optimised), ≥ 1
 * @param[in]  opts       options, or NULL for the defaults
 * @param[out] x          n_dir × nnp_net_input_size() floats: the inputs after the last step
 * @param[out] score      n_dir floats: ⟨φ_l(x), v⟩ at the returned x (no jitter), or NULL
 * @param[out] objective  n_dir floats: J(x) at the returned x, or NULL
 * @retval NNP_EINVAL NULL net/directions/x, `ws` made for another net, layer 0 or out of range, n_dir 0, a non-finite
 *         direction value, a start value outside [0,1] or not finite, an option out of range
 *         (the message names the field, e.g. `opts.jitter`)
 * @retval NNP_EVERSION opts->size is larger than this library's struct and the extra bytes
 *         are not zero
 * @retval NNP_ECANCELLED the progress callback asked to stop; `x` holds the inputs after the
 *         last completed step (in [0,1]), `score` and `objective` are untouched
 * @retval NNP_ENUMERIC φ_l or the gradient became NaN or infinite (e.g. a net with huge
 *         weights; the message names the step, the direction and the layer where φ first
 *         became non-finite); `x` holds the inputs after the last completed step
 * @retval NNP_ENOMEM out of memory
 * @par Ownership The caller owns every buffer; nothing is kept after the call.
 * @par Thread safety Read-only on `net`; `ws` is written.
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_maxact_optimise(const nnp_net *net, nnp_workspace *ws,
                                                     size_t layer,
                                                     const float *directions, size_t n_dir,
                                                     const nnp_maxact_optimise_opts *opts,
                                                     float *x, float *score, float *objective);

#ifdef __cplusplus
}
#endif
#endif
