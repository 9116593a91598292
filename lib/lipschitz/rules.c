/* The paper's upper Lipschitz bound of each layer kind (rules listed in
 * include/nnprobe/lipschitz.h), and for convolutions the start vector their Fourier analysis
 * gives the exact norm's Lanczos.
 *
 * LRN bound (our derivation; docs/paper.md §6 notes the paper gives none). Per example and
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

#include "lipschitz/internal.h"

#define TWO_PI 6.283185307179586476925286766559
/* The refined start frequency's last step, in units of 2π/(H+1): 1/50 of the input box's mode
 * spacing π/(H+1). Measured on the 64→64 3×3 conv on 32×32, seeds 1–8, Lanczos steps with
 * opts.paper_bound = 0: 35 20 29 19 30 26 35 32 with 0.05, 33 17 24 19 28 18 35 32 with 0.01
 * (the winner's last levels cost about 0.5 ms), 33 17 28 19 27 19 35 32 with 0.005: the step
 * counts move by a few either way with the start, so no finer. */
#define FINE 0.01

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

nnp_status nnpi_lip_conv_grid(const nnpi_node *node, const nnp_lipschitz_opts *o, size_t index,
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
 * Lanczos steps over a random start (measured: bench/run-lipschitz-bench).
 *
 * Two refinements (measured on the 64→64 3×3 conv on 32×32, seeds 1–3, Lanczos steps to
 * 1e-6): the wave is multiplied by the envelope sin(π(i+½)/H)·sin(π(j+½)/W), the lowest mode
 * of the box [−½, H−½] × [−½, W−½] of the real cells with zero boundary, which is what the
 * restriction to the real cells does to a plane wave (41/43/42 → 36/35/37 steps; the box
 * [−1, H] gave 1–2 steps more); and for stride 1 the frequency is moved off the grid to the
 * local maximum of σ_max(B(ω)) (nnpi_conv_fourier_refine), an offset of (off_h, off_w)
 * radians per cell from the grid point η (→ 35/18/23). */
static void conv_start(const nnpi_node *node, size_t Nh, size_t Nw, const nnpi_fourier_peak *pk,
                       double off_h, double off_w, double *x)
{
    const nnpi_conv_attrs *a = &node->attr.conv;
    const size_t C = node->in_c, H = node->in_h, W = node->in_w, Cg = C / a->groups;
    const size_t P = Cg * a->sh * a->sw, Mh = Nh / a->sh, Mw = Nw / a->sw;
    const double two_pi = 6.283185307179586476925286766559, pi = 0.5 * two_pi;
    memset(x, 0, C * H * W * sizeof *x);
    double *xg = x + pk->group * Cg * H * W;
    for (size_t lh = 0; lh < a->sh; lh++)
        for (size_t lw = 0; lw < a->sw; lw++) {
            const size_t fh = pk->eh + lh * Mh, fw = pk->ew + lw * Mw;
            for (size_t i = 0; i < H; i++) {
                const double eh = sin(pi * ((double)i + 0.5) / (double)H);
                for (size_t j = 0; j < W; j++) {
                    /* phase at grid cell (i + pt, j + pl), the grid part reduced mod N; the
                     * same for every channel */
                    const double ang =
                        two_pi * ((double)((fh * (i + a->pt)) % Nh) / (double)Nh +
                                  (double)((fw * (j + a->pl)) % Nw) / (double)Nw) +
                        off_h * (double)(i + a->pt) + off_w * (double)(j + a->pl);
                    const double e = eh * sin(pi * ((double)j + 0.5) / (double)W);
                    const double ec = e * cos(ang), es = e * sin(ang);
                    /* envelope · Re((ur + i·ui)·e^{−i·ang}) per channel */
                    for (size_t cl = 0; cl < Cg; cl++) {
                        const size_t col = (cl * a->sh + lh) * a->sw + lw;
                        xg[(cl * H + i) * W + j] += pk->vec[col] * ec + pk->vec[P + col] * es;
                    }
                }
            }
        }
}

/* The start vector from the grid peak `pk` of an Nh × Nw Fourier analysis (fourier.c):
 * for stride 1 the peak is first refined off the grid, from half a grid spacing down to a
 * tenth of the box's mode spacing π/(H+1). pk->vec is overwritten. */
static nnp_status make_start(const nnpi_node *node, const float *params, size_t Nh, size_t Nw,
                             nnpi_fourier_peak *pk, double *x)
{
    const nnpi_conv_attrs *a = &node->attr.conv;
    double off_h = 0.0, off_w = 0.0;
    if (a->sh == 1 && a->sw == 1) {
        const double two_pi = 6.283185307179586476925286766559;
        const double oh0 = two_pi * (double)pk->eh / (double)Nh,
                     ow0 = two_pi * (double)pk->ew / (double)Nw;
        double oh = oh0, ow = ow0, sigma;
        const size_t n = Nh > Nw ? Nh : Nw, m = node->in_h > node->in_w ? node->in_h : node->in_w;
        NNPI_TRY(nnpi_conv_fourier_refine(params, node->c, node->in_c, a->groups, a->kh, a->kw,
                                          a->dh, a->dw, pk->group, 0.5 * two_pi / (double)n,
                                          FINE * two_pi / (double)(m + 1), &oh, &ow, pk->vec,
                                          &sigma));
        off_h = oh - oh0;
        off_w = ow - ow0;
    }
    conv_start(node, Nh, Nw, pk, off_h, off_w, x);
    return NNP_OK;
}

nnp_status nnpi_lip_conv_start(const nnp_net *net, size_t index, double **start)
{
    const nnpi_node *node = &net->nodes[index];
    const nnpi_conv_attrs *a = &node->attr.conv;
    const float *params = net->params + node->param_offset;
    *start = NULL;
    /* a coarse grid: 4 points per dilated kernel extent (at least 8), at most the default
     * grid, rounded up to the stride */
    nnp_lipschitz_opts d;
    nnpi_lip_default_opts(&d);
    size_t gh, gw;
    NNPI_TRY(nnpi_lip_conv_grid(node, &d, index, &gh, &gw));
    const size_t eh = a->dh * (a->kh - 1) + 1, ew = a->dw * (a->kw - 1) + 1;
    size_t ch = 4 * eh < 8 ? 8 : 4 * eh, cw = 4 * ew < 8 ? 8 : 4 * ew;
    ch = (ch + a->sh - 1) / a->sh * a->sh;
    cw = (cw + a->sw - 1) / a->sw * a->sw;
    if (ch > gh) ch = gh;
    if (cw > gw) cw = gw;
    const size_t P = node->in_c / a->groups * a->sh * a->sw;
    nnpi_fourier_peak peak = {0, 0, 0, nnpi_malloc(nnpi_mul(2 * P, sizeof(double)))};
    double *x = nnpi_malloc(nnpi_mul(node->in_size, sizeof(double)));
    nnp_status st = NNP_OK;
    if (!peak.vec || !x) {
        st = nnpi_error(NNP_ENOMEM, "nnp_lipschitz_bounds: layer %zu: out of memory", index);
        goto done;
    }
    if (a->sh == 1 && a->sw == 1) {
        /* the better of the two highest grid peaks, each refined off the grid (each try costs
         * about one Lanczos step of the 64→64 3×3 conv on 32×32; a third never won on the
         * benchmark's seeds 1–8) */
        const size_t m = node->in_h > node->in_w ? node->in_h : node->in_w;
        double oh, ow;
        st = nnpi_conv_fourier_start(params, node->c, node->in_c, a->groups, a->kh, a->kw, a->dh,
                                     a->dw, ch, cw, 2, 0.05 * TWO_PI / (double)(m + 1),
                                     FINE * TWO_PI / (double)(m + 1),
                                     &peak.group, &oh, &ow, peak.vec);
        if (st == NNP_OK) conv_start(node, 1, 1, &peak, oh, ow, x); /* grid part 0 */
    } else {
        double coarse;
        st = nnpi_conv_fourier_norm(params, node->c, node->in_c, a->groups, a->kh, a->kw, a->sh,
                                    a->sw, a->dh, a->dw, ch, cw, &coarse, &peak, NULL);
        if (st == NNP_OK) st = make_start(node, params, ch, cw, &peak, x);
    }
    if (st != NNP_OK) {
        st = nnpi_error_prefix(st, "nnp_lipschitz_bounds: layer %zu (conv2d) start vector", index);
        goto done;
    }
    *start = x;
    x = NULL;
done:
    nnpi_free(peak.vec);
    nnpi_free(x);
    return st;
}

nnp_status nnpi_lip_layer_bound(const nnp_net *net, size_t index, const nnp_lipschitz_opts *o,
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
    case NNP_LAYER_LEAKY_RELU: /* slopes 1 and α: the largest |slope| */
        info->bound = fmax(1.0, fabs((double)node->attr.leaky_alpha));
        return NNP_OK;
    case NNP_LAYER_DENSE:
        info->bound = NAN; /* ‖W‖₂: filled from the exact norm (the same quantity) */
        return NNP_OK;
    case NNP_LAYER_CONV2D: {
        const nnpi_conv_attrs *a = &node->attr.conv;
        info->stride_h = a->sh;
        info->stride_w = a->sw;
        NNPI_TRY(nnpi_lip_conv_grid(node, o, index, &info->grid_h, &info->grid_w));
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
        if (st == NNP_OK && start)
            st = make_start(node, params, info->grid_h, info->grid_w, &peak, *start);
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
