/* libFuzzer harness for the ONNX loader: any byte string must give NNP_OK or a clean status
 * with an "onnx:" message, never a crash, an out-of-bounds access, undefined behaviour or a
 * leak (built with -fsanitize=fuzzer,address,undefined; see tests/fuzz/run-fuzz). A loaded
 * net of moderate size is also run forward once, so the layers see what the loader accepts.
 *
 * The same bytes are also written to a file and loaded by path, through the reader's other
 * source (positioned reads through a window) with every raw_data above 4 bytes deferred and a
 * window of 1 to 64 bytes (lib/io/onnx_read.h's test hook), so that inputs of libFuzzer's
 * size reach those paths: both loads must agree on the status, the message and the
 * parameters. The file lives in a directory made once under $NNP_FUZZ_TMPDIR, else /dev/shm,
 * else $TMPDIR or /tmp, and removed at exit. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nnprobe/nnprobe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* lib/io/onnx_read.h (internal; the harness links the static library) */
void nnpi_onnx_read_test_sizes(size_t inline_max, size_t window);

static char dir[256], path[320];

static void cleanup(void)
{
    remove(path);
    if (dir[0] != '\0') rmdir(dir);
}

static void setup(void)
{
    const char *base = getenv("NNP_FUZZ_TMPDIR");
    if (base == NULL || base[0] == '\0')
        base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    if (base == NULL || base[0] == '\0') base = "/tmp";
    snprintf(dir, sizeof dir, "%s/fuzz_onnx.XXXXXX", base);
    if (mkdtemp(dir) == NULL) {
        perror("fuzz_onnx_load: mkdtemp");
        abort();
    }
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    atexit(cleanup);
}

/* Loads the bytes from a file and checks the result is the memory load's (st, net, msg). */
static void same_from_file(const uint8_t *data, size_t size, nnp_status st, const nnp_net *net,
                           const char *msg)
{
    if (dir[0] == '\0') setup();
    FILE *f = fopen(path, "wb");
    if (f == NULL || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) abort();
    nnp_net *back = NULL;
    nnpi_onnx_read_test_sizes(4, 1 + size % 64);
    nnp_status fst = nnp_net_load_onnx(path, &back);
    nnpi_onnx_read_test_sizes(0, 0);
    if (st == NNP_ENOMEM || fst == NNP_ENOMEM) { /* allocation patterns differ */
        nnp_net_free(back);
        return;
    }
    /* "onnx: <what>" from memory is "onnx: <path>: <what>" from the file */
    const char *fmsg = nnp_last_error();
    size_t plen = strlen(path);
    int same = fst == st;
    if (same && st != NNP_OK && strncmp(msg, "onnx: ", 6) == 0)
        same = strncmp(fmsg, "onnx: ", 6) == 0 && strncmp(fmsg + 6, path, plen) == 0 &&
               strcmp(fmsg + 6 + plen + 2, msg + 6) == 0;
    if (same && st == NNP_OK) {
        size_t n = nnp_net_param_count(net);
        same = nnp_net_layer_count(back) == nnp_net_layer_count(net) &&
               nnp_net_param_count(back) == n;
        for (size_t l = 0; same && l < nnp_net_layer_count(net); l++) {
            nnp_layer_info a = {.size = sizeof a}, b = {.size = sizeof b};
            if (nnp_net_layer_info(net, l, &a) != NNP_OK || nnp_net_layer_info(back, l, &b) != NNP_OK)
                abort();
            size_t nw = a.weight_count, nb = a.bias_count;
            if (nw != b.weight_count || nb != b.bias_count) {
                same = 0;
                break;
            }
            float *p = malloc((nw + nb + 1) * sizeof *p), *q = malloc((nw + nb + 1) * sizeof *q);
            if (!p || !q) abort();
            if (nnp_net_get_params(net, l, p, p + nw) != NNP_OK ||
                nnp_net_get_params(back, l, q, q + nw) != NNP_OK)
                abort();
            same = memcmp(p, q, (nw + nb) * sizeof *p) == 0;
            free(p);
            free(q);
        }
    }
    if (!same) {
        fprintf(stderr, "memory and file loads differ:\n  memory: %s: %s\n  file:   %s: %s\n",
                nnp_status_name(st), msg, nnp_status_name(fst), fmsg);
        abort();
    }
    nnp_net_free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nnp_net *net = NULL;
    nnp_status st = nnp_net_load_onnx_memory(data, size, &net);
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", st == NNP_OK ? "" : nnp_last_error());
    same_from_file(data, size, st, net, msg);
    if (st != NNP_OK) {
        if (net != NULL || (st != NNP_EFORMAT && st != NNP_EUNSUPPORTED && st != NNP_ENOMEM) ||
            strncmp(nnp_last_error(), "onnx: ", 6) != 0) {
            fprintf(stderr, "unclean refusal: %s: %s\n", nnp_status_name(st), nnp_last_error());
            abort();
        }
        return 0;
    }
    /* keep the forward pass small: skip nets whose activations are large (the loader accepts
     * up to 2^28 values per layer, the workspace would hold them all) */
    size_t in = nnp_net_input_size(net), out = nnp_net_output_size(net), acts = 0;
    for (size_t l = 0; l < nnp_net_layer_count(net); l++) {
        nnp_layer_info info = {.size = sizeof info};
        if (nnp_net_layer_info(net, l, &info) == NNP_OK) acts += info.output_size;
    }
    if (in <= 4096 && out <= 4096 && acts <= ((size_t)1 << 20) &&
        nnp_net_param_count(net) <= ((size_t)1 << 20)) {
        float *x = calloc(in, sizeof *x), *y = calloc(out, sizeof *y);
        if (x && y) {
            for (size_t i = 0; i < in; i++) x[i] = (float)(i % 7) / 7.0f;
            nnp_status fs = nnp_net_forward(net, NULL, x, 1, y);
            /* a model may overflow (weights of 3e38): NNP_ENUMERIC is a clean refusal */
            if (fs != NNP_OK && fs != NNP_ENOMEM && fs != NNP_ENUMERIC) {
                fprintf(stderr, "forward of a loaded net failed: %s\n", nnp_last_error());
                abort();
            }
        }
        free(x);
        free(y);
    }
    nnp_net_free(net);
    return 0;
}
