/* Several threads run maximum-activation searches and input optimisations on one const net and
 * one const data set at once and get exactly the serial results (DESIGN: "a const nnp_net *
 * may be queried from many threads at once"). Its name matches the TSan stage of
 * scripts/run-tests (ctest -R concurrency). */
#include <pthread.h>
#include <stdlib.h>

#include "testutil.h"

#define THREADS 4
#define N 40
#define DIRS 3
#define K 5
#define UNITS 12

typedef struct job {
    const nnp_net *net;
    const nnp_dataset *ds;
    const float *dirs;
    int use_workspace;
    size_t top[DIRS * K], bottom[DIRS * K];
    float top_s[DIRS * K], x[DIRS * 16];
    nnp_status status;
} job;

static void *worker(void *p)
{
    job *j = p;
    nnp_workspace *ws = NULL;
    j->status = j->use_workspace ? nnp_workspace_create(j->net, 7, &ws) : NNP_OK;
    nnp_maxact_search_opts so;
    nnp_maxact_optimise_opts oo;
    if (j->status == NNP_OK) j->status = nnp_maxact_search_opts_init(&so);
    if (j->status == NNP_OK) j->status = nnp_maxact_optimise_opts_init(&oo);
    so.batch_size = 7;
    oo.steps = 20;
    oo.jitter = 1;
    oo.tv = 0.01;
    for (int r = 0; r < 5 && j->status == NNP_OK; r++) {
        j->status = nnp_maxact_search(j->net, ws, j->ds, 2, j->dirs, DIRS, K, &so, j->top, j->top_s, j->bottom, NULL, NULL);
        if (j->status == NNP_OK)
            j->status = nnp_maxact_optimise(j->net, ws, 2, j->dirs, DIRS, &oo, j->x, NULL, NULL);
    }
    nnp_workspace_free(ws);
    return NULL;
}

START_TEST(concurrent_maxact_matches_serial)
{
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_create(1, 4, 4, &net));
    ck_assert_ok(nnp_net_add_dense(net, UNITS, NULL));
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_TANH, NULL));
    ck_assert_ok(nnp_net_add_dense(net, 3, NULL));
    ck_assert_ok(nnp_net_init_params(net, 5));
    float *images = malloc(N * 16 * sizeof *images);
    tu_fill_uniform(images, N * 16, 0, 1, 6);
    nnp_dataset *ds = NULL;
    ck_assert_ok(nnp_dataset_create(N, 1, 4, 4, images, NULL, &ds));
    free(images);
    float dirs[DIRS * UNITS];
    ck_assert_ok(nnp_maxact_directions_random(UNITS, DIRS, 9, dirs));

    job *serial = calloc(1, sizeof *serial);
    *serial = (job){.net = net, .ds = ds, .dirs = dirs, .use_workspace = 1};
    worker(serial);
    ck_assert_ok(serial->status);
    job *jobs = calloc(THREADS, sizeof *jobs);
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++) {
        jobs[t] = (job){.net = net, .ds = ds, .dirs = dirs, .use_workspace = t % 2};
        ck_assert_int_eq(pthread_create(&th[t], NULL, worker, &jobs[t]), 0);
    }
    for (int t = 0; t < THREADS; t++) pthread_join(th[t], NULL);
    for (int t = 0; t < THREADS; t++) {
        ck_assert_ok(jobs[t].status);
        ck_assert_mem_eq(jobs[t].top, serial->top, sizeof serial->top);
        ck_assert_mem_eq(jobs[t].bottom, serial->bottom, sizeof serial->bottom);
        ck_assert_mem_eq(jobs[t].top_s, serial->top_s, sizeof serial->top_s);
        ck_assert_mem_eq(jobs[t].x, serial->x, sizeof serial->x);
    }
    free(jobs);
    free(serial);
    nnp_dataset_free(ds);
    nnp_net_free(net);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("concurrency_maxact");
    TCase *tc = tcase_create("concurrency");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, concurrent_maxact_matches_serial);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
