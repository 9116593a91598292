/* Per-layer Lipschitz bounds, exact operator norms of linear layers, whole-net bounds and the
 * empirical lower bound (include/nnprobe/lipschitz.h states every rule).
 *
 * Design choice: the per-kind bound is a switch in this file rather than a new entry in
 * nnpi_layer_ops. The bounds need the layer's parameters and attributes in ways that differ
 * per kind (Fourier grid, window geometry), a switch keeps every formula and its derivation in
 * one place next to the whole-net combination, and it leaves lib/net untouched while other
 * modules add kinds; an unknown kind is refused (NNP_EUNSUPPORTED) rather than guessed.
 *
 * LRN bound (our derivation; research/paper.md §6 notes the paper gives none). Per example and
 * spatial position the layer maps the C channels by y_c = x_c d_c^−β, d_c = k + a S_c,
 * a = α/size, S_c = Σ_{j∈W(c)} x_j². Its Jacobian (layer_norm.c) is J = D − 2aβ E with
 * D = diag(d_c^−β), E_cj = x_c x_j d_c^(−β−1) [j ∈ W(c)]. Since d_c ≥ k, ‖D‖ ≤ k^−β. For E:
 * |x_c|, |x_j| ≤ √S_c, and S_c d_c^(−β−1) = (d_c − k) d_c^(−β−1)/a ≤ k^−β g/a with
 * g = β^β/(1+β)^(1+β) (the maximum of (d−k)d^(−β−1) over d ≥ k, at d = k(1+β)/β). Row c of |E|
 * sums to ≤ |x_c| d_c^(−β−1) √m √S_c ≤ √m k^−β g/a (Cauchy–Schwarz over the ≤ m = min(size, C)
 * channels of W(c)); column j to ≤ m k^−β g/a (j lies in ≤ m windows). Schur's test gives
 * ‖E‖ ≤ m^¾ k^−β g/a, hence sup‖J‖ ≤ k^−β (1 + 2β m^¾ g), independent of α. For AlexNet's
 * LRN (size 5, β = 0.75, k = 2) that is 1.50. LRN is smooth, so sup‖J‖ is its Lipschitz
 * constant's bound.
 *
 * Contrast normalisation: J = s I + 2s'(t) x xᵀ, s = (ε+t)^−γ, t = ‖x‖², has eigenvalues s and
 * s(1 − 2γ t/(ε+t)); |1 − 2γu| ≤ max(1, 2γ−1) for u ∈ [0, 1), s ≤ ε^−γ (paper.md §6). */
#include <math.h>
#include <string.h>

#include "nnprobe/lipschitz.h"
#include "probe/lip_jvp.h"
#include "probe/spectral.h"

static void default_opts(nnp_lipschitz_opts *o)
{
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    o->exact = 1;
    o->tol = 1e-6;
    o->max_iter = 1000;
    o->max_basis = 128;
    o->power_iters = 100;
    o->batch_size = 32;
    o->seed = 1;
    o->clever_batches = 50;
    o->clever_samples = 128;
}

NNP_API nnp_status nnp_lipschitz_opts_init_sized(nnp_lipschitz_opts *opts, size_t size)
{
    nnp_lipschitz_opts d;
    default_opts(&d);
    return nnpi_opts_init(opts, size, &d, sizeof d, "nnp_lipschitz_opts_init");
}

static nnp_status check_opts(const nnp_lipschitz_opts *o, const char *f)
{
    if (!(o->tol > 0.0 && o->tol <= 0.1))
        return nnpi_error(NNP_EINVAL, "%s: opts.tol = %g, must be in (0, 0.1]", f, o->tol);
    if (o->max_iter == 0) return nnpi_error(NNP_EINVAL, "%s: opts.max_iter is 0", f);
    if (o->max_basis < 2)
        return nnpi_error(NNP_EINVAL, "%s: opts.max_basis = %zu, must be >= 2", f, o->max_basis);
    if (o->power_iters == 0) return nnpi_error(NNP_EINVAL, "%s: opts.power_iters is 0", f);
    if (o->batch_size == 0) return nnpi_error(NNP_EINVAL, "%s: opts.batch_size is 0", f);
    return NNP_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Exact norms: Lanczos on AᵀA of one linear layer, A = its forward pass without offsets. */

typedef struct layer_op {
    const nnpi_node *node;
    const float *params;     /* the node's linear parameters */
    float *fin, *fout, *fgrad, *scratch;
    size_t din, dout;
} layer_op;

static nnp_status layer_gram(void *vctx, const double *v, double *out)
{
    layer_op *c = vctx;
    static const unsigned char overwrite[NNP_MAX_LAYER_INPUTS] = {0};
    for (size_t i = 0; i < c->din; i++) c->fin[i] = (float)v[i];
    const float *in[1] = {c->fin};
    c->node->ops->forward(c->node, c->params, in, c->fout, 1, c->scratch);
    float *din[1] = {c->fgrad};
    c->node->ops->backward_input(c->node, c->params, in, c->fout, c->fout, din, 1, overwrite,
                                 c->scratch);
    for (size_t i = 0; i < c->din; i++) out[i] = c->fgrad[i];
    return NNP_OK;
}

static int has_exact_norm(nnp_layer_kind k)
{
    return k == NNP_LAYER_DENSE || k == NNP_LAYER_CONV2D || k == NNP_LAYER_AVGPOOL ||
           k == NNP_LAYER_GLOBAL_AVGPOOL || k == NNP_LAYER_BATCHNORM;
}

static nnp_status exact_norm(const nnpi_node *node, const float *lin_params, size_t index,
                             const nnp_lipschitz_opts *o, const double *start, uint64_t done_base,
                             uint64_t total, nnp_lipschitz_info *info)
{
    layer_op c = {node, lin_params + node->param_offset, NULL, NULL, NULL, NULL, node->in_size,
                  node->out_size};
    const size_t scratch = node->ops->scratch_floats ? node->ops->scratch_floats(node, 1) : 0;
    /* the backward pass may read in[0] while writing din[0]: separate buffers */
    c.fin = nnpi_malloc(nnpi_mul(c.din, sizeof(float)));
    c.fgrad = nnpi_malloc(nnpi_mul(c.din, sizeof(float)));
    c.fout = nnpi_malloc(nnpi_mul(c.dout, sizeof(float)));
    c.scratch = nnpi_malloc(nnpi_mul(scratch > 0 ? scratch : 1, sizeof(float)));
    nnp_status st = NNP_OK;
    if (!c.fin || !c.fgrad || !c.fout || !c.scratch) {
        st = nnpi_error(NNP_ENOMEM, "nnp_lipschitz_bounds: layer %zu: out of memory", index);
        goto done;
    }
    const nnpi_lanczos_opts lo = {.tol = o->tol, .max_iter = o->max_iter,
                                  .max_basis = o->max_basis, .seed = o->seed + index,
                                  .full_reorth = o->full_reorth, .start = start,
                                  .progress = o->progress, .progress_user = o->progress_user,
                                  .done_base = done_base, .total = total};
    nnpi_lanczos_result r;
    st = nnpi_lanczos_top(c.din, layer_gram, &c, &lo, NULL, &r);
    if (st != NNP_OK) {
        st = nnpi_error_prefix(st, "nnp_lipschitz_bounds: layer %zu (%s)", index, node->ops->name);
        goto done;
    }
    info->exact = r.sigma;
    info->accuracy = r.rel_err;
    info->converged = r.converged;
    info->iterations = r.iterations;
    info->applications = 2 * r.iterations;
done:
    nnpi_free(c.fin);
    nnpi_free(c.fout);
    nnpi_free(c.scratch);
    nnpi_free(c.fgrad);
    return st;
}

/* ---------------------------------------------------------------------------------------- */
/* Paper bounds per kind. */

/* For one axis of a pooling window grid: the largest number of windows holding one real cell
 * (*max_count), and for average pooling the largest row sum (*max_row, one window's weight
 * over the real cells) and column sum (*max_col, Σ over the windows holding a cell of
 * 1/divisor) of the axis factor of its matrix (the 2-D matrix is the Kronecker product of the
 * two axes' factors, so its row and column sums are products of theirs). */
static void pool_axis(size_t in, size_t out, size_t k, size_t s, size_t pad, int include_pad,
                      size_t *max_count, double *max_row, double *max_col)
{
    *max_count = 0;
    *max_row = *max_col = 0.0;
    for (size_t r = 0; r < in; r++) {
        size_t count = 0;
        double col = 0.0;
        for (size_t o = 0; o < out; o++) {
            const size_t lo = o * s, hi = o * s + k; /* padded coordinates */
            if (r + pad < lo || r + pad >= hi) continue;
            count++;
            const size_t real_lo = lo > pad ? lo - pad : 0, real_hi = hi - pad < in ? hi - pad : in;
            col += 1.0 / (double)(include_pad ? k : real_hi - real_lo);
        }
        if (count > *max_count) *max_count = count;
        if (col > *max_col) *max_col = col;
    }
    for (size_t o = 0; o < out; o++) {
        const size_t lo = o * s, hi = o * s + k;
        const size_t real_lo = lo > pad ? lo - pad : 0, real_hi = hi - pad < in ? hi - pad : in;
        const double row = include_pad ? (double)(real_hi - real_lo) / (double)k : 1.0;
        if (row > *max_row) *max_row = row;
    }
}

static nnp_status conv_grid(const nnpi_node *node, const nnp_lipschitz_opts *o, size_t index,
                            size_t *gh, size_t *gw)
{
    const nnpi_conv_attrs *a = &node->attr.conv;
    if (o->fourier_grid_h || o->fourier_grid_w) {
        *gh = o->fourier_grid_h ? o->fourier_grid_h : node->in_h + a->pt + a->pb;
        *gw = o->fourier_grid_w ? o->fourier_grid_w : node->in_w + a->pl + a->pr;
        if (*gh % a->sh || *gw % a->sw)
            return nnpi_error(NNP_EINVAL,
                              "nnp_lipschitz_bounds: opts.fourier_grid_%s = %zu is not a multiple "
                              "of layer %zu's stride %zu",
                              *gh % a->sh ? "h" : "w", *gh % a->sh ? *gh : *gw, index,
                              *gh % a->sh ? a->sh : a->sw);
        return NNP_OK;
    }
    /* the padded input, and at least the dilated kernel, rounded up to a stride multiple */
    size_t h = node->in_h + a->pt + a->pb, w = node->in_w + a->pl + a->pr;
    const size_t eh = a->dh * (a->kh - 1) + 1, ew = a->dw * (a->kw - 1) + 1;
    if (h < eh) h = eh;
    if (w < ew) w = ew;
    *gh = (h + a->sh - 1) / a->sh * a->sh;
    *gw = (w + a->sw - 1) / a->sw * a->sw;
    return NNP_OK;
}

/* Start vector for a conv's Lanczos: the top right singular vector of the circular operator
 * on the Fourier grid, read on the layer's real input cells. The circular correlation maps
 * x(c, n) = e^{−2πi f·n/N} u_c to frequency f through B(f) = [K̂(f)] (K̂ with e^{−2πi f·a/N}),
 * so the real input Re Σ_l u_{c,l} e^{−2πi (η + l·M)·n/N} holds the top singular vectors of
 * B(η) and of B(−η) = conj B(η). With zero padding the layer is a restriction of that operator,
 * so this vector is close to (not equal to) the layer's top singular vector, which saves
 * Lanczos steps over a random start (measured: bench/run-lipschitz-bench). */
static void conv_start(const nnpi_node *node, size_t Nh, size_t Nw, const nnpi_fourier_peak *pk,
                       double *x)
{
    const nnpi_conv_attrs *a = &node->attr.conv;
    const size_t C = node->in_c, H = node->in_h, W = node->in_w, Cg = C / a->groups;
    const size_t P = Cg * a->sh * a->sw, Mh = Nh / a->sh, Mw = Nw / a->sw;
    const double two_pi = 6.283185307179586476925286766559;
    memset(x, 0, C * H * W * sizeof *x);
    for (size_t cl = 0; cl < Cg; cl++) {
        double *xc = x + (pk->group * Cg + cl) * H * W;
        for (size_t lh = 0; lh < a->sh; lh++)
            for (size_t lw = 0; lw < a->sw; lw++) {
                const size_t col = (cl * a->sh + lh) * a->sw + lw;
                const double ur = pk->vec[col], ui = pk->vec[P + col];
                const size_t fh = pk->eh + lh * Mh, fw = pk->ew + lw * Mw;
                for (size_t i = 0; i < H; i++)
                    for (size_t j = 0; j < W; j++) {
                        /* phase of grid cell (i + pt, j + pl), reduced mod N for accuracy */
                        const double ph = (double)((fh * (i + a->pt)) % Nh) / (double)Nh +
                                          (double)((fw * (j + a->pl)) % Nw) / (double)Nw;
                        /* Re((ur + i·ui)·e^{−2πi·ph}) */
                        xc[i * W + j] += ur * cos(two_pi * ph) + ui * sin(two_pi * ph);
                    }
            }
    }
}

static nnp_status layer_bound(const nnp_net *net, size_t index, const nnp_lipschitz_opts *o,
                              nnp_lipschitz_info *info, double **start, const nnpi_progress *pg)
{
    const nnpi_node *node = &net->nodes[index];
    const float *params = net->params + node->param_offset;
    info->stride_h = info->stride_w = 1;
    switch (node->ops->kind) {
    case NNP_LAYER_INPUT:
    case NNP_LAYER_FLATTEN:
    case NNP_LAYER_DROPOUT:
    case NNP_LAYER_RELU:
    case NNP_LAYER_TANH:
    case NNP_LAYER_SOFTPLUS:
        info->bound = 1.0;
        return NNP_OK;
    case NNP_LAYER_SIGMOID:
        info->bound = 0.25;
        return NNP_OK;
    case NNP_LAYER_DENSE:
        info->bound = NAN; /* ‖W‖₂: filled from the exact norm (the same quantity) */
        return NNP_OK;
    case NNP_LAYER_CONV2D: {
        const nnpi_conv_attrs *a = &node->attr.conv;
        info->stride_h = a->sh;
        info->stride_w = a->sw;
        NNPI_TRY(conv_grid(node, o, index, &info->grid_h, &info->grid_w));
        const size_t P = node->in_c / a->groups * a->sh * a->sw;
        nnpi_fourier_peak peak = {0, 0, 0, NULL};
        if (start) {
            peak.vec = nnpi_malloc(nnpi_mul(2 * P, sizeof(double)));
            *start = nnpi_malloc(nnpi_mul(node->in_size, sizeof(double)));
            if (!peak.vec || !*start) {
                nnpi_free(peak.vec);
                return nnpi_error(NNP_ENOMEM, "nnp_lipschitz_bounds: layer %zu: out of memory", index);
            }
        }
        nnp_status st = nnpi_conv_fourier_norm(params, node->c, node->in_c, a->groups, a->kh, a->kw,
                                               a->sh, a->sw, a->dh, a->dw, info->grid_h,
                                               info->grid_w, &info->bound, start ? &peak : NULL,
                                               pg);
        if (st == NNP_OK && start) conv_start(node, info->grid_h, info->grid_w, &peak, *start);
        nnpi_free(peak.vec);
        if (st != NNP_OK) {
            if (start) {
                nnpi_free(*start);
                *start = NULL;
            }
            return nnpi_error_prefix(st, "nnp_lipschitz_bounds: layer %zu (conv2d)", index);
        }
        return NNP_OK;
    }
    case NNP_LAYER_MAXPOOL:
    case NNP_LAYER_AVGPOOL: {
        const nnpi_pool_attrs *a = &node->attr.pool;
        info->stride_h = a->sh;
        info->stride_w = a->sw;
        size_t mh, mw;
        double rh, rw, ch, cw;
        const int inc = a->count_include_pad;
        pool_axis(node->in_h, node->h, a->kh, a->sh, a->pt, inc, &mh, &rh, &ch);
        pool_axis(node->in_w, node->w, a->kw, a->sw, a->pl, inc, &mw, &rw, &cw);
        if (node->ops->kind == NNP_LAYER_MAXPOOL) {
            info->overlap = mh * mw;
            info->bound = sqrt((double)info->overlap);
        } else {
            info->bound = sqrt(rh * rw * ch * cw);
        }
        return NNP_OK;
    }
    case NNP_LAYER_GLOBAL_AVGPOOL:
        info->bound = 1.0 / sqrt((double)(node->in_h * node->in_w));
        return NNP_OK;
    case NNP_LAYER_LRN: {
        const double k = node->attr.norm.k, beta = node->attr.norm.beta;
        const double m = (double)(node->attr.norm.size < node->c ? node->attr.norm.size : node->c);
        double b = pow(k, -beta);
        if (beta > 0.0 && node->attr.norm.alpha > 0.0)
            b *= 1.0 + 2.0 * beta * pow(m, 0.75) * pow(beta, beta) / pow(1.0 + beta, 1.0 + beta);
        info->bound = b;
        return NNP_OK;
    }
    case NNP_LAYER_CONTRAST_NORM: {
        const double eps = node->attr.norm.eps, gamma = node->attr.norm.gamma;
        info->bound = pow(eps, -gamma) * fmax(1.0, 2.0 * gamma - 1.0);
        return NNP_OK;
    }
    case NNP_LAYER_BATCHNORM: {
        const size_t C = node->c;
        double b = 0.0;
        for (size_t c = 0; c < C; c++) {
            const double v = (double)params[2 * C + c] + node->attr.norm.eps;
            const double g = v > 0.0 ? fabs((double)params[c]) / sqrt(v) : NAN;
            if (!(g <= b)) b = g; /* keeps a NaN */
        }
        if (isnan(b))
            return nnpi_error(NNP_ENUMERIC,
                              "nnp_lipschitz_bounds: layer %zu (batchnorm) has a channel with "
                              "var + eps <= 0",
                              index);
        info->bound = b;
        return NNP_OK;
    }
    case NNP_LAYER_ADD:
        info->bound = node->inputs[0] == node->inputs[1] ? 2.0 : sqrt(2.0);
        return NNP_OK;
    default:
        return nnpi_error(NNP_EUNSUPPORTED, "nnp_lipschitz_bounds: layer %zu (%s): no Lipschitz "
                          "rule for this kind", index, node->ops->name);
    }
}

/* The caller's element i: infos is an array of elements of infos[0].size bytes. The stride
 * need not be a multiple of the struct's alignment (an older caller's smaller struct), so
 * elements are only read and written through memcpy. */
static unsigned char *element(nnp_lipschitz_info *infos, size_t stride, size_t i)
{
    return (unsigned char *)infos + i * stride;
}

static size_t element_size(nnp_lipschitz_info *infos, size_t stride, size_t i)
{
    size_t sz;
    memcpy(&sz, element(infos, stride, i), sizeof sz);
    return sz;
}

NNP_API nnp_status nnp_lipschitz_bounds(const nnp_net *net, const nnp_lipschitz_opts *opts,
                                        nnp_lipschitz_info *infos, size_t count)
{
    const char *f = "nnp_lipschitz_bounds";
    NNPI_CHECK_NULL(net);
    NNPI_CHECK_NULL(infos);
    nnp_lipschitz_opts o;
    default_opts(&o);
    NNPI_TRY(nnpi_opts_copy(&o, sizeof o, opts, "nnp_lipschitz_bounds: opts"));
    NNPI_TRY(check_opts(&o, f));
    const size_t L = net->n_nodes;
    if (count != L)
        return nnpi_error(NNP_EINVAL, "%s: count = %zu, the net has %zu layers", f, count, L);
    const size_t stride = infos[0].size;
    if (stride < sizeof(size_t))
        return nnpi_error(NNP_EINVAL, "%s: infos[0].size = %zu (set it to sizeof(nnp_lipschitz_info))",
                          f, stride);
    for (size_t i = 1; i < L; i++)
        if (element_size(infos, stride, i) != stride)
            return nnpi_error(NNP_EINVAL, "%s: infos[%zu].size = %zu differs from infos[0].size = %zu",
                              f, i, element_size(infos, stride, i), stride);
    size_t n_exact = 0;
    for (size_t i = 1; i < L && o.exact; i++) n_exact += has_exact_norm(net->nodes[i].ops->kind);
    float *lin = NULL;
    if (n_exact) NNPI_TRY(nnpi_linear_params(net, &lin));
    double *up = nnpi_malloc(nnpi_mul(L, 2 * sizeof(double)));
    if (up == NULL) {
        nnpi_free(lin);
        return nnpi_error(NNP_ENOMEM, "%s: out of memory", f);
    }
    double *upx = up + L;
    nnp_status st = NNP_OK;
    /* progress units: each conv's (group, frequency) pairs, then max_iter per exact norm */
    uint64_t done = 0, total = (uint64_t)n_exact * o.max_iter;
    for (size_t i = 1; i < L; i++) {
        const nnpi_node *node = &net->nodes[i];
        if (node->ops->kind != NNP_LAYER_CONV2D) continue;
        size_t gh, gw;
        st = conv_grid(node, &o, i, &gh, &gw);
        if (st != NNP_OK) goto done;
        total += (uint64_t)node->attr.conv.groups * (gh / node->attr.conv.sh) *
                 (gw / node->attr.conv.sw);
    }
    for (size_t i = 0; i < L; i++) {
        const nnpi_node *node = &net->nodes[i];
        nnp_lipschitz_info r;
        memset(&r, 0, sizeof r);
        r.size = stride;
        r.kind = node->ops->kind;
        r.exact = NAN;
        double *start = NULL; /* a conv's Fourier singular vector, to start its Lanczos */
        const nnpi_progress pg = {o.progress, o.progress_user, done, total};
        st = layer_bound(net, i, &o, &r,
                         o.exact && r.kind == NNP_LAYER_CONV2D ? &start : NULL, &pg);
        if (st != NNP_OK) {
            nnpi_free(start);
            goto done;
        }
        if (r.kind == NNP_LAYER_CONV2D)
            done += (uint64_t)node->attr.conv.groups * (r.grid_h / node->attr.conv.sh) *
                    (r.grid_w / node->attr.conv.sw);
        if (r.kind == NNP_LAYER_INPUT || r.kind == NNP_LAYER_FLATTEN || r.kind == NNP_LAYER_DROPOUT) {
            r.exact = 1.0; /* identity */
            r.converged = 1;
        } else if (o.exact && has_exact_norm(r.kind)) {
            st = exact_norm(node, lin, i, &o, start, done, total, &r);
            nnpi_free(start);
            start = NULL;
            if (st != NNP_OK) goto done;
            done += o.max_iter;
        }
        if (r.kind == NNP_LAYER_DENSE) {
            if (isnan(r.exact)) { /* opts.exact = 0: the bound still needs ‖W‖₂ */
                nnp_lipschitz_opts q = o;
                q.progress = NULL;
                float *l2 = NULL;
                if (lin == NULL) {
                    st = nnpi_linear_params(net, &l2);
                    if (st != NNP_OK) goto done;
                }
                nnp_lipschitz_info t = r;
                st = exact_norm(node, lin ? lin : l2, i, &q, NULL, 0, 0, &t);
                nnpi_free(l2);
                if (st != NNP_OK) goto done;
                r.bound = t.exact;
            } else {
                r.bound = r.exact;
            }
        }
        /* the map input → this layer: product along a chain, sum over an add's branches */
        const double ex = isnan(r.exact) ? r.bound : r.exact;
        if (i == 0) {
            up[i] = upx[i] = 1.0;
        } else if (r.kind == NNP_LAYER_ADD) {
            up[i] = up[node->inputs[0]] + up[node->inputs[1]];
            upx[i] = upx[node->inputs[0]] + upx[node->inputs[1]];
        } else {
            up[i] = r.bound * up[node->inputs[0]];
            upx[i] = ex * upx[node->inputs[0]];
        }
        r.upper_to = up[i];
        r.upper_to_exact = upx[i];
        memcpy(element(infos, stride, i), &r, stride < sizeof r ? stride : sizeof r);
    }
    /* layers that converged early left `done` short of the total: report the end (the work
     * is complete, so a request to cancel here changes nothing) */
    if (o.progress && total > 0) (void)o.progress(total, total, o.progress_user);
done:
    nnpi_free(lin);
    nnpi_free(up);
    return st;
}

/* ---------------------------------------------------------------------------------------- */
/* Lower bound: power iteration on J(x)ᵀJ(x) per point, all points of a batch at once. */

typedef struct lower_buffers {
    nnp_workspace *ws;
    float *lin, *v, *w;
    double *est;
} lower_buffers;

static void free_lower(lower_buffers *b)
{
    nnp_workspace_free(b->ws);
    nnpi_free(b->lin);
    nnpi_free(b->v);
    nnpi_free(b->w);
    nnpi_free(b->est);
}

/* Normalises each of n rows of length d; returns their former norms in norms (may be NULL). */
static void normalise_rows(float *v, size_t n, size_t d, double *norms)
{
    for (size_t i = 0; i < n; i++) {
        double s = 0.0;
        for (size_t j = 0; j < d; j++) s += (double)v[i * d + j] * v[i * d + j];
        s = sqrt(s);
        if (norms) norms[i] = s;
        const float inv = s > 0.0 ? (float)(1.0 / s) : 0.0f;
        for (size_t j = 0; j < d; j++) v[i * d + j] *= inv;
    }
}

NNP_API nnp_status nnp_lipschitz_lower(const nnp_net *net, const float *x, size_t n, size_t layer,
                                       const nnp_lipschitz_opts *opts, double *norms,
                                       double *lower, size_t *argmax)
{
    const char *f = "nnp_lipschitz_lower";
    NNPI_CHECK_NULL(net);
    NNPI_CHECK_NULL(x);
    NNPI_CHECK_NULL(lower);
    if (n == 0) return nnpi_error(NNP_EINVAL, "%s: n is 0", f);
    NNPI_TRY(nnpi_check_layer(net, layer, f));
    if (layer == 0)
        return nnpi_error(NNP_EINVAL, "%s: layer 0 is the input; its Jacobian is the identity", f);
    nnp_lipschitz_opts o;
    default_opts(&o);
    NNPI_TRY(nnpi_opts_copy(&o, sizeof o, opts, "nnp_lipschitz_lower: opts"));
    NNPI_TRY(check_opts(&o, f));
    if (o.lower_from >= layer)
        return nnpi_error(NNP_EINVAL, "%s: opts.lower_from = %zu, must be below layer %zu", f,
                          o.lower_from, layer);
    NNPI_TRY(nnpi_jvp_check(net, layer));
    const size_t F = o.lower_from, D = net->nodes[F].out_size, M = net->nodes[layer].out_size;
    const size_t DX = net->nodes[0].out_size; /* the points are net inputs */
    const size_t B = o.batch_size < n ? o.batch_size : n;
    lower_buffers b = {0};
    nnp_status st = nnp_workspace_create(net, B, &b.ws);
    if (st != NNP_OK) return st;
    st = nnpi_linear_params(net, &b.lin);
    if (st != NNP_OK) goto done;
    b.v = nnpi_malloc(nnpi_mul(nnpi_mul(B, D), sizeof(float)));
    b.w = nnpi_malloc(nnpi_mul(nnpi_mul(B, D), sizeof(float)));
    b.est = nnpi_malloc(nnpi_mul(2 * B, sizeof(double)));
    if (!b.v || !b.w || !b.est) {
        st = nnpi_error(NNP_ENOMEM, "%s: out of memory for a batch of %zu", f, B);
        goto done;
    }
    double best = -1.0;
    size_t best_i = 0;
    const uint64_t batches = (n + B - 1) / B, total = batches * o.power_iters;
    uint64_t done_steps = 0;
    for (size_t i0 = 0; i0 < n; i0 += B) {
        const size_t nb = n - i0 < B ? n - i0 : B;
        const float *xb = x + i0 * DX;
        nnpi_forward(net, b.ws, xb, nb, layer);
        for (size_t i = 0; i < nb; i++) { /* start vector of point i0+i, whatever the batching */
            nnpi_rng rng;
            nnpi_rng_seed(&rng, o.seed ^ (0x9e3779b97f4a7c15ull * (uint64_t)(i0 + i + 1)));
            for (size_t j = 0; j < D; j++) b.v[i * D + j] = (float)nnpi_rng_normal(&rng);
        }
        normalise_rows(b.v, nb, D, NULL);
        double *est = b.est, *prev = b.est + B;
        for (size_t i = 0; i < nb; i++) est[i] = prev[i] = 0.0;
        for (size_t it = 0; it < o.power_iters; it++) {
            nnpi_jvp(net, b.ws, xb, b.lin, nb, F, layer, b.v); /* u = J v in ws->grad[layer] */
            int settled = 1;
            for (size_t i = 0; i < nb; i++) {
                const float *u = b.ws->grad[layer] + i * M;
                double s = 0.0;
                for (size_t j = 0; j < M; j++) s += (double)u[j] * u[j];
                s = sqrt(s); /* ‖J v‖ with ‖v‖ = 1: a lower bound of ‖J‖ */
                if (!isfinite(s)) {
                    st = nnpi_error(NNP_ENUMERIC, "%s: the Jacobian at point %zu is not finite", f,
                                    i0 + i);
                    goto done;
                }
                prev[i] = est[i];
                if (s > est[i]) est[i] = s;
                if (!(est[i] - prev[i] <= o.tol * est[i])) settled = 0;
            }
            done_steps++;
            if (o.progress && o.progress(done_steps, total, o.progress_user)) {
                st = nnpi_error(NNP_ECANCELLED, "%s: cancelled by the progress callback", f);
                goto done;
            }
            if ((settled && it > 0) || it + 1 == o.power_iters) break;
            nnpi_backward_begin(b.ws); /* w = Jᵀ u, then v = w / ‖w‖ */
            b.ws->grad_set[layer] = 1;
            if (F == 0) {
                nnpi_backward(net, b.ws, xb, nb, layer, b.w, NULL, 0);
            } else { /* the adjoint of φ_F; zero if φ_layer does not depend on it */
                nnpi_backward(net, b.ws, xb, nb, layer, NULL, NULL, 0);
                if (b.ws->grad_set[F])
                    memcpy(b.w, b.ws->grad[F], nb * D * sizeof(float));
                else
                    memset(b.w, 0, nb * D * sizeof(float));
            }
            normalise_rows(b.w, nb, D, NULL);
            float *t = b.v;
            b.v = b.w;
            b.w = t;
        }
        const uint64_t batch_end = (uint64_t)((i0 / B) + 1) * o.power_iters;
        if (done_steps != batch_end) { /* settled early: report the jump to the batch's end */
            done_steps = batch_end;
            if (o.progress && o.progress(done_steps, total, o.progress_user)) {
                st = nnpi_error(NNP_ECANCELLED, "%s: cancelled by the progress callback", f);
                goto done;
            }
        }
        for (size_t i = 0; i < nb; i++) {
            if (norms) norms[i0 + i] = est[i];
            if (est[i] > best) {
                best = est[i];
                best_i = i0 + i;
            }
        }
    }
    *lower = best;
    if (argmax) *argmax = best_i;
done:
    free_lower(&b);
    return st;
}
