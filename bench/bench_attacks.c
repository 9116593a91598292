/* bench_attacks: throughput of the gradient attacks (FGSM, PGD L∞ and L2, Carlini–Wagner L2)
 * on FC200-200-10 (784-200-200-10, sigmoid after each hidden dense layer), through the public
 * API. bench/torch_attacks.py runs the same workloads as plain PyTorch loops;
 * bench/run-gradient-attacks-bench runs both and prints the ratio.
 *
 * Every case does a fixed amount of work, so the two sides compare like for like:
 *   fgsm      one gradient step (nnp_attack_fgsm, ε = 0.1)
 *   pgd-linf  40 steps, random start, ε = 0.1 (nnp_attack_pgd)
 *   pgd-l2    40 steps, random start, ε = 1.5
 *   cw        one value of c (0.1), 100 Adam steps, abort_early off (nnp_attack_cw)
 * on --n examples (default 256) in batches of --batch (default 128), untargeted, inputs
 * uniform in [0, 1), parameters from nnp_net_init_params(--seed), labels the net's own
 * predictions (so no example is done before the first step and both sides do all the work).
 * DeepFool is not timed: its work depends on when each example crosses, which differs between
 * two nets with different weights.
 *
 * Timing: bench_time_best() of benchutil.c (warm-up 0.2 s, then --reps repetitions of about
 * --min-time seconds; best kept). Output: examples/s per case, text or --csv.
 * Usage: bench_attacks [--min-time S] [--reps N] [--n N] [--batch N] [--seed N] [--csv]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchutil.h"

#define IN_SIZE 784
#define CLASSES 10

typedef struct ctx {
    const nnp_net *net;
    const float *x;
    const int32_t *labels;
    size_t n, batch;
    float *x_adv;
    nnp_attack_result *res;
    const char *kase;
} ctx;

static void run_case(void *p)
{
    ctx *c = p;
    nnp_status s;
    if (strcmp(c->kase, "fgsm") == 0) {
        nnp_attack_fgsm_opts o;
        bench_check(nnp_attack_fgsm_opts_init(&o), "nnp_attack_fgsm_opts_init");
        o.epsilon = 0.1;
        o.batch_size = c->batch;
        s = nnp_attack_fgsm(c->net, c->x, c->labels, NULL, c->n, &o, c->x_adv, c->res);
    } else if (strncmp(c->kase, "pgd", 3) == 0) {
        nnp_attack_pgd_opts o;
        bench_check(nnp_attack_pgd_opts_init(&o), "nnp_attack_pgd_opts_init");
        int l2 = strcmp(c->kase, "pgd-l2") == 0;
        o.norm = l2 ? NNP_ATTACK_NORM_L2 : NNP_ATTACK_NORM_LINF;
        o.epsilon = l2 ? 1.5 : 0.1;
        o.steps = 40;
        o.batch_size = c->batch;
        s = nnp_attack_pgd(c->net, c->x, c->labels, NULL, c->n, &o, c->x_adv, c->res);
    } else {
        nnp_attack_cw_opts o;
        bench_check(nnp_attack_cw_opts_init(&o), "nnp_attack_cw_opts_init");
        o.c_init = 0.1;
        o.binary_search_steps = 1;
        o.steps = 100;
        o.abort_early = 0;
        o.batch_size = c->batch;
        s = nnp_attack_cw(c->net, c->x, c->labels, NULL, c->n, &o, c->x_adv, c->res);
    }
    bench_check(s, c->kase);
}

int main(int argc, char **argv)
{
    size_t n = 256, batch = 128;
    int csv = 0;
    bench_opt.min_time = 1.0;
    bench_opt.reps = 3;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--csv") == 0) csv = 1;
        else if (strcmp(a, "--min-time") == 0 && v) bench_opt.min_time = strtod(argv[++i], NULL);
        else if (strcmp(a, "--reps") == 0 && v) bench_opt.reps = atoi(argv[++i]);
        else if (strcmp(a, "--n") == 0 && v) n = strtoul(argv[++i], NULL, 10);
        else if (strcmp(a, "--batch") == 0 && v) batch = strtoul(argv[++i], NULL, 10);
        else if (strcmp(a, "--seed") == 0 && v) bench_opt.seed = strtoull(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: bench_attacks [--min-time S] [--reps N] [--n N] [--batch N] "
                            "[--seed N] [--csv]\n");
            return strcmp(a, "--help") == 0 ? 0 : 2;
        }
    }
    if (n < 1 || batch < 1 || bench_opt.reps < 1 || !(bench_opt.min_time > 0)) {
        fprintf(stderr, "bench_attacks: --n, --batch, --reps and --min-time must be positive\n");
        return 2;
    }
    nnp_net *net = NULL;
    bench_check(nnp_net_create(1, 28, 28, &net), "nnp_net_create");
    bench_check(nnp_net_add_dense(net, 200, NULL), "nnp_net_add_dense");
    bench_check(nnp_net_add_activation(net, NNP_LAYER_SIGMOID, NULL), "nnp_net_add_activation");
    bench_check(nnp_net_add_dense(net, 200, NULL), "nnp_net_add_dense");
    bench_check(nnp_net_add_activation(net, NNP_LAYER_SIGMOID, NULL), "nnp_net_add_activation");
    bench_check(nnp_net_add_dense(net, CLASSES, NULL), "nnp_net_add_dense");
    bench_check(nnp_net_init_params(net, bench_opt.seed), "nnp_net_init_params");
    float *x = bench_xmalloc(n * IN_SIZE * sizeof(float));
    float *x_adv = bench_xmalloc(n * IN_SIZE * sizeof(float));
    int32_t *labels = bench_xmalloc(n * sizeof(int32_t));
    nnp_attack_result *res = bench_xmalloc(n * sizeof *res);
    bench_seed_rng(bench_opt.seed);
    for (size_t i = 0; i < n * IN_SIZE; i++) x[i] = bench_rnd01();
    /* labels = the net's own predictions, so that every example is attacked (an example the
     * net already misclassifies would be done before any step) */
    float *z = bench_xmalloc(n * CLASSES * sizeof(float));
    bench_check(nnp_net_forward(net, NULL, x, n, z), "nnp_net_forward");
    for (size_t i = 0; i < n; i++) {
        int32_t b = 0;
        for (int32_t j = 1; j < CLASSES; j++)
            if (z[i * CLASSES + j] > z[i * CLASSES + b]) b = j;
        labels[i] = b;
    }
    free(z);
    static const char *cases[] = {"fgsm", "pgd-linf", "pgd-l2", "cw"};
    if (csv) printf("case,n,batch,examples_per_s\n");
    else printf("bench_attacks: FC200-200-10, %zu examples, batch %zu, nnprobe %s\n", n, batch,
                nnp_version_string());
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        ctx c = {net, x, labels, n, batch, x_adv, res, cases[k]};
        double sec = bench_time_best(run_case, &c, NULL);
        double ex = (double)n / sec;
        if (csv) printf("%s,%zu,%zu,%.1f\n", cases[k], n, batch, ex);
        else printf("  %-9s %10.1f examples/s\n", cases[k], ex);
    }
    free(x);
    free(x_adv);
    free(labels);
    free(res);
    nnp_net_free(net);
    return 0;
}
