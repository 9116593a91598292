/* Several threads query one const net at once and get exactly the serial results
 * (DESIGN: "a const nnp_net * may be queried from many threads at once"). Run under
 * ThreadSanitizer by scripts/run-tests. */
#include <pthread.h>
#include <stdlib.h>

#include "testutil.h"

#define THREADS 4
#define BATCH 8
#define ROUNDS 20
#define D 64
#define C 10

typedef struct job {
    const nnp_net *net;
    const float *x;
    const int32_t *labels;
    int use_workspace;
    float dx[BATCH * D], unit_dx[BATCH * D], logits[BATCH * C];
    nnp_status status;
} job;

static void *worker(void *p)
{
    job *j = p;
    nnp_workspace *ws = NULL;
    j->status = j->use_workspace ? nnp_workspace_create(j->net, BATCH, &ws) : NNP_OK;
    for (int r = 0; r < ROUNDS && j->status == NNP_OK; r++) {
        j->status = nnp_grad_loss(j->net, ws, j->x, j->labels, BATCH, j->dx, NULL, j->logits);
        if (j->status == NNP_OK)
            j->status = nnp_grad_unit(j->net, ws, j->x, BATCH, 2, 3, j->unit_dx, NULL);
    }
    nnp_workspace_free(ws);
    return NULL;
}

START_TEST(concurrent_queries_match_serial)
{
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_create(1, 8, 8, &net));
    ck_assert_ok(nnp_net_add_dense(net, 32, NULL));
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_SIGMOID, NULL));
    ck_assert_ok(nnp_net_add_dense(net, C, NULL));
    ck_assert_ok(nnp_net_init_params(net, 17));
    float x[BATCH * D];
    int32_t labels[BATCH];
    tu_fill_uniform(x, BATCH * D, 0, 1, 3);
    for (int i = 0; i < BATCH; i++) labels[i] = i % C;

    job serial = {.net = net, .x = x, .labels = labels, .use_workspace = 1};
    worker(&serial);
    ck_assert_ok(serial.status);

    job *jobs = calloc(THREADS, sizeof *jobs);
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++) {
        jobs[t] = (job){.net = net, .x = x, .labels = labels, .use_workspace = t % 2};
        ck_assert_int_eq(pthread_create(&th[t], NULL, worker, &jobs[t]), 0);
    }
    for (int t = 0; t < THREADS; t++) pthread_join(th[t], NULL);
    for (int t = 0; t < THREADS; t++) {
        ck_assert_ok(jobs[t].status);
        ck_assert_mem_eq(jobs[t].dx, serial.dx, sizeof serial.dx);
        ck_assert_mem_eq(jobs[t].unit_dx, serial.unit_dx, sizeof serial.unit_dx);
        ck_assert_mem_eq(jobs[t].logits, serial.logits, sizeof serial.logits);
    }
    free(jobs);
    nnp_net_free(net);
}
END_TEST

/* The error message is per thread: a failure in one thread does not overwrite another's. */
static void *fail_in_thread(void *p)
{
    nnp_net *net = NULL;
    *(nnp_status *)p = nnp_net_create(0, 1, 1, &net);
    return NULL;
}

START_TEST(error_message_is_thread_local)
{
    ck_assert_status(nnp_net_add_dense(NULL, 1, NULL), NNP_EINVAL);
    const char *mine = "nnp_net_add_dense: net is NULL";
    ck_assert_str_eq(nnp_last_error(), mine);
    pthread_t th;
    nnp_status other = NNP_OK;
    ck_assert_int_eq(pthread_create(&th, NULL, fail_in_thread, &other), 0);
    pthread_join(th, NULL);
    ck_assert_int_eq(other, NNP_EINVAL);
    ck_assert_str_eq(nnp_last_error(), mine);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("concurrency");
    TCase *tc = tcase_create("concurrency");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, concurrent_queries_match_serial);
    tcase_add_test(tc, error_message_is_thread_local);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
