/* Zero padding of the spatial axes (ONNX Pad, mode "constant", value 0, on H and W only):
 * C×H×W to C×(pt+H+pb)×(pl+W+pr), the input in the middle. A linear map that copies each
 * input value to one output cell: an isometric embedding, so its operator norm is exactly 1,
 * its transpose (backward) crops the middle back out, and its tangent is its own forward. */
#include <string.h>

#include "net/net_internal.h"

#define MAX_OUT_SIZE ((size_t)1 << 28)
#define MAX_PAD ((size_t)1 << 20)

static void pad_forward(const nnpi_node *node, const float *params, const float *const *in,
                        float *out, size_t n, float *scratch)
{
    (void)params, (void)scratch;
    const size_t H = node->in_h, W = node->in_w, OH = node->h, OW = node->w;
    const size_t pt = node->attr.pad.pt, pl = node->attr.pad.pl;
    memset(out, 0, n * node->out_size * sizeof *out);
    for (size_t p = 0; p < n * node->c; p++) {
        const float *x = in[0] + p * H * W;
        float *y = out + p * OH * OW + pt * OW + pl;
        for (size_t r = 0; r < H; r++) memcpy(y + r * OW, x + r * W, W * sizeof *y);
    }
}

/* The transpose: every input cell takes the gradient of the one output cell it was copied to. */
static void pad_backward_input(const nnpi_node *node, const float *params,
                               const float *const *in, const float *out, const float *dout,
                               float *const *din, size_t n, const unsigned char *accumulate,
                               float *scratch)
{
    (void)params, (void)in, (void)out, (void)scratch;
    const size_t H = node->in_h, W = node->in_w, OH = node->h, OW = node->w;
    const size_t pt = node->attr.pad.pt, pl = node->attr.pad.pl;
    for (size_t p = 0; p < n * node->c; p++) {
        const float *dy = dout + p * OH * OW + pt * OW + pl;
        float *dx = din[0] + p * H * W;
        for (size_t r = 0; r < H; r++) {
            if (accumulate[0])
                for (size_t c = 0; c < W; c++) dx[r * W + c] += dy[r * OW + c];
            else
                memcpy(dx + r * W, dy + r * OW, W * sizeof *dx);
        }
    }
}

const nnpi_layer_ops nnpi_pad_ops = {.kind = NNP_LAYER_PAD,
                                     .name = "pad",
                                     .forward = pad_forward,
                                     .backward_input = pad_backward_input,
                                     .lip_flags = NNPI_LIP_LINEAR,
                                     .lip_bound = nnpi_lip_bound_one,
                                     .jvp = nnpi_jvp_by_forward};

NNP_API nnp_status nnp_net_add_pad(nnp_net *net, size_t top, size_t left, size_t bottom,
                                   size_t right, size_t *layer)
{
    NNPI_CHECK_NULL(net);
    const char *f = "nnp_net_add_pad";
    const struct {
        size_t v;
        const char *name;
    } pads[] = {{top, "top"}, {left, "left"}, {bottom, "bottom"}, {right, "right"}};
    for (size_t i = 0; i < sizeof pads / sizeof pads[0]; i++)
        if (pads[i].v > MAX_PAD)
            return nnpi_error(NNP_EINVAL, "%s: %s = %zu exceeds 2^20", f, pads[i].name,
                              pads[i].v);
    nnpi_node node = nnpi_node_on(net, net->attach, &nnpi_pad_ops);
    node.h = node.in_h + top + bottom;
    node.w = node.in_w + left + right;
    const size_t out_size = nnpi_mul(nnpi_mul(node.c, node.h), node.w);
    if (out_size > MAX_OUT_SIZE)
        return nnpi_error(NNP_EINVAL, "%s: output %zux%zux%zu exceeds 2^28 values", f, node.c,
                          node.h, node.w);
    node.out_size = out_size;
    node.attr.pad.pt = top, node.attr.pad.pl = left, node.attr.pad.pb = bottom;
    node.attr.pad.pr = right;
    size_t index;
    NNPI_TRY(nnpi_net_append(net, &node, &index));
    if (layer) *layer = index;
    return NNP_OK;
}
