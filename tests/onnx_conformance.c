/* Conformance of the ONNX loader against ONNX's own backend test data (Debian
 * libonnx-testdata): every `node` and `pytorch-converted` case whose operators are all ones
 * the loader claims (onnx.h) is loaded and run on each of its test_data_set_* inputs, and the
 * outputs are compared with the expected ones within
 *     |ours − expected| ≤ ATOL + RTOL·|expected|,  ATOL = 1e-5, RTOL = 1e-4.
 * Weights that a node case passes as extra graph inputs (input_1.pb, ...) are bound as
 * initializers first, since the library loads weights from initializers only. When the
 * model ends in Softmax/LogSoftmax (a head the loader removes, onnx.h), that function is
 * applied to the net's logits before comparing.
 *
 * A case the loader refuses must be listed in `out_of_scope` below with the reason, and its
 * refusal must be clean (NNP_EUNSUPPORTED or NNP_EFORMAT with an "onnx:" message). A refused
 * case not listed, a listed case that loads, or an output outside the tolerance fails the run.
 *
 *   onnx_conformance [DATA_DIR]    default /usr/share/libonnx-testdata/data
 * Exit status 0: all passed; 1: a failure; 77: data not installed (ctest SKIP_RETURN_CODE). */
#define _POSIX_C_SOURCE 200809L /* strdup, opendir */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <protobuf-c/protobuf-c.h>

#include "nnprobe/nnprobe.h"
#include "onnx.pb-c.h"

#define ATOL 1e-5
#define RTOL 1e-4

static const char *const supported_ops[] = {
    "Gemm", "MatMul", "Add", "Conv", "MaxPool", "AveragePool", "GlobalAveragePool", "Relu",
    "LeakyRelu", "Sigmoid", "Tanh", "Softplus", "Softmax", "LogSoftmax", "Flatten", "Reshape",
    "BatchNormalization", "Dropout", "Identity", "LRN", "Constant", "Clip", "HardSigmoid",
    "HardSwish", "Pad", "ReduceMean", NULL};

/* Cases of supported operators that the loader refuses, and why. */
static const struct {
    const char *name, *reason;
} out_of_scope[] = {
#include "onnx_conformance_scope.inc"
    {NULL, NULL}};

static const char *scope_reason(const char *name)
{
    for (size_t i = 0; out_of_scope[i].name; i++)
        if (strcmp(out_of_scope[i].name, name) == 0) return out_of_scope[i].reason;
    return NULL;
}

static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0, got;
    unsigned char *b = malloc(cap);
    while (b && (got = fread(b + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            unsigned char *nb = realloc(b, cap *= 2);
            if (!nb) {
                free(b);
                b = NULL;
            }
            b = nb;
        }
    }
    fclose(f);
    *len = n;
    return b;
}

/* A float tensor file (TensorProto) as floats; NULL if it is not float32. */
static float *read_tensor(const char *path, size_t *count, int64_t *dims, size_t *n_dims)
{
    size_t len;
    unsigned char *b = read_file(path, &len);
    if (!b) return NULL;
    Onnx__TensorProto *t = onnx__tensor_proto__unpack(NULL, len, b);
    free(b);
    if (!t) return NULL;
    float *out = NULL;
    size_t c = 1;
    for (size_t i = 0; i < t->n_dims; i++) c *= (size_t)t->dims[i];
    if (t->data_type == 1 && t->n_dims <= 8) {
        out = malloc((c ? c : 1) * sizeof *out);
        if (t->has_raw_data && t->raw_data.len == 4 * c) {
            for (size_t i = 0; i < c; i++) {
                const unsigned char *p = t->raw_data.data + 4 * i;
                uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                             (uint32_t)p[3] << 24;
                memcpy(&out[i], &u, 4);
            }
        } else if (t->n_float_data == c) {
            memcpy(out, t->float_data, c * sizeof *out);
        } else {
            free(out);
            out = NULL;
        }
        *count = c;
        *n_dims = t->n_dims;
        memcpy(dims, t->dims, t->n_dims * sizeof *dims);
    }
    onnx__tensor_proto__free_unpacked(t, NULL);
    return out;
}

static int op_supported(const char *op)
{
    for (size_t i = 0; supported_ops[i]; i++)
        if (strcmp(supported_ops[i], op) == 0) return 1;
    return 0;
}

static int is_initializer(const Onnx__GraphProto *g, const char *name)
{
    for (size_t i = 0; i < g->n_initializer; i++)
        if (strcmp(g->initializer[i]->name, name) == 0) return 1;
    return 0;
}

/* softmax (log = 0) or log-softmax (log = 1) of each of n rows of d values, in place */
static void softmax_rows(float *y, size_t n, size_t d, int log)
{
    for (size_t i = 0; i < n; i++) {
        float *r = y + i * d;
        double m = r[0], s = 0;
        for (size_t j = 1; j < d; j++) m = r[j] > m ? r[j] : m;
        for (size_t j = 0; j < d; j++) s += exp(r[j] - m);
        for (size_t j = 0; j < d; j++)
            r[j] = (float)(log ? r[j] - m - (double)logf((float)s) : exp(r[j] - m) / s);
    }
}

typedef struct counts {
    int pass, fail, refused_ok, skipped_ops;
    double worst;         /* largest error over all outputs, as a fraction of the tolerance */
    const char *worst_at; /* its case (static copy below) */
} counts;

static char worst_name[256];

/* Runs one case; returns 0 if it behaved as expected. */
static int run_case(const char *dir, const char *name, counts *c)
{
    char path[4096];
    size_t len;
    snprintf(path, sizeof path, "%.2000s/%.1000s/model.onnx", dir, name);
    unsigned char *bytes = read_file(path, &len);
    if (!bytes) return 0; /* not a case directory */
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, len, bytes);
    free(bytes);
    if (!m || !m->graph) {
        printf("FAIL %s: model.onnx does not parse\n", name);
        c->fail++;
        if (m) onnx__model_proto__free_unpacked(m, NULL);
        return 1;
    }
    Onnx__GraphProto *g = m->graph;
    for (size_t i = 0; i < g->n_node; i++)
        if (!op_supported(g->node[i]->op_type)) {
            c->skipped_ops++;
            onnx__model_proto__free_unpacked(m, NULL);
            return 0;
        }
    int head = 0; /* 1: Softmax, 2: LogSoftmax produces the graph output */
    for (size_t i = 0; i < g->n_node; i++)
        if (g->n_output && g->node[i]->n_output &&
            strcmp(g->node[i]->output[0], g->output[0]->name) == 0) {
            if (strcmp(g->node[i]->op_type, "Softmax") == 0) head = 1;
            if (strcmp(g->node[i]->op_type, "LogSoftmax") == 0) head = 2;
        }

    /* bind inputs 1.. of test_data_set_0 as initializers */
    size_t n_extra = 0, k = 0, n_init0 = g->n_initializer;
    Onnx__TensorProto **extra = calloc(g->n_input + 1, sizeof *extra);
    Onnx__TensorProto **inits = malloc((g->n_initializer + g->n_input + 1) * sizeof *inits);
    if (g->n_initializer) memcpy(inits, g->initializer, g->n_initializer * sizeof *inits);
    for (size_t i = 0; i < g->n_input; i++) {
        if (is_initializer(g, g->input[i]->name)) continue;
        if (k++ == 0) continue; /* the data input */
        snprintf(path, sizeof path, "%.2000s/%.1000s/test_data_set_0/input_%zu.pb", dir, name, k - 1);
        unsigned char *tb = read_file(path, &len);
        Onnx__TensorProto *t = tb ? onnx__tensor_proto__unpack(NULL, len, tb) : NULL;
        free(tb);
        if (!t) continue;
        extra[n_extra++] = t;
        free(t->name);
        t->name = strdup(g->input[i]->name);
        inits[g->n_initializer + n_extra - 1] = t;
    }
    Onnx__TensorProto **saved_inits = g->initializer;
    g->initializer = inits;
    g->n_initializer = n_init0 + n_extra;
    len = onnx__model_proto__get_packed_size(m);
    bytes = malloc(len + 1);
    onnx__model_proto__pack(m, bytes);
    g->initializer = saved_inits;
    g->n_initializer = n_init0;
    for (size_t i = 0; i < n_extra; i++) onnx__tensor_proto__free_unpacked(extra[i], NULL);
    free(extra);
    free(inits);
    onnx__model_proto__free_unpacked(m, NULL);

    nnp_net *net = NULL;
    nnp_status st = nnp_net_load_onnx_memory(bytes, len, &net);
    free(bytes);
    const char *reason = scope_reason(name);
    if (st != NNP_OK) {
        int clean = (st == NNP_EUNSUPPORTED || st == NNP_EFORMAT) && net == NULL &&
                    strncmp(nnp_last_error(), "onnx: ", 6) == 0;
        if (reason && clean) {
            printf("out of scope %s: %s\n    refused: %s\n", name, reason, nnp_last_error());
            c->refused_ok++;
            return 0;
        }
        printf("FAIL %s: %s refusal (%s): %s\n", name, clean ? "unlisted" : "unclean",
               nnp_status_name(st), nnp_last_error());
        c->fail++;
        return 1;
    }
    if (reason) {
        printf("FAIL %s: listed as out of scope (%s) but loads\n", name, reason);
        c->fail++;
        nnp_net_free(net);
        return 1;
    }

    int bad = 0, sets = 0;
    for (int s = 0;; s++) {
        size_t nx, ny, nd_x, nd_y;
        int64_t dx[8], dy[8];
        snprintf(path, sizeof path, "%.2000s/%.1000s/test_data_set_%d/input_0.pb", dir, name, s);
        float *x = read_tensor(path, &nx, dx, &nd_x);
        if (!x) break;
        snprintf(path, sizeof path, "%.2000s/%.1000s/test_data_set_%d/output_0.pb", dir, name, s);
        float *want = read_tensor(path, &ny, dy, &nd_y);
        size_t n = nd_x ? (size_t)dx[0] : 0;
        size_t in = nnp_net_input_size(net), out = nnp_net_output_size(net);
        if (!want || n == 0 || nx != n * in || ny != n * out) {
            printf("FAIL %s: data set %d shapes do not fit the loaded net (%zu inputs of %zu, "
                   "%zu outputs of %zu)\n", name, s, nx, in, ny, out);
            bad = 1;
        } else {
            float *y = malloc(ny * sizeof *y);
            st = nnp_net_forward(net, NULL, x, n, y);
            if (st != NNP_OK) {
                printf("FAIL %s: forward: %s\n", name, nnp_last_error());
                bad = 1;
            } else {
                if (head) softmax_rows(y, n, out, head == 2);
                double worst = 0;
                size_t at = 0;
                for (size_t i = 0; i < ny; i++) {
                    double e = fabs((double)y[i] - want[i]) / (ATOL + RTOL * fabs(want[i]));
                    if (!(e <= worst)) {
                        worst = e;
                        at = i;
                    }
                }
                if (worst > c->worst) {
                    c->worst = worst;
                    snprintf(worst_name, sizeof worst_name, "%s", name);
                    c->worst_at = worst_name;
                }
                if (!(worst <= 1)) {
                    printf("FAIL %s: data set %d: output %zu is %.9g, expected %.9g\n", name, s,
                           at, (double)y[at], (double)want[at]);
                    bad = 1;
                }
            }
            free(y);
        }
        free(x);
        free(want);
        sets++;
    }
    nnp_net_free(net);
    if (sets == 0) {
        printf("FAIL %s: no test data sets\n", name);
        bad = 1;
    }
    if (bad) {
        c->fail++;
        return 1;
    }
    printf("pass %s (%d data set%s)\n", name, sets, sets == 1 ? "" : "s");
    c->pass++;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    const char *root = argc > 1 ? argv[1] : "/usr/share/libonnx-testdata/data";
    static const char *const suites[] = {"node", "pytorch-converted"};
    struct stat sb;
    if (stat(root, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        printf("onnx_conformance: %s not found (Debian package libonnx-testdata); skipped\n", root);
        return 77;
    }
    counts c = {0, 0, 0, 0, 0.0, "none"};
    for (size_t s = 0; s < 2; s++) {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/%s", root, suites[s]);
        DIR *d = opendir(dir);
        if (!d) {
            printf("FAIL: %s missing\n", dir);
            c.fail++;
            continue;
        }
        char **names = NULL;
        size_t n = 0, cap = 0;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.') continue;
            if (n == cap) names = realloc(names, (cap = cap ? 2 * cap : 256) * sizeof *names);
            names[n++] = strdup(e->d_name);
        }
        closedir(d);
        qsort(names, n, sizeof *names, cmp_str);
        printf("== %s (%zu cases)\n", dir, n);
        for (size_t i = 0; i < n; i++) {
            run_case(dir, names[i], &c);
            free(names[i]);
        }
        free(names);
    }
    /* every listed case must exist and be in scope: it was met above as refused-and-listed */
    size_t listed = sizeof out_of_scope / sizeof out_of_scope[0] - 1;
    printf("onnx_conformance: largest error %.3g of the tolerance (%s)\n", c.worst, c.worst_at);
    printf("onnx_conformance: %d passed, %d failed, %d out of scope (refused cleanly, %zu "
           "listed), %d cases with operators outside the supported set not run; tolerance "
           "|d| <= %g + %g*|expected|\n", c.pass, c.fail, c.refused_ok, listed, c.skipped_ops,
           ATOL, RTOL);
    if ((size_t)c.refused_ok != listed) {
        printf("FAIL: %zu listed out-of-scope cases, %d met\n", listed, c.refused_ok);
        return 1;
    }
    return c.fail ? 1 : 0;
}
