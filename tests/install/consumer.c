/* A tiny program built against an *installed* libnnprobe, as a user would build it
 * (tests/install/check-install.sh builds it with pkg-config and with find_package).
 * Exits non-zero on any failure; prints the logits of one forward pass on stdout so the
 * script can compare the differently built binaries. */
#include <nnprobe/nnprobe.h>

#include <stdio.h>
#include <string.h>

#define CHECK_OK(expr)                                                                  \
    do {                                                                                \
        nnp_status s_ = (expr);                                                         \
        if (s_ != NNP_OK) {                                                             \
            fprintf(stderr, "consumer: %s failed: %s (%s)\n", #expr, nnp_status_name(s_), \
                    nnp_last_error());                                                  \
            goto fail;                                                                  \
        }                                                                               \
    } while (0)

#define CHECK(cond)                                                      \
    do {                                                                 \
        if (!(cond)) {                                                   \
            fprintf(stderr, "consumer: check failed: %s\n", #cond);      \
            goto fail;                                                   \
        }                                                                \
    } while (0)

int main(void)
{
    nnp_net *net = NULL;
    nnp_net *bad = (nnp_net *)&net; /* any non-NULL value: must be reset to NULL on failure */
    float logits[2];
    const float x[4] = {0.1f, 0.9f, 0.4f, 0.6f};

    /* Header and library must agree (SQLite's documented check). */
    CHECK(nnp_version_number() == NNP_VERSION_NUMBER);
    CHECK(strcmp(nnp_version_string(), NNP_VERSION_STRING) == 0);
    CHECK(strcmp(nnp_status_name(NNP_EINVAL), "NNP_EINVAL") == 0);

    /* An error path: status, NULL out-handle and a message. */
    CHECK(nnp_net_create(0, 2, 2, &bad) == NNP_EINVAL);
    CHECK(bad == NULL);
    CHECK(nnp_last_error()[0] != '\0');

    /* 1×2×2 input -> dense 3 -> relu -> dense 2 */
    CHECK_OK(nnp_net_create(1, 2, 2, &net));
    CHECK_OK(nnp_net_add_dense(net, 3, NULL));
    CHECK_OK(nnp_net_add_activation(net, NNP_LAYER_RELU, NULL));
    CHECK_OK(nnp_net_add_dense(net, 2, NULL));
    CHECK(nnp_net_input_size(net) == 4);
    CHECK(nnp_net_output_size(net) == 2);
    CHECK_OK(nnp_net_init_params(net, 42));
    CHECK_OK(nnp_net_forward(net, NULL, x, 1, logits));

    printf("nnprobe %s (%u)\n", nnp_version_string(), nnp_version_number());
    /* %a: exact, so the binaries' outputs can be compared byte for byte */
    printf("logits %a %a\n", (double)logits[0], (double)logits[1]);
    nnp_net_free(net);
    return 0;

fail:
    nnp_net_free(net);
    return 1;
}
