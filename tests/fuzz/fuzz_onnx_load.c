/* libFuzzer harness for the ONNX loader: any byte string must give NNP_OK or a clean status
 * with an "onnx:" message, never a crash, an out-of-bounds access, undefined behaviour or a
 * leak (built with -fsanitize=fuzzer,address,undefined; see tests/fuzz/run-fuzz). A loaded
 * net of moderate size is also run forward once, so the layers see what the loader accepts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nnprobe/nnprobe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nnp_net *net = NULL;
    nnp_status st = nnp_net_load_onnx_memory(data, size, &net);
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
