/* Input optimisation for maximum activation: projected, normalised gradient ascent on x in the
 * box [0,1] of ⟨φ_l(x), v⟩ − λ₂ Σ x² − λ_tv TV(x), all directions in one batch, with optional
 * jitter. The L2 prior is Simonyan, Vedaldi & Zisserman 2014 ("Deep inside convolutional
 * networks", eq. 1); the smoothed isotropic total variation is Rudin, Osher & Fatemi 1992 as
 * used for image priors by Mahendran & Vedaldi 2015 ("Understanding deep image
 * representations by inverting them", §3.2, β = 1 with a smoothing ε). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "net/net_internal.h"
#include "nnprobe/maxact.h"
#include "maxact/internal.h"

double nnpi_maxact_penalty(const float *x, size_t c, size_t h, size_t w, double l2, double tv,
                           double eps, float *grad)
{
    const size_t d = c * h * w;
    double p = 0.0;
    for (size_t j = 0; j < d; j++) {
        p += l2 * (double)x[j] * (double)x[j];
        if (grad) grad[j] = (float)(2.0 * l2 * (double)x[j]);
    }
    if (tv == 0.0) return p;
    for (size_t ch = 0; ch < c; ch++) {
        const float *xc = x + ch * h * w;
        float *gc = grad ? grad + ch * h * w : NULL;
        for (size_t i = 0; i < h; i++)
            for (size_t j = 0; j < w; j++) {
                const size_t at = i * w + j;
                const double here = xc[at];
                const double dv = i + 1 < h ? (double)xc[at + w] - here : 0.0;
                const double dh = j + 1 < w ? (double)xc[at + 1] - here : 0.0;
                const double r = sqrt(dv * dv + dh * dh + eps * eps);
                p += tv * (r - eps);
                if (!gc) continue;
                /* d r / d x: −(dv + dh)/r at (i,j), dv/r at (i+1,j), dh/r at (i,j+1) */
                gc[at] += (float)(-tv * (dv + dh) / r);
                if (i + 1 < h) gc[at + w] += (float)(tv * dv / r);
                if (j + 1 < w) gc[at + 1] += (float)(tv * dh / r);
            }
    }
    return p;
}

static void default_opt_opts(nnp_maxact_optimise_opts *o)
{
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    o->steps = 200;
    o->step_size = 0.05;
    o->l2 = 0.0;
    o->tv = 0.0;
    o->tv_eps = 0.01;
    o->jitter = 0;
    o->seed = 1;
}

NNP_API nnp_status nnp_maxact_optimise_opts_init_sized(nnp_maxact_optimise_opts *opts, size_t size)
{
    nnp_maxact_optimise_opts d;
    default_opt_opts(&d);
    return nnpi_opts_init(opts, size, &d, sizeof d, "nnp_maxact_optimise_opts_init");
}

static nnp_status check_opts(const nnp_maxact_optimise_opts *o, const nnpi_node *input,
                             size_t n_dir)
{
    const char *f = "nnp_maxact_optimise: opts";
    if (o->steps == 0) return nnpi_error(NNP_EINVAL, "%s.steps is 0", f);
    if (!(o->step_size > 0.0) || !isfinite(o->step_size))
        return nnpi_error(NNP_EINVAL, "%s.step_size = %g, must be > 0 and finite", f, o->step_size);
    if (!(o->l2 >= 0.0) || !isfinite(o->l2))
        return nnpi_error(NNP_EINVAL, "%s.l2 = %g, must be >= 0 and finite", f, o->l2);
    if (!(o->tv >= 0.0) || !isfinite(o->tv))
        return nnpi_error(NNP_EINVAL, "%s.tv = %g, must be >= 0 and finite", f, o->tv);
    if (!(o->tv_eps > 0.0) || !isfinite(o->tv_eps))
        return nnpi_error(NNP_EINVAL, "%s.tv_eps = %g, must be > 0 and finite", f, o->tv_eps);
    if (o->jitter > 0 && (o->jitter >= input->h || o->jitter >= input->w))
        return nnpi_error(NNP_EINVAL, "%s.jitter = %zu, must be smaller than the input's height "
                          "(%zu) and width (%zu)", f, o->jitter, input->h, input->w);
    if (o->start) {
        const size_t d = input->out_size;
        NNPI_TRY(nnpi_check_finite_input(o->start, n_dir, d, "nnp_maxact_optimise", "opts.start"));
        for (size_t i = 0; i < n_dir * d; i++)
            if (!(o->start[i] >= 0.0f && o->start[i] <= 1.0f))
                return nnpi_error(NNP_EINVAL, "%s.start[%zu] = %g (example %zu) is not in [0,1]", f,
                                  i, (double)o->start[i], i / d);
    }
    return NNP_OK;
}

typedef struct opt_buffers {
    nnp_workspace *ws, *owned; /* the pass's workspace; the one made here, if any */
    float *xs, *gs, *pg;   /* shifted inputs, their gradients (n × D); one penalty gradient (D) */
    size_t *shift;         /* per example: rows, columns */
    double *ss;            /* per example: squared norm of the gradient */
} opt_buffers;

static void free_opt(opt_buffers *b)
{
    nnp_workspace_free(b->owned);
    nnpi_free(b->xs);
    nnpi_free(b->gs);
    nnpi_free(b->pg);
    nnpi_free(b->shift);
    nnpi_free(b->ss);
}

/* Circular shift of every channel by (sy, sx): dst[i][j] = src[(i−sy) mod h][(j−sx) mod w];
 * `back` applies the inverse (dst[(i−sy)][(j−sx)] = src[i][j]). */
static void roll(const float *src, float *dst, size_t c, size_t h, size_t w, size_t sy, size_t sx,
                 int back)
{
    for (size_t ch = 0; ch < c; ch++) {
        const float *s = src + ch * h * w;
        float *t = dst + ch * h * w;
        for (size_t i = 0; i < h; i++) {
            size_t si = (i + h - sy) % h;
            for (size_t j = 0; j < w; j++) {
                size_t sj = (j + w - sx) % w;
                if (back) t[si * w + sj] = s[i * w + j];
                else t[i * w + j] = s[si * w + sj];
            }
        }
    }
}

/* One forward + backward pass at inputs `in` (n × D): φ_l in ws->act, Jᵀv in dphi; refused
 * (NNP_ENUMERIC, no backward pass) when φ_l is not finite for some direction. */
static nnp_status vjp_pass(const nnp_net *net, nnp_workspace *ws, const float *in, size_t n,
                           size_t layer, const float *v, float *dphi, const char *func)
{
    nnpi_forward(net, ws, in, n, layer);
    NNPI_TRY(nnpi_check_output(net, ws, in, n, layer, 0, func));
    memcpy(ws->grad[layer], v, n * net->nodes[layer].out_size * sizeof(float));
    nnpi_backward_begin(ws);
    ws->grad_set[layer] = 1;
    nnpi_backward(net, ws, in, n, layer, dphi, NULL, 0);
    return NNP_OK;
}

NNP_API nnp_status nnp_maxact_optimise(const nnp_net *net, nnp_workspace *ws, size_t layer, const float *directions,
                                       size_t n_dir, const nnp_maxact_optimise_opts *opts,
                                       float *x, float *score, float *objective)
{
    static const char *const F = "nnp_maxact_optimise";
    NNPI_CHECK_NULL(net);
    NNPI_CHECK_NULL(directions);
    NNPI_CHECK_NULL(x);
    NNPI_TRY(nnpi_check_layer(net, layer, F));
    if (layer == 0)
        return nnpi_error(NNP_EINVAL, "%s: layer 0 is the input; optimise a layer 1..%zu", F,
                          net->n_nodes - 1);
    if (n_dir == 0) return nnpi_error(NNP_EINVAL, "%s: n_dir is 0", F);
    nnp_maxact_optimise_opts o;
    default_opt_opts(&o);
    NNPI_TRY(nnpi_opts_copy(&o, sizeof o, opts, "nnp_maxact_optimise: opts"));
    const nnpi_node *input = &net->nodes[0];
    const size_t D = input->out_size, C = input->c, H = input->h, W = input->w;
    const size_t dim = net->nodes[layer].out_size;
    if (nnpi_mul(nnpi_mul(n_dir, D > dim ? D : dim), sizeof(float)) == SIZE_MAX)
        return nnpi_error(NNP_EINVAL, "%s: n_dir = %zu is too large", F, n_dir);
    NNPI_TRY(check_opts(&o, input, n_dir));
    NNPI_TRY(nnpi_maxact_check_directions(directions, n_dir, dim, F));

    opt_buffers b = {0};
    nnp_status s = nnpi_workspace_prepare(net, ws, n_dir, &b.ws, &b.owned);
    if (s != NNP_OK) return s;
    b.xs = o.jitter ? nnpi_malloc(nnpi_mul(nnpi_mul(n_dir, D), sizeof(float))) : NULL;
    b.gs = nnpi_malloc(nnpi_mul(nnpi_mul(n_dir, D), sizeof(float)));
    b.pg = nnpi_malloc(nnpi_mul(D, sizeof(float)));
    b.shift = nnpi_malloc(nnpi_mul(2 * n_dir, sizeof(size_t)));
    b.ss = nnpi_malloc(nnpi_mul(n_dir, sizeof(double)));
    if ((o.jitter && !b.xs) || !b.gs || !b.pg || !b.shift || !b.ss) {
        free_opt(&b);
        return nnpi_error(NNP_ENOMEM, "%s: out of memory for %zu directions", F, n_dir);
    }

    nnpi_rng rng;
    nnpi_rng_seed(&rng, o.seed);
    if (o.start) memcpy(x, o.start, n_dir * D * sizeof(float));
    else
        for (size_t i = 0; i < n_dir * D; i++)
            x[i] = (float)(0.5 + 0.2 * (nnpi_rng_uniform(&rng) - 0.5));

    /* Gradient of the penalised objective per example, then x ← clip(x + η g / rms(g)). */
    float *g = o.jitter ? b.xs : b.gs; /* without jitter the VJP lands in gs directly */
    for (size_t step = 1; step <= o.steps && s == NNP_OK; step++) {
        const float *in = x;
        if (o.jitter) {
            const uint64_t span = 2 * (uint64_t)o.jitter + 1;
            for (size_t e = 0; e < n_dir; e++) {
                /* shift in [−J, J], stored as its non-negative residue mod H and W */
                size_t sy = (size_t)nnpi_rng_below(&rng, span), sx = (size_t)nnpi_rng_below(&rng, span);
                b.shift[2 * e] = (sy + H - o.jitter) % H;
                b.shift[2 * e + 1] = (sx + W - o.jitter) % W;
                roll(x + e * D, b.xs + e * D, C, H, W, b.shift[2 * e], b.shift[2 * e + 1], 0);
            }
            in = b.xs;
        }
        char func[64]; /* the message's "example e" is direction e */
        snprintf(func, sizeof func, "%s: step %zu", F, step);
        if ((s = vjp_pass(net, b.ws, in, n_dir, layer, directions, b.gs, func)) != NNP_OK) break;
        if (o.jitter) /* shift the gradients back, into xs (no longer needed) */
            for (size_t e = 0; e < n_dir; e++)
                roll(b.gs + e * D, b.xs + e * D, C, H, W, b.shift[2 * e], b.shift[2 * e + 1], 1);
        /* all gradients first, so a non-finite one leaves x at the previous step */
        for (size_t e = 0; e < n_dir; e++) {
            float *ge = g + e * D;
            nnpi_maxact_penalty(x + e * D, C, H, W, o.l2, o.tv, o.tv_eps, b.pg);
            double ss = 0.0;
            for (size_t j = 0; j < D; j++) {
                ge[j] -= b.pg[j];
                ss += (double)ge[j] * (double)ge[j];
            }
            b.ss[e] = ss;
            if (!isfinite(ss) && s == NNP_OK)
                s = nnpi_error(NNP_ENUMERIC, "%s: the gradient of direction %zu became non-finite "
                               "at step %zu", F, e, step);
        }
        for (size_t e = 0; e < n_dir && s == NNP_OK; e++) {
            if (b.ss[e] == 0.0) continue; /* a flat point (e.g. dead ReLUs): nothing to climb */
            const float *ge = g + e * D;
            float *xe = x + e * D;
            const float scale = (float)(o.step_size / sqrt(b.ss[e] / (double)D));
            for (size_t j = 0; j < D; j++) {
                float v = xe[j] + scale * ge[j];
                xe[j] = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
            }
        }
        if (s == NNP_OK && o.progress && o.progress(step, o.steps, o.progress_user) != 0)
            s = nnpi_error(NNP_ECANCELLED, "%s: cancelled after step %zu of %zu", F, step, o.steps);
    }
    if (s == NNP_OK && (score || objective)) {
        nnpi_forward(net, b.ws, x, n_dir, layer);
        s = nnpi_check_output(net, b.ws, x, n_dir, layer, 0, F);
    }
    if (s == NNP_OK && (score || objective)) {
        const float *phi = b.ws->act[layer];
        for (size_t e = 0; e < n_dir; e++) {
            double dot = 0.0;
            for (size_t j = 0; j < dim; j++)
                dot += (double)phi[e * dim + j] * (double)directions[e * dim + j];
            double pen = nnpi_maxact_penalty(x + e * D, C, H, W, o.l2, o.tv, o.tv_eps, NULL);
            if (score) score[e] = (float)dot;
            if (objective) objective[e] = (float)(dot - pen);
        }
    }
    free_opt(&b);
    return s;
}
