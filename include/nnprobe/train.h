/**
 * @file train.h
 * @brief Training: minibatch SGD with momentum, per-layer L2 weight decay (error rates and
 * mean loss: nnp_eval_error_rate() in eval.h).
 *
 * Enough to train the paper's models (docs/paper.md §3): FC10(λ), FC100-100-10,
 * FC200-200-10 and AE400-10 (an autoencoder trained with ::NNP_LOSS_MSE, whose encoder then
 * carries a softmax layer trained with the encoder frozen, see nnp_train_opts::first_trainable_layer).
 *
 * Training is deterministic: the same net, data, options and seed give bit-identical
 * parameters (with a fixed BLAS thread count, and a deterministic batch hook if one is set).
 *
 * For the paper's §4.2 comparison (weight decay only, dropout, a refreshed pool of
 * adversarial examples mixed into the batches) see nnp_train_opts::dropout and
 * ::nnp_train_batch_fn.
 */
#ifndef NNPROBE_TRAIN_H
#define NNPROBE_TRAIN_H

#include "dataset.h"
#include "net.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Training losses. Values pinned. */
typedef enum nnp_loss {
    /** softmax cross-entropy against the labels: log Σ_k exp(z_k) − z_y per example */
    NNP_LOSS_SOFTMAX_XENT = 0,
    /** squared error against the input itself (autoencoders): ½ Σ_j (y_j − x_j)² per example;
     *  the net's output size must equal its input size; labels, if any, are ignored */
    NNP_LOSS_MSE = 1
} nnp_loss;

/**
 * @brief How the weight-decay term of a dense or convolution layer is scaled. Values pinned.
 *
 * The paper ("weight decay of λ", §2) does not say which; two independent reproductions use
 * the per-unit form, so both are offered (docs/paper.md §3).
 */
typedef enum nnp_decay_mode {
    NNP_DECAY_SUM = 0,      /**< penalty λ Σ w² over the layer's weights */
    NNP_DECAY_PER_UNIT = 1  /**< penalty λ Σ w² / k, k = the layer's output units (dense) or
                                 output channels (convolution) */
} nnp_decay_mode;

/**
 * @brief Batch hook of nnp_train() (nnp_train_opts::batch_hook): sees, and may change, each
 * step's minibatch before the step is taken.
 *
 * What it is for: Szegedy et al. 2013 §4.2 train "with a pool of adversarial examples […]
 * continuously replaced by newly generated adversarial examples and which is mixed into the
 * original training set all the time". A hook keeps such a pool (its own memory, in `user`),
 * refreshes it every few steps by attacking `net` as it currently is (nnp_attack_lbfgs(),
 * nnp_attack_fgsm(), …), and overwrites some of the batch's examples (and their labels) with
 * pool entries. Any other augmentation works the same way.
 *
 * @param[in] net     the net being trained, holding the parameters after the `step` steps
 *                    completed so far. The hook may query it (forward passes, gradients,
 *                    attacks, evaluation, nnp_net_clone()) but must not modify it (a
 *                    `const nnp_net *` is never written by the library) nor pass it to
 *                    nnp_train().
 * @param[in,out] x   the batch's examples, n × input size floats, batch-major: a copy of the
 *                    data set's examples in this step's (shuffled) order. The hook may
 *                    overwrite any of them; the values must stay finite. With
 *                    ::NNP_LOSS_MSE the examples as the hook leaves them are also the targets.
 * @param[in,out] labels  their n labels: copies of the data set's labels (−1 each if the data
 *                    set has none). The hook may overwrite them; with ::NNP_LOSS_SOFTMAX_XENT
 *                    each must stay a class of the net (0 ≤ label < output size). Ignored by
 *                    ::NNP_LOSS_MSE.
 * @param[in] n       examples in this batch: nnp_train_opts::batch_size (capped at the data
 *                    set's size), fewer for the last batch of an epoch. The hook cannot
 *                    change it.
 * @param[in] step    0-based index of the step about to be taken, counted across epochs
 *                    (epoch = step / batches per epoch); it increases by one per call.
 * @param[in] user    nnp_train_opts::batch_hook_user
 * @return 0 to take the step, non-zero to stop training: nnp_train() then returns
 *         ::NNP_ECANCELLED and the net holds the parameters after the last completed step.
 * @par Ownership and thread safety `x` and `labels` belong to nnp_train() and are valid only
 *      during the call: keep copies, not the pointers. The hook runs on the thread that
 *      called nnp_train(), once per step, never concurrently with itself or with the step.
 * @since 0.2.0
 */
typedef int (*nnp_train_batch_fn)(const nnp_net *net, float *x, int32_t *labels, size_t n,
                                  uint64_t step, void *user);

/**
 * @brief Options of nnp_train(). Initialise with nnp_train_opts_init(), then change fields.
 */
typedef struct nnp_train_opts {
    size_t size;              /**< sizeof(nnp_train_opts), set by nnp_train_opts_init() */
    size_t epochs;            /**< passes over the data, ≥ 1 (default 10) */
    size_t batch_size;        /**< examples per step, ≥ 1 (default 100) */
    double learning_rate;     /**< step size, > 0 (default 0.1) */
    double momentum;          /**< heavy-ball momentum in [0, 1) (default 0.9) */
    double lr_decay;          /**< learning rate multiplied by this after each epoch, (0, 1] (default 1) */
    nnp_loss loss;            /**< objective (default ::NNP_LOSS_SOFTMAX_XENT) */
    nnp_decay_mode decay_mode;/**< scaling of the weight decay (default ::NNP_DECAY_SUM) */
    /** λ per dense or convolution layer in layer order (biases, batch norm and other layers
     *  are never decayed), each ≥ 0; NULL means no decay. With n_weight_decay = 1 the single
     *  value applies to every such layer. */
    const double *weight_decay;
    size_t n_weight_decay;    /**< entries in weight_decay: 0, 1 or the number of dense and
                                   convolution layers */
    /** layers with a smaller index keep their parameters (e.g. a pretrained encoder); 0 or 1
     *  trains everything (default 0) */
    size_t first_trainable_layer;
    uint64_t seed;            /**< seed of the example shuffling (default 1) */
    nnp_progress_fn progress; /**< called after each step with (step, total steps), or NULL */
    void *progress_user;      /**< passed to `progress` */
    /**
     * @brief 1: train with dropout at every dropout layer (nnp_net_add_dropout(), ONNX
     * Dropout); 0: those layers stay the identity, as at inference (default 0).
     *
     * Inverted dropout (Srivastava et al. 2014, JMLR 15, "Dropout: a simple way to prevent
     * neural networks from overfitting": §4 scales the weights at test time instead; §10 notes
     * that scaling retained units up during training is equivalent; their p is the probability
     * of keeping a unit, the layer's ratio here is that of dropping it): in each SGD step,
     * each unit of a dropout layer of ratio p is kept with probability 1 − p, independently
     * per example, and kept units are scaled by 1/(1 − p); the backward pass of that step uses
     * the same mask. The masks come from a generator seeded by `seed` and the step index
     * (separate from the shuffling, so the batches are the same with and without dropout),
     * so training stays deterministic. Only nnp_train() is affected: forward passes,
     * gradients, attacks and every other query use a dropout layer as the identity.
     * A net without dropout layers trains the same with 0 or 1.
     * @since 0.2.0
     */
    int dropout;
    /**
     * @brief Called before each SGD step with a copy of that step's minibatch, which it may
     * modify in place (e.g. to mix in adversarial examples, Szegedy et al. 2013 §4.2), or
     * NULL (default). See ::nnp_train_batch_fn.
     * @since 0.2.0
     */
    nnp_train_batch_fn batch_hook;
    /** passed to `batch_hook`; never dereferenced by the library. @since 0.2.0 */
    void *batch_hook_user;
} nnp_train_opts;

/**
 * @brief Fills the caller's `size` bytes of `opts` with the defaults listed in
 * ::nnp_train_opts and sets `opts->size = size`.
 *
 * The rule every options struct follows is in nnprobe.h, "Conventions".
 * @param[out] opts  the caller's struct
 * @param[in]  size  sizeof the caller's struct, ≥ sizeof(size_t)
 * @retval NNP_EINVAL `opts` is NULL or size < sizeof(size_t)
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_train_opts_init_sized(nnp_train_opts *opts, size_t size);

/** @brief nnp_train_opts_init_sized() with the size of the caller's struct. */
#define nnp_train_opts_init(opts) nnp_train_opts_init_sized((opts), sizeof *(opts))

/**
 * @brief Trains `net` on `data` by minibatch SGD with momentum.
 *
 * Each epoch visits the examples in a fresh random order (from `seed`); the last partial batch
 * is used too. A step minimises the mean loss of its batch plus the weight-decay penalties.
 * Each batch is copied out of `data` (which is never written), passed to the batch hook if
 * one is set, and then used for the step, with dropout applied if nnp_train_opts::dropout.
 * @param[in,out] net   network to train in place (its parameters are the starting point)
 * @param[in]  data     training set; labelled with labels < output size for the cross-entropy loss
 * @param[in]  opts     options, or NULL for the defaults
 * @param[out] final_loss  mean loss (without decay) over the last completed epoch, or NULL;
 *                         left unchanged if no epoch completed. It is the loss each step
 *                         trained on: of the batches as the hook left them, and with dropout
 *                         of the thinned nets, not of the net at inference.
 * @retval NNP_EINVAL NULL net/data, shape mismatch between net and data, an option out of
 *         range (the message names the field; nnp_train_opts::dropout not 0 or 1), unlabelled
 *         data or label ≥ classes, or the batch hook wrote a non-finite value or (with the
 *         cross-entropy loss) a label that is not a class of the net; the net then holds the
 *         parameters after the last completed step
 * @retval NNP_EVERSION opts->size is larger than this library's struct and the extra bytes are not zero
 * @retval NNP_ECANCELLED the progress callback or the batch hook asked to stop; the net holds
 *         the parameters after the last completed step
 * @retval NNP_ENUMERIC the loss, or a parameter after the next step, would be NaN or infinite
 *         (learning rate too large?); the net holds the parameters from before that step
 * @retval NNP_ENOMEM out of memory
 * @par Thread safety Modifies `net`: nothing else may use it meanwhile (the batch hook may
 *      query it between steps).
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_train(nnp_net *net, const nnp_dataset *data,
                                           const nnp_train_opts *opts, double *final_loss);


#ifdef __cplusplus
}
#endif
#endif
