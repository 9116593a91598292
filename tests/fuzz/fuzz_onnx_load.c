/* libFuzzer harness for the ONNX loader: any byte string must give NNP_OK or a clean status
 * with an "onnx:" message, never a crash, an out-of-bounds access, undefined behaviour or a
 * leak (built with -fsanitize=fuzzer,address,undefined; see tests/fuzz/run-fuzz). A loaded
 * net is also saved, reloaded and run once, so the saver and the forward pass see what the
 * loader accepts. */
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
    /* keep the forward pass small: skip nets with large inputs */
    size_t in = nnp_net_input_size(net), out = nnp_net_output_size(net);
    if (in <= 4096 && out <= 4096 && nnp_net_param_count(net) <= (1u << 20)) {
        float *x = calloc(in, sizeof *x), *y = calloc(out, sizeof *y);
        if (x && y) {
            for (size_t i = 0; i < in; i++) x[i] = (float)(i % 7) / 7.0f;
            nnp_status fs = nnp_forward(net, NULL, x, 1, y);
            if (fs != NNP_OK && fs != NNP_ENOMEM) {
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
