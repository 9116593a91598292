/* nnp_net_normalized (net.h): a copy of a net behind a fixed per-channel affine input map
 * y_c = (x_c − mean_c)/std_c, the preprocessing torchvision's classifiers expect
 * (torchvision.transforms.Normalize), so that the probes work in pixel space [0,1] while the
 * model sees normalised input.
 *
 * The map is an inference batch-norm node (layer_norm.c: y = scale·(x − mean)/√(var + ε) + bias)
 * with scale = 1/std, var = 1, ε = 0, bias = 0: no new layer kind, and everything batch norm
 * has comes with it unchanged: the input gradient (the chain rule through the map: the pixel
 * gradient is the normalised-space gradient divided by std_c), the Lipschitz rule (the exact
 * norm max_c 1/std_c), the Jacobian-vector product, and ONNX export as BatchNormalization. */
#include <math.h>
#include <string.h>

#include "core/core.h"
#include "net_internal.h"

NNP_API nnp_status nnp_net_normalized(const nnp_net *net, const float *mean, const float *std,
                                      size_t channels, nnp_net **out)
{
    NNPI_CHECK_NULL(out);
    *out = NULL;
    NNPI_CHECK_NULL(net);
    NNPI_CHECK_NULL(mean);
    NNPI_CHECK_NULL(std);
    const nnpi_node *in = &net->nodes[0];
    if (channels != in->c)
        return nnpi_error(NNP_EINVAL,
                          "%s: %zu mean/std values given, but the net's input has %zu channel%s "
                          "(shape %zux%zux%zu)",
                          __func__, channels, in->c, in->c == 1 ? "" : "s", in->c, in->h, in->w);
    for (size_t c = 0; c < channels; c++) {
        if (!isfinite(mean[c]))
            return nnpi_error(NNP_EINVAL, "%s: mean[%zu] = %g is not finite", __func__, c,
                              (double)mean[c]);
        if (!(std[c] > 0.0f) || !isfinite(std[c]) || !isfinite((float)(1.0 / std[c])))
            return nnpi_error(NNP_EINVAL,
                              "%s: std[%zu] = %g, must be > 0 and finite (with a finite inverse)",
                              __func__, c, (double)std[c]);
    }

    nnp_net *r;
    NNPI_TRY(nnp_net_create(in->c, in->h, in->w, &r));
    size_t bn;
    nnp_status st = nnp_net_add_batchnorm(r, 0.0f, &bn);
    if (st != NNP_OK) goto fail;
    float *p = r->params + r->nodes[bn].param_offset; /* scale, mean, var (C each), bias (C) */
    for (size_t c = 0; c < channels; c++) {
        p[c] = (float)(1.0 / std[c]);
        p[channels + c] = mean[c];
        p[2 * channels + c] = 1.0f;
        p[3 * channels + c] = 0.0f;
    }
    /* the net's layers 1.. follow, each index (and each input index) one higher: the old
     * input, layer 0, is now the normalisation's output, layer 1 */
    for (size_t i = 1; i < net->n_nodes; i++) {
        nnpi_node proto = net->nodes[i];
        size_t at;
        for (size_t k = 0; k < proto.n_inputs; k++) proto.inputs[k]++;
        if ((st = nnpi_net_append(r, &proto, &at)) != NNP_OK) goto fail;
        const size_t np = proto.n_weights + proto.n_bias;
        if (np)
            memcpy(r->params + r->nodes[at].param_offset, net->params + net->nodes[i].param_offset,
                   np * sizeof(float));
    }
    r->attach = net->attach + 1;
    *out = r;
    return NNP_OK;
fail:
    nnp_net_free(r);
    return st;
}
