/* ONNX import: parses a ModelProto (our own minimal lib/io/onnx.proto, compiled by protoc-c),
 * checks the graph (one input, one output, every input produced, no cycles), orders the nodes
 * the output needs, and maps each one to a layer builder of net.h, verifying shapes on the way.
 * Operator semantics follow the ONNX operator specification (onnx/docs/Operators.md) at the
 * model's opset. Everything the file says is untrusted: every count, dimension and length is
 * checked before use, and every failure sets a message naming the node, operator and field. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "net/net_internal.h"
#include "nnprobe/net.h"
#include "nnprobe/onnx.h"
#include "onnx.pb-c.h"
#include "onnx_read.h"
#include "readcap.h"
#include "safewrite.h"

/* Default-domain opsets read; each operator is read with its attributes and defaults as of the
 * model's opset (ONNX Operators.md), refusing the attributes of old versions we do not map. */
#define OPSET_MIN 1
#define OPSET_MAX 17
/* Dimension and element-count bounds: far above any real model, far below overflow. */
#define DIM_MAX ((int64_t)1 << 28)
#define COUNT_MAX ((size_t)1 << 31)
/* Default caps (docs/reliability.md "Caps and bounds"). Bytes: protobuf messages cannot exceed
 * 2 GiB (the wire format's lengths are signed 32-bit in every official implementation), so no
 * valid ONNX file without external data is larger. Elements: 2^29 float32 values are those
 * 2 GiB; a model declaring more cannot hold their data. Both adjustable by environment. */
#define READ_CAP_DEFAULT ((uint64_t)1 << 31)
#define ELEMS_CAP_DEFAULT ((uint64_t)1 << 29)
#define ELEMS_CAP_ENV "NNPROBE_MAX_TENSOR_ELEMENTS"

/* ONNX enum values (onnx.proto: TensorProto.DataType, AttributeProto.AttributeType). */
enum { DT_FLOAT = 1, DT_INT32 = 6, DT_INT64 = 7, DT_BOOL = 9 };
enum { AT_FLOAT = 1, AT_INT = 2, AT_STRING = 3, AT_TENSOR = 4, AT_FLOATS = 6, AT_INTS = 7 };

/* A named value of the graph: a layer's output seen with an ONNX rank (2: N×D, 3: N×C×L for
 * a C×1×L layer, 4: N×C×H×W), or a constant tensor (initializer or Constant node). */
enum { V_UNSET = 0, V_LAYER, V_CONST };
typedef struct val {
    const char *name;
    int kind;
    size_t layer;       /* V_LAYER */
    int rank;           /* V_LAYER: 2, 3 or 4 */
    int direct;         /* V_LAYER: the output of the node that made `layer` (bias folding) */
    size_t uses;        /* consumers among the nodes the output needs (+1 for the output) */
    const Onnx__TensorProto *t; /* V_CONST */
    long producer;      /* index of the producing node, -1 for initializers and the input */
    size_t pad[4];      /* V_LAYER: zero padding (top, left, bottom, right) of a Pad node that
                         * the one Conv consuming this value folds into its own (op_pad) */
} val;

typedef struct ld {
    const Onnx__GraphProto *g;
    int64_t opset;
    val *vals;
    size_t n_vals, cap_vals;
    size_t *hash;       /* open addressing: value index + 1, 0 = empty */
    size_t hash_cap;    /* power of two */
    size_t *order;      /* needed nodes in topological order */
    size_t n_order;
    unsigned char *state; /* per node: 0 unvisited, 1 on the DFS stack, 2 done */
    size_t *stack;        /* DFS: node index and next input, interleaved */
    nnp_net *net;
    const Onnx__NodeProto *node; /* node being mapped, for messages */
    size_t node_index;
    const nnpi_onnx_reader *rd;  /* where the initializers' raw_data lie (onnx_read.h) */
    size_t init_floats;          /* float elements all initializers hold (index_values) */
} ld;

/* protobuf-c leaves an absent optional string NULL: read every string through this. */
static const char *S(const char *p) { return p ? p : ""; }

/* ---- messages ---- */

static nnp_status node_error(const ld *L, nnp_status st, const char *fmt, ...) NNPI_PRINTF(3, 4);
static nnp_status node_error(const ld *L, nnp_status st, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const Onnx__NodeProto *n = L->node;
    if (S(n->name)[0])
        return nnpi_error(st, "onnx: node \"%.80s\" (%.40s): %s", n->name, S(n->op_type), msg);
    return nnpi_error(st, "onnx: node #%zu (%.40s, output \"%.80s\"): %s", L->node_index,
                      S(n->op_type), n->n_output ? n->output[0] : "", msg);
}

/* Adds the node's context to a message set by a net.h builder, mapping its EINVAL (a value the
 * layer refuses) to EUNSUPPORTED: the model asks for something the library does not do. */
static nnp_status builder_error(const ld *L, nnp_status st)
{
    if (st == NNP_EINVAL) st = NNP_EUNSUPPORTED;
    const Onnx__NodeProto *n = L->node;
    if (S(n->name)[0])
        return nnpi_error_prefix(st, "onnx: node \"%.80s\" (%.40s)", n->name, S(n->op_type));
    return nnpi_error_prefix(st, "onnx: node #%zu (%.40s)", L->node_index, S(n->op_type));
}

/* ---- value table ---- */

static size_t hash_str(const char *s)
{
    /* FNV-1a */
    uint64_t h = 1469598103934665603u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211u;
    return (size_t)h;
}

static long find_val(const ld *L, const char *name)
{
    size_t mask = L->hash_cap - 1;
    for (size_t i = hash_str(name) & mask;; i = (i + 1) & mask) {
        size_t e = L->hash[i];
        if (e == 0) return -1;
        if (strcmp(L->vals[e - 1].name, name) == 0) return (long)(e - 1);
    }
}

/* Registers a new name; refuses duplicates. The table was sized for every name up front. */
static nnp_status add_val(ld *L, const char *name, long producer, size_t *index)
{
    if (find_val(L, name) >= 0)
        return nnpi_error(NNP_EFORMAT, "onnx: value \"%.80s\" is defined twice", name);
    size_t k = L->n_vals++;
    memset(&L->vals[k], 0, sizeof L->vals[k]);
    L->vals[k].name = name;
    L->vals[k].producer = producer;
    size_t mask = L->hash_cap - 1;
    size_t i = hash_str(name) & mask;
    while (L->hash[i]) i = (i + 1) & mask;
    L->hash[i] = k + 1;
    if (index) *index = k;
    return NNP_OK;
}

/* ---- attributes ---- */

static const Onnx__AttributeProto *attr(const ld *L, const char *name)
{
    for (size_t i = 0; i < L->node->n_attribute; i++)
        if (L->node->attribute[i]->name && strcmp(L->node->attribute[i]->name, name) == 0)
            return L->node->attribute[i];
    return NULL;
}

/* Refuses any attribute not named in the NULL-terminated list. */
static nnp_status check_attrs(const ld *L, const char *const *allowed)
{
    for (size_t i = 0; i < L->node->n_attribute; i++) {
        const char *name = L->node->attribute[i]->name ? L->node->attribute[i]->name : "";
        size_t k = 0;
        while (allowed[k] && strcmp(allowed[k], name) != 0) k++;
        if (!allowed[k])
            return node_error(L, NNP_EUNSUPPORTED, "attribute \"%.60s\" not supported", name);
    }
    return NNP_OK;
}

static nnp_status attr_int(const ld *L, const char *name, int64_t def, int64_t *v)
{
    const Onnx__AttributeProto *a = attr(L, name);
    *v = def;
    if (!a) return NNP_OK;
    if (!(a->has_type ? a->type == AT_INT : a->has_i) || !a->has_i)
        return node_error(L, NNP_EFORMAT, "attribute %s: expected an INT", name);
    *v = a->i;
    return NNP_OK;
}

static nnp_status attr_float(const ld *L, const char *name, float def, float *v)
{
    const Onnx__AttributeProto *a = attr(L, name);
    *v = def;
    if (!a) return NNP_OK;
    if (!(a->has_type ? a->type == AT_FLOAT : a->has_f) || !a->has_f)
        return node_error(L, NNP_EFORMAT, "attribute %s: expected a FLOAT", name);
    if (!(a->f - a->f == 0.0f))
        return node_error(L, NNP_EFORMAT, "attribute %s: not a finite number", name);
    *v = a->f;
    return NNP_OK;
}

/* INTS attribute of exactly `n` values, each in [lo, DIM_MAX]; absent: *present = 0. */
static nnp_status attr_ints(const ld *L, const char *name, size_t n, int64_t lo, int64_t *v,
                            int *present)
{
    const Onnx__AttributeProto *a = attr(L, name);
    *present = 0;
    if (!a) return NNP_OK;
    if (a->has_type && a->type != AT_INTS)
        return node_error(L, NNP_EFORMAT, "attribute %s: expected INTS", name);
    if (a->n_ints != n)
        return node_error(L, NNP_EFORMAT, "attribute %s: %zu values, expected %zu", name,
                          a->n_ints, n);
    for (size_t i = 0; i < n; i++) {
        if (a->ints[i] < lo || a->ints[i] > DIM_MAX)
            return node_error(L, NNP_EFORMAT, "attribute %s[%zu] = %lld out of range", name, i,
                              (long long)a->ints[i]);
        v[i] = a->ints[i];
    }
    *present = 1;
    return NNP_OK;
}

static nnp_status attr_string(const ld *L, const char *name, const char *def, char *buf,
                              size_t cap)
{
    const Onnx__AttributeProto *a = attr(L, name);
    snprintf(buf, cap, "%s", def);
    if (!a) return NNP_OK;
    if ((a->has_type && a->type != AT_STRING) || !a->has_s)
        return node_error(L, NNP_EFORMAT, "attribute %s: expected a STRING", name);
    if (a->s.len >= cap || (a->s.len && memchr(a->s.data, 0, a->s.len)))
        return node_error(L, NNP_EUNSUPPORTED, "%s has an unknown value", name);
    if (a->s.len) memcpy(buf, a->s.data, a->s.len); /* an empty string may have data NULL */
    buf[a->s.len] = 0;
    return NNP_OK;
}

/* ---- tensors ---- */

/* Element count of a tensor from its dims (each 0..DIM_MAX, product ≤ COUNT_MAX). */
static nnp_status tensor_count(const ld *L, const Onnx__TensorProto *t, const char *name,
                               size_t *count)
{
    size_t c = 1;
    if (t->n_dims > 8) return node_error(L, NNP_EUNSUPPORTED, "tensor \"%.80s\" has rank %zu",
                                         name, t->n_dims);
    for (size_t i = 0; i < t->n_dims; i++) {
        if (t->dims[i] < 0 || t->dims[i] > DIM_MAX)
            return node_error(L, NNP_EFORMAT, "tensor \"%.80s\": dimension %zu is %lld", name, i,
                              (long long)t->dims[i]);
        c = nnpi_mul(c, (size_t)t->dims[i]);
        if (c > COUNT_MAX)
            return node_error(L, NNP_EFORMAT, "tensor \"%.80s\": more than 2^31 elements", name);
    }
    *count = c;
    return NNP_OK;
}

static nnp_status tensor_located(const ld *L, const Onnx__TensorProto *t, const char *name)
{
    if (t->has_data_location && t->data_location != 0)
        return node_error(L, NNP_EUNSUPPORTED, "tensor \"%.80s\": external data not supported",
                          name);
    return NNP_OK;
}

/* Checks that `t` is a float32 tensor of exactly `expect` elements whose data are all present,
 * before anything is allocated for it: memory then follows the bytes in the file, never a
 * size the file merely declares. */
static nnp_status tensor_check_floats(const ld *L, const Onnx__TensorProto *t, const char *name,
                                      size_t expect)
{
    size_t count;
    NNPI_TRY(tensor_located(L, t, name));
    if (t->data_type != DT_FLOAT)
        return node_error(L, NNP_EUNSUPPORTED, "tensor \"%.80s\": data type %d not supported "
                          "(float32 only)", name, (int)t->data_type);
    NNPI_TRY(tensor_count(L, t, name, &count));
    if (count != expect)
        return node_error(L, NNP_EFORMAT, "tensor \"%.80s\": %zu elements, expected %zu", name,
                          count, expect);
    if (t->has_raw_data && t->raw_data.len > 0) {
        if (t->raw_data.len != count * 4 || t->n_float_data)
            return node_error(L, NNP_EFORMAT, "tensor \"%.80s\": raw_data holds %zu bytes, its "
                              "shape needs %zu", name, t->raw_data.len, count * 4);
    } else if (t->n_float_data != count) {
        return node_error(L, NNP_EFORMAT, "tensor \"%.80s\": float_data holds %zu values, its "
                          "shape needs %zu", name, t->n_float_data, count);
    }
    return NNP_OK;
}

/* ONNX raw_data holds fixed-width little-endian values (onnx.proto, TensorProto.raw_data):
 * turns n such float32 values, read into v as bytes, into the host's floats in place. */
static void floats_from_le(float *v, size_t n)
{
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    (void)v; /* already the host's order */
    (void)n;
#else
    unsigned char *p = (unsigned char *)v;
    for (size_t i = 0; i < n; i++, p += 4) {
        uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                     (uint32_t)p[3] << 24;
        memcpy(p, &u, 4);
    }
#endif
}

/* Reads a float32 tensor of exactly `expect` elements into dst. */
static nnp_status tensor_floats(const ld *L, const Onnx__TensorProto *t, const char *name,
                                size_t expect, float *dst)
{
    size_t count;
    NNPI_TRY(tensor_check_floats(L, t, name, expect));
    NNPI_TRY(tensor_located(L, t, name));
    if (t->data_type != DT_FLOAT)
        return node_error(L, NNP_EUNSUPPORTED, "tensor \"%.80s\": data type %d not supported "
                          "(float32 only)", name, (int)t->data_type);
    NNPI_TRY(tensor_count(L, t, name, &count));
    if (count != expect)
        return node_error(L, NNP_EFORMAT, "tensor \"%.80s\": %zu elements, expected %zu", name,
                          count, expect);
    if (t->has_raw_data && t->raw_data.len > 0) {
        if (t->raw_data.len != count * 4 || t->n_float_data)
            return node_error(L, NNP_EFORMAT, "tensor \"%.80s\": raw_data holds %zu bytes, its "
                              "shape needs %zu", name, t->raw_data.len, count * 4);
        /* the bytes land in dst directly (from memory or the file), then become floats */
        NNPI_TRY(nnpi_onnx_raw_data(L->rd, t, dst));
        floats_from_le(dst, count);
        return NNP_OK;
    }
    if (t->n_float_data != count)
        return node_error(L, NNP_EFORMAT, "tensor \"%.80s\": float_data holds %zu values, its "
                          "shape needs %zu", name, t->n_float_data, count);
    if (count) memcpy(dst, t->float_data, count * sizeof *dst);
    return NNP_OK;
}

/* Reads an int64 (or int32) tensor of at most `cap` elements. */
static nnp_status tensor_ints(const ld *L, const Onnx__TensorProto *t, const char *name,
                              size_t cap, int64_t *dst, size_t *n)
{
    size_t count;
    NNPI_TRY(tensor_located(L, t, name));
    if (t->data_type != DT_INT64 && t->data_type != DT_INT32)
        return node_error(L, NNP_EUNSUPPORTED, "tensor \"%.80s\": data type %d, expected int64",
                          name, (int)t->data_type);
    NNPI_TRY(tensor_count(L, t, name, &count));
    if (count > cap)
        return node_error(L, NNP_EUNSUPPORTED, "tensor \"%.80s\": %zu values, at most %zu "
                          "supported", name, count, cap);
    size_t w = t->data_type == DT_INT64 ? 8 : 4;
    if (t->has_raw_data && t->raw_data.len > 0) {
        if (t->raw_data.len != count * w)
            return node_error(L, NNP_EFORMAT, "tensor \"%.80s\": raw_data holds %zu bytes, its "
                              "shape needs %zu", name, t->raw_data.len, count * w);
        /* the count·w bytes into dst (count·8 bytes), then widened in place from the last
         * element down: element i's bytes lie at or before dst[i], never after it */
        const unsigned char *raw = (const unsigned char *)dst;
        NNPI_TRY(nnpi_onnx_raw_data(L->rd, t, dst));
        for (size_t i = count; i-- > 0;) {
            uint64_t u = 0;
            for (size_t b = 0; b < w; b++) u |= (uint64_t)raw[i * w + b] << (8 * b);
            if (w == 4) u = (uint64_t)(int64_t)(int32_t)(uint32_t)u;
            memcpy(&dst[i], &u, 8);
        }
    } else if (w == 8) {
        if (t->n_int64_data != count)
            return node_error(L, NNP_EFORMAT, "tensor \"%.80s\": int64_data holds %zu values, "
                              "its shape needs %zu", name, t->n_int64_data, count);
        for (size_t i = 0; i < count; i++) dst[i] = t->int64_data[i];
    } else {
        if (t->n_int32_data != count)
            return node_error(L, NNP_EFORMAT, "tensor \"%.80s\": int32_data holds %zu values, "
                              "its shape needs %zu", name, t->n_int32_data, count);
        for (size_t i = 0; i < count; i++) dst[i] = t->int32_data[i];
    }
    *n = count;
    return NNP_OK;
}

/* ---- node inputs and outputs ---- */

static const char *input_name(const ld *L, size_t k)
{
    return k < L->node->n_input && L->node->input[k] ? L->node->input[k] : "";
}

static int has_input(const ld *L, size_t k) { return input_name(L, k)[0] != 0; }

static nnp_status need_inputs(const ld *L, size_t lo, size_t hi)
{
    size_t n = L->node->n_input;
    while (n > 0 && !L->node->input[n - 1][0]) n--; /* trailing optional inputs left empty */
    if (n < lo || n > hi)
        return node_error(L, NNP_EFORMAT, "%zu inputs, expected %zu to %zu", n, lo, hi);
    for (size_t k = 0; k < lo; k++)
        if (!has_input(L, k)) return node_error(L, NNP_EFORMAT, "input %zu is empty", k);
    return NNP_OK;
}

static nnp_status layer_input(const ld *L, size_t k, val **v)
{
    long i = find_val(L, input_name(L, k));
    if (i < 0 || L->vals[i].kind != V_LAYER) {
        if (i >= 0 && L->vals[i].kind == V_CONST)
            return node_error(L, NNP_EUNSUPPORTED, "input \"%.80s\" is a constant: only "
                              "operators on the network's input are supported",
                              input_name(L, k));
        return node_error(L, NNP_EFORMAT, "input \"%.80s\" is undefined", input_name(L, k));
    }
    *v = &L->vals[i];
    return NNP_OK;
}

static nnp_status const_input(const ld *L, size_t k, const Onnx__TensorProto **t)
{
    long i = find_val(L, input_name(L, k));
    if (i < 0 || L->vals[i].kind != V_CONST)
        return node_error(L, NNP_EUNSUPPORTED, "input %zu (\"%.80s\") must be a constant "
                          "(initializer): computed weights not supported", k, input_name(L, k));
    *t = L->vals[i].t;
    return NNP_OK;
}

/* Output k of the node becomes a view of `layer` with the given rank. */
static void set_output(ld *L, size_t k, size_t layer, int rank, int direct)
{
    long i = find_val(L, L->node->output[k]);
    L->vals[i].kind = V_LAYER;
    L->vals[i].layer = layer;
    L->vals[i].rank = rank;
    L->vals[i].direct = direct;
}

/* Outputs beyond the first (masks, indices, running statistics) must be unused. */
static nnp_status only_first_output(const ld *L)
{
    if (L->node->n_output == 0 || !L->node->output[0][0])
        return node_error(L, NNP_EFORMAT, "no output");
    for (size_t k = 1; k < L->node->n_output; k++) {
        long i = L->node->output[k][0] ? find_val(L, L->node->output[k]) : -1;
        if (i >= 0 && L->vals[i].uses > 0)
            return node_error(L, NNP_EUNSUPPORTED, "output %zu (\"%.80s\") is used: not "
                              "supported", k, L->node->output[k]);
    }
    return NNP_OK;
}

static nnp_status layer_shape(const ld *L, size_t layer, nnp_layer_info *info)
{
    info->size = sizeof *info;
    return nnp_net_layer_info(L->net, layer, info);
}

static nnp_status need_spatial(const ld *L, const val *x)
{
    if (x->rank != 4 && x->rank != 3)
        return node_error(L, NNP_EUNSUPPORTED, "input \"%.80s\" has rank %d: N×C×H×W or N×C×L "
                          "needed", x->name, x->rank);
    return NNP_OK;
}

/* The ONNX dims of a layer value: d[1..rank-1] (d[0], the batch, is left 0). */
static void val_dims(const val *v, const nnp_layer_info *info, size_t d[4])
{
    d[0] = 0;
    if (v->rank == 2) {
        d[1] = info->output_size;
    } else if (v->rank == 3) {
        d[1] = info->channels;
        d[2] = info->width; /* a rank-3 value's layer has height 1 */
    } else {
        d[1] = info->channels;
        d[2] = info->height;
        d[3] = info->width;
    }
}

static nnp_status set_params(ld *L, size_t layer, const float *w, const float *b)
{
    nnp_status st = nnp_net_set_params(L->net, layer, w, b);
    return st == NNP_OK ? st : builder_error(L, st == NNP_EINVAL ? NNP_EFORMAT : st);
}

/* Reads constant input k as exactly `count` floats into a new buffer (freed by the caller). */
static nnp_status const_floats(const ld *L, size_t k, size_t count, float **out)
{
    const Onnx__TensorProto *t;
    *out = NULL;
    NNPI_TRY(const_input(L, k, &t));
    NNPI_TRY(tensor_check_floats(L, t, input_name(L, k), count));
    float *p = nnpi_malloc(nnpi_mul(count ? count : 1, sizeof *p));
    if (!p) return nnpi_error(NNP_ENOMEM, "onnx: out of memory reading a tensor");
    nnp_status st = tensor_floats(L, t, input_name(L, k), count, p);
    if (st != NNP_OK) {
        nnpi_free(p);
        return st;
    }
    *out = p;
    return NNP_OK;
}

/* ---- operators ---- */

/* An element-wise activation; the caller has checked the attributes. */
/* An element-wise activation of `kind`; `alpha` is the leaky ReLU's slope (unused otherwise). */
static nnp_status add_activation(ld *L, nnp_layer_kind kind, float alpha)
{
    val *x;
    size_t layer;
    NNPI_TRY(need_inputs(L, 1, 1));
    NNPI_TRY(layer_input(L, 0, &x));
    NNPI_TRY(nnp_net_branch_from(L->net, x->layer));
    nnp_status st = kind == NNP_LAYER_LEAKY_RELU ? nnp_net_add_leaky_relu(L->net, alpha, &layer)
                                                 : nnp_net_add_activation(L->net, kind, &layer);
    if (st != NNP_OK) return builder_error(L, st);
    set_output(L, 0, layer, x->rank, 1);
    return NNP_OK;
}

static nnp_status op_activation(ld *L, nnp_layer_kind kind)
{
    static const char *const none[] = {NULL};
    NNPI_TRY(check_attrs(L, none));
    return add_activation(L, kind, 0.0f);
}

static nnp_status op_leaky_relu(ld *L)
{
    static const char *const allowed[] = {"alpha", NULL};
    float alpha;
    NNPI_TRY(check_attrs(L, allowed));
    NNPI_TRY(attr_float(L, "alpha", 0.01f, &alpha));
    return add_activation(L, NNP_LAYER_LEAKY_RELU, alpha);
}

/* Dense layer of `units` × K weights alpha·op(B), op(B) = B when trans_b (B is units × K, the
 * layer's row-major layout) else Bᵀ, and biases b (units, already scaled). B is decoded
 * straight into the layer's parameters, so a large weight matrix is never held twice; only a
 * B to transpose goes through one temporary copy. The weights are then checked finite as
 * nnp_net_set_params() would (same message). */
static nnp_status make_dense(ld *L, const val *x, size_t units, size_t K,
                             const Onnx__TensorProto *B, int trans_b, float alpha, const float *b)
{
    size_t layer, nw = nnpi_mul(units, K);
    NNPI_TRY(nnp_net_branch_from(L->net, x->layer));
    nnp_status st = nnp_net_add_dense(L->net, units, &layer);
    if (st != NNP_OK) return builder_error(L, st);
    float *w = nnpi_net_layer_params(L->net, layer);
    if (trans_b) {
        NNPI_TRY(tensor_floats(L, B, input_name(L, 1), nw, w));
        if (alpha != 1.0f)
            for (size_t i = 0; i < nw; i++) w[i] *= alpha;
    } else {
        float *braw = nnpi_malloc(nnpi_mul(nw, sizeof *braw));
        if (!braw) return nnpi_error(NNP_ENOMEM, "onnx: out of memory for %zu weights", nw);
        st = tensor_floats(L, B, input_name(L, 1), nw, braw);
        for (size_t u = 0; st == NNP_OK && u < units; u++)
            for (size_t k = 0; k < K; k++) w[u * K + k] = alpha * braw[k * units + u];
        nnpi_free(braw);
        NNPI_TRY(st);
    }
    size_t bad = nnpi_first_nonfinite(w, nw);
    if (bad < nw)
        return builder_error(L, nnpi_error(NNP_EFORMAT, "nnp_net_set_params: layer %zu: "
                                           "weights[%zu] is not finite", layer, bad));
    NNPI_TRY(set_params(L, layer, NULL, b));
    set_output(L, 0, layer, 2, 1);
    return NNP_OK;
}

/* Gemm: Y = alpha·A·op(B) + beta·C with A the N×K activations. */
static nnp_status op_gemm(ld *L, int matmul)
{
    static const char *const gemm_attrs[] = {"alpha", "beta", "transA", "transB", "broadcast",
                                             NULL};
    static const char *const none[] = {NULL};
    const Onnx__TensorProto *B, *C = NULL;
    val *x;
    nnp_layer_info xi;
    int64_t trans_a = 0, trans_b = 0, bcast;
    float alpha = 1.0f, beta = 1.0f;
    NNPI_TRY(check_attrs(L, matmul ? none : gemm_attrs));
    NNPI_TRY(need_inputs(L, 2, matmul ? 2 : 3));
    if (!matmul) {
        NNPI_TRY(attr_float(L, "alpha", 1.0f, &alpha));
        NNPI_TRY(attr_float(L, "beta", 1.0f, &beta));
        NNPI_TRY(attr_int(L, "transA", 0, &trans_a));
        NNPI_TRY(attr_int(L, "transB", 0, &trans_b));
        NNPI_TRY(attr_int(L, "broadcast", 0, &bcast));
        if (trans_a != 0)
            return node_error(L, NNP_EUNSUPPORTED, "transA=%lld not supported (it would "
                              "transpose the batch)", (long long)trans_a);
    }
    NNPI_TRY(layer_input(L, 0, &x));
    if (x->rank != 2)
        return node_error(L, matmul ? NNP_EUNSUPPORTED : NNP_EFORMAT, "input \"%.80s\" has "
                          "rank %d, expected N×K (rank 2)", x->name, x->rank);
    NNPI_TRY(layer_shape(L, x->layer, &xi));
    NNPI_TRY(const_input(L, 1, &B));
    if (B->n_dims != 2)
        return node_error(L, NNP_EUNSUPPORTED, "B has rank %zu, expected 2", B->n_dims);
    if (B->dims[0] < 1 || B->dims[1] < 1 || B->dims[0] > DIM_MAX || B->dims[1] > DIM_MAX)
        return node_error(L, NNP_EFORMAT, "B has dimensions [%lld,%lld]",
                          (long long)B->dims[0], (long long)B->dims[1]);
    size_t K = (size_t)(trans_b ? B->dims[1] : B->dims[0]);
    size_t units = (size_t)(trans_b ? B->dims[0] : B->dims[1]);
    if (K != xi.output_size)
        return node_error(L, NNP_EFORMAT, "B has shape [%lld,%lld] (transB=%lld) but the input "
                          "has %zu values per example", (long long)B->dims[0],
                          (long long)B->dims[1], (long long)trans_b, xi.output_size);
    size_t nw = nnpi_mul(units, K);
    NNPI_TRY(tensor_check_floats(L, B, input_name(L, 1), nw));
    if (matmul ? 0 : has_input(L, 2)) NNPI_TRY(const_input(L, 2, &C));

    size_t cc = 0;
    if (C) {
        NNPI_TRY(tensor_count(L, C, input_name(L, 2), &cc));
        int ok = C->n_dims <= 2 && (cc == 1 || cc == units) &&
                 (C->n_dims == 0 || (size_t)C->dims[C->n_dims - 1] == cc);
        if (!ok)
            return node_error(L, NNP_EUNSUPPORTED, "C has %zu elements in %zu dimensions: only "
                              "a scalar or one bias per unit supported", cc, C->n_dims);
    }
    nnp_status st = NNP_OK;
    float *b = NULL, *craw = NULL;
    b = nnpi_calloc(units, sizeof *b);
    if (!b) {
        st = nnpi_error(NNP_ENOMEM, "onnx: out of memory for %zu biases", units);
        goto done;
    }
    if (C) {
        st = const_floats(L, 2, cc, &craw);
        if (st != NNP_OK) goto done;
        for (size_t u = 0; u < units; u++) b[u] = beta * craw[cc == 1 ? 0 : u];
    }
    st = make_dense(L, x, units, K, B, (int)(trans_b != 0), alpha, b);
done:
    nnpi_free(b);
    nnpi_free(craw);
    return st;
}

/* Padding from auto_pad (ONNX Conv/MaxPool/AveragePool): SAME_* pads so out = ceil(in/s). */
static nnp_status auto_pad(const ld *L, const char *mode, size_t in, size_t k, size_t s,
                           size_t d, size_t *before, size_t *after)
{
    if (strcmp(mode, "VALID") == 0) {
        *before = *after = 0;
        return NNP_OK;
    }
    int upper = strcmp(mode, "SAME_UPPER") == 0;
    if (!upper && strcmp(mode, "SAME_LOWER") != 0)
        return node_error(L, NNP_EUNSUPPORTED, "auto_pad=%s not supported", mode);
    size_t out = (in + s - 1) / s;
    size_t need = (out - 1) * s + (k - 1) * d + 1;
    size_t total = need > in ? need - in : 0;
    *before = upper ? total / 2 : total - total / 2;
    *after = total - *before;
    return NNP_OK;
}

/* The spatial attributes Conv and the pools share: kernel_shape, strides, pads, dilations,
 * auto_pad, for 2-D (rank-4 input) or 1-D (rank-3 input, a C×1×L layer: the height axis gets
 * kernel 1, stride 1, no padding). Index 0 is height, 1 width; pads are top, left, bottom,
 * right. For Conv, k[] already holds the kernel from W; pools read kernel_shape. */
typedef struct spatial {
    int64_t k[2], s[2], d[2], p[4];
} spatial;

static nnp_status read_spatial(const ld *L, const val *x, const nnp_layer_info *xi, int conv,
                               spatial *sp)
{
    size_t nsp = (size_t)x->rank - 2, o = 2 - nsp; /* spatial axes; first one in the arrays */
    int present, pads_given;
    int64_t ks[2] = {1, 1}, st[2] = {1, 1}, dl[2] = {1, 1}, pd[4] = {0, 0, 0, 0};
    char mode[32];
    NNPI_TRY(attr_ints(L, "kernel_shape", nsp, 1, ks + o, &present));
    if (conv) {
        if (present && (ks[0] != sp->k[0] || ks[1] != sp->k[1]))
            return node_error(L, NNP_EFORMAT, "kernel_shape disagrees with W's shape");
    } else {
        if (!present) return node_error(L, NNP_EFORMAT, "kernel_shape missing");
        sp->k[0] = ks[0];
        sp->k[1] = ks[1];
    }
    NNPI_TRY(attr_ints(L, "strides", nsp, 1, st + o, &present));
    NNPI_TRY(attr_ints(L, "dilations", nsp, 1, dl + o, &present));
    NNPI_TRY(attr_ints(L, "pads", 2 * nsp, 0, pd, &pads_given));
    if (nsp == 1) { /* [begin, end] of the one axis: left and right */
        pd[3] = pd[1];
        pd[1] = pd[0];
        pd[0] = 0;
    }
    memcpy(sp->s, st, sizeof st);
    memcpy(sp->d, dl, sizeof dl);
    memcpy(sp->p, pd, sizeof pd);
    NNPI_TRY(attr_string(L, "auto_pad", "NOTSET", mode, sizeof mode));
    if (strcmp(mode, "NOTSET") != 0) {
        size_t b, a;
        if (pads_given && (sp->p[0] || sp->p[1] || sp->p[2] || sp->p[3]))
            return node_error(L, NNP_EFORMAT, "both pads and auto_pad=%s given", mode);
        NNPI_TRY(auto_pad(L, mode, xi->height, (size_t)sp->k[0], (size_t)sp->s[0],
                          (size_t)sp->d[0], &b, &a));
        sp->p[0] = (int64_t)b;
        sp->p[2] = (int64_t)a;
        NNPI_TRY(auto_pad(L, mode, xi->width, (size_t)sp->k[1], (size_t)sp->s[1],
                          (size_t)sp->d[1], &b, &a));
        sp->p[1] = (int64_t)b;
        sp->p[3] = (int64_t)a;
    }
    return NNP_OK;
}

static nnp_status op_conv(ld *L)
{
    static const char *const allowed[] = {"auto_pad", "dilations", "group", "kernel_shape",
                                          "pads", "strides", NULL};
    const Onnx__TensorProto *W;
    val *x;
    nnp_layer_info xi;
    int64_t group;
    spatial sp;
    NNPI_TRY(check_attrs(L, allowed));
    NNPI_TRY(need_inputs(L, 2, 3));
    NNPI_TRY(layer_input(L, 0, &x));
    NNPI_TRY(need_spatial(L, x));
    NNPI_TRY(layer_shape(L, x->layer, &xi));
    NNPI_TRY(const_input(L, 1, &W));
    if (W->n_dims != (size_t)x->rank)
        return node_error(L, W->n_dims == 5 ? NNP_EUNSUPPORTED : NNP_EFORMAT, "W has rank %zu "
                          "for an input of rank %d: only 1-D and 2-D convolution supported",
                          W->n_dims, x->rank);
    for (size_t i = 0; i < W->n_dims; i++)
        if (W->dims[i] < 1 || W->dims[i] > DIM_MAX)
            return node_error(L, NNP_EFORMAT, "W dimension %zu is %lld", i,
                              (long long)W->dims[i]);
    NNPI_TRY(attr_int(L, "group", 1, &group));
    if (group < 1 || group > DIM_MAX)
        return node_error(L, NNP_EFORMAT, "group=%lld", (long long)group);
    if ((size_t)W->dims[1] * (size_t)group != xi.channels || W->dims[0] % group != 0)
        return node_error(L, NNP_EFORMAT, "W has shape [%lld,%lld,...] but the input has %zu "
                          "channels and group=%lld", (long long)W->dims[0],
                          (long long)W->dims[1], xi.channels, (long long)group);
    sp.k[0] = x->rank == 4 ? W->dims[2] : 1;
    sp.k[1] = W->dims[x->rank - 1];
    NNPI_TRY(read_spatial(L, x, &xi, 1, &sp));
    for (size_t i = 0; i < 4; i++) sp.p[i] += (int64_t)x->pad[i]; /* a folded Pad (op_pad) */

    nnp_net_conv2d_opts o;
    NNPI_TRY(nnp_net_conv2d_opts_init(&o));
    o.out_channels = (size_t)W->dims[0];
    o.kernel_h = (size_t)sp.k[0];
    o.kernel_w = (size_t)sp.k[1];
    o.stride_h = (size_t)sp.s[0];
    o.stride_w = (size_t)sp.s[1];
    o.dilation_h = (size_t)sp.d[0];
    o.dilation_w = (size_t)sp.d[1];
    o.pad_top = (size_t)sp.p[0];
    o.pad_left = (size_t)sp.p[1];
    o.pad_bottom = (size_t)sp.p[2];
    o.pad_right = (size_t)sp.p[3];
    o.groups = (size_t)group;
    o.bias = has_input(L, 2);

    size_t nw = nnpi_mul(nnpi_mul(o.out_channels, (size_t)W->dims[1]),
                         nnpi_mul(o.kernel_h, o.kernel_w));
    if (nw > COUNT_MAX) return node_error(L, NNP_EFORMAT, "W has more than 2^31 elements");
    float *w = NULL, *b = NULL;
    size_t layer;
    nnp_status st = const_floats(L, 1, nw, &w);
    if (st == NNP_OK && o.bias) st = const_floats(L, 2, o.out_channels, &b);
    if (st == NNP_OK) st = nnp_net_branch_from(L->net, x->layer);
    if (st == NNP_OK) {
        st = nnp_net_add_conv2d(L->net, &o, &layer);
        if (st != NNP_OK) st = builder_error(L, st);
    }
    if (st == NNP_OK) st = set_params(L, layer, w, b);
    if (st == NNP_OK) set_output(L, 0, layer, x->rank, 1);
    nnpi_free(w);
    nnpi_free(b);
    return st;
}

static nnp_status op_pool(ld *L, int max)
{
    static const char *const max_attrs[] = {"auto_pad", "ceil_mode", "dilations", "kernel_shape",
                                            "pads", "storage_order", "strides", NULL};
    static const char *const avg_attrs[] = {"auto_pad", "ceil_mode", "count_include_pad",
                                            "dilations", "kernel_shape", "pads", "strides",
                                            NULL};
    val *x;
    nnp_layer_info xi;
    int64_t ceil_mode, cip = 0;
    spatial sp;
    NNPI_TRY(check_attrs(L, max ? max_attrs : avg_attrs));
    NNPI_TRY(need_inputs(L, 1, 1));
    NNPI_TRY(only_first_output(L));
    NNPI_TRY(layer_input(L, 0, &x));
    NNPI_TRY(need_spatial(L, x));
    NNPI_TRY(layer_shape(L, x->layer, &xi));
    NNPI_TRY(read_spatial(L, x, &xi, 0, &sp));
    NNPI_TRY(attr_int(L, "ceil_mode", 0, &ceil_mode));
    if (ceil_mode != 0 && ceil_mode != 1)
        return node_error(L, NNP_EFORMAT, "ceil_mode=%lld (0 or 1)", (long long)ceil_mode);
    if (sp.d[0] != 1 || sp.d[1] != 1) {
        if (x->rank == 3)
            return node_error(L, NNP_EUNSUPPORTED, "dilations=[%lld] not supported",
                              (long long)sp.d[1]);
        return node_error(L, NNP_EUNSUPPORTED, "dilations=[%lld,%lld] not supported",
                          (long long)sp.d[0], (long long)sp.d[1]);
    }
    if (!max) NNPI_TRY(attr_int(L, "count_include_pad", 0, &cip));
    if (x->pad[0] || x->pad[1] || x->pad[2] || x->pad[3]) { /* a folded Pad (op_pad) */
        for (size_t i = 0; i < 4; i++) sp.p[i] += (int64_t)x->pad[i];
        cip = 1;
    }

    nnp_net_pool2d_opts o;
    size_t layer;
    NNPI_TRY(nnp_net_pool2d_opts_init(&o));
    o.kernel_h = (size_t)sp.k[0];
    o.kernel_w = (size_t)sp.k[1];
    o.stride_h = (size_t)sp.s[0];
    o.stride_w = (size_t)sp.s[1];
    o.pad_top = (size_t)sp.p[0];
    o.pad_left = (size_t)sp.p[1];
    o.pad_bottom = (size_t)sp.p[2];
    o.pad_right = (size_t)sp.p[3];
    o.count_include_pad = cip != 0;
    o.ceil_mode = ceil_mode != 0;
    NNPI_TRY(nnp_net_branch_from(L->net, x->layer));
    nnp_status st = max ? nnp_net_add_maxpool2d(L->net, &o, &layer)
                        : nnp_net_add_avgpool2d(L->net, &o, &layer);
    if (st != NNP_OK) return builder_error(L, st);
    set_output(L, 0, layer, x->rank, 1);
    return NNP_OK;
}

static nnp_status op_global_avgpool(ld *L)
{
    static const char *const none[] = {NULL};
    val *x;
    size_t layer;
    NNPI_TRY(check_attrs(L, none));
    NNPI_TRY(need_inputs(L, 1, 1));
    NNPI_TRY(layer_input(L, 0, &x));
    NNPI_TRY(need_spatial(L, x));
    NNPI_TRY(nnp_net_branch_from(L->net, x->layer));
    nnp_status st = nnp_net_add_global_avgpool(L->net, &layer);
    if (st != NNP_OK) return builder_error(L, st);
    set_output(L, 0, layer, x->rank, 1);
    return NNP_OK;
}

static nnp_status op_lrn(ld *L)
{
    static const char *const allowed[] = {"alpha", "beta", "bias", "size", NULL};
    val *x;
    float alpha, beta, bias;
    int64_t size;
    size_t layer;
    NNPI_TRY(check_attrs(L, allowed));
    NNPI_TRY(need_inputs(L, 1, 1));
    NNPI_TRY(layer_input(L, 0, &x));
    NNPI_TRY(need_spatial(L, x));
    NNPI_TRY(attr_float(L, "alpha", 1e-4f, &alpha));
    NNPI_TRY(attr_float(L, "beta", 0.75f, &beta));
    NNPI_TRY(attr_float(L, "bias", 1.0f, &bias));
    NNPI_TRY(attr_int(L, "size", 0, &size));
    if (size < 1 || size > DIM_MAX)
        return node_error(L, NNP_EFORMAT, "size=%lld (required, ≥ 1)", (long long)size);
    NNPI_TRY(nnp_net_branch_from(L->net, x->layer));
    nnp_status st = nnp_net_add_lrn(L->net, (size_t)size, alpha, beta, bias, &layer);
    if (st != NNP_OK) return builder_error(L, st);
    set_output(L, 0, layer, x->rank, 1);
    return NNP_OK;
}

static nnp_status op_batchnorm(ld *L)
{
    static const char *const allowed[] = {"epsilon", "momentum", "spatial", "is_test",
                                          "training_mode", NULL};
    val *x;
    nnp_layer_info xi;
    float eps, momentum;
    int64_t spatial_attr, is_test, training;
    NNPI_TRY(check_attrs(L, allowed));
    NNPI_TRY(need_inputs(L, 5, 5));
    NNPI_TRY(only_first_output(L));
    NNPI_TRY(attr_float(L, "epsilon", 1e-5f, &eps));
    NNPI_TRY(attr_float(L, "momentum", 0.9f, &momentum));
    NNPI_TRY(attr_int(L, "spatial", 1, &spatial_attr));
    NNPI_TRY(attr_int(L, "is_test", L->opset < 7 ? 0 : 1, &is_test));
    NNPI_TRY(attr_int(L, "training_mode", 0, &training));
    if (spatial_attr != 1)
        return node_error(L, NNP_EUNSUPPORTED, "spatial=%lld not supported",
                          (long long)spatial_attr);
    if (L->opset < 7 && is_test == 0)
        return node_error(L, NNP_EUNSUPPORTED, "is_test=0 (training mode) not supported");
    if (training != 0)
        return node_error(L, NNP_EUNSUPPORTED, "training_mode=%lld not supported (inference "
                          "only)", (long long)training);
    NNPI_TRY(layer_input(L, 0, &x));
    NNPI_TRY(layer_shape(L, x->layer, &xi));
    if (x->rank == 2 && xi.height * xi.width != 1)
        return node_error(L, NNP_EUNSUPPORTED, "input \"%.80s\" is a rank-2 view of a C×H×W "
                          "layer: per-feature statistics not supported", x->name);
    size_t C = xi.channels;
    float *sc = NULL, *bias = NULL, *mean = NULL, *var = NULL, *w = NULL;
    size_t layer;
    nnp_status st = const_floats(L, 1, C, &sc);
    if (st == NNP_OK) st = const_floats(L, 2, C, &bias);
    if (st == NNP_OK) st = const_floats(L, 3, C, &mean);
    if (st == NNP_OK) st = const_floats(L, 4, C, &var);
    if (st == NNP_OK && !(w = nnpi_malloc(nnpi_mul(3 * C, sizeof *w))))
        st = nnpi_error(NNP_ENOMEM, "onnx: out of memory");
    if (st == NNP_OK) {
        /* library layout: weights = scale, mean, var; biases = bias (net.h) */
        memcpy(w, sc, C * sizeof *w);
        memcpy(w + C, mean, C * sizeof *w);
        memcpy(w + 2 * C, var, C * sizeof *w);
        st = nnp_net_branch_from(L->net, x->layer);
    }
    if (st == NNP_OK) {
        st = nnp_net_add_batchnorm(L->net, eps, &layer);
        if (st != NNP_OK) st = builder_error(L, st);
    }
    if (st == NNP_OK) st = set_params(L, layer, w, bias);
    if (st == NNP_OK) set_output(L, 0, layer, x->rank, 1);
    nnpi_free(sc);
    nnpi_free(bias);
    nnpi_free(mean);
    nnpi_free(var);
    nnpi_free(w);
    return st;
}

static nnp_status op_dropout(ld *L)
{
    static const char *const allowed[] = {"ratio", "seed", "is_test", NULL};
    val *x;
    float ratio = 0.5f;
    int64_t is_test;
    size_t layer;
    NNPI_TRY(check_attrs(L, allowed));
    NNPI_TRY(need_inputs(L, 1, L->opset >= 12 ? 3 : 1));
    NNPI_TRY(only_first_output(L));
    NNPI_TRY(layer_input(L, 0, &x));
    NNPI_TRY(attr_int(L, "is_test", L->opset < 7 ? 0 : 1, &is_test));
    if (L->opset < 7 && is_test == 0)
        return node_error(L, NNP_EUNSUPPORTED, "is_test=0 (training mode) not supported");
    if (L->opset < 12) {
        NNPI_TRY(attr_float(L, "ratio", 0.5f, &ratio));
    } else if (has_input(L, 1)) {
        float *r;
        NNPI_TRY(const_floats(L, 1, 1, &r));
        ratio = r[0];
        nnpi_free(r);
    }
    if (has_input(L, 2)) {
        const Onnx__TensorProto *t;
        size_t c;
        NNPI_TRY(const_input(L, 2, &t));
        NNPI_TRY(tensor_count(L, t, input_name(L, 2), &c));
        int on = 0;
        if (t->data_type != DT_BOOL || c != 1)
            return node_error(L, NNP_EFORMAT, "training_mode must be one bool");
        if (t->has_raw_data && t->raw_data.len == 1) on = t->raw_data.data[0] != 0;
        else if (t->n_int32_data == 1) on = t->int32_data[0] != 0;
        else return node_error(L, NNP_EFORMAT, "training_mode holds no value");
        if (on) return node_error(L, NNP_EUNSUPPORTED, "training_mode=1 not supported");
    }
    NNPI_TRY(nnp_net_branch_from(L->net, x->layer));
    nnp_status st = nnp_net_add_dropout(L->net, ratio, &layer);
    if (st != NNP_OK) return builder_error(L, st);
    set_output(L, 0, layer, x->rank, 1);
    return NNP_OK;
}

static nnp_status op_flatten(ld *L)
{
    static const char *const allowed[] = {"axis", NULL};
    val *x;
    int64_t axis;
    size_t layer;
    NNPI_TRY(check_attrs(L, allowed));
    NNPI_TRY(need_inputs(L, 1, 1));
    NNPI_TRY(layer_input(L, 0, &x));
    NNPI_TRY(attr_int(L, "axis", 1, &axis));
    if (axis < 0) axis += x->rank;
    if (axis != 1)
        return node_error(L, NNP_EUNSUPPORTED, "axis=%lld not supported (only axis 1, keeping "
                          "the batch dimension)", (long long)axis);
    NNPI_TRY(nnp_net_branch_from(L->net, x->layer));
    nnp_status st = nnp_net_add_flatten(L->net, &layer);
    if (st != NNP_OK) return builder_error(L, st);
    set_output(L, 0, layer, 2, 1);
    return NNP_OK;
}

/* Reshape between N×C×H×W (or N×C×L) and N×(C·H·W): a view, no layer. */
static nnp_status op_reshape(ld *L)
{
    static const char *const allowed[] = {"allowzero", NULL};
    val *x;
    nnp_layer_info xi;
    int64_t shape[8], allowzero;
    size_t n = 0, in_dims[4];
    NNPI_TRY(check_attrs(L, allowed));
    NNPI_TRY(layer_input(L, 0, &x));
    NNPI_TRY(layer_shape(L, x->layer, &xi));
    const Onnx__TensorProto *t;
    NNPI_TRY(need_inputs(L, 2, 2));
    NNPI_TRY(const_input(L, 1, &t));
    NNPI_TRY(tensor_ints(L, t, input_name(L, 1), 8, shape, &n));
    NNPI_TRY(attr_int(L, "allowzero", 0, &allowzero));
    if (n < 2 || n > 4)
        return node_error(L, NNP_EUNSUPPORTED, "target rank %zu not supported (2 to 4)", n);
    val_dims(x, &xi, in_dims);
    if (!(shape[0] >= -1) || (shape[0] == 0 && allowzero))
        return node_error(L, NNP_EUNSUPPORTED, "shape[0]=%lld not supported",
                          (long long)shape[0]);
    size_t known = 1;
    int infer = -1;
    for (size_t i = 1; i < n; i++) {
        int64_t v = shape[i];
        if (v == 0 && !allowzero && (int)i < x->rank) v = (int64_t)in_dims[i];
        if (v == -1 && infer < 0 && shape[0] != -1) {
            infer = (int)i;
            continue;
        }
        if (v < 1 || v > DIM_MAX)
            return node_error(L, NNP_EUNSUPPORTED, "shape[%zu]=%lld not supported", i,
                              (long long)shape[i]);
        shape[i] = v;
        known = nnpi_mul(known, (size_t)v);
    }
    if (infer > 0 && xi.output_size % known == 0) {
        shape[infer] = (int64_t)(xi.output_size / known);
        known = xi.output_size;
    }
    /* any other size moves values between examples (a valid model, but not a layer) */
    if (known != xi.output_size)
        return node_error(L, NNP_EUNSUPPORTED, "reshape changes the batch dimension (%zu values "
                          "per example in, %s out)", xi.output_size,
                          infer > 0 ? "a multiple of another count" : "another count");
    /* to N×D: a flatten without a layer; to rank 3 or 4: only the layer's own shape */
    int same = n == 2 || (n == 3 && xi.height == 1 && (size_t)shape[1] == xi.channels) ||
               (n == 4 && (size_t)shape[1] == xi.channels && (size_t)shape[2] == xi.height &&
                (size_t)shape[3] == xi.width);
    if (!same)
        return node_error(L, NNP_EUNSUPPORTED, "reshape to rank %zu other than the layer's own "
                          "%zu×%zu×%zu not supported", n, xi.channels, xi.height, xi.width);
    set_output(L, 0, x->layer, (int)n, 0);
    return NNP_OK;
}

/* Identity, and Softmax/LogSoftmax as the output head: views of the input. */
static nnp_status op_identity(ld *L)
{
    static const char *const none[] = {NULL};
    long i = find_val(L, input_name(L, 0));
    NNPI_TRY(check_attrs(L, none));
    NNPI_TRY(need_inputs(L, 1, 1));
    if (i < 0) return node_error(L, NNP_EFORMAT, "input undefined");
    long o = find_val(L, L->node->output[0]);
    val keep = L->vals[o];
    L->vals[o] = L->vals[i];
    L->vals[o].name = keep.name;
    L->vals[o].uses = keep.uses;
    L->vals[o].producer = keep.producer;
    L->vals[o].direct = 0;
    return NNP_OK;
}

static nnp_status op_softmax(ld *L, const char *graph_output)
{
    static const char *const allowed[] = {"axis", NULL};
    val *x;
    nnp_layer_info xi;
    int64_t axis;
    NNPI_TRY(check_attrs(L, allowed));
    NNPI_TRY(need_inputs(L, 1, 1));
    NNPI_TRY(layer_input(L, 0, &x));
    NNPI_TRY(layer_shape(L, x->layer, &xi));
    if (strcmp(L->node->output[0], graph_output) != 0)
        return node_error(L, NNP_EUNSUPPORTED, "supported only as the last node (the output "
                          "head, which loading removes)");
    NNPI_TRY(attr_int(L, "axis", L->opset < 13 ? 1 : -1, &axis));
    int64_t a = axis < 0 ? axis + x->rank : axis;
    /* Over all of an example's values? Before opset 13 the input is coerced to 2-D at `axis`
     * (the dims before it, batch excepted, must be 1); from 13 on only that axis counts (all
     * other per-example dims must be 1). */
    size_t d[4];
    val_dims(x, &xi, d);
    int whole = a >= 1 && a < x->rank;
    for (int64_t i = 1; whole && i < x->rank; i++)
        if (i != a && (i < a || L->opset >= 13) && d[i] != 1) whole = 0;
    if (!whole)
        return node_error(L, NNP_EUNSUPPORTED, "axis=%lld not supported (only over all of an "
                          "example's values)", (long long)axis);
    set_output(L, 0, x->layer, x->rank, 0);
    return NNP_OK;
}

/* Add: a residual connection, or a constant bias folded into the dense/conv layer before. */
static nnp_status op_add(ld *L)
{
    static const char *const allowed[] = {"broadcast", "axis", NULL};
    long ia, ib;
    NNPI_TRY(check_attrs(L, allowed));
    NNPI_TRY(need_inputs(L, 2, 2));
    ia = find_val(L, input_name(L, 0));
    ib = find_val(L, input_name(L, 1));
    if (ia < 0 || ib < 0) return node_error(L, NNP_EFORMAT, "input undefined");
    val *a = &L->vals[ia], *b = &L->vals[ib];
    if (a->kind == V_LAYER && b->kind == V_LAYER) {
        nnp_layer_info ai, bi;
        size_t layer;
        NNPI_TRY(layer_shape(L, a->layer, &ai));
        NNPI_TRY(layer_shape(L, b->layer, &bi));
        if (a->rank != b->rank || ai.channels != bi.channels || ai.height != bi.height ||
            ai.width != bi.width)
            return node_error(L, NNP_EUNSUPPORTED, "operands of shapes %zu×%zu×%zu (rank %d) "
                              "and %zu×%zu×%zu (rank %d): broadcasting not supported",
                              ai.channels, ai.height, ai.width, a->rank, bi.channels,
                              bi.height, bi.width, b->rank);
        nnp_status st = nnp_net_add_add(L->net, a->layer, b->layer, &layer);
        if (st != NNP_OK) return builder_error(L, st);
        set_output(L, 0, layer, a->rank, 1);
        return NNP_OK;
    }
    if (a->kind != V_LAYER && b->kind != V_LAYER)
        return node_error(L, NNP_EUNSUPPORTED, "both operands constant: constant folding not "
                          "supported");
    val *x = a->kind == V_LAYER ? a : b;
    size_t kc = a->kind == V_LAYER ? 1 : 0;
    const Onnx__TensorProto *t = (a->kind == V_LAYER ? b : a)->t;
    nnp_layer_info xi;
    NNPI_TRY(layer_shape(L, x->layer, &xi));
    int foldable = x->direct && x->uses == 1 &&
                   (xi.kind == NNP_LAYER_DENSE ||
                    (xi.kind == NNP_LAYER_CONV2D && xi.bias_count > 0));
    if (!foldable)
        return node_error(L, NNP_EUNSUPPORTED, "adding a constant is supported only as the bias "
                          "of the dense or convolution layer (with bias) right before");
    size_t cc;
    NNPI_TRY(tensor_count(L, t, input_name(L, kc), &cc));
    size_t C = xi.channels;
    int ok = cc == 1;
    if (!ok && cc == C) {
        /* [C], [1,C] after a dense layer; [C,1,1], [1,C,1,1] after a convolution */
        /* [C] or [1,C] after a dense layer; [C,1(,1)] or [1,C,1(,1)] after a convolution:
         * the trailing rank−2 dims are 1 and the one before them is C */
        size_t r = t->n_dims, tail = (size_t)x->rank - 2;
        ok = r >= tail + 1 && (size_t)t->dims[r - tail - 1] == C;
        for (size_t i = r - tail; ok && i < r; i++) ok = t->dims[i] == 1;
    }
    if (!ok)
        return node_error(L, NNP_EUNSUPPORTED, "constant of %zu elements in %zu dimensions is "
                          "not a per-%s bias", cc, t->n_dims, x->rank == 2 ? "unit" : "channel");
    float *c = NULL, *bias = nnpi_malloc(nnpi_mul(C, sizeof *bias));
    nnp_status st = bias ? NNP_OK : nnpi_error(NNP_ENOMEM, "onnx: out of memory");
    if (st == NNP_OK) st = const_floats(L, kc, cc, &c);
    if (st == NNP_OK) st = nnp_net_get_params(L->net, x->layer, NULL, bias);
    if (st == NNP_OK) {
        for (size_t i = 0; i < C; i++) bias[i] += c[cc == 1 ? 0 : i];
        st = set_params(L, x->layer, NULL, bias);
    }
    if (st == NNP_OK) set_output(L, 0, x->layer, x->rank, 1);
    nnpi_free(c);
    nnpi_free(bias);
    return st;
}

static nnp_status op_constant(ld *L)
{
    static const char *const allowed[] = {"value", NULL};
    NNPI_TRY(check_attrs(L, allowed));
    const Onnx__AttributeProto *a = attr(L, "value");
    if (!a || !a->t || (a->has_type && a->type != AT_TENSOR))
        return node_error(L, NNP_EFORMAT, "attribute value (a TENSOR) missing");
    NNPI_TRY(need_inputs(L, 0, 0));
    long o = find_val(L, L->node->output[0]);
    L->vals[o].kind = V_CONST;
    L->vals[o].t = a->t;
    return NNP_OK;
}

/* ---- element-wise and spatial operators of the torchvision zoo ---- */

/* One float of an optional scalar constant input k (Clip's min/max, Pad's constant_value);
 * absent or empty: *v unchanged. */
static nnp_status const_scalar(const ld *L, size_t k, float *v)
{
    if (!has_input(L, k)) return NNP_OK;
    float *p;
    NNPI_TRY(const_floats(L, k, 1, &p));
    *v = p[0];
    nnpi_free(p);
    return NNP_OK;
}

/* Clip: y = min(max(x, min), max). Opset 6–10 give min/max as attributes, 11 on as optional
 * constant scalar inputs; absent bounds are none (ONNX: the type's lowest/highest value). */
static nnp_status op_clip(ld *L)
{
    static const char *const attrs6[] = {"min", "max", NULL};
    static const char *const none[] = {NULL};
    val *x;
    float lo = -INFINITY, hi = INFINITY;
    size_t layer;
    if (L->opset < 6)
        return node_error(L, NNP_EUNSUPPORTED, "opset %lld: Clip-1 (consumed_inputs) not "
                          "supported, opset 6 or later needed", (long long)L->opset);
    NNPI_TRY(check_attrs(L, L->opset < 11 ? attrs6 : none));
    NNPI_TRY(need_inputs(L, 1, L->opset < 11 ? 1 : 3));
    NNPI_TRY(layer_input(L, 0, &x));
    if (L->opset < 11) {
        NNPI_TRY(attr_float(L, "min", -INFINITY, &lo));
        NNPI_TRY(attr_float(L, "max", INFINITY, &hi));
    } else {
        NNPI_TRY(const_scalar(L, 1, &lo));
        NNPI_TRY(const_scalar(L, 2, &hi));
    }
    if (isnan(lo) || isnan(hi) || lo == INFINITY || hi == -INFINITY || lo > hi)
        return node_error(L, NNP_EUNSUPPORTED, "bounds min=%g, max=%g not supported (min <= "
                          "max, not NaN)", (double)lo, (double)hi);
    NNPI_TRY(nnp_net_branch_from(L->net, x->layer));
    nnp_status st = nnp_net_add_clip(L->net, lo, hi, &layer);
    if (st != NNP_OK) return builder_error(L, st);
    set_output(L, 0, layer, x->rank, 1);
    return NNP_OK;
}

/* HardSigmoid: max(0, min(1, alpha·x + beta)), defaults 0.2 and 0.5 (opset 6 on; opset 1 had
 * consumed_inputs, refused by the attribute check). */
static nnp_status op_hard_sigmoid(ld *L)
{
    static const char *const allowed[] = {"alpha", "beta", NULL};
    val *x;
    float alpha, beta;
    size_t layer;
    NNPI_TRY(check_attrs(L, allowed));
    NNPI_TRY(attr_float(L, "alpha", 0.2f, &alpha));
    NNPI_TRY(attr_float(L, "beta", 0.5f, &beta));
    NNPI_TRY(need_inputs(L, 1, 1));
    NNPI_TRY(layer_input(L, 0, &x));
    NNPI_TRY(nnp_net_branch_from(L->net, x->layer));
    nnp_status st = nnp_net_add_hard_sigmoid(L->net, alpha, beta, &layer);
    if (st != NNP_OK) return builder_error(L, st);
    set_output(L, 0, layer, x->rank, 1);
    return NNP_OK;
}

/* HardSwish: an operator of opset 14 on (torch exports nn.Hardswish as HardSigmoid + Mul
 * below 14). */
static nnp_status op_hard_swish(ld *L)
{
    if (L->opset < 14)
        return node_error(L, NNP_EFORMAT, "HardSwish is not an operator of opset %lld (it "
                          "exists from opset 14)", (long long)L->opset);
    return op_activation(L, NNP_LAYER_HARD_SWISH);
}

/* ReduceMean over all spatial axes (2, 3 of N×C×H×W; 2 of N×C×L): global average pooling,
 * the way torchvision's mnasnet writes it. keepdims=0 gives the N×C view of the C×1×1 layer.
 * Up to opset 17 the axes are an attribute (18 made them an input; OPSET_MAX is 17). */
static nnp_status op_reduce_mean(ld *L)
{
    static const char *const allowed[] = {"axes", "keepdims", NULL};
    val *x;
    int64_t keepdims;
    size_t layer;
    NNPI_TRY(check_attrs(L, allowed));
    NNPI_TRY(need_inputs(L, 1, 1));
    NNPI_TRY(layer_input(L, 0, &x));
    NNPI_TRY(attr_int(L, "keepdims", 1, &keepdims));
    const Onnx__AttributeProto *a = attr(L, "axes");
    if (!a)
        return node_error(L, NNP_EUNSUPPORTED, "no axes (a mean over all axes, the batch "
                          "included) not supported: only the spatial axes");
    if (a->has_type && a->type != AT_INTS)
        return node_error(L, NNP_EFORMAT, "attribute axes: expected INTS");
    unsigned seen = 0, axes_hw = x->rank == 4 ? 0xcu : x->rank == 3 ? 0x4u : 0u;
    for (size_t i = 0; i < a->n_ints; i++) {
        int64_t ax = a->ints[i] < 0 ? a->ints[i] + x->rank : a->ints[i];
        if (ax < 0 || ax >= x->rank || (seen >> ax & 1u))
            return node_error(L, NNP_EFORMAT, "axes[%zu] = %lld out of range or repeated for "
                              "an input of rank %d", i, (long long)a->ints[i], x->rank);
        seen |= 1u << ax;
    }
    if (axes_hw == 0 || seen != axes_hw)
        return node_error(L, NNP_EUNSUPPORTED, "mean over axes other than all spatial ones "
                          "(2, 3 of an N×C×H×W input) not supported");
    if (keepdims != 0 && keepdims != 1)
        return node_error(L, NNP_EFORMAT, "keepdims=%lld (0 or 1)", (long long)keepdims);
    NNPI_TRY(nnp_net_branch_from(L->net, x->layer));
    nnp_status st = nnp_net_add_global_avgpool(L->net, &layer);
    if (st != NNP_OK) return builder_error(L, st);
    set_output(L, 0, layer, keepdims ? x->rank : 2, keepdims != 0);
    return NNP_OK;
}

static const Onnx__AttributeProto *node_attr(const Onnx__NodeProto *n, const char *name)
{
    for (size_t j = 0; j < n->n_attribute; j++)
        if (strcmp(S(n->attribute[j]->name), name) == 0) return n->attribute[j];
    return NULL;
}

/* Whether zero padding p (top, left, bottom, right) of value `name` can fold into the one node
 * among those the output needs that reads it: a Conv reading it as its data input with
 * explicit padding (no auto_pad, which would size the padding from the unpadded input), or an
 * AveragePool (PyTorch writes avg_pool2d with count_include_pad as Pad + AveragePool) with
 * explicit padding, ceil_mode 0, and either count_include_pad or no padding of its own, whose
 * windows keep pad < kernel: with floor sizing every window lies inside the padded input, so
 * dividing by the whole window (count_include_pad) counts the Pad's zeros as the explicit
 * Pad did. A MaxPool pads with −∞, not 0: never folded. Malformed attributes are left to the
 * consumer's own checks (no fold). */
static int pad_folds(const ld *L, const char *name, const size_t p[4])
{
    for (size_t i = 0; i < L->n_order; i++) {
        const Onnx__NodeProto *n = L->g->node[L->order[i]];
        for (size_t k = 0; k < n->n_input; k++) {
            if (!n->input[k] || strcmp(n->input[k], name) != 0) continue;
            const char *op = S(n->op_type);
            if (k != 0 || S(n->domain)[0]) return 0;
            const Onnx__AttributeProto *a = node_attr(n, "auto_pad");
            if (a && !(a->s.len == 6 && memcmp(a->s.data, "NOTSET", 6) == 0)) return 0;
            if (strcmp(op, "Conv") == 0) return 1;
            if (strcmp(op, "AveragePool") != 0) return 0;
            const Onnx__AttributeProto *ks = node_attr(n, "kernel_shape"),
                                       *pads = node_attr(n, "pads"),
                                       *ceil = node_attr(n, "ceil_mode"),
                                       *cip = node_attr(n, "count_include_pad");
            if (!ks || (ks->n_ints != 1 && ks->n_ints != 2) || (ceil && ceil->i != 0)) return 0;
            if (pads && pads->n_ints != 2 * ks->n_ints) return 0;
            int own = 0;
            for (size_t j = 0; pads && j < pads->n_ints; j++) own |= pads->ints[j] != 0;
            if (own && !(cip && cip->i == 1)) return 0;
            const size_t nk = ks->n_ints;
            for (size_t side = 0; side < 4; side++) { /* top, left, bottom, right */
                const size_t axis = side % 2; /* 0 height, 1 width */
                if (nk == 1 && axis == 0) continue; /* 1-D: no height padding */
                const size_t ki = nk == 1 ? 0 : axis, pi = ki + (side >= 2 ? nk : 0);
                const int64_t kk = ks->ints[ki], pp = pads ? pads->ints[pi] : 0;
                if (pp < 0 || kk < 1 || (int64_t)p[side] + pp >= kk) return 0;
            }
            return 1;
        }
    }
    return 0;
}

/* Pad with zeros on the spatial axes only. Opset 2–10: attributes pads, mode, value; 11 on:
 * pads and constant_value as constant inputs (ONNX Operators.md, Pad). pads lists the begins of
 * every axis, then the ends. Zero padding that only a Conv or a suitable AveragePool reads is
 * folded into that node's own padding (exactly the same map, pad_folds); anywhere else (before
 * a MaxPool, whose padding is −∞, or any other consumer) it is a pad layer. */
static nnp_status op_pad(ld *L)
{
    static const char *const attrs2[] = {"mode", "pads", "value", NULL};
    static const char *const attrs11[] = {"mode", NULL};
    val *x;
    nnp_layer_info xi;
    char mode[32];
    int64_t pads[8] = {0};
    size_t np = 0;
    float value = 0.0f;
    if (L->opset < 2)
        return node_error(L, NNP_EUNSUPPORTED, "opset %lld: Pad-1 (paddings) not supported",
                          (long long)L->opset);
    NNPI_TRY(check_attrs(L, L->opset < 11 ? attrs2 : attrs11));
    NNPI_TRY(need_inputs(L, L->opset < 11 ? 1 : 2, L->opset < 11 ? 1 : 3));
    NNPI_TRY(layer_input(L, 0, &x));
    NNPI_TRY(need_spatial(L, x));
    NNPI_TRY(layer_shape(L, x->layer, &xi));
    NNPI_TRY(attr_string(L, "mode", "constant", mode, sizeof mode));
    if (strcmp(mode, "constant") != 0)
        return node_error(L, NNP_EUNSUPPORTED, "mode=%s not supported (only constant)", mode);
    size_t want = 2 * (size_t)x->rank;
    if (L->opset < 11) {
        const Onnx__AttributeProto *a = attr(L, "pads");
        if (!a || (a->has_type && a->type != AT_INTS))
            return node_error(L, NNP_EFORMAT, "attribute pads (INTS) missing");
        if (a->n_ints > 8)
            return node_error(L, NNP_EFORMAT, "pads has %zu values, expected %zu", a->n_ints,
                              want);
        np = a->n_ints;
        for (size_t i = 0; i < np; i++) pads[i] = a->ints[i];
        NNPI_TRY(attr_float(L, "value", 0.0f, &value));
    } else {
        const Onnx__TensorProto *t;
        NNPI_TRY(const_input(L, 1, &t));
        NNPI_TRY(tensor_ints(L, t, input_name(L, 1), 8, pads, &np));
        NNPI_TRY(const_scalar(L, 2, &value));
    }
    if (np != want)
        return node_error(L, NNP_EFORMAT, "pads has %zu values, expected %zu (begin and end of "
                          "each of %d axes)", np, want, x->rank);
    if (value != 0.0f)
        return node_error(L, NNP_EUNSUPPORTED, "constant value %g not supported (only 0)",
                          (double)value);
    size_t r = (size_t)x->rank, p[4] = {0, 0, 0, 0}; /* top, left, bottom, right */
    for (size_t i = 0; i < want; i++) {
        size_t ax = i % r;
        if (pads[i] < 0 || pads[i] > ((int64_t)1 << 20))
            return node_error(L, NNP_EUNSUPPORTED, "pads[%zu] = %lld not supported (0 to 2^20: "
                              "no cropping)", i, (long long)pads[i]);
        if (ax < 2 && pads[i] != 0)
            return node_error(L, NNP_EUNSUPPORTED, "padding of axis %zu (%s) not supported: "
                              "only the spatial axes", ax, ax == 0 ? "batch" : "channels");
        if (ax >= 2) p[(r == 3 ? 1 : ax - 2) + (i >= r ? 2 : 0)] = (size_t)pads[i];
    }
    long o = find_val(L, L->node->output[0]);
    if (L->vals[o].uses == 1 && pad_folds(L, L->node->output[0], p) && !x->pad[0] &&
        !x->pad[1] && !x->pad[2] && !x->pad[3]) {
        set_output(L, 0, x->layer, x->rank, 0);
        memcpy(L->vals[o].pad, p, sizeof p);
        return NNP_OK;
    }
    size_t layer;
    NNPI_TRY(nnp_net_branch_from(L->net, x->layer));
    nnp_status st = nnp_net_add_pad(L->net, p[0], p[1], p[2], p[3], &layer);
    if (st != NNP_OK) return builder_error(L, st);
    set_output(L, 0, layer, x->rank, 1);
    return NNP_OK;
}

static nnp_status map_node(ld *L, const char *graph_output)
{
    const Onnx__NodeProto *n = L->node;
    const char *op = n->op_type ? n->op_type : "";
    if (S(n->domain)[0] && strcmp(n->domain, "ai.onnx") != 0)
        return node_error(L, NNP_EUNSUPPORTED, "operator domain \"%.60s\" not supported",
                          n->domain);
    if (n->n_output == 0 || !n->output[0][0]) return node_error(L, NNP_EFORMAT, "no output");
    if (strcmp(op, "Constant") == 0) return op_constant(L);
    NNPI_TRY(only_first_output(L));
    if (strcmp(op, "Gemm") == 0) return op_gemm(L, 0);
    if (strcmp(op, "MatMul") == 0) return op_gemm(L, 1);
    if (strcmp(op, "Add") == 0) return op_add(L);
    if (strcmp(op, "Conv") == 0) return op_conv(L);
    if (strcmp(op, "MaxPool") == 0) return op_pool(L, 1);
    if (strcmp(op, "AveragePool") == 0) return op_pool(L, 0);
    if (strcmp(op, "GlobalAveragePool") == 0) return op_global_avgpool(L);
    if (strcmp(op, "Relu") == 0) return op_activation(L, NNP_LAYER_RELU);
    if (strcmp(op, "LeakyRelu") == 0) return op_leaky_relu(L);
    if (strcmp(op, "Sigmoid") == 0) return op_activation(L, NNP_LAYER_SIGMOID);
    if (strcmp(op, "Tanh") == 0) return op_activation(L, NNP_LAYER_TANH);
    if (strcmp(op, "Softplus") == 0) return op_activation(L, NNP_LAYER_SOFTPLUS);
    if (strcmp(op, "Softmax") == 0 || strcmp(op, "LogSoftmax") == 0)
        return op_softmax(L, graph_output);
    if (strcmp(op, "Flatten") == 0) return op_flatten(L);
    if (strcmp(op, "Reshape") == 0) return op_reshape(L);
    if (strcmp(op, "BatchNormalization") == 0) return op_batchnorm(L);
    if (strcmp(op, "Dropout") == 0) return op_dropout(L);
    if (strcmp(op, "Identity") == 0) return op_identity(L);
    if (strcmp(op, "LRN") == 0) return op_lrn(L);
    if (strcmp(op, "Clip") == 0) return op_clip(L);
    if (strcmp(op, "HardSigmoid") == 0) return op_hard_sigmoid(L);
    if (strcmp(op, "HardSwish") == 0) return op_hard_swish(L);
    if (strcmp(op, "ReduceMean") == 0) return op_reduce_mean(L);
    if (strcmp(op, "Pad") == 0) return op_pad(L);
    return node_error(L, NNP_EUNSUPPORTED, "operator not supported");
}

/* ---- graph structure ---- */

/* Shape of a graph input/output as declared: rank and dims (0 where symbolic or unset). */
static nnp_status declared_shape(const Onnx__ValueInfoProto *vi, const char *what, int *known,
                                 size_t *rank, int64_t *dims)
{
    *known = 0;
    if (!vi->type || vi->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ||
        !vi->type->tensor_type)
        return nnpi_error(NNP_EUNSUPPORTED, "onnx: %s \"%.80s\" is not a tensor", what,
                          S(vi->name));
    const Onnx__TypeProto__Tensor *tt = vi->type->tensor_type;
    if (tt->has_elem_type && tt->elem_type != DT_FLOAT)
        return nnpi_error(NNP_EUNSUPPORTED, "onnx: %s \"%.80s\" has element type %d (float32 "
                          "only)", what, S(vi->name), (int)tt->elem_type);
    if (!tt->shape) return NNP_OK;
    if (tt->shape->n_dim > 8)
        return nnpi_error(NNP_EUNSUPPORTED, "onnx: %s \"%.80s\" has rank %zu", what, S(vi->name),
                          tt->shape->n_dim);
    *rank = tt->shape->n_dim;
    for (size_t i = 0; i < *rank; i++) {
        const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
        dims[i] = 0;
        if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
            if (d->dim_value < 0 || d->dim_value > DIM_MAX)
                return nnpi_error(NNP_EFORMAT, "onnx: %s \"%.80s\": dimension %zu is %lld",
                                  what, S(vi->name), i, (long long)d->dim_value);
            dims[i] = d->dim_value;
        }
    }
    *known = 1;
    return NNP_OK;
}

/* Checks a declared shape (graph output or value_info) against what the net computes. */
static nnp_status verify_shape(const ld *L, const Onnx__ValueInfoProto *vi, const val *v,
                               const char *what)
{
    int known;
    size_t rank = 0;
    int64_t dims[8];
    nnp_layer_info info;
    NNPI_TRY(declared_shape(vi, what, &known, &rank, dims));
    if (!known) return NNP_OK;
    NNPI_TRY(layer_shape(L, v->layer, &info));
    size_t ours[4];
    val_dims(v, &info, ours);
    int ok = rank == (size_t)v->rank;
    for (size_t i = 1; ok && i < rank; i++) ok = dims[i] == 0 || (size_t)dims[i] == ours[i];
    if (!ok) {
        char sh[96];
        int len = snprintf(sh, sizeof sh, "N");
        for (int i = 1; i < v->rank; i++)
            len += snprintf(sh + len, sizeof sh - (size_t)len, "×%zu", ours[i]);
        return nnpi_error(NNP_EFORMAT, "onnx: %s \"%.80s\": declared with rank %zu, but the "
                          "model computes %s", what, S(vi->name), rank, sh);
    }
    return NNP_OK;
}

/* Names every value; sizes the table for all of them. */
static nnp_status index_values(ld *L, const Onnx__ValueInfoProto **input)
{
    const Onnx__GraphProto *g = L->g;
    size_t total = g->n_initializer + g->n_input;
    for (size_t i = 0; i < g->n_node; i++) total += g->node[i]->n_output;
    L->hash_cap = 16;
    while (L->hash_cap < 2 * total + 1) L->hash_cap *= 2;
    L->vals = nnpi_calloc(total + 1, sizeof *L->vals);
    L->hash = nnpi_calloc(L->hash_cap, sizeof *L->hash);
    L->order = nnpi_malloc(nnpi_mul(g->n_node + 1, sizeof *L->order));
    L->state = nnpi_calloc(g->n_node + 1, 1);
    L->stack = nnpi_malloc(nnpi_mul(2 * g->n_node + 2, sizeof *L->stack));
    if (!L->vals || !L->hash || !L->order || !L->state || !L->stack)
        return nnpi_error(NNP_ENOMEM, "onnx: out of memory indexing %zu values", total);

    /* the declared elements of all initializers against the cap, before any is read */
    uint64_t elems_cap, declared = 0;
    NNPI_TRY(nnpi_limit(ELEMS_CAP_ENV, ELEMS_CAP_DEFAULT, &elems_cap));
    for (size_t i = 0; i < g->n_initializer; i++) {
        const Onnx__TensorProto *t = g->initializer[i];
        /* only tensors whose dims and data pass the per-tensor checks made when they are read:
         * the others are refused then, with a message naming their own defect */
        uint64_t e = 1;
        int plausible = 1;
        for (size_t d = 0; d < t->n_dims && plausible; d++) {
            if (t->dims[d] < 0 || t->dims[d] > DIM_MAX) plausible = 0;
            else e *= (uint64_t)t->dims[d]; /* < 2^62 while e <= 2^34 is checked below */
            if (e > COUNT_MAX) plausible = 0;
        }
        if (!plausible || (t->raw_data.len / 4 < e && t->n_float_data < e)) continue;
        declared = UINT64_MAX - declared < e ? UINT64_MAX : declared + e;
        if (declared > elems_cap)
            return nnpi_error(NNP_EFORMAT,
                              "onnx: initializers declare more than %llu tensor elements (at "
                              "\"%.80s\", #%zu); set %s to raise the cap",
                              (unsigned long long)elems_cap, S(t->name), i, ELEMS_CAP_ENV);
    }
    L->init_floats = (size_t)declared; /* ≤ the cap, ≤ 2^31 by default */
    for (size_t i = 0; i < g->n_initializer; i++) {
        size_t k;
        const char *name = S(g->initializer[i]->name);
        if (!name[0]) return nnpi_error(NNP_EFORMAT, "onnx: initializer %zu has no name", i);
        NNPI_TRY(add_val(L, name, -1, &k));
        L->vals[k].kind = V_CONST;
        L->vals[k].t = g->initializer[i];
    }
    *input = NULL;
    for (size_t i = 0; i < g->n_input; i++) {
        const char *name = S(g->input[i]->name);
        long e = find_val(L, name);
        if (e >= 0 && L->vals[e].kind == V_CONST) continue; /* IR < 4 lists initializers too */
        if (*input)
            return nnpi_error(NNP_EUNSUPPORTED, "onnx: graph has a second input \"%.80s\" "
                              "besides \"%.80s\": one image input supported (weights must be "
                              "initializers)", name, S((*input)->name));
        if (!name[0]) return nnpi_error(NNP_EFORMAT, "onnx: graph input %zu has no name", i);
        NNPI_TRY(add_val(L, name, -1, NULL));
        *input = g->input[i];
    }
    if (!*input) return nnpi_error(NNP_EFORMAT, "onnx: graph has no input (besides weights)");
    for (size_t i = 0; i < g->n_node; i++)
        for (size_t k = 0; k < g->node[i]->n_output; k++)
            if (g->node[i]->output[k][0]) NNPI_TRY(add_val(L, g->node[i]->output[k], (long)i, NULL));
    return NNP_OK;
}

static nnp_status dangling(const ld *L, size_t node, const char *name)
{
    const Onnx__NodeProto *n = L->g->node[node];
    return nnpi_error(NNP_EFORMAT, "onnx: node \"%.80s\" (%.40s): input \"%.80s\" is not "
                      "produced by any node, initializer or graph input",
                      S(n->name)[0] ? n->name : n->output[0], S(n->op_type), name);
}

/* Depth-first search back from the output: the needed nodes in topological order; finds
 * inputs nothing defines and cycles. Iterative, so a long chain cannot overflow the stack. */
static nnp_status order_nodes(ld *L, long out_producer)
{
    const Onnx__GraphProto *g = L->g;
    size_t sp = 0;
    if (out_producer < 0) return NNP_OK;
    L->stack[sp++] = (size_t)out_producer;
    L->stack[sp++] = 0;
    L->state[out_producer] = 1;
    while (sp) {
        size_t node = L->stack[sp - 2], k = L->stack[sp - 1];
        const Onnx__NodeProto *n = g->node[node];
        if (k == n->n_input) {
            L->state[node] = 2;
            L->order[L->n_order++] = node;
            sp -= 2;
            continue;
        }
        L->stack[sp - 1] = k + 1;
        const char *name = n->input[k];
        if (!name[0]) continue;
        long v = find_val(L, name);
        if (v < 0) return dangling(L, node, name);
        L->vals[v].uses++;
        long p = L->vals[v].producer;
        if (p < 0 || L->state[p] == 2) continue;
        if (L->state[p] == 1)
            return nnpi_error(NNP_EFORMAT, "onnx: the graph has a cycle through node "
                              "\"%.80s\" (%.40s)", S(g->node[p]->name)[0] ? g->node[p]->name
                              : g->node[p]->output[0], S(g->node[p]->op_type));
        L->state[p] = 1;
        L->stack[sp++] = (size_t)p;
        L->stack[sp++] = 0;
    }
    return NNP_OK;
}

static nnp_status load_model(ld *L, const Onnx__ModelProto *m)
{
    if (!m->graph) return nnpi_error(NNP_EFORMAT, "onnx: model has no graph");
    L->g = m->graph;
    L->opset = -1;
    for (size_t i = 0; i < m->n_opset_import; i++) {
        const char *d = S(m->opset_import[i]->domain);
        if (!d[0] || strcmp(d, "ai.onnx") == 0) L->opset = m->opset_import[i]->version;
    }
    if (L->opset < 0)
        return nnpi_error(NNP_EUNSUPPORTED, "onnx: model imports no opset of the default "
                          "domain (ai.onnx)");
    if (L->opset < OPSET_MIN || L->opset > OPSET_MAX)
        return nnpi_error(NNP_EUNSUPPORTED, "onnx: opset %lld not supported (%d to %d)",
                          (long long)L->opset, OPSET_MIN, OPSET_MAX);

    const Onnx__ValueInfoProto *input = NULL;
    NNPI_TRY(index_values(L, &input));
    if (L->g->n_output != 1)
        return nnpi_error(NNP_EUNSUPPORTED, "onnx: graph has %zu outputs: exactly one supported",
                          L->g->n_output);
    const Onnx__ValueInfoProto *output = L->g->output[0];
    long ov = find_val(L, S(output->name));
    if (ov < 0)
        return nnpi_error(NNP_EFORMAT, "onnx: graph output \"%.80s\" is not produced by any "
                          "node", S(output->name));
    L->vals[ov].uses++;
    NNPI_TRY(order_nodes(L, L->vals[ov].producer));

    /* the image input: N×C×H×W or N×D, N free */
    int known;
    size_t rank = 0;
    int64_t d[8];
    NNPI_TRY(declared_shape(input, "graph input", &known, &rank, d));
    if (!known || rank < 2 || rank > 4)
        return nnpi_error(NNP_EUNSUPPORTED, "onnx: graph input \"%.80s\" has %srank %zu: "
                          "N×C×H×W, N×C×L or N×D supported", S(input->name),
                          known ? "" : "unknown ", rank);
    for (size_t i = 1; i < rank; i++)
        if (d[i] < 1)
            return nnpi_error(NNP_EUNSUPPORTED, "onnx: graph input \"%.80s\": dimension %zu is "
                              "not a fixed size ≥ 1", S(input->name), i);
    nnp_status st = rank == 4   ? nnp_net_create((size_t)d[1], (size_t)d[2], (size_t)d[3], &L->net)
                    : rank == 3 ? nnp_net_create((size_t)d[1], 1, (size_t)d[2], &L->net)
                                : nnp_net_create((size_t)d[1], 1, 1, &L->net);
    if (st != NNP_OK)
        return nnpi_error_prefix(st == NNP_EINVAL ? NNP_EUNSUPPORTED : st, "onnx: graph input "
                                 "\"%.80s\"", S(input->name));
    /* the parameter vector sized once for all the initializers, so that adding layers never
     * copies it (best effort: without it the vector grows layer by layer, as it always may) */
    (void)nnpi_net_reserve_params(L->net, L->init_floats);
    long iv = find_val(L, S(input->name));
    L->vals[iv].kind = V_LAYER;
    L->vals[iv].layer = 0;
    L->vals[iv].rank = (int)rank;

    for (size_t i = 0; i < L->n_order; i++) {
        L->node_index = L->order[i];
        L->node = L->g->node[L->node_index];
        NNPI_TRY(map_node(L, S(output->name)));
    }

    const val *out = &L->vals[ov];
    if (out->kind != V_LAYER)
        return nnpi_error(NNP_EUNSUPPORTED, "onnx: graph output \"%.80s\" is a constant",
                          S(output->name));
    if (out->layer != nnp_net_layer_count(L->net) - 1)
        return nnpi_error(NNP_EUNSUPPORTED, "onnx: graph output \"%.80s\" is not the last "
                          "layer computed", S(output->name));
    NNPI_TRY(verify_shape(L, output, out, "graph output"));
    for (size_t i = 0; i < L->g->n_value_info; i++) {
        long v = find_val(L, S(L->g->value_info[i]->name));
        if (v >= 0 && L->vals[v].kind == V_LAYER)
            NNPI_TRY(verify_shape(L, L->g->value_info[i], &L->vals[v], "value"));
    }
    nnpi_net_trim_params(L->net); /* unused initializers reserved room: give it back */
    return NNP_OK;
}

/* ---- entry points ---- */

/* Reads the model `r` was set up for and builds the net. */
static nnp_status load_from(nnpi_onnx_reader *r, nnp_net **out)
{
    ld L;
    memset(&L, 0, sizeof L);
    L.rd = r;
    nnp_status st = nnpi_onnx_read(r);
    if (st == NNP_OK)
        st = r->size == 0 ? nnpi_error(NNP_EFORMAT, "onnx: empty model") : load_model(&L, r->model);
    if (st == NNP_OK) {
        *out = L.net;
        L.net = NULL;
    }
    nnp_net_free(L.net);
    nnpi_free(L.vals);
    nnpi_free(L.hash);
    nnpi_free(L.order);
    nnpi_free(L.state);
    nnpi_free(L.stack);
    nnpi_onnx_reader_free(r);
    return st;
}

NNP_API nnp_status nnp_net_load_onnx_memory(const void *data, size_t size, nnp_net **out)
{
    NNPI_CHECK_NULL(out);
    *out = NULL;
    NNPI_CHECK_NULL(data);
    nnpi_onnx_reader r;
    nnpi_onnx_reader_memory(&r, data, size);
    return load_from(&r, out);
}

static nnp_status io_error(const char *path, const char *what, int err)
{
    return nnpi_io_error("onnx", path, what, err);
}

/* Reads all of `fd`, which is not a regular file (a pipe, a device such as /dev/zero), in
 * growing chunks, refused as soon as it passes the read cap, so memory never follows an
 * endless stream. */
static nnp_status read_stream(int fd, const char *path, uint64_t cap, unsigned char **data,
                              size_t *size)
{
    *data = NULL;
    *size = 0;
    size_t alloc = (size_t)1 << 16;
    size_t len = 0;
    unsigned char *buf = nnpi_malloc(alloc);
    nnp_status st = buf ? NNP_OK : nnpi_error(NNP_ENOMEM, "onnx: %s: out of memory (%zu bytes)",
                                              path, alloc);
    while (st == NNP_OK) {
        if ((uint64_t)len > cap) {
            st = nnpi_error(NNP_EFORMAT,
                            "onnx: %s: more than %llu bytes read (the read cap; not a regular "
                            "file, or it grew); set %s to raise it",
                            path, (unsigned long long)cap, NNPI_READ_CAP_ENV);
            break;
        }
        if (len == alloc) {
            size_t na = alloc > SIZE_MAX / 2 ? SIZE_MAX : alloc * 2;
            if ((uint64_t)na > cap + 1) na = (size_t)(cap + 1); /* cap + 1: enough to see it passed */
            unsigned char *nb = na > alloc ? nnpi_realloc(buf, na) : NULL;
            if (!nb) {
                st = nnpi_error(NNP_ENOMEM, "onnx: %s: out of memory (%zu bytes)", path, na);
                break;
            }
            buf = nb;
            alloc = na;
        }
        errno = 0;
        ssize_t got = read(fd, buf + len, alloc - len);
        if (got < 0) {
            if (errno == EINTR) continue;
            st = io_error(path, "read error", errno);
            break;
        }
        if (got == 0) break;
        len += (size_t)got;
    }
    if (st != NNP_OK) {
        nnpi_free(buf);
        return st;
    }
    *data = buf;
    *size = len;
    return NNP_OK;
}

/* A regular file is read where it lies, with positioned reads (onnx_read.h): the weights go
 * from the file straight into the net's parameters, never through a copy of the file. Its
 * size comes from fstat and is checked against the read cap (readcap.h) before anything is
 * read; a file that shrinks meanwhile is refused. Anything else is read whole, under the cap. */
NNP_API nnp_status nnp_net_load_onnx(const char *path, nnp_net **out)
{
    NNPI_CHECK_NULL(out);
    *out = NULL;
    NNPI_CHECK_NULL(path);
    uint64_t cap, file_size;
    int fd, regular;
    unsigned char *buf = NULL;
    size_t len;
    nnpi_onnx_reader r;
    NNPI_TRY(nnpi_open_capped("onnx", path, O_RDONLY | O_CLOEXEC, READ_CAP_DEFAULT, &cap, &fd,
                              &regular, &file_size));
    nnp_status st;
    if (regular) {
        nnpi_onnx_reader_file(&r, fd, file_size);
        st = load_from(&r, out);
    } else {
        st = read_stream(fd, path, cap, &buf, &len);
        if (st == NNP_OK) {
            nnpi_onnx_reader_memory(&r, buf, len);
            st = load_from(&r, out);
        } else {
            buf = NULL;
            close(fd);
            return st; /* the message names the path already */
        }
    }
    close(fd);
    nnpi_free(buf);
    if (st != NNP_OK && st != NNP_ENOMEM) {
        /* "onnx: <what>" becomes "onnx: <path>: <what>" */
        char msg[1024];
        const char *m = nnp_last_error();
        snprintf(msg, sizeof msg, "%s", strncmp(m, "onnx: ", 6) == 0 ? m + 6 : m);
        st = nnpi_error(st, "onnx: %s: %s", path, msg);
    }
    return st;
}
