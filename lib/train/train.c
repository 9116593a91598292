/* Minibatch SGD with momentum and per-layer L2 weight decay, optionally with dropout
 * (Srivastava et al. 2014) and a batch hook that can mix in adversarial examples (Szegedy et
 * al. 2013 §4.2). */
#include <math.h>
#include <string.h>

#include "net/loss.h"
#include "train/objective.h"


static void default_opts(nnp_train_opts *o)
{
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    o->epochs = 10;
    o->batch_size = 100;
    o->learning_rate = 0.1;
    o->momentum = 0.9;
    o->lr_decay = 1.0;
    o->loss = NNP_LOSS_SOFTMAX_XENT;
    o->decay_mode = NNP_DECAY_SUM;
    o->seed = 1;
}

NNP_API nnp_status nnp_train_opts_init_sized(nnp_train_opts *opts, size_t size)
{
    nnp_train_opts d;
    default_opts(&d);
    return nnpi_opts_init(opts, size, &d, sizeof d, "nnp_train_opts_init");
}

static nnp_status check_opts(const nnp_train_opts *o)
{
    const char *f = "nnp_train: opts";
    if (o->epochs == 0) return nnpi_error(NNP_EINVAL, "%s.epochs is 0", f);
    if (o->batch_size == 0) return nnpi_error(NNP_EINVAL, "%s.batch_size is 0", f);
    if (!(o->learning_rate > 0.0) || !isfinite(o->learning_rate))
        return nnpi_error(NNP_EINVAL, "%s.learning_rate = %g, must be > 0", f, o->learning_rate);
    if (!(o->momentum >= 0.0 && o->momentum < 1.0))
        return nnpi_error(NNP_EINVAL, "%s.momentum = %g, must be in [0, 1)", f, o->momentum);
    if (!(o->lr_decay > 0.0 && o->lr_decay <= 1.0))
        return nnpi_error(NNP_EINVAL, "%s.lr_decay = %g, must be in (0, 1]", f, o->lr_decay);
    if (o->loss != NNP_LOSS_SOFTMAX_XENT && o->loss != NNP_LOSS_MSE)
        return nnpi_error(NNP_EINVAL, "%s.loss = %d is not a nnp_loss", f, (int)o->loss);
    if (o->decay_mode != NNP_DECAY_SUM && o->decay_mode != NNP_DECAY_PER_UNIT)
        return nnpi_error(NNP_EINVAL, "%s.decay_mode = %d is not a nnp_decay_mode", f,
                          (int)o->decay_mode);
    if (o->n_weight_decay > 0 && o->weight_decay == NULL)
        return nnpi_error(NNP_EINVAL, "%s.weight_decay is NULL but n_weight_decay = %zu", f,
                          o->n_weight_decay);
    if (o->dropout != 0 && o->dropout != 1)
        return nnpi_error(NNP_EINVAL, "%s.dropout = %d, must be 0 or 1", f, o->dropout);
    for (size_t i = 0; i < o->n_weight_decay; i++)
        if (!(o->weight_decay[i] >= 0.0) || !isfinite(o->weight_decay[i]))
            return nnpi_error(NNP_EINVAL, "%s.weight_decay[%zu] = %g, must be >= 0 and finite", f,
                              i, o->weight_decay[i]);
    return NNP_OK;
}

/* Shape and label checks of the training data (its only caller since nnp_evaluate went). */
static nnp_status check_data(const nnp_net *net, const nnp_dataset *data, int need_labels)
{
    static const char *const func = "nnp_train";
    if (nnp_dataset_example_size(data) != nnp_net_input_size(net))
        return nnpi_error(NNP_EINVAL, "%s: data examples have %zu values, the net's input has %zu",
                          func, nnp_dataset_example_size(data), nnp_net_input_size(net));
    if (!need_labels) return NNP_OK;
    const int32_t *labels = nnp_dataset_labels(data);
    if (labels == NULL) return nnpi_error(NNP_EINVAL, "%s: the data set has no labels", func);
    size_t n = nnp_dataset_count(data), classes = nnp_net_output_size(net);
    size_t bad = nnpi_first_bad_label(labels, n, classes);
    if (bad < n)
        return nnpi_error(NNP_EINVAL, "%s: label %d of example %zu is not a class of the net (0..%zu)",
                          func, (int)labels[bad], bad, classes - 1);
    return NNP_OK;
}

/* Per-node decay coefficient: λ of the node's ordinal among decayed layers, divided by its
 * number of output units (dense) or output channels (convolution) in per-unit mode. */
static nnp_status decay_per_node(const nnp_net *net, const nnp_train_opts *o, double *decay)
{
    size_t n_dense = 0;
    for (size_t i = 0; i < net->n_nodes; i++) n_dense += nnpi_node_is_linear(&net->nodes[i]);
    if (o->n_weight_decay > 1 && o->n_weight_decay != n_dense)
        return nnpi_error(NNP_EINVAL,
                          "nnp_train: opts.n_weight_decay = %zu, must be 0, 1 or the number of "
                          "dense and convolution layers (%zu)", o->n_weight_decay, n_dense);
    size_t d = 0;
    for (size_t i = 0; i < net->n_nodes; i++) {
        const nnpi_node *node = &net->nodes[i];
        decay[i] = 0.0;
        if (!nnpi_node_is_linear(node) || o->n_weight_decay == 0) continue;
        double lambda = o->weight_decay[o->n_weight_decay == 1 ? 0 : d];
        d++;
        decay[i] = o->decay_mode == NNP_DECAY_PER_UNIT ? lambda / (double)node->c : lambda;
    }
    return NNP_OK;
}

/* After the batch hook: the batch must still be something the objective can use. Refused
 * rather than trained on, since a NaN would only surface as NNP_ENUMERIC with a misleading
 * message, and a label out of range would index past the logits. */
static nnp_status check_hooked_batch(const float *x, const int32_t *y, size_t n, size_t D,
                                     int xent, size_t classes, uint64_t step)
{
    const size_t j = nnpi_first_nonfinite(x, n * D);
    if (j < n * D)
        return nnpi_error(NNP_EINVAL, "nnp_train: opts.batch_hook wrote a non-finite value "
                          "at x[%zu] (example %zu) in step %llu", j, j / D,
                          (unsigned long long)step);
    size_t bad = xent ? nnpi_first_bad_label(y, n, classes) : n;
    if (bad < n)
        return nnpi_error(NNP_EINVAL, "nnp_train: opts.batch_hook wrote label %d for example "
                          "%zu in step %llu, not a class of the net (0..%zu)", (int)y[bad], bad,
                          (unsigned long long)step, classes - 1);
    return NNP_OK;
}

/* Everything one training run allocates, freed in one place. */
typedef struct train_buffers {
    nnp_workspace *ws;
    double *decay;
    size_t *order;
    float *x, *grad, *velocity;
    int32_t *y;
} train_buffers;

static void free_buffers(train_buffers *b)
{
    nnp_workspace_free(b->ws);
    nnpi_free(b->decay);
    nnpi_free(b->order);
    nnpi_free(b->x);
    nnpi_free(b->grad);
    nnpi_free(b->velocity);
    nnpi_free(b->y);
}

NNP_API nnp_status nnp_train(nnp_net *net, const nnp_dataset *data, const nnp_train_opts *opts,
                             double *final_loss)
{
    NNPI_CHECK_NULL(net);
    NNPI_CHECK_NULL(data);
    nnp_train_opts o;
    default_opts(&o);
    NNPI_TRY(nnpi_opts_copy(&o, sizeof o, opts, "nnp_train: opts"));
    NNPI_TRY(check_opts(&o));
    const int xent = o.loss == NNP_LOSS_SOFTMAX_XENT;
    NNPI_TRY(check_data(net, data, xent));
    const size_t D = nnp_net_input_size(net), N = nnp_dataset_count(data);
    if (!xent && nnp_net_output_size(net) != D)
        return nnpi_error(NNP_EINVAL, "nnp_train: NNP_LOSS_MSE needs output size (%zu) = input size (%zu)",
                          nnp_net_output_size(net), D);
    const size_t first = o.first_trainable_layer > 1 ? o.first_trainable_layer : 1;
    if (first >= net->n_nodes)
        return nnpi_error(NNP_EINVAL, "nnp_train: opts.first_trainable_layer = %zu, the net has "
                          "layers 0..%zu", o.first_trainable_layer, net->n_nodes - 1);
    const size_t B = o.batch_size < N ? o.batch_size : N;

    train_buffers b = {0};
    nnp_status s = nnp_workspace_create(net, B, &b.ws);
    if (s != NNP_OK) return s;
    b.decay = nnpi_malloc(nnpi_mul(net->n_nodes, sizeof *b.decay));
    b.order = nnpi_malloc(nnpi_mul(N, sizeof *b.order));
    b.x = nnpi_malloc(nnpi_mul(nnpi_mul(B, D), sizeof(float)));
    b.y = nnpi_malloc(nnpi_mul(B, sizeof(int32_t)));
    b.grad = nnpi_malloc(nnpi_mul(net->n_params, sizeof(float)));
    b.velocity = nnpi_calloc(net->n_params, sizeof(float));
    if (!b.decay || !b.order || !b.x || !b.y || !b.grad || !b.velocity) {
        free_buffers(&b);
        return nnpi_error(NNP_ENOMEM, "nnp_train: out of memory");
    }
    s = decay_per_node(net, &o, b.decay);
    if (s == NNP_OK && o.dropout) s = nnpi_workspace_set_train(b.ws);
    if (s != NNP_OK) {
        free_buffers(&b);
        return s;
    }

    const float *images = nnp_dataset_images(data);
    const int32_t *labels = nnp_dataset_labels(data);
    const size_t start = net->nodes[first].param_offset; /* trainable parameters: a suffix */
    const size_t batches = (N + B - 1) / B;
    const uint64_t total = (uint64_t)o.epochs * batches;
    uint64_t step = 0;
    double lr = o.learning_rate;
    const float mu = (float)o.momentum;
    /* the hook sees labels under the MSE loss too: the data set's, or −1 */
    const int want_labels = xent || o.batch_hook != NULL;
    nnpi_rng rng, mask_rng;
    nnpi_rng_seed(&rng, o.seed);
    for (size_t i = 0; i < N; i++) b.order[i] = i;

    for (size_t epoch = 0; epoch < o.epochs && s == NNP_OK; epoch++) {
        for (size_t i = N - 1; i > 0; i--) { /* Fisher–Yates shuffle */
            size_t j = (size_t)nnpi_rng_below(&rng, i + 1), t = b.order[i];
            b.order[i] = b.order[j];
            b.order[j] = t;
        }
        double epoch_loss = 0.0;
        for (size_t k = 0; k < batches; k++) {
            size_t n = k + 1 < batches ? B : N - k * B;
            for (size_t i = 0; i < n; i++) {
                size_t e = b.order[k * B + i];
                memcpy(b.x + i * D, images + e * D, D * sizeof(float));
                if (want_labels) b.y[i] = labels ? labels[e] : -1;
            }
            /* The hook works on the copies just made (the data set is never written); the
             * batch is copied anyway, so a hook costs nothing when absent. */
            if (o.batch_hook) {
                if (o.batch_hook(net, b.x, b.y, n, step, o.batch_hook_user) != 0) {
                    s = nnpi_error(NNP_ECANCELLED, "nnp_train: cancelled by opts.batch_hook "
                                   "in epoch %zu, before step %zu of %llu", epoch + 1, k + 1,
                                   (unsigned long long)total);
                    break;
                }
                s = check_hooked_batch(b.x, b.y, n, D, xent, nnp_net_output_size(net), step);
                if (s != NNP_OK) break;
            }
            if (o.dropout) {
                nnpi_rng_seed(&mask_rng, nnpi_train_mask_seed(o.seed, step));
                nnpi_workspace_draw_masks(b.ws, n, &mask_rng);
            }
            double mean_loss;
            double obj = nnpi_objective_grad(net, b.ws, b.x, b.y, n, o.loss, b.decay, first,
                                             b.grad, &mean_loss);
            if (!isfinite(obj)) {
                s = nnpi_error(NNP_ENUMERIC, "nnp_train: the objective became %g at epoch %zu, "
                               "step %zu (learning rate too large?)", obj, epoch + 1, k + 1);
                break;
            }
            epoch_loss += mean_loss * (double)n;
            /* heavy-ball momentum: v ← μ v − lr g;  w ← w + v. A step that would make a
             * parameter non-finite is refused before anything is written. */
            const float flr = (float)lr;
            float *w = net->params, *v = b.velocity, *g = b.grad;
            int finite = 1;
            for (size_t p = start; p < net->n_params; p++)
                finite &= isfinite(w[p] + (mu * v[p] - flr * g[p]));
            if (!finite) {
                s = nnpi_error(NNP_ENUMERIC, "nnp_train: the step at epoch %zu, step %zu would make "
                               "parameters non-finite (learning rate too large?)", epoch + 1, k + 1);
                break;
            }
            for (size_t p = start; p < net->n_params; p++) {
                v[p] = mu * v[p] - flr * g[p];
                w[p] += v[p];
            }
            step++;
            if (o.progress && o.progress(step, total, o.progress_user) != 0) {
                s = nnpi_error(NNP_ECANCELLED, "nnp_train: cancelled at epoch %zu, step %zu of %llu",
                               epoch + 1, k + 1, (unsigned long long)total);
                break;
            }
        }
        if (final_loss && s == NNP_OK) *final_loss = epoch_loss / (double)N;
        lr *= o.lr_decay;
    }
    free_buffers(&b);
    return s;
}
