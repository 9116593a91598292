/* Checks a model exported from PyTorch by examples/torch-to-onnx.py: loads MODEL.onnx, runs
 * the inputs of INPUT.f32 (raw float32, n × input size) and compares with PyTorch's logits in
 * LOGITS.f32 within |ours − torch| ≤ 1e-5 + 1e-4·|torch|. Used by tests/torch-onnx.sh.
 *
 *   onnx_torch_compare MODEL.onnx INPUT.f32 LOGITS.f32
 * Exit status 0: equal within the tolerance; 1: otherwise. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "nnprobe/nnprobe.h"

static float *read_floats(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    float *p = malloc((size_t)len + sizeof(float));
    *n = (size_t)len / sizeof(float);
    if (p && fread(p, sizeof(float), *n, f) != *n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    return p;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: onnx_torch_compare MODEL.onnx INPUT.f32 LOGITS.f32\n");
        return 2;
    }
    nnp_net *net = NULL;
    size_t nx, ny;
    nnp_status st = nnp_net_load_onnx(argv[1], &net);
    if (st != NNP_OK) {
        printf("FAIL: %s: %s\n", nnp_status_name(st), nnp_last_error());
        return 1;
    }
    float *x = read_floats(argv[2], &nx), *want = read_floats(argv[3], &ny);
    size_t in = nnp_net_input_size(net), out = nnp_net_output_size(net);
    int rc = 1;
    if (!x || !want || nx % in != 0 || ny != nx / in * out) {
        printf("FAIL: data files do not fit the net (%zu inputs of %zu, %zu outputs of %zu)\n",
               nx, in, ny, out);
    } else {
        size_t n = nx / in;
        float *y = malloc(ny * sizeof *y);
        if ((st = nnp_net_forward(net, NULL, x, n, y)) != NNP_OK) {
            printf("FAIL: forward: %s\n", nnp_last_error());
        } else {
            double worst = 0;
            for (size_t i = 0; i < ny; i++) {
                double e = fabs((double)y[i] - want[i]) / (1e-5 + 1e-4 * fabs(want[i]));
                worst = e > worst ? e : worst;
            }
            printf("%zu examples × %zu logits: largest error %.3g of the tolerance\n", n, out,
                   worst);
            rc = worst <= 1 ? 0 : 1;
            if (rc) printf("FAIL: outside the tolerance 1e-5 + 1e-4·|torch|\n");
        }
        free(y);
    }
    free(x);
    free(want);
    nnp_net_free(net);
    return rc;
}
