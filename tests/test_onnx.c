/* ONNX import and export: round trips of every saveable layer kind (bit-identical parameters
 * and outputs), hand-built models exercising the loader's mappings (MatMul+Add, Gemm
 * attributes, Constant shapes, Reshape views, softmax heads), malformed and unsupported
 * models (status + message, no crash, no leak), allocation failures, and onnx.checker on
 * what we save when python3-onnx is installed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <protobuf-c/protobuf-c.h>

#include "core/core.h"
#include "onnx.pb-c.h"
#include "testutil.h"

/* ---- nets ---- */

static void fill_params(nnp_net *net, uint64_t seed)
{
    /* every parameter random (batch norm variances positive), so a swapped tensor shows */
    for (size_t l = 0; l < nnp_net_layer_count(net); l++) {
        nnp_layer_info in = {.size = sizeof in};
        ck_assert_ok(nnp_net_layer_info(net, l, &in));
        if (!in.weight_count && !in.bias_count) continue;
        float *w = malloc((in.weight_count + 1) * sizeof *w);
        float *b = malloc((in.bias_count + 1) * sizeof *b);
        tu_fill_uniform(w, in.weight_count, -1, 1, seed + 2 * l);
        tu_fill_uniform(b, in.bias_count, -1, 1, seed + 2 * l + 1);
        if (in.kind == NNP_LAYER_BATCHNORM)
            for (size_t i = 2 * in.channels; i < 3 * in.channels; i++) w[i] = 0.5f + fabsf(w[i]);
        ck_assert_ok(nnp_net_set_params(net, l, w, b));
        free(w);
        free(b);
    }
}

static nnp_net *dense_net(void)
{
    nnp_net *net;
    ck_assert_ok(nnp_net_create(1, 5, 4, &net));
    ck_assert_ok(nnp_net_add_dense(net, 7, NULL));
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_RELU, NULL));
    ck_assert_ok(nnp_net_add_dense(net, 6, NULL));
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_SIGMOID, NULL));
    ck_assert_ok(nnp_net_add_dropout(net, 0.25f, NULL));
    ck_assert_ok(nnp_net_add_dense(net, 5, NULL));
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_TANH, NULL));
    ck_assert_ok(nnp_net_add_batchnorm(net, 1e-3f, NULL));
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_SOFTPLUS, NULL));
    ck_assert_ok(nnp_net_add_leaky_relu(net, -0.3, NULL));
    ck_assert_ok(nnp_net_add_dense(net, 3, NULL));
    fill_params(net, 11);
    return net;
}

/* Every convolution/pooling option away from its default. */
static nnp_net *conv_net(void)
{
    nnp_net *net;
    nnp_net_conv2d_opts c;
    nnp_net_pool2d_opts p;
    ck_assert_ok(nnp_net_create(2, 11, 10, &net));
    ck_assert_ok(nnp_net_conv2d_opts_init(&c));
    c.out_channels = 4;
    c.kernel_h = 3;
    c.kernel_w = 2;
    c.stride_h = 2;
    c.pad_top = 1;
    c.pad_left = 2;
    c.pad_bottom = 0;
    c.pad_right = 1;
    c.dilation_w = 2;
    c.groups = 2;
    ck_assert_ok(nnp_net_add_conv2d(net, &c, NULL));
    ck_assert_ok(nnp_net_add_batchnorm(net, 1e-5f, NULL));
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_RELU, NULL));
    ck_assert_ok(nnp_net_add_lrn(net, 3, 2e-4f, 0.7f, 1.5f, NULL));
    ck_assert_ok(nnp_net_pool2d_opts_init(&p));
    p.kernel_h = 3;
    p.stride_w = 1;
    p.pad_top = 1;
    p.pad_right = 1;
    ck_assert_ok(nnp_net_add_maxpool2d(net, &p, NULL));
    ck_assert_ok(nnp_net_conv2d_opts_init(&c));
    c.out_channels = 3;
    c.kernel_h = c.kernel_w = 1;
    c.bias = 0;
    ck_assert_ok(nnp_net_add_conv2d(net, &c, NULL));
    ck_assert_ok(nnp_net_pool2d_opts_init(&p));
    p.pad_left = 1;
    p.count_include_pad = 1;
    ck_assert_ok(nnp_net_add_avgpool2d(net, &p, NULL));
    ck_assert_ok(nnp_net_add_flatten(net, NULL));
    ck_assert_ok(nnp_net_add_dense(net, 4, NULL));
    fill_params(net, 23);
    return net;
}

/* A residual block, global pooling, and a convolution on a dense layer's output (whose ONNX
 * value is N×D: saving inserts a Reshape back to N×D×1×1). */
static nnp_net *residual_net(void)
{
    nnp_net *net;
    nnp_net_conv2d_opts c;
    size_t stem, a, b;
    ck_assert_ok(nnp_net_create(3, 6, 6, &net));
    ck_assert_ok(nnp_net_conv2d_opts_init(&c));
    c.out_channels = 4;
    c.pad_top = c.pad_left = c.pad_bottom = c.pad_right = 1;
    ck_assert_ok(nnp_net_add_conv2d(net, &c, &stem));
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_RELU, NULL));
    ck_assert_ok(nnp_net_add_conv2d(net, &c, &a));
    ck_assert_ok(nnp_net_branch_from(net, stem));
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_TANH, &b));
    ck_assert_ok(nnp_net_add_add(net, a, b, NULL));
    ck_assert_ok(nnp_net_add_global_avgpool(net, NULL));
    ck_assert_ok(nnp_net_add_dense(net, 5, &a));
    c.out_channels = 5;
    c.kernel_h = c.kernel_w = 1;
    c.pad_top = c.pad_left = c.pad_bottom = c.pad_right = 0;
    ck_assert_ok(nnp_net_add_conv2d(net, &c, &b));
    ck_assert_ok(nnp_net_add_add(net, a, b, NULL)); /* N×D with N×D×1×1 */
    ck_assert_ok(nnp_net_add_dense(net, 2, NULL));
    fill_params(net, 37);
    return net;
}

/* An input of D×1×1 (saved as N×D) feeding a convolution directly. */
static nnp_net *flat_input_net(void)
{
    nnp_net *net;
    nnp_net_conv2d_opts c;
    ck_assert_ok(nnp_net_create(6, 1, 1, &net));
    ck_assert_ok(nnp_net_conv2d_opts_init(&c));
    c.out_channels = 3;
    c.kernel_h = c.kernel_w = 1;
    ck_assert_ok(nnp_net_add_conv2d(net, &c, NULL));
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_RELU, NULL));
    fill_params(net, 41);
    return net;
}

/* The element-wise and pooling operators of the torchvision zoo: clip (ReLU6, and one-sided
 * bounds, saved with an input left out), hard sigmoid, hard swish (saving at opset 14), zero
 * padding before a max pool (a layer, not foldable), pools with ceil_mode (their last windows
 * clipped), one with count_include_pad. */
static nnp_net *zoo_ops_net(void)
{
    nnp_net *net;
    nnp_net_conv2d_opts c;
    nnp_net_pool2d_opts p;
    ck_assert_ok(nnp_net_create(2, 7, 8, &net));
    ck_assert_ok(nnp_net_conv2d_opts_init(&c));
    c.out_channels = 3;
    c.pad_top = c.pad_left = c.pad_bottom = c.pad_right = 1;
    ck_assert_ok(nnp_net_add_conv2d(net, &c, NULL));
    ck_assert_ok(nnp_net_add_clip(net, 0.0, 6.0, NULL));
    ck_assert_ok(nnp_net_add_hard_sigmoid(net, 1.0 / 6.0, 0.5, NULL));
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_HARD_SWISH, NULL));
    ck_assert_ok(nnp_net_add_clip(net, -INFINITY, 0.8, NULL));
    ck_assert_ok(nnp_net_add_clip(net, -0.5, INFINITY, NULL));
    ck_assert_ok(nnp_net_add_pad(net, 1, 2, 0, 1, NULL));
    ck_assert_ok(nnp_net_pool2d_opts_init(&p));
    p.kernel_h = p.kernel_w = 3;
    p.ceil_mode = 1;
    ck_assert_ok(nnp_net_add_maxpool2d(net, &p, NULL));
    ck_assert_ok(nnp_net_pool2d_opts_init(&p));
    p.pad_right = 1;
    p.count_include_pad = 1;
    p.ceil_mode = 1;
    ck_assert_ok(nnp_net_add_avgpool2d(net, &p, NULL));
    ck_assert_ok(nnp_net_add_flatten(net, NULL));
    ck_assert_ok(nnp_net_add_dense(net, 4, NULL));
    fill_params(net, 43);
    return net;
}

typedef nnp_net *(*net_maker)(void);
static const net_maker makers[] = {dense_net, conv_net, residual_net, flat_input_net,
                                   zoo_ops_net};
static const char *const maker_names[] = {"dense", "conv", "residual", "flat_input", "zoo_ops"};
#define N_MAKERS (sizeof makers / sizeof makers[0])

/* ---- helpers ---- */

static void save_path(char *buf, size_t cap, const char *name)
{
    char n[64];
    snprintf(n, sizeof n, "%s.onnx", name);
    tu_tmp_path(buf, cap, n);
}

static unsigned char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    ck_assert_uint_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* Same layer table, bit-identical parameters, identical outputs on random inputs. */
static void assert_same_net(const nnp_net *a, const nnp_net *b)
{
    ck_assert_uint_eq(nnp_net_layer_count(a), nnp_net_layer_count(b));
    for (size_t l = 0; l < nnp_net_layer_count(a); l++) {
        nnp_layer_info ia = {.size = sizeof ia}, ib = {.size = sizeof ib};
        ck_assert_ok(nnp_net_layer_info(a, l, &ia));
        ck_assert_ok(nnp_net_layer_info(b, l, &ib));
        ck_assert_msg(ia.kind == ib.kind, "layer %zu: %s became %s", l,
                      nnp_layer_kind_name(ia.kind), nnp_layer_kind_name(ib.kind));
        ck_assert_uint_eq(ia.n_inputs, ib.n_inputs);
        for (size_t k = 0; k < ia.n_inputs; k++) ck_assert_uint_eq(ia.inputs[k], ib.inputs[k]);
        ck_assert_uint_eq(ia.channels, ib.channels);
        ck_assert_uint_eq(ia.height, ib.height);
        ck_assert_uint_eq(ia.width, ib.width);
        ck_assert_uint_eq(ia.weight_count, ib.weight_count);
        ck_assert_uint_eq(ia.bias_count, ib.bias_count);
        ck_assert_uint_eq(ia.pad_top + 2 * ia.pad_left + 4 * ia.pad_bottom + 8 * ia.pad_right,
                          ib.pad_top + 2 * ib.pad_left + 4 * ib.pad_bottom + 8 * ib.pad_right);
        ck_assert(ia.alpha == ib.alpha && ia.beta == ib.beta);
        ck_assert(ia.clip_min == ib.clip_min && ia.clip_max == ib.clip_max);
        ck_assert_int_eq(ia.ceil_mode, ib.ceil_mode);
        float *pa = malloc((ia.weight_count + ia.bias_count + 1) * sizeof *pa);
        float *pb = malloc((ia.weight_count + ia.bias_count + 1) * sizeof *pb);
        ck_assert_ok(nnp_net_get_params(a, l, pa, pa + ia.weight_count));
        ck_assert_ok(nnp_net_get_params(b, l, pb, pb + ia.weight_count));
        ck_assert_msg(memcmp(pa, pb, (ia.weight_count + ia.bias_count) * sizeof *pa) == 0,
                      "layer %zu parameters differ", l);
        free(pa);
        free(pb);
    }
    size_t n = 3, in = nnp_net_input_size(a), out = nnp_net_output_size(a);
    float *x = malloc(n * in * sizeof *x), *ya = malloc(n * out * sizeof *ya),
          *yb = malloc(n * out * sizeof *yb);
    tu_fill_uniform(x, n * in, 0, 1, 5);
    ck_assert_ok(nnp_net_forward(a, NULL, x, n, ya));
    ck_assert_ok(nnp_net_forward(b, NULL, x, n, yb));
    ck_assert_mem_eq(ya, yb, n * out * sizeof *ya);
    free(x);
    free(ya);
    free(yb);
}

/* protobuf-c allocator for the mutation tests: frees nothing until arena_free(), so a mutator
 * may point any field at static data (free_unpacked is never called). */
typedef struct arena {
    void *blocks[100000];
    size_t n;
} arena;

static void *arena_alloc(void *data, size_t size)
{
    arena *a = data;
    void *p = malloc(size ? size : 1);
    ck_assert(a->n < sizeof a->blocks / sizeof a->blocks[0]);
    a->blocks[a->n++] = p;
    return p;
}

static void arena_nofree(void *data, void *p)
{
    (void)data;
    (void)p;
}

/* Unpacks a saved net's model, lets `mutate` change it, repacks, and loads it. */
typedef void (*mutator)(Onnx__ModelProto *m);

static nnp_status load_mutated(net_maker make, mutator mutate)
{
    char p[512];
    size_t len;
    nnp_net *net = make(), *back = (nnp_net *)1;
    save_path(p, sizeof p, "mutate");
    ck_assert_ok(nnp_net_save_onnx(net, p));
    nnp_net_free(net);
    unsigned char *bytes = read_all(p, &len);
    remove(p);
    static arena ar;
    ar.n = 0;
    ProtobufCAllocator alloc = {arena_alloc, arena_nofree, &ar};
    Onnx__ModelProto *m = onnx__model_proto__unpack(&alloc, len, bytes);
    ck_assert_ptr_nonnull(m);
    mutate(m);
    size_t n2 = onnx__model_proto__get_packed_size(m);
    unsigned char *b2 = malloc(n2 + 1);
    onnx__model_proto__pack(m, b2);
    nnp_status st = nnp_net_load_onnx_memory(b2, n2, &back);
    if (st != NNP_OK) ck_assert_ptr_null(back);
    nnp_net_free(back);
    free(b2);
    free(bytes);
    for (size_t i = 0; i < ar.n; i++) free(ar.blocks[i]);
    return st;
}

static Onnx__NodeProto *find_node(Onnx__ModelProto *m, const char *op)
{
    for (size_t i = 0; i < m->graph->n_node; i++)
        if (strcmp(m->graph->node[i]->op_type, op) == 0) return m->graph->node[i];
    ck_abort_msg("no %s node", op);
    return NULL;
}

static Onnx__TensorProto *find_init(Onnx__ModelProto *m, const char *name)
{
    for (size_t i = 0; i < m->graph->n_initializer; i++)
        if (strcmp(m->graph->initializer[i]->name, name) == 0) return m->graph->initializer[i];
    ck_abort_msg("no initializer %s", name);
    return NULL;
}

/* ---- hand-built models: the mappings PyTorch and other exporters produce ---- */

/* A model under construction; every allocation is recorded and freed by mb_free(). */
typedef struct mb {
    Onnx__ModelProto m;
    Onnx__GraphProto g;
    Onnx__OperatorSetIdProto op, *ops[1];
    Onnx__NodeProto *nodes[32];
    Onnx__TensorProto *inits[32];
    Onnx__ValueInfoProto *in[1], *out[1];
    void *blocks[512];
    size_t nb;
} mb;

static void *mb_alloc(mb *b, size_t size)
{
    ck_assert(b->nb < sizeof b->blocks / sizeof b->blocks[0]);
    void *p = calloc(1, size ? size : 1);
    b->blocks[b->nb++] = p;
    return p;
}

static void mb_init(mb *b, int64_t opset)
{
    memset(b, 0, sizeof *b);
    onnx__model_proto__init(&b->m);
    onnx__graph_proto__init(&b->g);
    onnx__operator_set_id_proto__init(&b->op);
    b->op.has_version = 1;
    b->op.version = opset;
    b->ops[0] = &b->op;
    b->m.opset_import = b->ops;
    b->m.n_opset_import = 1;
    b->m.has_ir_version = 1;
    b->m.ir_version = 7;
    b->m.graph = &b->g;
    b->g.node = b->nodes;
    b->g.initializer = b->inits;
    b->g.input = b->in;
    b->g.output = b->out;
}

static Onnx__ValueInfoProto *mb_value(mb *b, const char *name, size_t rank, const int64_t *dims)
{
    Onnx__ValueInfoProto *v = mb_alloc(b, sizeof *v);
    Onnx__TypeProto *t = mb_alloc(b, sizeof *t);
    Onnx__TypeProto__Tensor *tt = mb_alloc(b, sizeof *tt);
    Onnx__TensorShapeProto *sh = mb_alloc(b, sizeof *sh);
    Onnx__TensorShapeProto__Dimension **d = mb_alloc(b, 8 * sizeof *d);
    onnx__value_info_proto__init(v);
    onnx__type_proto__init(t);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(sh);
    for (size_t i = 0; i < rank; i++) {
        d[i] = mb_alloc(b, sizeof **d);
        onnx__tensor_shape_proto__dimension__init(d[i]);
        if (dims[i] < 0) {
            d[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d[i]->dim_param = "batch";
        } else {
            d[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d[i]->dim_value = dims[i];
        }
    }
    sh->dim = d;
    sh->n_dim = rank;
    tt->has_elem_type = 1;
    tt->elem_type = 1;
    tt->shape = sh;
    t->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    t->tensor_type = tt;
    v->name = (char *)name;
    v->type = t;
    return v;
}

static void mb_io(mb *b, const char *in, size_t in_rank, const int64_t *in_dims, const char *out)
{
    static const int64_t dyn[1] = {-1};
    b->in[0] = mb_value(b, in, in_rank, in_dims);
    b->out[0] = mb_value(b, out, 1, dyn); /* rank 1: a declared shape must not be checked */
    b->out[0]->type->tensor_type->shape = NULL;
    b->g.n_input = b->g.n_output = 1;
}

/* A float tensor in raw_data (raw = 1) or float_data. */
static Onnx__TensorProto *mb_tensor(mb *b, const char *name, size_t n_dims, const int64_t *dims,
                                    const float *v, int raw)
{
    Onnx__TensorProto *t = mb_alloc(b, sizeof *t);
    onnx__tensor_proto__init(t);
    size_t n = 1;
    for (size_t i = 0; i < n_dims; i++) n *= (size_t)dims[i];
    t->name = (char *)name;
    t->dims = mb_alloc(b, (n_dims + 1) * sizeof *t->dims);
    memcpy(t->dims, dims, n_dims * sizeof *dims);
    t->n_dims = n_dims;
    t->has_data_type = 1;
    t->data_type = 1;
    if (raw) {
        t->has_raw_data = 1;
        t->raw_data.len = 4 * n;
        t->raw_data.data = mb_alloc(b, 4 * n);
        memcpy(t->raw_data.data, v, 4 * n); /* the test hosts are little-endian */
    } else {
        t->n_float_data = n;
        t->float_data = mb_alloc(b, n * sizeof *v);
        memcpy(t->float_data, v, n * sizeof *v);
    }
    return t;
}

static void mb_init_floats(mb *b, const char *name, size_t n_dims, const int64_t *dims,
                           const float *v, int raw)
{
    b->inits[b->g.n_initializer++] = mb_tensor(b, name, n_dims, dims, v, raw);
}

static Onnx__NodeProto *mb_node(mb *b, const char *op, const char *in0, const char *in1,
                                const char *in2, const char *out)
{
    Onnx__NodeProto *n = mb_alloc(b, sizeof *n);
    onnx__node_proto__init(n);
    n->op_type = (char *)op;
    n->input = mb_alloc(b, 5 * sizeof *n->input); /* room for BatchNormalization's five */
    const char *ins[3] = {in0, in1, in2};
    for (size_t k = 0; k < 3 && ins[k]; k++) n->input[n->n_input++] = (char *)ins[k];
    n->output = mb_alloc(b, sizeof *n->output);
    n->output[0] = (char *)out;
    n->n_output = 1;
    n->attribute = mb_alloc(b, 8 * sizeof *n->attribute);
    b->nodes[b->g.n_node++] = n;
    return n;
}

static Onnx__AttributeProto *mb_attr(mb *b, Onnx__NodeProto *n, const char *name, int type)
{
    Onnx__AttributeProto *a = mb_alloc(b, sizeof *a);
    onnx__attribute_proto__init(a);
    a->name = (char *)name;
    a->has_type = 1;
    a->type = type;
    n->attribute[n->n_attribute++] = a;
    return a;
}

static void mb_attr_f(mb *b, Onnx__NodeProto *n, const char *name, float v)
{
    Onnx__AttributeProto *a = mb_attr(b, n, name, 1);
    a->has_f = 1;
    a->f = v;
}

static void mb_attr_i(mb *b, Onnx__NodeProto *n, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = mb_attr(b, n, name, 2);
    a->has_i = 1;
    a->i = v;
}

static nnp_status mb_load(mb *b, nnp_net **net)
{
    size_t len = onnx__model_proto__get_packed_size(&b->m);
    unsigned char *buf = malloc(len + 1);
    onnx__model_proto__pack(&b->m, buf);
    nnp_status st = nnp_net_load_onnx_memory(buf, len, net);
    free(buf);
    for (size_t i = 0; i < b->nb; i++) free(b->blocks[i]);
    b->nb = 0;
    return st;
}

static void assert_kinds(const nnp_net *net, const nnp_layer_kind *kinds, size_t n)
{
    ck_assert_uint_eq(nnp_net_layer_count(net), n);
    for (size_t l = 0; l < n; l++) {
        nnp_layer_info in = {.size = sizeof in};
        ck_assert_ok(nnp_net_layer_info(net, l, &in));
        ck_assert_msg(in.kind == kinds[l], "layer %zu is %s, expected %s", l,
                      nnp_layer_kind_name(in.kind), nnp_layer_kind_name(kinds[l]));
    }
}

/* x (N×1×2×3) → Reshape to N×6 by a Constant shape [0,-1] → MatMul W (6×4) → Add(b, ·) →
 * Relu → Gemm(B 4×3, transB=0, C 1×3, alpha 0.5, beta 2) → Identity → Softmax head.
 * Expected: input, dense, relu, dense; logits = 0.5·relu(xW + b)B + 2C (computed here in
 * double from the same numbers, independently of the loader). */
START_TEST(exporter_patterns)
{
    mb b;
    float W[24], bias[4], B[12], C[3];
    tu_fill_uniform(W, 24, -1, 1, 1);
    tu_fill_uniform(bias, 4, -1, 1, 2);
    tu_fill_uniform(B, 12, -1, 1, 3);
    tu_fill_uniform(C, 3, -1, 1, 4);
    mb_init(&b, 13);
    const int64_t xd[4] = {-1, 1, 2, 3}, wd[2] = {6, 4}, bd[1] = {4}, Bd[2] = {4, 3},
                  Cd[2] = {1, 3};
    mb_io(&b, "x", 4, xd, "probs");
    mb_init_floats(&b, "W", 2, wd, W, 1);
    mb_init_floats(&b, "b", 1, bd, bias, 0);
    mb_init_floats(&b, "B", 2, Bd, B, 1);
    mb_init_floats(&b, "C", 2, Cd, C, 0);
    /* nodes deliberately out of order: the loader sorts them */
    Onnx__NodeProto *g = mb_node(&b, "Gemm", "h", "B", "C", "z");
    mb_attr_f(&b, g, "alpha", 0.5f);
    mb_attr_f(&b, g, "beta", 2.0f);
    mb_attr_i(&b, g, "transB", 0);
    mb_node(&b, "Softmax", "z2", NULL, NULL, "probs");
    mb_node(&b, "Identity", "z", NULL, NULL, "z2");
    Onnx__NodeProto *c = mb_node(&b, "Constant", NULL, NULL, NULL, "shape");
    Onnx__AttributeProto *a = mb_attr(&b, c, "value", 4);
    a->t = mb_alloc(&b, sizeof *a->t);
    onnx__tensor_proto__init(a->t);
    static int64_t shape[2] = {0, -1}, sdim[1] = {2};
    a->t->has_data_type = 1;
    a->t->data_type = 7;
    a->t->int64_data = shape;
    a->t->n_int64_data = 2;
    a->t->dims = sdim;
    a->t->n_dims = 1;
    mb_node(&b, "Reshape", "x", "shape", NULL, "xf");
    mb_node(&b, "MatMul", "xf", "W", NULL, "t");
    mb_node(&b, "Add", "b", "t", NULL, "u");
    mb_node(&b, "Relu", "u", NULL, NULL, "h");
    /* an unused branch: ignored */
    mb_node(&b, "Celu", "x", NULL, NULL, "dead");
    nnp_net *net = NULL;
    nnp_status st = mb_load(&b, &net);
    ck_assert_msg(st == NNP_OK, "%s", nnp_last_error());
    const nnp_layer_kind kinds[] = {NNP_LAYER_INPUT, NNP_LAYER_DENSE, NNP_LAYER_RELU,
                                    NNP_LAYER_DENSE};
    assert_kinds(net, kinds, 4);
    float x[12], y[6];
    tu_fill_uniform(x, 12, 0, 1, 5);
    ck_assert_ok(nnp_net_forward(net, NULL, x, 2, y));
    for (size_t n = 0; n < 2; n++) {
        double h[4];
        for (size_t j = 0; j < 4; j++) {
            double s = bias[j];
            for (size_t i = 0; i < 6; i++) s += (double)x[n * 6 + i] * W[i * 4 + j];
            h[j] = s > 0 ? s : 0;
        }
        for (size_t k = 0; k < 3; k++) {
            double z = 2.0 * C[k];
            for (size_t j = 0; j < 4; j++) z += 0.5 * h[j] * B[j * 3 + k];
            ck_assert_msg(fabs(y[n * 3 + k] - z) <= 1e-5 * (1 + fabs(z)), "y[%zu][%zu] = %g, "
                          "expected %g", n, k, (double)y[n * 3 + k], z);
        }
    }
    nnp_net_free(net);
}
END_TEST

/* Opset-dependent forms: Dropout with a ratio attribute (opset 11) and with ratio and
 * training_mode inputs (opset 12+), LeakyRelu alpha=0.2, BatchNormalization on N×D, Flatten. */
START_TEST(opset_forms)
{
    for (int opset = 11; opset <= 13; opset += 2) {
        mb b;
        const int64_t xd[4] = {-1, 2, 2, 2}, cd[1] = {8}, rd[1] = {1};
        float bn[4][8], ratio = 0.25f;
        for (int k = 0; k < 4; k++) tu_fill_uniform(bn[k], 8, 0.5f, 1.5f, (uint64_t)k + 9);
        mb_init(&b, opset);
        mb_io(&b, "x", 4, xd, "y");
        mb_node(&b, "Flatten", "x", NULL, NULL, "f");
        mb_init_floats(&b, "s", 1, cd, bn[0], 1);
        mb_init_floats(&b, "bb", 1, cd, bn[1], 1);
        mb_init_floats(&b, "m", 1, cd, bn[2], 0);
        mb_init_floats(&b, "v", 1, cd, bn[3], 0);
        Onnx__NodeProto *n = mb_node(&b, "BatchNormalization", "f", "s", "bb", "g");
        n->input[3] = "m";
        n->input[4] = "v";
        n->n_input = 5;
        mb_attr_f(&b, n, "epsilon", 1e-3f);
        Onnx__NodeProto *l = mb_node(&b, "LeakyRelu", "g", NULL, NULL, "r");
        mb_attr_f(&b, l, "alpha", 0.2f);
        if (opset < 12) {
            Onnx__NodeProto *d = mb_node(&b, "Dropout", "r", NULL, NULL, "y");
            mb_attr_f(&b, d, "ratio", ratio);
        } else {
            mb_init_floats(&b, "ratio", 0, rd, &ratio, 1);
            mb_node(&b, "Dropout", "r", "ratio", NULL, "y");
        }
        nnp_net *net = NULL;
        nnp_status st = mb_load(&b, &net);
        ck_assert_msg(st == NNP_OK, "opset %d: %s", opset, nnp_last_error());
        const nnp_layer_kind kinds[] = {NNP_LAYER_INPUT, NNP_LAYER_FLATTEN, NNP_LAYER_BATCHNORM,
                                        NNP_LAYER_LEAKY_RELU, NNP_LAYER_DROPOUT};
        assert_kinds(net, kinds, 5);
        nnp_layer_info li = {.size = sizeof li};
        ck_assert_ok(nnp_net_layer_info(net, 3, &li));
        ck_assert_double_eq(li.alpha, (double)0.2f);
        float w[24], bias[8];
        ck_assert_ok(nnp_net_get_params(net, 2, w, bias));
        ck_assert_mem_eq(w, bn[0], sizeof bn[0]);      /* scale */
        ck_assert_mem_eq(w + 8, bn[2], sizeof bn[2]);  /* mean */
        ck_assert_mem_eq(w + 16, bn[3], sizeof bn[3]); /* var */
        ck_assert_mem_eq(bias, bn[1], sizeof bn[1]);
        nnp_net_free(net);
    }
}
END_TEST

/* A 1-D model (input N×C×L): Conv with a rank-3 W, 1-D MaxPool, Flatten, Gemm, loads as the
 * 2-D net on C×1×L that a user would build with kernel height 1 — same layer table,
 * parameters and outputs. */
START_TEST(one_dimensional_model)
{
    mb b;
    float W[18], bw[3], G[12], bg[2];
    tu_fill_uniform(W, 18, -1, 1, 1);
    tu_fill_uniform(bw, 3, -1, 1, 2);
    tu_fill_uniform(G, 12, -1, 1, 3);
    tu_fill_uniform(bg, 2, -1, 1, 4);
    const int64_t xd[3] = {-1, 2, 8}, wd[3] = {3, 2, 3}, bd[1] = {3}, gd[2] = {2, 6},
                  gb[1] = {2};
    static int64_t pads[2] = {1, 0}, strides[1] = {2}, k2[1] = {2};
    mb_init(&b, 13);
    mb_io(&b, "x", 3, xd, "y");
    mb_init_floats(&b, "W", 3, wd, W, 1);
    mb_init_floats(&b, "bw", 1, bd, bw, 1);
    mb_init_floats(&b, "G", 2, gd, G, 1);
    mb_init_floats(&b, "bg", 1, gb, bg, 1);
    Onnx__NodeProto *c = mb_node(&b, "Conv", "x", "W", "bw", "c");
    Onnx__AttributeProto *a = mb_attr(&b, c, "pads", 7);
    a->ints = pads;
    a->n_ints = 2;
    a = mb_attr(&b, c, "strides", 7);
    a->ints = strides;
    a->n_ints = 1;
    mb_node(&b, "Relu", "c", NULL, NULL, "r");
    Onnx__NodeProto *p = mb_node(&b, "MaxPool", "r", NULL, NULL, "p");
    a = mb_attr(&b, p, "kernel_shape", 7);
    a->ints = k2;
    a->n_ints = 1;
    a = mb_attr(&b, p, "strides", 7);
    a->ints = k2;
    a->n_ints = 1;
    mb_node(&b, "Flatten", "p", NULL, NULL, "f");
    Onnx__NodeProto *g = mb_node(&b, "Gemm", "f", "G", "bg", "y");
    mb_attr_i(&b, g, "transB", 1);
    nnp_net *net = NULL, *want;
    nnp_status st = mb_load(&b, &net);
    ck_assert_msg(st == NNP_OK, "%s", nnp_last_error());

    /* L = 8, pads 1 and 0, kernel 3, stride 2: (8 + 1 − 3)/2 + 1 = 4; pool 2, stride 2: 2;
     * flattened 3·2 = 6 values for the Gemm */
    nnp_net_conv2d_opts co;
    nnp_net_pool2d_opts po;
    ck_assert_ok(nnp_net_create(2, 1, 8, &want));
    ck_assert_ok(nnp_net_conv2d_opts_init(&co));
    co.out_channels = 3;
    co.kernel_h = 1;
    co.kernel_w = 3;
    co.stride_w = 2;
    co.pad_left = 1;
    ck_assert_ok(nnp_net_add_conv2d(want, &co, NULL));
    ck_assert_ok(nnp_net_add_activation(want, NNP_LAYER_RELU, NULL));
    ck_assert_ok(nnp_net_pool2d_opts_init(&po));
    po.kernel_h = 1;
    po.stride_h = 1;
    ck_assert_ok(nnp_net_add_maxpool2d(want, &po, NULL));
    ck_assert_ok(nnp_net_add_flatten(want, NULL));
    ck_assert_ok(nnp_net_add_dense(want, 2, NULL));
    ck_assert_ok(nnp_net_set_params(want, 1, W, bw));
    ck_assert_ok(nnp_net_set_params(want, 5, G, bg));
    assert_same_net(want, net);
    nnp_net_free(want);
    nnp_net_free(net);
}
END_TEST

/* The zoo operators as exporters write them, at opset 10 (Clip min/max and Pad pads as
 * attributes) and 13 (as constant inputs, Clip's min left empty and its max from a Constant
 * node): x (N×2×5×6) → Pad [H: 1, 0; W: 0, 2] → Conv (own pads 1,0,0,0) → Clip(max 0.7) →
 * HardSigmoid (defaults) → Pad [H: 0, 1] → MaxPool 3×3/2 ceil_mode → ReduceMean over H, W
 * (keepdims 0 at opset 13, 1 + Flatten at 10) → Gemm. The first Pad, read only by the Conv,
 * folds into its padding (top 2, left 0, bottom 0, right 2); the second, before a max pool
 * (whose padding is −∞, not 0), is a pad layer. Expected: the net built with the builders. */
START_TEST(zoo_operator_forms)
{
    for (int opset = 10; opset <= 13; opset += 3) {
        mb b;
        float W[54], bw[3], G[6], bg[2], hi = 0.7f;
        tu_fill_uniform(W, 54, -1, 1, 1);
        tu_fill_uniform(bw, 3, -1, 1, 2);
        tu_fill_uniform(G, 6, -1, 1, 3);
        tu_fill_uniform(bg, 2, -1, 1, 4);
        const int64_t xd[4] = {-1, 2, 5, 6}, wd[4] = {3, 2, 3, 3}, bd[1] = {3}, gd[2] = {2, 3},
                      gb[1] = {2}, pd[1] = {8};
        static int64_t pads1[8] = {0, 0, 1, 0, 0, 0, 0, 2}, pads2[8] = {0, 0, 0, 0, 0, 0, 1, 0},
                       cpads[4] = {1, 0, 0, 0}, k3[2] = {3, 3}, s2[2] = {2, 2},
                       hw[2] = {-1, 2};
        mb_init(&b, opset);
        mb_io(&b, "x", 4, xd, "y");
        mb_init_floats(&b, "W", 4, wd, W, 1);
        mb_init_floats(&b, "bw", 1, bd, bw, 1);
        mb_init_floats(&b, "G", 2, gd, G, 1);
        mb_init_floats(&b, "bg", 1, gb, bg, 1);
        Onnx__NodeProto *n;
        Onnx__AttributeProto *a;
        const char *pad_in[2] = {"x", "h"}, *pad_out[2] = {"xp", "hp"};
        int64_t *pads[2] = {pads1, pads2};
        for (int k = 0; k < 2; k++) {
            if (opset < 11) {
                n = mb_node(&b, "Pad", pad_in[k], NULL, NULL, pad_out[k]);
                a = mb_attr(&b, n, "pads", 7);
                a->ints = pads[k];
                a->n_ints = 8;
                mb_attr_f(&b, n, "value", 0.0f);
            } else {
                const float zeros[8] = {0};
                Onnx__TensorProto *t = mb_tensor(&b, k ? "pads2" : "pads1", 1, pd, zeros, 0);
                t->data_type = 7;
                t->n_float_data = 0;
                t->int64_data = pads[k];
                t->n_int64_data = 8;
                b.inits[b.g.n_initializer++] = t;
                n = mb_node(&b, "Pad", pad_in[k], k ? "pads2" : "pads1", NULL, pad_out[k]);
            }
        }
        n = mb_node(&b, "Conv", "xp", "W", "bw", "c");
        a = mb_attr(&b, n, "pads", 7);
        a->ints = cpads;
        a->n_ints = 4;
        if (opset < 11) {
            n = mb_node(&b, "Clip", "c", NULL, NULL, "cl");
            mb_attr_f(&b, n, "max", hi);
        } else {
            Onnx__NodeProto *k = mb_node(&b, "Constant", NULL, NULL, NULL, "hi");
            a = mb_attr(&b, k, "value", 4);
            a->t = mb_tensor(&b, "", 0, gb, &hi, 1); /* rank 0: a scalar */
            mb_node(&b, "Clip", "c", "", "hi", "cl");
        }
        mb_node(&b, "HardSigmoid", "cl", NULL, NULL, "h");
        n = mb_node(&b, "MaxPool", "hp", NULL, NULL, "p");
        a = mb_attr(&b, n, "kernel_shape", 7);
        a->ints = k3;
        a->n_ints = 2;
        a = mb_attr(&b, n, "strides", 7);
        a->ints = s2;
        a->n_ints = 2;
        mb_attr_i(&b, n, "ceil_mode", 1);
        n = mb_node(&b, "ReduceMean", "p", NULL, NULL, opset < 11 ? "m4" : "m");
        a = mb_attr(&b, n, "axes", 7);
        a->ints = hw;
        a->n_ints = 2;
        mb_attr_i(&b, n, "keepdims", opset < 11);
        if (opset < 11) mb_node(&b, "Flatten", "m4", NULL, NULL, "m");
        n = mb_node(&b, "Gemm", "m", "G", "bg", "y");
        mb_attr_i(&b, n, "transB", 1);
        nnp_net *net = NULL, *want;
        nnp_status st = mb_load(&b, &net);
        ck_assert_msg(st == NNP_OK, "opset %d: %s", opset, nnp_last_error());

        nnp_net_conv2d_opts co;
        nnp_net_pool2d_opts po;
        ck_assert_ok(nnp_net_create(2, 5, 6, &want));
        ck_assert_ok(nnp_net_conv2d_opts_init(&co));
        co.out_channels = 3;
        co.pad_top = 2;
        co.pad_right = 2;
        ck_assert_ok(nnp_net_add_conv2d(want, &co, NULL)); /* 3×5×6 */
        ck_assert_ok(nnp_net_add_clip(want, -INFINITY, hi, NULL));
        ck_assert_ok(nnp_net_add_hard_sigmoid(want, 0.2, 0.5, NULL));
        ck_assert_ok(nnp_net_add_pad(want, 0, 0, 1, 0, NULL)); /* 3×6×6 */
        ck_assert_ok(nnp_net_pool2d_opts_init(&po));
        po.kernel_h = po.kernel_w = 3;
        po.ceil_mode = 1;
        ck_assert_ok(nnp_net_add_maxpool2d(want, &po, NULL)); /* ceil(3/2) + 1 = 3: 3×3×3 */
        ck_assert_ok(nnp_net_add_global_avgpool(want, NULL));
        if (opset < 11) ck_assert_ok(nnp_net_add_flatten(want, NULL));
        ck_assert_ok(nnp_net_add_dense(want, 2, NULL));
        const size_t last = opset < 11 ? 8 : 7;
        ck_assert_ok(nnp_net_set_params(want, 1, W, bw));
        ck_assert_ok(nnp_net_set_params(want, last, G, bg));
        assert_same_net(want, net);
        nnp_net_free(want);
        nnp_net_free(net);
    }
}
END_TEST

/* Pad → AveragePool, as PyTorch writes avg_pool2d(padding, count_include_pad=True): folded
 * into the pool (with count_include_pad) when that is the same map — floor sizing and
 * count_include_pad or no padding of its own, pads < kernel — else a pad layer. Each case's
 * outputs are compared with those of the net built with an explicit pad layer. */
START_TEST(pad_folds_into_average_pool)
{
    static const struct {
        const char *what;
        int64_t own_pad, ceil, cip, pad;
        int folds;
    } cases[] = {{"no pads of its own", 0, 0, 0, 1, 1},
                 {"own pads with count_include_pad", 1, 0, 1, 1, 1},
                 {"own pads without count_include_pad", 1, 0, 0, 1, 0},
                 {"ceil_mode", 0, 1, 0, 1, 0},
                 {"pad + own pad reaching the kernel", 1, 0, 1, 2, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mb b;
        const int64_t xd[4] = {-1, 2, 5, 6}, pd[1] = {8};
        static int64_t pads[8], own[4], k3[2] = {3, 3}, s2[2] = {2, 2};
        const int64_t q = cases[i].pad, o = cases[i].own_pad;
        const int64_t pv[8] = {0, 0, q, 0, 0, 0, 0, q}, ov[4] = {o, o, o, o};
        memcpy(pads, pv, sizeof pads);
        memcpy(own, ov, sizeof own);
        mb_init(&b, 13);
        mb_io(&b, "x", 4, xd, "y");
        const float zeros[8] = {0};
        Onnx__TensorProto *t = mb_tensor(&b, "pads", 1, pd, zeros, 0);
        t->data_type = 7;
        t->n_float_data = 0;
        t->int64_data = pads;
        t->n_int64_data = 8;
        b.inits[b.g.n_initializer++] = t;
        mb_node(&b, "Pad", "x", "pads", NULL, "xp");
        Onnx__NodeProto *n = mb_node(&b, "AveragePool", "xp", NULL, NULL, "y");
        Onnx__AttributeProto *a = mb_attr(&b, n, "kernel_shape", 7);
        a->ints = k3;
        a->n_ints = 2;
        a = mb_attr(&b, n, "strides", 7);
        a->ints = s2;
        a->n_ints = 2;
        a = mb_attr(&b, n, "pads", 7);
        a->ints = own;
        a->n_ints = 4;
        mb_attr_i(&b, n, "ceil_mode", cases[i].ceil);
        mb_attr_i(&b, n, "count_include_pad", cases[i].cip);
        nnp_net *net = NULL, *want = NULL;
        nnp_status st = mb_load(&b, &net);
        ck_assert_msg(st == NNP_OK, "%s: %s", cases[i].what, nnp_last_error());
        ck_assert_msg(nnp_net_layer_count(net) == (cases[i].folds ? 2u : 3u), "%s: %zu layers",
                      cases[i].what, nnp_net_layer_count(net));
        /* the reference: an explicit pad layer, then the pool as written */
        nnp_net_pool2d_opts po;
        ck_assert_ok(nnp_net_create(2, 5, 6, &want));
        ck_assert_ok(nnp_net_add_pad(want, (size_t)q, 0, 0, (size_t)q, NULL));
        ck_assert_ok(nnp_net_pool2d_opts_init(&po));
        po.kernel_h = po.kernel_w = 3;
        po.pad_top = po.pad_left = po.pad_bottom = po.pad_right = (size_t)o;
        po.ceil_mode = (int)cases[i].ceil;
        po.count_include_pad = (int)cases[i].cip;
        ck_assert_ok(nnp_net_add_avgpool2d(want, &po, NULL));
        ck_assert_uint_eq(nnp_net_output_size(net), nnp_net_output_size(want));
        float x[2 * 60], y1[2 * 60], y2[2 * 60];
        tu_fill_uniform(x, 120, -1, 1, 9);
        ck_assert_ok(nnp_net_forward(net, NULL, x, 2, y1));
        ck_assert_ok(nnp_net_forward(want, NULL, x, 2, y2));
        for (size_t j = 0; j < 2 * nnp_net_output_size(net); j++)
            ck_assert_msg(fabsf(y1[j] - y2[j]) <= 1e-6f, "%s: output %zu: %g vs %g",
                          cases[i].what, j, (double)y1[j], (double)y2[j]);
        nnp_net_free(want);
        nnp_net_free(net);
    }
}
END_TEST

/* A constant Add whose other operand is used elsewhere cannot be a bias: refused. */
START_TEST(add_constant_needs_own_layer)
{
    mb b;
    const int64_t xd[2] = {-1, 3}, wd[2] = {3, 3}, bd[1] = {3};
    float W[9], bias[3];
    tu_fill_uniform(W, 9, -1, 1, 1);
    tu_fill_uniform(bias, 3, -1, 1, 2);
    mb_init(&b, 13);
    mb_io(&b, "x", 2, xd, "y");
    mb_init_floats(&b, "W", 2, wd, W, 1);
    mb_init_floats(&b, "b", 1, bd, bias, 1);
    mb_node(&b, "MatMul", "x", "W", NULL, "t");
    Onnx__NodeProto *n = mb_node(&b, "Add", "t", "b", NULL, "u");
    n->name = "bias_add";
    mb_node(&b, "Add", "u", "t", NULL, "y");
    nnp_net *net = NULL;
    ck_assert_status(mb_load(&b, &net), NNP_EUNSUPPORTED);
    ck_assert_error_has("node \"bias_add\" (Add): adding a constant is supported only as the bias");
    ck_assert_ptr_null(net);
}
END_TEST

/* ---- round trips ---- */

START_TEST(round_trip)
{
    char p[512];
    nnp_net *net = makers[_i](), *back = NULL;
    save_path(p, sizeof p, maker_names[_i]);
    ck_assert_ok(nnp_net_save_onnx(net, p));
    ck_assert_ok(nnp_net_load_onnx(p, &back));
    assert_same_net(net, back);
    /* and again: saving the loaded net gives the same file */
    char p2[512];
    size_t l1, l2;
    save_path(p2, sizeof p2, "again");
    ck_assert_ok(nnp_net_save_onnx(back, p2));
    unsigned char *b1 = read_all(p, &l1), *b2 = read_all(p2, &l2);
    ck_assert_uint_eq(l1, l2);
    ck_assert_mem_eq(b1, b2, l1);
    free(b1);
    free(b2);
    remove(p);
    remove(p2);
    nnp_net_free(net);
    nnp_net_free(back);
}
END_TEST

START_TEST(round_trip_input_only)
{
    char p[512];
    nnp_net *net, *back = NULL;
    ck_assert_ok(nnp_net_create(2, 3, 3, &net));
    save_path(p, sizeof p, "input_only");
    ck_assert_ok(nnp_net_save_onnx(net, p));
    ck_assert_ok(nnp_net_load_onnx(p, &back));
    assert_same_net(net, back);
    remove(p);
    nnp_net_free(net);
    nnp_net_free(back);
}
END_TEST

START_TEST(save_refuses_contrast_norm)
{
    char p[512];
    nnp_net *net;
    ck_assert_ok(nnp_net_create(1, 2, 2, &net));
    ck_assert_ok(nnp_net_add_dense(net, 3, NULL));
    ck_assert_ok(nnp_net_add_contrast_norm(net, 1.0f, 0.5f, NULL));
    save_path(p, sizeof p, "cnorm");
    ck_assert_status(nnp_net_save_onnx(net, p), NNP_EUNSUPPORTED);
    ck_assert_error_has("layer 2 (contrast_norm)");
    nnp_net_free(net);
}
END_TEST

START_TEST(null_arguments)
{
    nnp_net *net = (nnp_net *)1;
    ck_assert_status(nnp_net_load_onnx(NULL, &net), NNP_EINVAL);
    ck_assert_ptr_null(net);
    ck_assert_status(nnp_net_load_onnx("x.onnx", NULL), NNP_EINVAL);
    ck_assert_status(nnp_net_load_onnx_memory(NULL, 3, &net), NNP_EINVAL);
    ck_assert_status(nnp_net_load_onnx_memory("abc", 3, NULL), NNP_EINVAL);
    ck_assert_status(nnp_net_save_onnx(NULL, "x.onnx"), NNP_EINVAL);
    net = dense_net();
    ck_assert_status(nnp_net_save_onnx(net, NULL), NNP_EINVAL);
    ck_assert_status(nnp_net_save_onnx(net, "/nonexistent-dir/x.onnx"), NNP_EIO);
    ck_assert_error_has("/nonexistent-dir/x.onnx");
    nnp_net_free(net);
    ck_assert_status(nnp_net_load_onnx("/nonexistent-dir/x.onnx", &net), NNP_EIO);
    ck_assert_ptr_null(net);
}
END_TEST

/* onnx.checker (python3-onnx) accepts what we save; skipped when it is not installed. */
START_TEST(checker_accepts_saved_models)
{
    if (system("/usr/bin/env python3 -c 'import onnx' >/dev/null 2>&1") != 0 &&
        system("/usr/bin/python3 -c 'import onnx' >/dev/null 2>&1") != 0) {
        fprintf(stderr, "checker_accepts_saved_models: python3-onnx not installed, skipped\n");
        return;
    }
    for (size_t i = 0; i < N_MAKERS; i++) {
        char p[512], cmd[1400];
        nnp_net *net = makers[i]();
        save_path(p, sizeof p, maker_names[i]);
        ck_assert_ok(nnp_net_save_onnx(net, p));
        snprintf(cmd, sizeof cmd,
                 "for py in /usr/bin/python3 python3; do $py -c 'import onnx' 2>/dev/null && "
                 "exec $py -c 'import onnx,sys; m=onnx.load(sys.argv[1]); "
                 "onnx.checker.check_model(m, full_check=True)' '%s'; done; exit 1", p);
        int rc = system(cmd);
        ck_assert_msg(rc == 0, "onnx.checker refused %s (%s)", p, maker_names[i]);
        remove(p);
        nnp_net_free(net);
    }
}
END_TEST

/* ---- malformed models ---- */

static void assert_clean_refusal(nnp_status st)
{
    ck_assert_msg(st == NNP_EFORMAT || st == NNP_EUNSUPPORTED, "status %s (%s)",
                  nnp_status_name(st), nnp_last_error());
    ck_assert_msg(strstr(nnp_last_error(), "onnx:") != NULL, "message \"%s\"", nnp_last_error());
}

START_TEST(truncated_models)
{
    char p[512];
    size_t len;
    nnp_net *net = conv_net(), *back = NULL;
    save_path(p, sizeof p, "trunc");
    ck_assert_ok(nnp_net_save_onnx(net, p));
    unsigned char *b = read_all(p, &len);
    size_t step = getenv("NNP_TEST_UNDER_VALGRIND") ? 61 : 1;
    for (size_t n = 0; n < len; n += step) {
        nnp_status st = nnp_net_load_onnx_memory(b, n, &back);
        ck_assert_msg(st != NNP_OK, "prefix of %zu of %zu bytes loaded", n, len);
        assert_clean_refusal(st);
        ck_assert_ptr_null(back);
    }
    /* truncated file, through the file path */
    FILE *f = fopen(p, "wb");
    fwrite(b, 1, len / 2, f);
    fclose(f);
    ck_assert_status(nnp_net_load_onnx(p, &back), NNP_EFORMAT);
    ck_assert_error_has(p);
    remove(p);
    free(b);
    nnp_net_free(net);
}
END_TEST

START_TEST(garbage_and_wire_types)
{
    nnp_net *net = NULL;
    /* field 7 (graph, a message) sent as a varint; field 1 (ir_version) as length-delimited
     * running past the end; a tag of field number 0; a varint that never ends */
    static const unsigned char wrong_wire[] = {0x38, 0x01};
    static const unsigned char bad_len[] = {0x0a, 0x7f, 0x01};
    static const unsigned char field0[] = {0x00, 0x01};
    static const unsigned char endless[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                            0xff, 0xff, 0xff, 0xff};
    static const char text[] = "this is not a model";
    const struct {
        const void *p;
        size_t n;
    } cases[] = {{wrong_wire, sizeof wrong_wire}, {bad_len, sizeof bad_len},
                 {field0, sizeof field0}, {endless, sizeof endless}, {text, sizeof text - 1},
                 {"", 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nnp_status st = nnp_net_load_onnx_memory(cases[i].p, cases[i].n, &net);
        ck_assert_msg(st == NNP_EFORMAT, "case %zu: %s (%s)", i, nnp_status_name(st),
                      nnp_last_error());
        ck_assert_error_has("onnx:");
        ck_assert_ptr_null(net);
    }
    /* a valid protobuf with no graph */
    static const unsigned char no_graph[] = {0x08, 0x07};
    ck_assert_status(nnp_net_load_onnx_memory(no_graph, sizeof no_graph, &net), NNP_EFORMAT);
    ck_assert_error_has("no graph");
}
END_TEST

static void short_raw_data(Onnx__ModelProto *m) { find_init(m, "p1.weight")->raw_data.len -= 4; }
static void float_data_count(Onnx__ModelProto *m)
{
    static float one[1] = {1};
    Onnx__TensorProto *t = find_init(m, "p1.bias");
    t->has_raw_data = 0;
    t->float_data = one;
    t->n_float_data = 1;
}
static void absurd_dims(Onnx__ModelProto *m)
{
    static int64_t dims[1] = {(int64_t)1 << 40};
    find_init(m, "p8.scale")->dims = dims;
}
static void overflowing_dims(Onnx__ModelProto *m)
{
    static int64_t dims[3] = {(int64_t)1 << 27, (int64_t)1 << 27, (int64_t)1 << 27};
    Onnx__TensorProto *t = find_init(m, "p8.scale");
    t->dims = dims;
    t->n_dims = 3;
}
static void absurd_gemm_dims(Onnx__ModelProto *m)
{
    static int64_t dims[2] = {(int64_t)1 << 40, (int64_t)1 << 40};
    find_init(m, "p1.weight")->dims = dims;
}
/* 2^25 units declared, 7 present: refused before 2.5 GB are allocated for the weights */
static void declared_not_present(Onnx__ModelProto *m)
{
    find_init(m, "p1.weight")->dims[0] = (int64_t)1 << 25;
}
static void nan_bias(Onnx__ModelProto *m)
{
    static const unsigned char nan_le[4] = {0x00, 0x00, 0xc0, 0x7f}; /* quiet NaN */
    memcpy(find_init(m, "p1.bias")->raw_data.data + 8, nan_le, 4);
}
static void negative_dim(Onnx__ModelProto *m) { find_init(m, "p1.weight")->dims[0] = -7; }
static void huge_input(Onnx__ModelProto *m)
{
    m->graph->input[0]->type->tensor_type->shape->dim[1]->dim_value = (int64_t)1 << 40;
}
static void wrong_weight_shape(Onnx__ModelProto *m)
{
    Onnx__TensorProto *t = find_init(m, "p1.weight");
    int64_t d = t->dims[0];
    t->dims[0] = t->dims[1];
    t->dims[1] = d;
}
static void dangling_input(Onnx__ModelProto *m) { find_node(m, "Relu")->input[0] = "nowhere"; }
static void cycle(Onnx__ModelProto *m)
{
    /* the first Gemm reads the Relu's output, which reads the Gemm's output */
    find_node(m, "Gemm")->input[0] = find_node(m, "Relu")->output[0];
}
static void dup_output(Onnx__ModelProto *m)
{
    find_node(m, "Sigmoid")->output[0] = find_node(m, "Relu")->output[0];
}
static void no_output_producer(Onnx__ModelProto *m) { m->graph->output[0]->name = "ghost"; }
static void wrong_output_shape(Onnx__ModelProto *m)
{
    m->graph->output[0]->type->tensor_type->shape->dim[1]->dim_value = 4;
}
static void double_weights(Onnx__ModelProto *m) { find_init(m, "p1.weight")->data_type = 11; }
static void external_data(Onnx__ModelProto *m)
{
    Onnx__TensorProto *t = find_init(m, "p1.weight");
    t->has_data_location = 1;
    t->data_location = 1;
}
static void unknown_op(Onnx__ModelProto *m) { find_node(m, "Tanh")->op_type = "Celu"; }
static void foreign_domain(Onnx__ModelProto *m) { find_node(m, "Tanh")->domain = "com.example"; }
static void opset_18(Onnx__ModelProto *m) { m->opset_import[0]->version = 18; }
static Onnx__AttributeProto extra_attr;
static void unknown_attr(Onnx__ModelProto *m)
{
    static Onnx__AttributeProto *list[8];
    Onnx__NodeProto *n = find_node(m, "Relu");
    onnx__attribute_proto__init(&extra_attr);
    extra_attr.name = "frobnicate";
    extra_attr.has_type = 1;
    extra_attr.type = 2;
    extra_attr.has_i = 1;
    list[0] = &extra_attr;
    n->attribute = list;
    n->n_attribute = 1;
}
static void trans_a(Onnx__ModelProto *m)
{
    Onnx__NodeProto *n = find_node(m, "Gemm");
    n->attribute[0]->name = "transA"; /* transB=1 becomes transA=1 */
}
static void attr_wrong_type(Onnx__ModelProto *m)
{
    Onnx__NodeProto *n = find_node(m, "Gemm");
    n->attribute[0]->type = 1; /* INT sent as FLOAT */
}
static Onnx__ValueInfoProto second_input;
static void two_inputs(Onnx__ModelProto *m)
{
    static Onnx__ValueInfoProto *list[2];
    second_input = *m->graph->input[0];
    second_input.name = "extra";
    list[0] = m->graph->input[0];
    list[1] = &second_input;
    m->graph->input = list;
    m->graph->n_input = 2;
}
static void input_rank1(Onnx__ModelProto *m)
{
    m->graph->input[0]->type->tensor_type->shape->n_dim = 1;
}
static void input_int(Onnx__ModelProto *m)
{
    m->graph->input[0]->type->tensor_type->elem_type = 7;
}
static void ceil_mode(Onnx__ModelProto *m)
{
    static Onnx__AttributeProto a, *list[8];
    Onnx__NodeProto *n = find_node(m, "MaxPool");
    for (size_t i = 0; i < n->n_attribute; i++) list[i] = n->attribute[i];
    onnx__attribute_proto__init(&a);
    a.name = "ceil_mode";
    a.has_type = 1;
    a.type = 2;
    a.has_i = 1;
    a.i = 2;
    list[n->n_attribute] = &a;
    n->attribute = list;
    n->n_attribute++;
}
static void pool_dilations(Onnx__ModelProto *m)
{
    static Onnx__AttributeProto a, *list[8];
    static int64_t d[2] = {2, 2};
    Onnx__NodeProto *n = find_node(m, "MaxPool");
    for (size_t i = 0; i < n->n_attribute; i++) list[i] = n->attribute[i];
    onnx__attribute_proto__init(&a);
    a.name = "dilations";
    a.has_type = 1;
    a.type = 7;
    a.ints = d;
    a.n_ints = 2;
    list[n->n_attribute] = &a;
    n->attribute = list;
    n->n_attribute++;
}
/* An empty STRING attribute arrives with s.data NULL (found by the fuzzer: memcpy from NULL). */
static void empty_auto_pad(Onnx__ModelProto *m)
{
    static Onnx__AttributeProto a, *list[8];
    Onnx__NodeProto *n = find_node(m, "Conv");
    for (size_t i = 0; i < n->n_attribute; i++) list[i] = n->attribute[i];
    onnx__attribute_proto__init(&a);
    a.name = "auto_pad";
    a.has_type = 1;
    a.type = 3; /* STRING */
    a.has_s = 1;
    a.s.len = 0;
    a.s.data = NULL;
    list[n->n_attribute] = &a;
    n->attribute = list;
    n->n_attribute++;
}
static void conv_3d(Onnx__ModelProto *m) { find_init(m, "p1.weight")->n_dims = 3; }
static void conv_group_mismatch(Onnx__ModelProto *m)
{
    Onnx__NodeProto *n = find_node(m, "Conv");
    for (size_t i = 0; i < n->n_attribute; i++)
        if (strcmp(n->attribute[i]->name, "group") == 0) n->attribute[i]->i = 3;
}
static void softmax_in_middle(Onnx__ModelProto *m) { find_node(m, "Tanh")->op_type = "Softmax"; }
static void log_softmax_in_middle(Onnx__ModelProto *m)
{
    find_node(m, "Sigmoid")->op_type = "LogSoftmax";
}

/* ---- mutations of zoo_ops_net (saved at opset 14) and residual_net ---- */

/* Appends attribute `a` to node n (the list is static: one mutation per load). */
static void push_attr(Onnx__NodeProto *n, Onnx__AttributeProto *a)
{
    static Onnx__AttributeProto *list[16];
    for (size_t i = 0; i < n->n_attribute; i++) list[i] = n->attribute[i];
    list[n->n_attribute++] = a;
    n->attribute = list;
}
static void set_float(Onnx__TensorProto *t, float v) { memcpy(t->raw_data.data, &v, 4); }
static void clip_min_above_max(Onnx__ModelProto *m) { set_float(find_init(m, "p2.min"), 7.0f); }
static void clip_nan(Onnx__ModelProto *m) { set_float(find_init(m, "p2.max"), NAN); }
static void clip_computed_bound(Onnx__ModelProto *m) { find_node(m, "Clip")->input[1] = "t1"; }
static void clip_vector_bound(Onnx__ModelProto *m)
{
    static int64_t d[1] = {1};
    Onnx__TensorProto *t = find_init(m, "p2.min");
    t->dims = d; /* [1] holds one value: accepted; then [4] declares four */
    t->n_dims = 1;
    d[0] = 4;
}
static void hard_sigmoid_gamma(Onnx__ModelProto *m)
{
    static Onnx__AttributeProto a;
    onnx__attribute_proto__init(&a);
    a.name = "gamma";
    a.has_type = 1;
    a.type = 1;
    a.has_f = 1;
    push_attr(find_node(m, "HardSigmoid"), &a);
}
static void hard_swish_opset_13(Onnx__ModelProto *m) { m->opset_import[0]->version = 13; }
static void pad_reflect(Onnx__ModelProto *m)
{
    static Onnx__AttributeProto a;
    onnx__attribute_proto__init(&a);
    a.name = "mode";
    a.has_type = 1;
    a.type = 3;
    a.has_s = 1;
    a.s.data = (uint8_t *)"reflect";
    a.s.len = 7;
    push_attr(find_node(m, "Pad"), &a);
}
static void pad_channels(Onnx__ModelProto *m) { find_init(m, "p7.pads")->raw_data.data[8] = 1; }
static void pad_negative(Onnx__ModelProto *m)
{
    memset(find_init(m, "p7.pads")->raw_data.data + 16, 0xff, 8); /* pads[2] = -1: a crop */
}
static void pad_value(Onnx__ModelProto *m)
{
    Onnx__NodeProto *n = find_node(m, "Pad");
    static char *in[3];
    in[0] = n->input[0];
    in[1] = n->input[1];
    in[2] = "p5.max"; /* 0.8 */
    n->input = in;
    n->n_input = 3;
}
static void pad_wrong_count(Onnx__ModelProto *m)
{
    Onnx__TensorProto *t = find_init(m, "p7.pads");
    t->dims[0] = 6;
    t->raw_data.len = 48;
}
/* residual_net's GlobalAveragePool written as ReduceMean with the given axes */
static void reduce_mean_axes(Onnx__ModelProto *m, const int64_t *axes, size_t n)
{
    static Onnx__AttributeProto a;
    static int64_t v[4];
    Onnx__NodeProto *g = find_node(m, "GlobalAveragePool");
    g->op_type = "ReduceMean";
    if (!axes) return;
    memcpy(v, axes, n * sizeof *v);
    onnx__attribute_proto__init(&a);
    a.name = "axes";
    a.has_type = 1;
    a.type = 7;
    a.ints = v;
    a.n_ints = n;
    push_attr(g, &a);
}
static void reduce_mean_channels(Onnx__ModelProto *m)
{
    const int64_t ax[3] = {1, 2, 3};
    reduce_mean_axes(m, ax, 3);
}
static void reduce_mean_no_axes(Onnx__ModelProto *m) { reduce_mean_axes(m, NULL, 0); }
static void reduce_mean_repeated(Onnx__ModelProto *m)
{
    const int64_t ax[3] = {2, 3, -1};
    reduce_mean_axes(m, ax, 3);
}

static const struct malformed {
    const char *what;
    net_maker make;
    mutator mutate;
    nnp_status want;
    const char *msg;
} malformed[] = {
    {"raw_data shorter than the shape", dense_net, short_raw_data, NNP_EFORMAT,
     "tensor \"p1.weight\": raw_data holds 556 bytes, its shape needs 560"},
    {"float_data count vs shape", dense_net, float_data_count, NNP_EFORMAT,
     "float_data holds 1 values, its shape needs 7"},
    {"absurd dimensions", dense_net, absurd_dims, NNP_EFORMAT,
     "tensor \"p8.scale\": dimension 0 is 1099511627776"},
    {"element count overflow", dense_net, overflowing_dims, NNP_EFORMAT,
     "tensor \"p8.scale\": more than 2^31 elements"},
    {"absurd weight matrix", dense_net, absurd_gemm_dims, NNP_EFORMAT,
     "B has dimensions [1099511627776,1099511627776]"},
    {"weights declared but not present", dense_net, declared_not_present, NNP_EFORMAT,
     "tensor \"p1.weight\": raw_data holds 560 bytes, its shape needs 2684354560"},
    {"NaN bias", dense_net, nan_bias, NNP_EFORMAT,
     "node \"dense1\" (Gemm): nnp_net_set_params: layer 1: bias[2] is not finite"},
    {"negative dimension", dense_net, negative_dim, NNP_EFORMAT, "B has dimensions [-7,20]"},
    {"absurd input dimension", dense_net, huge_input, NNP_EFORMAT,
     "graph input \"input\": dimension 1 is 1099511627776"},
    {"transposed weight shape", dense_net, wrong_weight_shape, NNP_EFORMAT,
     "B has shape [20,7] (transB=1) but the input has 20 values per example"},
    {"dangling input", dense_net, dangling_input, NNP_EFORMAT,
     "input \"nowhere\" is not produced by any node, initializer or graph input"},
    {"cycle", dense_net, cycle, NNP_EFORMAT, "cycle through node"},
    {"value produced twice", dense_net, dup_output, NNP_EFORMAT, "is defined twice"},
    {"output nobody produces", dense_net, no_output_producer, NNP_EFORMAT,
     "graph output \"ghost\" is not produced by any node"},
    {"declared output shape wrong", dense_net, wrong_output_shape, NNP_EFORMAT,
     "graph output \"output\": declared with rank 2, but the model computes N×3"},
    {"double weights", dense_net, double_weights, NNP_EUNSUPPORTED,
     "data type 11 not supported (float32 only)"},
    {"external data", dense_net, external_data, NNP_EUNSUPPORTED, "external data not supported"},
    {"unknown operator", dense_net, unknown_op, NNP_EUNSUPPORTED,
     "node \"tanh7\" (Celu): operator not supported"},
    {"foreign domain", dense_net, foreign_domain, NNP_EUNSUPPORTED,
     "operator domain \"com.example\" not supported"},
    {"opset 18", dense_net, opset_18, NNP_EUNSUPPORTED, "opset 18 not supported"},
    {"unknown attribute", dense_net, unknown_attr, NNP_EUNSUPPORTED,
     "node \"relu2\" (Relu): attribute \"frobnicate\" not supported"},
    {"Gemm transA", dense_net, trans_a, NNP_EUNSUPPORTED,
     "node \"dense1\" (Gemm): transA=1 not supported"},
    {"attribute of the wrong type", dense_net, attr_wrong_type, NNP_EFORMAT,
     "attribute transB: expected an INT"},
    {"two graph inputs", dense_net, two_inputs, NNP_EUNSUPPORTED,
     "second input \"extra\""},
    {"rank-1 input", conv_net, input_rank1, NNP_EUNSUPPORTED,
     "graph input \"input\" has rank 1: N×C×H×W, N×C×L or N×D supported"},
    {"integer input", dense_net, input_int, NNP_EUNSUPPORTED, "element type 7"},
    {"MaxPool ceil_mode 2", conv_net, ceil_mode, NNP_EFORMAT,
     "node \"maxpool2d5\" (MaxPool): ceil_mode=2 (0 or 1)"},
    {"MaxPool dilations", conv_net, pool_dilations, NNP_EUNSUPPORTED,
     "node \"maxpool2d5\" (MaxPool): dilations=[2,2] not supported"},
    {"Conv auto_pad empty", conv_net, empty_auto_pad, NNP_EFORMAT, "both pads and auto_pad= given"},
    {"Conv W rank vs input rank", conv_net, conv_3d, NNP_EFORMAT,
     "W has rank 3 for an input of rank 4"},
    {"Conv group vs channels", conv_net, conv_group_mismatch, NNP_EFORMAT, "group=3"},
    {"Softmax not at the end", dense_net, softmax_in_middle, NNP_EUNSUPPORTED,
     "(Softmax): supported only as the last node"},
    {"LogSoftmax not at the end", dense_net, log_softmax_in_middle, NNP_EUNSUPPORTED,
     "node \"sigmoid4\" (LogSoftmax): supported only as the last node"},
    {"Clip min > max", zoo_ops_net, clip_min_above_max, NNP_EUNSUPPORTED,
     "node \"clip2\" (Clip): bounds min=7, max=6 not supported (min <= max, not NaN)"},
    {"Clip NaN bound", zoo_ops_net, clip_nan, NNP_EUNSUPPORTED,
     "node \"clip2\" (Clip): bounds min=0, max=nan not supported"},
    {"Clip bound computed", zoo_ops_net, clip_computed_bound, NNP_EUNSUPPORTED,
     "node \"clip2\" (Clip): input 1 (\"t1\") must be a constant"},
    {"Clip bound of 4 values", zoo_ops_net, clip_vector_bound, NNP_EFORMAT,
     "tensor \"p2.min\": 4 elements, expected 1"},
    {"HardSigmoid unknown attribute", zoo_ops_net, hard_sigmoid_gamma, NNP_EUNSUPPORTED,
     "node \"hard_sigmoid3\" (HardSigmoid): attribute \"gamma\" not supported"},
    {"HardSwish before opset 14", zoo_ops_net, hard_swish_opset_13, NNP_EFORMAT,
     "node \"hard_swish4\" (HardSwish): HardSwish is not an operator of opset 13"},
    {"Pad reflect", zoo_ops_net, pad_reflect, NNP_EUNSUPPORTED,
     "node \"pad7\" (Pad): mode=reflect not supported (only constant)"},
    {"Pad of channels", zoo_ops_net, pad_channels, NNP_EUNSUPPORTED,
     "node \"pad7\" (Pad): padding of axis 1 (channels) not supported"},
    {"Pad cropping", zoo_ops_net, pad_negative, NNP_EUNSUPPORTED,
     "node \"pad7\" (Pad): pads[2] = -1 not supported"},
    {"Pad non-zero value", zoo_ops_net, pad_value, NNP_EUNSUPPORTED,
     "node \"pad7\" (Pad): constant value 0.8 not supported (only 0)"},
    {"Pad count vs rank", zoo_ops_net, pad_wrong_count, NNP_EFORMAT,
     "node \"pad7\" (Pad): pads has 6 values, expected 8"},
    {"ReduceMean over channels", residual_net, reduce_mean_channels, NNP_EUNSUPPORTED,
     "(ReduceMean): mean over axes other than all spatial ones"},
    {"ReduceMean without axes", residual_net, reduce_mean_no_axes, NNP_EUNSUPPORTED,
     "(ReduceMean): no axes"},
    {"ReduceMean repeated axis", residual_net, reduce_mean_repeated, NNP_EFORMAT,
     "(ReduceMean): axes[2] = -1 out of range or repeated"},
};

START_TEST(malformed_and_unsupported)
{
    const struct malformed *c = &malformed[_i];
    nnp_status st = load_mutated(c->make, c->mutate);
    ck_assert_msg(st == c->want, "%s: %s, expected %s (%s)", c->what, nnp_status_name(st),
                  nnp_status_name(c->want), nnp_last_error());
    ck_assert_msg(strstr(nnp_last_error(), c->msg) && strncmp(nnp_last_error(), "onnx: ", 6) == 0,
                  "%s: message \"%s\" lacks \"%s\"", c->what, nnp_last_error(), c->msg);
}
END_TEST

typedef struct alloc_run {
    const nnp_net *net;
    nnp_net *back;
    const unsigned char *b;
    size_t len;
    const char *path;
} alloc_run;

static nnp_status alloc_run_load(void *user, long k)
{
    (void)k;
    alloc_run *a = user;
    return nnp_net_load_onnx_memory(a->b, a->len, &a->back);
}

/* A failed load leaves the handle NULL; a successful one gives back the saved net. */
static void alloc_check_load(void *user, long k, nnp_status st)
{
    (void)k;
    alloc_run *a = user;
    if (st == NNP_OK) {
        assert_same_net(a->net, a->back);
        nnp_net_free(a->back);
        a->back = NULL;
    } else {
        ck_assert_ptr_null(a->back);
    }
}

static nnp_status alloc_run_save(void *user, long k)
{
    (void)k;
    alloc_run *a = user;
    return nnp_net_save_onnx(a->net, a->path);
}

/* Every allocation failure while loading and saving gives NNP_ENOMEM and leaks nothing. */
START_TEST(allocation_failures)
{
    char p[512];
    size_t len;
    nnp_net *net = residual_net();
    save_path(p, sizeof p, "oom");
    ck_assert_ok(nnp_net_save_onnx(net, p));
    unsigned char *b = read_all(p, &len);
    alloc_run a = {net, NULL, b, len, p};
    tu_alloc_counts cl = tu_alloc_failures(&(tu_alloc_loop){
        .what = "load", .max_k = 4999, .until_ok = 1, .run = alloc_run_load,
        .after = alloc_check_load, .user = &a});
    tu_alloc_counts cs = tu_alloc_failures(&(tu_alloc_loop){
        .what = "save", .max_k = 4999, .until_ok = 1, .run = alloc_run_save, .user = &a});
    ck_assert(cl.last == NNP_OK && cs.last == NNP_OK);
    remove(p);
    free(b);
    nnp_net_free(net);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("onnx");
    TCase *tc = tcase_create("onnx");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, round_trip, 0, (int)N_MAKERS);
    tcase_add_test(tc, round_trip_input_only);
    tcase_add_test(tc, save_refuses_contrast_norm);
    tcase_add_test(tc, exporter_patterns);
    tcase_add_test(tc, opset_forms);
    tcase_add_test(tc, add_constant_needs_own_layer);
    tcase_add_test(tc, one_dimensional_model);
    tcase_add_test(tc, zoo_operator_forms);
    tcase_add_test(tc, pad_folds_into_average_pool);
    tcase_add_test(tc, null_arguments);
    tcase_add_test(tc, checker_accepts_saved_models);
    tcase_add_test(tc, truncated_models);
    tcase_add_test(tc, garbage_and_wire_types);
    tcase_add_loop_test(tc, malformed_and_unsupported, 0,
                        (int)(sizeof malformed / sizeof malformed[0]));
    tcase_add_test(tc, allocation_failures);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
