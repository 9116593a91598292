#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/core.h"
#include "net/net_internal.h"

const char *tu_tmp_path(char *buf, size_t cap, const char *name)
{
    const char *dir = getenv("NNP_TEST_TMPDIR");
    if (dir == NULL || *dir == '\0') dir = "/tmp";
    snprintf(buf, cap, "%s/nnp_test_%ld_%s", dir, (long)getpid(), name);
    return buf;
}

void tu_fill_uniform(float *x, size_t n, float lo, float hi, uint64_t seed)
{
    uint64_t s = seed * 6364136223846793005ull + 1442695040888963407ull;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        double u = (double)(s >> 11) * 0x1.0p-53;
        x[i] = (float)(lo + (hi - lo) * u);
    }
}

int tu_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

tu_alloc_counts tu_alloc_failures(const tu_alloc_loop *loop)
{
    tu_alloc_counts c = {0, 0, 0, 0, NNP_OK};
    const char *what = loop->what ? loop->what : "operation";
    ck_assert_msg(loop->run != NULL && loop->max_k >= 1, "%s: tu_alloc_failures needs run and max_k",
                  what);
    for (long k = 1; k <= loop->max_k; k++) {
        nnpi_fail_alloc_after(k);
        nnp_status s = loop->run(loop->user, k);
        nnpi_fail_alloc_after(0);
        c.runs++;
        c.last = s;
        ck_assert_msg(s == NNP_OK || s == NNP_ENOMEM || (loop->also_allowed != NNP_OK &&
                                                         s == loop->also_allowed),
                      "%s, allocation %ld fails: %s (%s)", what, k, nnp_status_name(s),
                      nnp_last_error());
        if (s == NNP_ENOMEM) {
            c.failures++;
            if (loop->check_message)
                ck_assert_msg(strstr(nnp_last_error(), "out of memory") != NULL,
                              "%s, allocation %ld fails: message \"%s\" lacks \"out of memory\"",
                              what, k, nnp_last_error());
        } else if (s == NNP_OK) {
            c.successes++;
            if (c.first_ok == 0) c.first_ok = k;
        }
        if (loop->after) loop->after(loop->user, k, s);
        if (s == NNP_OK && loop->until_ok) break;
    }
    return c;
}

void tu_pass_unchecked(const nnp_net *net, const float *x, size_t n, size_t layer, float *out,
                       const float *v, float *dx)
{
    nnp_workspace *ws = NULL;
    ck_assert_int_eq(nnp_workspace_create(net, n, &ws), NNP_OK);
    nnpi_forward(net, ws, x, n, layer);
    memcpy(out, nnpi_node_output(ws, x, layer), n * net->nodes[layer].out_size * sizeof(float));
    if (dx) {
        memcpy(ws->grad[layer], v, n * net->nodes[layer].out_size * sizeof(float));
        nnpi_backward_begin(ws);
        ws->grad_set[layer] = 1;
        nnpi_backward(net, ws, x, n, layer, dx, NULL, 0);
    }
    nnp_workspace_free(ws);
}

nnp_dataset *tu_blobs8(size_t n, uint64_t seed, int labelled)
{
    float *x = malloc(n * 8 * sizeof(float)), noise[8];
    int32_t *y = malloc(n * sizeof(int32_t));
    ck_assert(x != NULL && y != NULL);
    for (size_t i = 0; i < n; i++) {
        int32_t c = (int32_t)(i % 4);
        y[i] = c;
        tu_fill_uniform(noise, 8, -0.14f, 0.14f, seed * 1000003u + i);
        for (int j = 0; j < 8; j++) {
            float centre = ((c >> (j % 2)) & 1) ? 0.8f : 0.2f;
            x[i * 8 + j] = centre + noise[j];
        }
    }
    nnp_dataset *ds = NULL;
    ck_assert_ok(nnp_dataset_create(n, 1, 1, 8, x, labelled ? y : NULL, &ds));
    free(x);
    free(y);
    return ds;
}

void tu_net_pair_free(void *user, long k, nnp_status s)
{
    (void)k;
    tu_net_pair *a = user;
    if (s == NNP_ENOMEM) ck_assert_ptr_null(a->copy);
    nnp_net_free(a->copy);
    nnp_net_free(a->net);
}
