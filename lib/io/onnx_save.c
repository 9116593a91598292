/* ONNX export: writes a net as a ModelProto (our own minimal lib/io/onnx.proto) at opset 13
 * (14 when the net has a hard swish, an operator of opset 14 on),
 * one ONNX node per layer, weights as float32 initializers in raw_data (little-endian), so
 * that nnp_net_load_onnx() gives the same layer table and bit-identical parameters back.
 * A value's ONNX rank is 2 (N×D) after dense and flatten layers and for a D×1×1 input, else 4
 * (N×C×H×W); where an operator needs the other rank, a Reshape that loading removes again is
 * put in between. Reads the net's internals (attributes of conv, pool and norm layers). */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#include "core/core.h"
#include "io/safewrite.h"
#include "net/net_internal.h"
#include "nnprobe/onnx.h"
#include "nnprobe/version.h"
#include "onnx.pb-c.h"

#define SAVE_OPSET 13
#define SAVE_IR_VERSION 7

enum { DT_FLOAT = 1, DT_INT64 = 7 };
enum { AT_FLOAT = 1, AT_INT = 2, AT_INTS = 7 };

/* Every allocation of the message tree, freed together. */
typedef struct sv {
    void **blocks;
    size_t n_blocks, cap_blocks;
    Onnx__GraphProto *g;
    size_t cap_node, cap_init;
    char **name;        /* per layer: its value name */
    int *rank;          /* per layer: its value rank */
    char **name2, **name4; /* per layer: a Reshape of it to rank 2 / 4, made on demand */
} sv;

static void *sv_alloc(sv *s, size_t size)
{
    if (s->n_blocks == s->cap_blocks) {
        size_t cap = s->cap_blocks ? 2 * s->cap_blocks : 64;
        void **nb = nnpi_realloc(s->blocks, nnpi_mul(cap, sizeof *nb));
        if (!nb) return NULL;
        s->blocks = nb;
        s->cap_blocks = cap;
    }
    void *p = nnpi_calloc(1, size ? size : 1);
    if (p) s->blocks[s->n_blocks++] = p;
    return p;
}

static char *sv_printf(sv *s, const char *fmt, ...) NNPI_PRINTF(2, 3);
static char *sv_printf(sv *s, const char *fmt, ...)
{
    char tmp[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    char *p = sv_alloc(s, strlen(tmp) + 1);
    if (p) strcpy(p, tmp);
    return p;
}

#define OOM() nnpi_error(NNP_ENOMEM, "onnx: out of memory building the model")

/* Appends p to a growing array of pointers (node or initializer lists). */
static nnp_status push(sv *s, void ***arr, size_t *n, size_t *cap, void *p)
{
    if (*n == *cap) {
        size_t nc = *cap ? 2 * *cap : 16;
        void **na = sv_alloc(s, nnpi_mul(nc, sizeof *na));
        if (!na) return OOM();
        if (*n) memcpy(na, *arr, *n * sizeof *na);
        *arr = na;
        *cap = nc;
    }
    (*arr)[(*n)++] = p;
    return NNP_OK;
}

static Onnx__NodeProto *new_node(sv *s, const char *op, const char *name, size_t n_in)
{
    Onnx__NodeProto *n = sv_alloc(s, sizeof *n);
    char **in = sv_alloc(s, (n_in ? n_in : 1) * sizeof *in);
    char **out = sv_alloc(s, sizeof *out);
    Onnx__AttributeProto **at = sv_alloc(s, 8 * sizeof *at);
    if (!n || !in || !out || !at) return NULL;
    onnx__node_proto__init(n);
    n->op_type = (char *)op;
    n->name = (char *)name;
    n->input = in;
    n->n_input = n_in;
    n->output = out;
    n->n_output = 1;
    n->attribute = at;
    return n;
}

static nnp_status add_node(sv *s, Onnx__NodeProto *n)
{
    if (!n) return OOM();
    return push(s, (void ***)&s->g->node, &s->g->n_node, &s->cap_node, n);
}

static Onnx__AttributeProto *new_attr(sv *s, Onnx__NodeProto *n, const char *name, int type)
{
    Onnx__AttributeProto *a = sv_alloc(s, sizeof *a);
    if (!a) return NULL;
    onnx__attribute_proto__init(a);
    a->name = (char *)name;
    a->has_type = 1;
    a->type = type;
    n->attribute[n->n_attribute++] = a;
    return a;
}

static nnp_status attr_int(sv *s, Onnx__NodeProto *n, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = new_attr(s, n, name, AT_INT);
    if (!a) return OOM();
    a->has_i = 1;
    a->i = v;
    return NNP_OK;
}

static nnp_status attr_float(sv *s, Onnx__NodeProto *n, const char *name, float v)
{
    Onnx__AttributeProto *a = new_attr(s, n, name, AT_FLOAT);
    if (!a) return OOM();
    a->has_f = 1;
    a->f = v;
    return NNP_OK;
}

static nnp_status attr_ints(sv *s, Onnx__NodeProto *n, const char *name, size_t count,
                            const size_t *v)
{
    Onnx__AttributeProto *a = new_attr(s, n, name, AT_INTS);
    int64_t *p = sv_alloc(s, count * sizeof *p);
    if (!a || !p) return OOM();
    for (size_t i = 0; i < count; i++) p[i] = (int64_t)v[i];
    a->ints = p;
    a->n_ints = count;
    return NNP_OK;
}

/* An initializer: float32 (from `f`) or int64 (from `q`) data in little-endian raw_data. */
static nnp_status add_init(sv *s, const char *name, size_t n_dims, const int64_t *dims,
                           const float *f, const int64_t *q)
{
    Onnx__TensorProto *t = sv_alloc(s, sizeof *t);
    int64_t *d = sv_alloc(s, (n_dims ? n_dims : 1) * sizeof *d);
    if (!t || !d) return OOM();
    onnx__tensor_proto__init(t);
    size_t count = 1;
    for (size_t i = 0; i < n_dims; i++) count *= (size_t)dims[i];
    size_t w = f ? 4 : 8;
    unsigned char *raw = sv_alloc(s, nnpi_mul(count, w));
    if (!raw) return OOM();
    for (size_t i = 0; i < count; i++) {
        uint64_t u = 0;
        if (f) {
            uint32_t u32;
            memcpy(&u32, &f[i], 4);
            u = u32;
        } else {
            memcpy(&u, &q[i], 8);
        }
        for (size_t b = 0; b < w; b++) raw[i * w + b] = (unsigned char)(u >> (8 * b));
    }
    if (n_dims) memcpy(d, dims, n_dims * sizeof *d);
    t->name = (char *)name;
    t->dims = d;
    t->n_dims = n_dims;
    t->has_data_type = 1;
    t->data_type = f ? DT_FLOAT : DT_INT64;
    t->has_raw_data = 1;
    t->raw_data.data = raw;
    t->raw_data.len = count * w;
    return push(s, (void ***)&s->g->initializer, &s->g->n_initializer, &s->cap_init, t);
}

/* Name of layer `l`'s value at `rank`, adding a Reshape (which loading removes) if needed. */
static nnp_status value_at(sv *s, const nnp_net *net, size_t l, int rank, const char **out)
{
    if (s->rank[l] == rank) {
        *out = s->name[l];
        return NNP_OK;
    }
    char **cache = rank == 2 ? &s->name2[l] : &s->name4[l];
    if (!*cache) {
        const nnpi_node *nd = &net->nodes[l];
        char *vname = sv_printf(s, "%.100s_rank%d", s->name[l], rank);
        char *shape_name = sv_printf(s, "%.100s_rank%d.shape", s->name[l], rank);
        if (!vname || !shape_name) return OOM();
        int64_t shape[4] = {-1, (int64_t)nd->c, (int64_t)nd->h, (int64_t)nd->w};
        if (rank == 2) shape[1] = (int64_t)nd->out_size;
        int64_t dims[1] = {rank};
        NNPI_TRY(add_init(s, shape_name, 1, dims, NULL, shape));
        Onnx__NodeProto *n = new_node(s, "Reshape", vname, 2);
        if (!n) return OOM();
        n->input[0] = s->name[l];
        n->input[1] = shape_name;
        n->output[0] = vname;
        NNPI_TRY(add_node(s, n));
        *cache = vname;
    }
    *out = *cache;
    return NNP_OK;
}

static nnp_status value_info(sv *s, const char *name, int rank, const nnpi_node *nd,
                             Onnx__ValueInfoProto **out)
{
    Onnx__ValueInfoProto *vi = sv_alloc(s, sizeof *vi);
    Onnx__TypeProto *tp = sv_alloc(s, sizeof *tp);
    Onnx__TypeProto__Tensor *tt = sv_alloc(s, sizeof *tt);
    Onnx__TensorShapeProto *sh = sv_alloc(s, sizeof *sh);
    Onnx__TensorShapeProto__Dimension **dims = sv_alloc(s, 4 * sizeof *dims);
    if (!vi || !tp || !tt || !sh || !dims) return OOM();
    onnx__value_info_proto__init(vi);
    onnx__type_proto__init(tp);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(sh);
    size_t v[4] = {0, nd->c, nd->h, nd->w};
    if (rank == 2) v[1] = nd->out_size;
    for (int i = 0; i < rank; i++) {
        dims[i] = sv_alloc(s, sizeof **dims);
        if (!dims[i]) return OOM();
        onnx__tensor_shape_proto__dimension__init(dims[i]);
        if (i == 0) {
            dims[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            dims[i]->dim_param = (char *)"N";
        } else {
            dims[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            dims[i]->dim_value = (int64_t)v[i];
        }
    }
    sh->dim = dims;
    sh->n_dim = (size_t)rank;
    tt->has_elem_type = 1;
    tt->elem_type = DT_FLOAT;
    tt->shape = sh;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    vi->name = (char *)name;
    vi->type = tp;
    *out = vi;
    return NNP_OK;
}

/* The layer's weights and biases as initializers named <layer>.<suffix>. */
static nnp_status param_init(sv *s, const nnp_net *net, size_t l, const char *suffix,
                             size_t offset, size_t n_dims, const int64_t *dims,
                             const char **name)
{
    char *nm = sv_printf(s, "p%zu.%s", l, suffix);
    if (!nm) return OOM();
    *name = nm;
    return add_init(s, nm, n_dims, dims, net->params + net->nodes[l].param_offset + offset, NULL);
}

static nnp_status save_layer(sv *s, const nnp_net *net, size_t l)
{
    const nnpi_node *nd = &net->nodes[l];
    nnp_layer_kind kind = nd->ops->kind;
    const char *x;
    char *nm = sv_printf(s, "%s%zu", nd->ops->name, l);
    if (!nm) return OOM();
    Onnx__NodeProto *n = NULL;
    int rank = s->rank[nd->inputs[0]];
    switch (kind) {
    case NNP_LAYER_DENSE: {
        const char *w = NULL, *b = NULL;
        int64_t wd[2] = {(int64_t)nd->c, (int64_t)nd->in_size}, bd[1] = {(int64_t)nd->c};
        NNPI_TRY(value_at(s, net, nd->inputs[0], 2, &x));
        NNPI_TRY(param_init(s, net, l, "weight", 0, 2, wd, &w));
        NNPI_TRY(param_init(s, net, l, "bias", nd->n_weights, 1, bd, &b));
        if (!(n = new_node(s, "Gemm", nm, 3))) return OOM();
        n->input[0] = (char *)x;
        n->input[1] = (char *)w;
        n->input[2] = (char *)b;
        NNPI_TRY(attr_int(s, n, "transB", 1));
        rank = 2;
        break;
    }
    case NNP_LAYER_RELU:
    case NNP_LAYER_SIGMOID:
    case NNP_LAYER_TANH:
    case NNP_LAYER_SOFTPLUS: {
        static const char *const ops[] = {"", "", "Relu", "Sigmoid", "Tanh", "Softplus"};
        if (!(n = new_node(s, ops[kind], nm, 1))) return OOM();
        n->input[0] = s->name[nd->inputs[0]];
        break;
    }
    case NNP_LAYER_LEAKY_RELU:
        if (!(n = new_node(s, "LeakyRelu", nm, 1))) return OOM();
        n->input[0] = s->name[nd->inputs[0]];
        NNPI_TRY(attr_float(s, n, "alpha", nd->attr.leaky_alpha));
        break;
    case NNP_LAYER_CONV2D: {
        const nnpi_conv_attrs *a = &nd->attr.conv;
        const char *w = NULL, *b = NULL;
        int64_t wd[4] = {(int64_t)nd->c, (int64_t)(nd->in_c / a->groups), (int64_t)a->kh,
                         (int64_t)a->kw};
        int64_t bd[1] = {(int64_t)nd->c};
        NNPI_TRY(value_at(s, net, nd->inputs[0], 4, &x));
        NNPI_TRY(param_init(s, net, l, "weight", 0, 4, wd, &w));
        if (a->bias) NNPI_TRY(param_init(s, net, l, "bias", nd->n_weights, 1, bd, &b));
        if (!(n = new_node(s, "Conv", nm, b ? 3 : 2))) return OOM();
        n->input[0] = (char *)x;
        n->input[1] = (char *)w;
        if (b) n->input[2] = (char *)b;
        size_t k[2] = {a->kh, a->kw}, st[2] = {a->sh, a->sw}, d[2] = {a->dh, a->dw};
        size_t p[4] = {a->pt, a->pl, a->pb, a->pr};
        NNPI_TRY(attr_ints(s, n, "kernel_shape", 2, k));
        NNPI_TRY(attr_ints(s, n, "strides", 2, st));
        NNPI_TRY(attr_ints(s, n, "pads", 4, p));
        NNPI_TRY(attr_ints(s, n, "dilations", 2, d));
        NNPI_TRY(attr_int(s, n, "group", (int64_t)a->groups));
        rank = 4;
        break;
    }
    case NNP_LAYER_MAXPOOL:
    case NNP_LAYER_AVGPOOL: {
        const nnpi_pool_attrs *a = &nd->attr.pool;
        NNPI_TRY(value_at(s, net, nd->inputs[0], 4, &x));
        if (!(n = new_node(s, kind == NNP_LAYER_MAXPOOL ? "MaxPool" : "AveragePool", nm, 1)))
            return OOM();
        n->input[0] = (char *)x;
        size_t k[2] = {a->kh, a->kw}, st[2] = {a->sh, a->sw};
        size_t p[4] = {a->pt, a->pl, a->pb, a->pr};
        NNPI_TRY(attr_ints(s, n, "kernel_shape", 2, k));
        NNPI_TRY(attr_ints(s, n, "strides", 2, st));
        NNPI_TRY(attr_ints(s, n, "pads", 4, p));
        if (kind == NNP_LAYER_AVGPOOL)
            NNPI_TRY(attr_int(s, n, "count_include_pad", a->count_include_pad ? 1 : 0));
        if (a->ceil_mode) NNPI_TRY(attr_int(s, n, "ceil_mode", 1));
        rank = 4;
        break;
    }
    case NNP_LAYER_GLOBAL_AVGPOOL:
    case NNP_LAYER_LRN:
        NNPI_TRY(value_at(s, net, nd->inputs[0], 4, &x));
        if (!(n = new_node(s, kind == NNP_LAYER_LRN ? "LRN" : "GlobalAveragePool", nm, 1)))
            return OOM();
        n->input[0] = (char *)x;
        if (kind == NNP_LAYER_LRN) {
            const nnpi_norm_attrs *a = &nd->attr.norm;
            NNPI_TRY(attr_int(s, n, "size", (int64_t)a->size));
            NNPI_TRY(attr_float(s, n, "alpha", a->alpha));
            NNPI_TRY(attr_float(s, n, "beta", a->beta));
            NNPI_TRY(attr_float(s, n, "bias", a->k));
        }
        rank = 4;
        break;
    case NNP_LAYER_BATCHNORM: {
        const char *sc = NULL, *mean = NULL, *var = NULL, *b = NULL;
        int64_t d[1] = {(int64_t)nd->c};
        size_t C = nd->c;
        NNPI_TRY(param_init(s, net, l, "scale", 0, 1, d, &sc));
        NNPI_TRY(param_init(s, net, l, "bias", 3 * C, 1, d, &b));
        NNPI_TRY(param_init(s, net, l, "mean", C, 1, d, &mean));
        NNPI_TRY(param_init(s, net, l, "var", 2 * C, 1, d, &var));
        /* a rank-2 value of a C×H×W layer has H·W > 1 features per channel: use rank 4 */
        if (rank == 2 && nd->h * nd->w != 1) rank = 4;
        NNPI_TRY(value_at(s, net, nd->inputs[0], rank, &x));
        if (!(n = new_node(s, "BatchNormalization", nm, 5))) return OOM();
        n->input[0] = (char *)x;
        n->input[1] = (char *)sc;
        n->input[2] = (char *)b;
        n->input[3] = (char *)mean;
        n->input[4] = (char *)var;
        NNPI_TRY(attr_float(s, n, "epsilon", nd->attr.norm.eps));
        break;
    }
    case NNP_LAYER_DROPOUT: {
        char *r = sv_printf(s, "p%zu.ratio", l);
        if (!r) return OOM();
        NNPI_TRY(add_init(s, r, 0, NULL, &nd->attr.dropout_ratio, NULL));
        if (!(n = new_node(s, "Dropout", nm, 2))) return OOM();
        n->input[0] = s->name[nd->inputs[0]];
        n->input[1] = r;
        break;
    }
    case NNP_LAYER_FLATTEN:
        if (!(n = new_node(s, "Flatten", nm, 1))) return OOM();
        n->input[0] = s->name[nd->inputs[0]];
        NNPI_TRY(attr_int(s, n, "axis", 1));
        rank = 2;
        break;
    case NNP_LAYER_ADD: {
        const char *a, *b;
        int ra = s->rank[nd->inputs[0]], rb = s->rank[nd->inputs[1]];
        rank = ra == rb ? ra : 4;
        NNPI_TRY(value_at(s, net, nd->inputs[0], rank, &a));
        NNPI_TRY(value_at(s, net, nd->inputs[1], rank, &b));
        if (!(n = new_node(s, "Add", nm, 2))) return OOM();
        n->input[0] = (char *)a;
        n->input[1] = (char *)b;
        break;
    }
    case NNP_LAYER_CLIP: {
        /* Clip-13: optional scalar min and max inputs; an infinite bound is left out */
        const float b[2] = {nd->attr.clip.lo, nd->attr.clip.hi};
        const char *bn[2] = {"", ""};
        for (size_t i = 0; i < 2; i++) {
            if (isinf(b[i])) continue;
            char *nmb = sv_printf(s, "p%zu.%s", l, i ? "max" : "min");
            if (!nmb) return OOM();
            NNPI_TRY(add_init(s, nmb, 0, NULL, &b[i], NULL));
            bn[i] = nmb;
        }
        if (!(n = new_node(s, "Clip", nm, bn[1][0] ? 3 : bn[0][0] ? 2 : 1))) return OOM();
        n->input[0] = s->name[nd->inputs[0]];
        for (size_t i = 0; i + 1 < n->n_input; i++) n->input[i + 1] = (char *)bn[i];
        break;
    }
    case NNP_LAYER_HARD_SIGMOID:
        if (!(n = new_node(s, "HardSigmoid", nm, 1))) return OOM();
        n->input[0] = s->name[nd->inputs[0]];
        NNPI_TRY(attr_float(s, n, "alpha", nd->attr.hard.alpha));
        NNPI_TRY(attr_float(s, n, "beta", nd->attr.hard.beta));
        break;
    case NNP_LAYER_HARD_SWISH:
        if (!(n = new_node(s, "HardSwish", nm, 1))) return OOM();
        n->input[0] = s->name[nd->inputs[0]];
        break;
    case NNP_LAYER_PAD: {
        /* Pad-13: pads as an int64 input, begins of N, C, H, W then their ends */
        char *pn = sv_printf(s, "p%zu.pads", l);
        if (!pn) return OOM();
        const int64_t pads[8] = {0, 0, (int64_t)nd->attr.pad.pt, (int64_t)nd->attr.pad.pl,
                                 0, 0, (int64_t)nd->attr.pad.pb, (int64_t)nd->attr.pad.pr};
        const int64_t pd[1] = {8};
        NNPI_TRY(value_at(s, net, nd->inputs[0], 4, &x));
        NNPI_TRY(add_init(s, pn, 1, pd, NULL, pads));
        if (!(n = new_node(s, "Pad", nm, 2))) return OOM();
        n->input[0] = (char *)x;
        n->input[1] = pn;
        rank = 4;
        break;
    }
    default:
        return nnpi_error(NNP_EUNSUPPORTED, "onnx: layer %zu (%s) has no ONNX operator", l,
                          nd->ops->name);
    }
    n->output[0] = s->name[l];
    s->rank[l] = rank;
    return add_node(s, n);
}

static nnp_status build(sv *s, const nnp_net *net, Onnx__ModelProto *m)
{
    size_t L = net->n_nodes;
    s->name = sv_alloc(s, L * sizeof *s->name);
    s->name2 = sv_alloc(s, L * sizeof *s->name2);
    s->name4 = sv_alloc(s, L * sizeof *s->name4);
    s->rank = sv_alloc(s, L * sizeof *s->rank);
    s->g = sv_alloc(s, sizeof *s->g);
    Onnx__OperatorSetIdProto *op = sv_alloc(s, sizeof *op);
    Onnx__OperatorSetIdProto **ops = sv_alloc(s, sizeof *ops);
    Onnx__ValueInfoProto **in = sv_alloc(s, sizeof *in), **out = sv_alloc(s, sizeof *out);
    if (!s->name || !s->name2 || !s->name4 || !s->rank || !s->g || !op || !ops || !in || !out)
        return OOM();
    onnx__graph_proto__init(s->g);
    onnx__operator_set_id_proto__init(op);
    op->domain = (char *)"";
    op->has_version = 1;
    op->version = SAVE_OPSET;
    for (size_t l = 1; l < L; l++)
        if (net->nodes[l].ops->kind == NNP_LAYER_HARD_SWISH) op->version = 14;
    ops[0] = op;
    m->has_ir_version = 1;
    m->ir_version = SAVE_IR_VERSION;
    m->producer_name = (char *)"libnnprobe";
    m->producer_version = (char *)nnp_version_string();
    m->opset_import = ops;
    m->n_opset_import = 1;
    m->graph = s->g;
    s->g->name = (char *)"nnprobe";

    s->name[0] = (char *)"input";
    s->rank[0] = net->nodes[0].h * net->nodes[0].w == 1 ? 2 : 4;
    for (size_t l = 1; l < L; l++) {
        s->name[l] = l + 1 == L ? (char *)"output" : sv_printf(s, "t%zu", l);
        if (!s->name[l]) return OOM();
        NNPI_TRY(save_layer(s, net, l));
    }
    if (L == 1) { /* no layers: the output is the input */
        Onnx__NodeProto *n = new_node(s, "Identity", "identity", 1);
        if (!n) return OOM();
        n->input[0] = s->name[0];
        n->output[0] = (char *)"output";
        NNPI_TRY(add_node(s, n));
    }
    NNPI_TRY(value_info(s, "input", s->rank[0], &net->nodes[0], &in[0]));
    NNPI_TRY(value_info(s, "output", s->rank[L - 1], &net->nodes[L - 1], &out[0]));
    s->g->input = in;
    s->g->n_input = 1;
    s->g->output = out;
    s->g->n_output = 1;
    return NNP_OK;
}

NNP_API nnp_status nnp_net_save_onnx(const nnp_net *net, const char *path)
{
    NNPI_CHECK_NULL(net);
    NNPI_CHECK_NULL(path);
    sv s;
    Onnx__ModelProto m;
    memset(&s, 0, sizeof s);
    onnx__model_proto__init(&m);
    nnp_status st = build(&s, net, &m);
    unsigned char *buf = NULL;
    size_t len = 0;
    if (st == NNP_OK) {
        len = onnx__model_proto__get_packed_size(&m);
        buf = nnpi_malloc(len ? len : 1);
        if (!buf) st = OOM();
    }
    if (st == NNP_OK) {
        onnx__model_proto__pack(&m, buf);
        /* the safe-write path: an interrupted save leaves the old model whole */
        nnpi_wfile *f = NULL;
        st = nnpi_wfile_open("onnx", path, &f);
        if (st == NNP_OK && (st = nnpi_wfile_write(f, buf, len)) != NNP_OK) nnpi_wfile_abort(f);
        else if (st == NNP_OK) st = nnpi_wfile_commit(f);
    }
    nnpi_free(buf);
    for (size_t i = 0; i < s.n_blocks; i++) nnpi_free(s.blocks[i]);
    nnpi_free(s.blocks);
    return st;
}
