/* Shards (include/nnprobe/shard.h and the merge functions of eval.h, maxact.h, lipschitz.h):
 * for each data-set-wide probe, 3 shards run apart and merged equal the whole run bit for bit
 * (memcmp of per-example results and of top-k lists, ties included). The shard ranges are
 * checked against a reference written here (block b belongs to the shard s with
 * ⌊s·B/n⌋ ≤ b < ⌊(s+1)·B/n⌋, found by scanning). */
#include <math.h>
#include <stdlib.h>

#include "testutil.h"

enum { NSHARD = 3 };

/* Dense net on 1×4×4 inputs: ReLU (exact zeros, hence ties), tanh, 5 logits. */
static nnp_net *small_net(uint64_t seed)
{
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_create(1, 4, 4, &net));
    ck_assert_ok(nnp_net_add_dense(net, 12, NULL));
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_RELU, NULL)); /* layer 2 */
    ck_assert_ok(nnp_net_add_dense(net, 8, NULL));
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_TANH, NULL));
    ck_assert_ok(nnp_net_add_dense(net, 5, NULL));
    ck_assert_ok(nnp_net_init_params(net, seed));
    return net;
}

enum { N = 23, D = 16, K = 5 };

/* N examples in [0,1] (examples 9 and 17 repeat 2 and 5: exact ties across shards), labels. */
static void make_data(float *x, int32_t *labels)
{
    tu_fill_uniform(x, N * D, 0.0f, 1.0f, 77);
    memcpy(x + 9 * D, x + 2 * D, D * sizeof *x);
    memcpy(x + 17 * D, x + 5 * D, D * sizeof *x);
    for (size_t i = 0; i < N; i++) labels[i] = (int32_t)((i * 7) % K);
}

/* ---- ranges ---- */

START_TEST(ranges_match_reference)
{
    for (size_t n = 1; n <= 40; n++)
        for (size_t count = 1; count <= 7; count++)
            for (size_t granule = 1; granule <= 5; granule++) {
                const size_t blocks = (n + granule - 1) / granule;
                size_t next = 0;
                for (size_t s = 0; s < count; s++) {
                    size_t first = 99, len = 99;
                    ck_assert_ok(nnp_shard_range(n, s, count, granule, &first, &len));
                    /* reference: blocks b with floor(s·B/count) <= b < floor((s+1)·B/count) */
                    size_t want_len = 0, want_first = n;
                    for (size_t b = 0; b < blocks; b++)
                        if (s * blocks / count <= b && b < (s + 1) * blocks / count) {
                            const size_t lo = b * granule, hi = lo + granule < n ? lo + granule : n;
                            if (want_first == n) want_first = lo;
                            want_len += hi - lo;
                        }
                    ck_assert_uint_eq(len, want_len);
                    if (len > 0) {
                        ck_assert_uint_eq(first, want_first);
                        ck_assert_uint_eq(first, next); /* contiguous, in order */
                        ck_assert_uint_eq(first % granule, 0);
                    }
                    next += len;
                }
                ck_assert_uint_eq(next, n); /* every example exactly once */
            }
}
END_TEST

START_TEST(range_refuses_bad_arguments)
{
    size_t f, l;
    ck_assert_status(nnp_shard_range(10, 3, 3, 1, &f, &l), NNP_EINVAL);
    ck_assert_error_has("index 3");
    ck_assert_status(nnp_shard_range(0, 0, 3, 1, &f, &l), NNP_EINVAL);
    ck_assert_status(nnp_shard_range(10, 0, 0, 1, &f, &l), NNP_EINVAL);
    ck_assert_status(nnp_shard_range(10, 0, 3, 0, &f, &l), NNP_EINVAL);
    ck_assert_status(nnp_shard_range(10, 0, 3, 1, NULL, &l), NNP_EINVAL);
}
END_TEST

/* ---- attacks: per-example results concatenate ---- */

typedef nnp_status (*attack_fn)(const nnp_net *, const float *, const int32_t *, size_t,
                                size_t first, size_t batch, float *, nnp_attack_result *);

static nnp_status run_pgd(const nnp_net *net, const float *x, const int32_t *labels, size_t n,
                          size_t first, size_t batch, float *adv, nnp_attack_result *res)
{
    nnp_attack_pgd_opts o;
    ck_assert_ok(nnp_attack_pgd_opts_init(&o));
    o.epsilon = 0.2;
    o.steps = 5;
    o.batch_size = batch;
    o.first_index = first;
    return nnp_attack_pgd(net, x, labels, NULL, n, &o, adv, res);
}

static nnp_status run_lbfgs(const nnp_net *net, const float *x, const int32_t *labels, size_t n,
                            size_t first, size_t batch, float *adv, nnp_attack_result *res)
{
    (void)first; /* deterministic: nothing depends on the global index */
    nnp_attack_lbfgs_opts o;
    ck_assert_ok(nnp_attack_lbfgs_opts_init(&o));
    o.c_bracket_steps = 3;
    o.c_bisect_steps = 2;
    o.max_iterations = 30;
    o.batch_size = batch;
    return nnp_attack_lbfgs(net, x, labels, NULL, n, &o, adv, res);
}

START_TEST(attack_shards_equal_whole_run)
{
    const attack_fn fn = _i == 0 ? run_pgd : run_lbfgs;
    const size_t batch = 4;
    nnp_net *net = small_net(5);
    float x[N * D], whole[N * D], parts[N * D];
    int32_t labels[N];
    make_data(x, labels);
    nnp_attack_result rw[N], rp[N];
    ck_assert_ok(fn(net, x, labels, N, 0, batch, whole, rw));
    memset(parts, 0xff, sizeof parts);
    memset(rp, 0xff, sizeof rp);
    for (size_t s = 0; s < NSHARD; s++) {
        size_t first, len;
        ck_assert_ok(nnp_shard_range(N, s, NSHARD, batch, &first, &len));
        ck_assert_uint_gt(len, 0);
        ck_assert_ok(fn(net, x + first * D, labels + first, len, first, batch,
                        parts + first * D, rp + first));
    }
    ck_assert_msg(memcmp(whole, parts, sizeof whole) == 0, "x_adv of the shards differ");
    for (size_t i = 0; i < N; i++)
        ck_assert_msg(memcmp(&rw[i], &rp[i], sizeof rw[i]) == 0, "result %zu differs", i);
    nnp_net_free(net);
}
END_TEST

/* ---- error rates and the transfer matrix: counts summed ---- */

START_TEST(error_rates_merge_exactly)
{
    nnp_net *nets[2] = {small_net(5), small_net(6)};
    float x[N * D], noisy[N * D];
    int32_t labels[N];
    make_data(x, labels);
    ck_assert_ok(nnp_eval_noise_gaussian(x, N * D, 0.3, 9, noisy));
    double whole_rate, whole_tm[4];
    ck_assert_ok(nnp_eval_error_rate(nets[0], x, labels, N, &whole_rate, NULL));
    const float *sets[2] = {x, noisy};
    ck_assert_ok(nnp_eval_transfer_matrix((const nnp_net *const *)nets, 2, sets, 2, labels, N,
                                          whole_tm));
    double rates[NSHARD], tms[NSHARD * 4];
    size_t counts[NSHARD];
    for (size_t s = 0; s < NSHARD; s++) {
        size_t first;
        ck_assert_ok(nnp_shard_range(N, s, NSHARD, 1, &first, &counts[s]));
        ck_assert_ok(nnp_eval_error_rate(nets[0], x + first * D, labels + first, counts[s],
                                         &rates[s], NULL));
        const float *ss[2] = {x + first * D, noisy + first * D};
        ck_assert_ok(nnp_eval_transfer_matrix((const nnp_net *const *)nets, 2, ss, 2,
                                              labels + first, counts[s], tms + 4 * s));
    }
    double rate, tm[4];
    ck_assert_ok(nnp_eval_merge_rates(rates, counts, NSHARD, 1, &rate));
    ck_assert_ok(nnp_eval_merge_rates(tms, counts, NSHARD, 4, tm));
    ck_assert_msg(memcmp(&rate, &whole_rate, sizeof rate) == 0, "%.17g vs %.17g", rate,
                  whole_rate);
    ck_assert_msg(memcmp(tm, whole_tm, sizeof tm) == 0, "transfer matrices differ");
    /* a rate that is no count of its part's examples (a shard of another run) is refused */
    counts[1] += 1;
    ck_assert_status(nnp_eval_merge_rates(rates, counts, NSHARD, 1, &rate), NNP_EINVAL);
    ck_assert_error_has("part 1");
    nnp_net_free(nets[0]);
    nnp_net_free(nets[1]);
}
END_TEST

/* ---- max-activation search: top-k lists merged ---- */

START_TEST(maxact_shards_merge_to_whole_lists)
{
    const size_t batch = 4, layer = 2, dim = 12, ndir = 3;
    const size_t k = _i == 0 ? 6 : 30; /* 30 > N: empty entries in every shard */
    nnp_net *net = small_net(5);
    float x[N * D];
    int32_t labels[N];
    make_data(x, labels);
    float dirs[3 * 12];
    ck_assert_ok(nnp_maxact_directions_unit(dim, 0, dirs));
    ck_assert_ok(nnp_maxact_directions_unit(dim, 3, dirs + dim)); /* ReLU zeros: many ties */
    ck_assert_ok(nnp_maxact_directions_random(dim, 1, 4, dirs + 2 * dim));
    nnp_maxact_search_opts o;
    ck_assert_ok(nnp_maxact_search_opts_init(&o));
    o.batch_size = batch;
    nnp_dataset *all = NULL;
    ck_assert_ok(nnp_dataset_create(N, 1, 4, 4, x, NULL, &all));
    size_t *wi = malloc(2 * ndir * k * sizeof *wi);
    size_t *pi = malloc(2 * NSHARD * ndir * k * sizeof *pi);
    float *ws = malloc(2 * ndir * k * sizeof *ws);
    float *ps = malloc(2 * NSHARD * ndir * k * sizeof *ps);
    size_t wfound, found;
    ck_assert_ok(nnp_maxact_search(net, NULL, all, layer, dirs, ndir, k, &o, wi, ws,
                                   wi + ndir * k, ws + ndir * k, &wfound));
    const size_t *ti[NSHARD], *bi[NSHARD];
    const float *tsc[NSHARD], *bsc[NSHARD];
    for (size_t s = 0; s < NSHARD; s++) {
        size_t first, len;
        ck_assert_ok(nnp_shard_range(N, s, NSHARD, batch, &first, &len));
        nnp_dataset *part = NULL;
        ck_assert_ok(nnp_dataset_subset(all, first, len, &part));
        o.first_index = first;
        size_t *idx = pi + 2 * s * ndir * k;
        float *sc = ps + 2 * s * ndir * k;
        ck_assert_ok(nnp_maxact_search(net, NULL, part, layer, dirs, ndir, k, &o, idx, sc,
                                       idx + ndir * k, sc + ndir * k, NULL));
        ti[s] = idx, tsc[s] = sc, bi[s] = idx + ndir * k, bsc[s] = sc + ndir * k;
        nnp_dataset_free(part);
    }
    size_t *mi = malloc(ndir * k * sizeof *mi);
    float *ms = malloc(ndir * k * sizeof *ms);
    ck_assert_ok(nnp_maxact_merge(ti, tsc, NSHARD, ndir, k, 1, mi, ms, &found));
    ck_assert_uint_eq(found, wfound);
    ck_assert_msg(memcmp(mi, wi, ndir * k * sizeof *mi) == 0, "merged top indices differ");
    ck_assert_msg(memcmp(ms, ws, ndir * k * sizeof *ms) == 0, "merged top scores differ");
    /* the parts in another order merge the same */
    const size_t *rbi[NSHARD] = {bi[2], bi[0], bi[1]};
    const float *rbsc[NSHARD] = {bsc[2], bsc[0], bsc[1]};
    ck_assert_ok(nnp_maxact_merge(rbi, rbsc, NSHARD, ndir, k, 0, mi, ms, &found));
    ck_assert_msg(memcmp(mi, wi + ndir * k, ndir * k * sizeof *mi) == 0,
                  "merged bottom indices differ");
    ck_assert_msg(memcmp(ms, ws + ndir * k, ndir * k * sizeof *ms) == 0,
                  "merged bottom scores differ");
    /* one shard passed twice: refused, naming the index and both parts */
    const size_t *twice[2] = {ti[1], ti[1]};
    const float *twice_s[2] = {tsc[1], tsc[1]};
    ck_assert_status(nnp_maxact_merge(twice, twice_s, 2, ndir, k, 1, mi, ms, NULL), NNP_EINVAL);
    ck_assert_error_has("part 0 and part 1");
    free(wi), free(pi), free(ws), free(ps), free(mi), free(ms);
    nnp_dataset_free(all);
    nnp_net_free(net);
}
END_TEST

/* ---- Lipschitz lower bound: norms concatenate, the max merges ---- */

START_TEST(lipschitz_lower_shards_equal_whole_run)
{
    const size_t batch = 4, layer = 5;
    nnp_net *net = small_net(5);
    float x[N * D];
    int32_t labels[N];
    make_data(x, labels);
    nnp_lipschitz_opts o;
    ck_assert_ok(nnp_lipschitz_opts_init(&o));
    o.batch_size = batch;
    o.power_iters = 20;
    double wn[N], pn[N], wl, lows[NSHARD];
    size_t wa, args[NSHARD];
    ck_assert_ok(nnp_lipschitz_lower(net, x, N, layer, &o, wn, &wl, &wa));
    for (size_t s = 0; s < NSHARD; s++) {
        size_t first, len;
        ck_assert_ok(nnp_shard_range(N, s, NSHARD, batch, &first, &len));
        o.first_index = first;
        ck_assert_ok(nnp_lipschitz_lower(net, x + first * D, len, layer, &o, pn + first,
                                         &lows[s], &args[s]));
    }
    ck_assert_msg(memcmp(wn, pn, sizeof wn) == 0, "per-point norms differ");
    double l;
    size_t a;
    ck_assert_ok(nnp_lipschitz_lower_merge(lows, args, NSHARD, &l, &a));
    ck_assert_msg(memcmp(&l, &wl, sizeof l) == 0, "%.17g vs %.17g", l, wl);
    ck_assert_uint_eq(a, wa);
    /* equal bounds go to the smaller global index, whatever the order of the parts */
    const double tie[3] = {2.0, 2.0, 1.0};
    const size_t at[3] = {14, 3, 20};
    ck_assert_ok(nnp_lipschitz_lower_merge(tie, at, 3, &l, &a));
    ck_assert_uint_eq(a, 3);
    const size_t dup[2] = {4, 4};
    ck_assert_status(nnp_lipschitz_lower_merge(tie, dup, 2, &l, &a), NNP_EINVAL);
    ck_assert_error_has("parts 0 and 1");
    nnp_net_free(net);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("shard");
    TCase *r = tcase_create("range");
    tcase_add_test(r, ranges_match_reference);
    tcase_add_test(r, range_refuses_bad_arguments);
    suite_add_tcase(s, r);
    TCase *p = tcase_create("probes");
    tcase_set_timeout(p, 60);
    tcase_add_loop_test(p, attack_shards_equal_whole_run, 0, 2);
    tcase_add_test(p, error_rates_merge_exactly);
    tcase_add_loop_test(p, maxact_shards_merge_to_whole_lists, 0, 2);
    tcase_add_test(p, lipschitz_lower_shards_equal_whole_run);
    suite_add_tcase(s, p);
    return tu_run(s);
}
