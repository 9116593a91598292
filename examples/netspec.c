#include "netspec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static nnp_layer_kind act_of(char c)
{
    switch (c) {
    case 's': return NNP_LAYER_SIGMOID;
    case 'r': return NNP_LAYER_RELU;
    case 't': return NNP_LAYER_TANH;
    case 'p': return NNP_LAYER_SOFTPLUS;
    default: return NNP_LAYER_INPUT;
    }
}

static char letter_of(nnp_layer_kind k)
{
    switch (k) {
    case NNP_LAYER_SIGMOID: return 's';
    case NNP_LAYER_RELU: return 'r';
    case NNP_LAYER_TANH: return 't';
    case NNP_LAYER_SOFTPLUS: return 'p';
    default: return '\0';
    }
}

/* Reads a decimal number of 1..max at *p (advancing it); 0 if there is none or it is out of
 * range. */
static size_t number(const char **p, const char *end, size_t max)
{
    size_t v = 0, digits = 0;
    while (*p < end && **p >= '0' && **p <= '9' && digits < 10) {
        v = v * 10 + (size_t)(**p - '0');
        (*p)++;
        digits++;
    }
    return digits == 0 || v > max ? 0 : v;
}

/* Parses one hidden or last token [p, end); returns 0 on success. */
static int parse_token(const char *p, const char *end, netspec_layer *l)
{
    memset(l, 0, sizeof *l);
    l->kind = NETSPEC_DENSE;
    if (*p == 'c' || *p == 'm' || *p == 'a') {
        l->kind = *p == 'c' ? NETSPEC_CONV : *p == 'm' ? NETSPEC_MAXPOOL : NETSPEC_AVGPOOL;
        p++;
        if ((l->k = number(&p, end, 1024)) == 0) return -1;
        if (l->kind == NETSPEC_CONV) {
            if (p == end || *p++ != 'x' || (l->units = number(&p, end, NETSPEC_MAX_SIZE)) == 0)
                return -1;
            l->stride = 1;
        } else {
            l->stride = l->k;
        }
        if (p < end && *p == 'p' && l->kind == NETSPEC_CONV) {
            p++;
            size_t before = (size_t)(end - p);
            l->pad = number(&p, end, 1024);
            if ((size_t)(end - p) == before) return -1; /* 'p' without a number (0 is fine) */
        }
        if (p < end && *p == 's') {
            p++;
            if ((l->stride = number(&p, end, 1024)) == 0) return -1;
        }
    } else if ((l->units = number(&p, end, NETSPEC_MAX_SIZE)) == 0) {
        return -1;
    }
    l->act = NNP_LAYER_INPUT;
    if (p < end && l->kind != NETSPEC_MAXPOOL && l->kind != NETSPEC_AVGPOOL) {
        l->act = act_of(*p++);
        if (l->act == NNP_LAYER_INPUT) return -1;
    }
    return p == end ? 0 : -1;
}

int netspec_parse(const char *text, int last_act, netspec *sp, char *err, size_t errlen)
{
    memset(sp, 0, sizeof *sp);
    const char *p = text;
    const char *dash = strchr(p, '-');
    const char *end = dash ? dash : p + strlen(p);
    if ((sp->input = number(&p, end, 1u << 28)) == 0 || p != end) {
        snprintf(err, errlen, "spec '%s': not a preset, and the first token of a spec "
                 "must be the input size (e.g. 784-100s-10)", text);
        return -1;
    }
    while (dash) {
        p = dash + 1;
        dash = strchr(p, '-');
        end = dash ? dash : p + strlen(p);
        if (sp->n_layers == NETSPEC_MAX_LAYERS) {
            snprintf(err, errlen, "spec '%s': more than %d layers", text, NETSPEC_MAX_LAYERS);
            return -1;
        }
        netspec_layer *l = &sp->layers[sp->n_layers++];
        if (parse_token(p, end, l) != 0) {
            snprintf(err, errlen,
                     "spec '%s': bad token '%.*s' (expected <units>, c<k>x<channels>[p<pad>]"
                     "[s<stride>], m<k>[s<stride>] or a<k>[s<stride>], sizes ≥ 1, layers with "
                     "weights optionally followed by one of s, r, t, p)",
                     text, (int)(end - p), p);
            return -1;
        }
        if (!dash && (l->kind != NETSPEC_DENSE || (l->act != NNP_LAYER_INPUT && !last_act))) {
            snprintf(err, errlen, "spec '%s': the last token '%.*s' must be the number of classes "
                     "(a dense layer without activation)", text, (int)(end - p), p);
            return -1;
        }
    }
    if (sp->n_layers == 0) {
        snprintf(err, errlen, "spec '%s': need an input size and at least one layer, e.g. 784-10",
                 text);
        return -1;
    }
    return 0;
}

void netspec_format(const netspec *sp, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%zu", sp->input);
    for (size_t i = 0; i < sp->n_layers && n > 0 && (size_t)n < len; i++) {
        const netspec_layer *l = &sp->layers[i];
        char a[2] = {letter_of(l->act), '\0'};
        size_t room = len - (size_t)n;
        switch (l->kind) {
        case NETSPEC_DENSE: n += snprintf(buf + n, room, "-%zu%s", l->units, a); break;
        case NETSPEC_CONV:
            n += snprintf(buf + n, room, "-c%zux%zu", l->k, l->units);
            if (n > 0 && (size_t)n < len && l->pad) n += snprintf(buf + n, len - (size_t)n, "p%zu", l->pad);
            if (n > 0 && (size_t)n < len && l->stride != 1)
                n += snprintf(buf + n, len - (size_t)n, "s%zu", l->stride);
            if (n > 0 && (size_t)n < len) n += snprintf(buf + n, len - (size_t)n, "%s", a);
            break;
        case NETSPEC_MAXPOOL:
        case NETSPEC_AVGPOOL:
            n += snprintf(buf + n, room, "-%c%zu", l->kind == NETSPEC_MAXPOOL ? 'm' : 'a', l->k);
            if (n > 0 && (size_t)n < len && l->stride != l->k)
                n += snprintf(buf + n, len - (size_t)n, "s%zu", l->stride);
            break;
        }
    }
}

size_t netspec_classes(const netspec *sp) { return sp->layers[sp->n_layers - 1].units; }

size_t netspec_weight_layers(const netspec *sp)
{
    size_t n = 0;
    for (size_t i = 0; i < sp->n_layers; i++)
        n += sp->layers[i].kind == NETSPEC_DENSE || sp->layers[i].kind == NETSPEC_CONV;
    return n;
}

static nnp_status add_layer(nnp_net *net, const netspec_layer *l)
{
    nnp_status s = NNP_OK;
    if (l->kind == NETSPEC_DENSE) {
        s = nnp_net_add_dense(net, l->units, NULL);
    } else if (l->kind == NETSPEC_CONV) {
        nnp_net_conv2d_opts o;
        s = nnp_net_conv2d_opts_init(&o);
        o.out_channels = l->units;
        o.kernel_h = o.kernel_w = l->k;
        o.stride_h = o.stride_w = l->stride;
        o.pad_top = o.pad_left = o.pad_bottom = o.pad_right = l->pad;
        if (s == NNP_OK) s = nnp_net_add_conv2d(net, &o, NULL);
    } else {
        nnp_net_pool2d_opts o;
        s = nnp_net_pool2d_opts_init(&o);
        o.kernel_h = o.kernel_w = l->k;
        o.stride_h = o.stride_w = l->stride;
        if (s == NNP_OK)
            s = l->kind == NETSPEC_MAXPOOL ? nnp_net_add_maxpool2d(net, &o, NULL)
                                           : nnp_net_add_avgpool2d(net, &o, NULL);
    }
    if (s == NNP_OK && l->act != NNP_LAYER_INPUT) s = nnp_net_add_activation(net, l->act, NULL);
    return s;
}

nnp_status netspec_build(const netspec *sp, size_t c, size_t h, size_t w, uint64_t seed,
                         nnp_net **out)
{
    nnp_net *net = NULL;
    nnp_status s = nnp_net_create(c, h, w, &net);
    for (size_t i = 0; s == NNP_OK && i < sp->n_layers; i++) s = add_layer(net, &sp->layers[i]);
    if (s == NNP_OK) s = nnp_net_init_params(net, seed);
    if (s != NNP_OK) {
        nnp_net_free(net);
        net = NULL;
    }
    *out = net;
    return s;
}

const netspec_preset netspec_presets[] = {
    {"fc10", "784-10", NULL, {1e-4}, 1,
     "FC10(λ): softmax on the pixels, 784-10; λ = 1e-4 (paper also: 1e-2, 1; use --lambda)"},
    {"fc100-100-10", "784-100s-100s-10", NULL, {1e-5, 1e-5, 1e-6}, 3,
     "two sigmoid hidden layers, 784-100s-100s-10; λ = 1e-5,1e-5,1e-6"},
    {"fc200-200-10", "784-200s-200s-10", NULL, {1e-5, 1e-5, 1e-6}, 3,
     "two sigmoid hidden layers, 784-200s-200s-10; λ = 1e-5,1e-5,1e-6"},
    {"ae400-10", "784-400s-10", "784-400s-784s", {0.0, 1e-6}, 2,
     "autoencoder 784-400s-784s trained on the images (squared error, no weight decay),\n"
     "                  then 784-400s-10 on its frozen encoder; λ = 1e-6 on the softmax layer"},
    {"cnn-small", "784-c5x32p2r-m2-c5x64p2r-m2-1024r-10", NULL, {0}, 0,
     "convnet (the benchmark CNN): 5×5×32 conv (pad 2), relu, 2×2 max pool, 5×5×64 conv\n"
     "                  (pad 2), relu, 2×2 max pool, 1024 relu, 10; no weight decay"},
};
const size_t netspec_preset_count = sizeof netspec_presets / sizeof netspec_presets[0];

const netspec_preset *netspec_find_preset(const char *name)
{
    for (size_t i = 0; i < netspec_preset_count; i++)
        if (strcasecmp(name, netspec_presets[i].name) == 0) return &netspec_presets[i];
    return NULL;
}
