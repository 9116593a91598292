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
 * parameters (with a fixed BLAS thread count).
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
 * @param[in,out] net   network to train in place (its parameters are the starting point)
 * @param[in]  data     training set; labelled with labels < output size for the cross-entropy loss
 * @param[in]  opts     options, or NULL for the defaults
 * @param[out] final_loss  mean loss (without decay) over the last completed epoch, or NULL;
 *                         left unchanged if no epoch completed
 * @retval NNP_EINVAL NULL net/data, shape mismatch between net and data, an option out of
 *         range (the message names the field), unlabelled data or label ≥ classes
 * @retval NNP_EVERSION opts->size is larger than this library's struct and the extra bytes are not zero
 * @retval NNP_ECANCELLED the progress callback asked to stop; the net holds the parameters
 *         after the last completed step
 * @retval NNP_ENUMERIC the loss, or a parameter after the next step, would be NaN or infinite
 *         (learning rate too large?); the net holds the parameters from before that step
 * @retval NNP_ENOMEM out of memory
 * @par Thread safety Modifies `net`: nothing else may use it meanwhile.
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_train(nnp_net *net, const nnp_dataset *data,
                                           const nnp_train_opts *opts, double *final_loss);


#ifdef __cplusplus
}
#endif
#endif
