#include "refnet.h"

#include <math.h>
#include <stdlib.h>

static size_t out_size(const nnp_net *net, size_t l)
{
    nnp_layer_info info = {.size = sizeof info};
    if (nnp_net_layer_info(net, l, &info) != NNP_OK) abort();
    return info.output_size;
}

double **ref_forward(const nnp_net *net, const double *x)
{
    size_t L = nnp_net_layer_count(net);
    double **a = calloc(L, sizeof *a);
    a[0] = malloc(nnp_net_input_size(net) * sizeof(double));
    for (size_t i = 0; i < nnp_net_input_size(net); i++) a[0][i] = x[i];
    for (size_t l = 1; l < L; l++) {
        nnp_layer_info info = {.size = sizeof info};
        if (nnp_net_layer_info(net, l, &info) != NNP_OK) abort();
        size_t m = info.output_size, in = out_size(net, info.inputs[0]);
        const double *u = a[info.inputs[0]];
        double *y = a[l] = malloc(m * sizeof(double));
        if (info.kind == NNP_LAYER_DENSE) {
            float *w = malloc(info.weight_count * sizeof(float)), *b = malloc(m * sizeof(float));
            if (nnp_net_get_params(net, l, w, b) != NNP_OK) abort();
            for (size_t o = 0; o < m; o++) {
                double s = b[o];
                for (size_t i = 0; i < in; i++) s += (double)w[o * in + i] * u[i];
                y[o] = s;
            }
            free(w);
            free(b);
            continue;
        }
        if (info.kind == NNP_LAYER_PAD) { /* the input in the middle of a zero plane */
            nnp_layer_info ii = {.size = sizeof ii};
            if (nnp_net_layer_info(net, info.inputs[0], &ii) != NNP_OK) abort();
            for (size_t j = 0; j < m; j++) y[j] = 0;
            for (size_t c = 0; c < ii.channels; c++)
                for (size_t r = 0; r < ii.height; r++)
                    for (size_t q = 0; q < ii.width; q++)
                        y[(c * info.height + r + info.pad_top) * info.width + q + info.pad_left] =
                            u[(c * ii.height + r) * ii.width + q];
            continue;
        }
        if (info.kind == NNP_LAYER_ADD) {
            for (size_t j = 0; j < m; j++) y[j] = u[j] + a[info.inputs[1]][j];
            continue;
        }
        for (size_t j = 0; j < m; j++) {
            double v = u[j];
            switch (info.kind) {
            case NNP_LAYER_FLATTEN:
            case NNP_LAYER_DROPOUT: y[j] = v; break;
            case NNP_LAYER_RELU: y[j] = v > 0 ? v : 0; break;
            case NNP_LAYER_SIGMOID: y[j] = 1.0 / (1.0 + exp(-v)); break;
            case NNP_LAYER_TANH: y[j] = tanh(v); break;
            case NNP_LAYER_SOFTPLUS: y[j] = log1p(exp(v)); break;
            case NNP_LAYER_LEAKY_RELU: y[j] = v > 0 ? v : (double)(float)info.alpha * v; break;
            case NNP_LAYER_CLIP: y[j] = fmin(fmax(v, info.clip_min), info.clip_max); break;
            case NNP_LAYER_HARD_SIGMOID:
                y[j] = fmin(1.0, fmax(0.0, (double)(float)info.alpha * v + (double)(float)info.beta));
                break;
            case NNP_LAYER_HARD_SWISH: y[j] = v * fmin(1.0, fmax(0.0, v / 6.0 + 0.5)); break;
            default: abort();
            }
        }
    }
    return a;
}

void ref_free_acts(const nnp_net *net, double **acts)
{
    for (size_t l = 0; l < nnp_net_layer_count(net); l++) free(acts[l]);
    free(acts);
}

double ref_unit_dot(const nnp_net *net, const double *x, size_t layer, size_t unit, const float *v)
{
    double **a = ref_forward(net, x);
    double s = 0;
    if (v == NULL)
        s = a[layer][unit];
    else
        for (size_t j = 0; j < out_size(net, layer); j++) s += v[j] * a[layer][j];
    ref_free_acts(net, a);
    return s;
}

double ref_xent(const nnp_net *net, const double *x, int32_t y)
{
    double **a = ref_forward(net, x);
    size_t L = nnp_net_layer_count(net), C = nnp_net_output_size(net);
    const double *z = a[L - 1];
    double m = z[0], s = 0;
    for (size_t k = 1; k < C; k++) m = z[k] > m ? z[k] : m;
    for (size_t k = 0; k < C; k++) s += exp(z[k] - m);
    double loss = m + log(s) - z[y];
    ref_free_acts(net, a);
    return loss;
}

void ref_fd_grad(ref_scalar_fn fn, void *ctx, const double *x, size_t d, double h, double *grad)
{
    double *xp = malloc(d * sizeof(double));
    for (size_t i = 0; i < d; i++) xp[i] = x[i];
    for (size_t i = 0; i < d; i++) {
        xp[i] = x[i] + h;
        double fp = fn(ctx, xp);
        xp[i] = x[i] - h;
        double fm = fn(ctx, xp);
        xp[i] = x[i];
        grad[i] = (fp - fm) / (2 * h);
    }
    free(xp);
}

double ref_rel_err(const float *a, const double *b, size_t n)
{
    double scale = 1, err = 0;
    for (size_t i = 0; i < n; i++) scale = fabs(b[i]) > scale ? fabs(b[i]) : scale;
    for (size_t i = 0; i < n; i++) err = fabs(a[i] - b[i]) > err ? fabs(a[i] - b[i]) : err;
    return err / scale;
}
