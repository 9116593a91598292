/* The paper's Fourier bound of a convolution (Szegedy et al. 2013, §4.3, eq. "convbound"), with
 * the stride scale corrected to 1/Δ as docs/paper.md §6 and Appendix A found; formula and
 * conventions in conv_fourier.h. Per output frequency η the D×(C·sh·sw) complex matrix B(η) of
 * aliased kernel DFTs is built directly from the kernel (kh·kw terms per entry, no FFT: the
 * kernel is small and the grid is the layer's input size), and σ_max(B(η)) is found by the
 * Lanczos solver on the real 2P×2P form of BᴴB (P = C/groups·sh·sw), whose eigenvalues are
 * those of BᴴB, each twice. Groups make B block diagonal (output channels of group g only see
 * input channels of group g), so each group's block is handled separately. */
#include <math.h>
#include <string.h>

#include <cblas.h>

#include "net/conv_fourier.h"

typedef struct fourier_ctx {
    size_t rows, cols;       /* B is rows × cols complex */
    const double *br, *bi;   /* real and imaginary parts, row-major */
    double *yr, *yi;         /* rows */
} fourier_ctx;

/* out = BᴴB v in real form: v = (vr, vi), out = (zr, zi) with y = B v, z = Bᴴ y, as eight
 * BLAS matrix–vector products on the real and imaginary parts (row-major R × P). */
static nnp_status fourier_gram(void *vctx, const double *v, double *out)
{
    fourier_ctx *c = vctx;
    const int R = (int)c->rows, P = (int)c->cols;
    const double *vr = v, *vi = v + P;
    double *zr = out, *zi = out + P;
    cblas_dgemv(CblasRowMajor, CblasNoTrans, R, P, 1.0, c->br, P, vr, 1, 0.0, c->yr, 1);
    cblas_dgemv(CblasRowMajor, CblasNoTrans, R, P, -1.0, c->bi, P, vi, 1, 1.0, c->yr, 1);
    cblas_dgemv(CblasRowMajor, CblasNoTrans, R, P, 1.0, c->br, P, vi, 1, 0.0, c->yi, 1);
    cblas_dgemv(CblasRowMajor, CblasNoTrans, R, P, 1.0, c->bi, P, vr, 1, 1.0, c->yi, 1);
    /* conj(B)ᵀ y: zr = Brᵀ yr + Biᵀ yi, zi = Brᵀ yi − Biᵀ yr */
    cblas_dgemv(CblasRowMajor, CblasTrans, R, P, 1.0, c->br, P, c->yr, 1, 0.0, zr, 1);
    cblas_dgemv(CblasRowMajor, CblasTrans, R, P, 1.0, c->bi, P, c->yi, 1, 1.0, zr, 1);
    cblas_dgemv(CblasRowMajor, CblasTrans, R, P, 1.0, c->br, P, c->yi, 1, 0.0, zi, 1);
    cblas_dgemv(CblasRowMajor, CblasTrans, R, P, -1.0, c->bi, P, c->yr, 1, 1.0, zi, 1);
    return NNP_OK;
}

/* e^{−2πi·f·t·dil/N} for f < N, t < k, as (cos, sin) pairs; the phase index is reduced mod N
 * first so that large grids keep full accuracy. */
static void twiddles(size_t N, size_t k, size_t dil, double *tw)
{
    const double two_pi = 6.283185307179586476925286766559;
    for (size_t f = 0; f < N; f++)
        for (size_t t = 0; t < k; t++) {
            const size_t ph = (size_t)(((unsigned long long)f * t % N) * dil % N);
            const double ang = -two_pi * (double)ph / (double)N;
            tw[2 * (f * k + t)] = cos(ang);
            tw[2 * (f * k + t) + 1] = sin(ang);
        }
}

nnp_status nnpi_conv_fourier_norm(const float *w, size_t D, size_t C, size_t groups, size_t kh,
                                  size_t kw, size_t sh, size_t sw, size_t dh, size_t dw,
                                  size_t Nh, size_t Nw, double *out, nnpi_fourier_peak *peak,
                                  const nnpi_progress_span *pg)
{
    if (!w || !out || D == 0 || C == 0 || groups == 0 || kh == 0 || kw == 0 || sh == 0 || sw == 0 ||
        dh == 0 || dw == 0 || Nh == 0 || Nw == 0 || C % groups || D % groups)
        return nnpi_error(NNP_EINVAL, "conv Fourier bound: invalid geometry");
    if (Nh % sh || Nw % sw)
        return nnpi_error(NNP_EINVAL,
                          "conv Fourier bound: grid %zu×%zu is not a multiple of the stride %zu×%zu",
                          Nh, Nw, sh, sw);
    const size_t Cg = C / groups, Dg = D / groups, Mh = Nh / sh, Mw = Nw / sw;
    const size_t P = Cg * sh * sw;
    double *twh = nnpi_malloc(nnpi_mul(nnpi_mul(Nh, kh), 2 * sizeof(double)));
    double *tww = nnpi_malloc(nnpi_mul(nnpi_mul(Nw, kw), 2 * sizeof(double)));
    double *br = nnpi_malloc(nnpi_mul(nnpi_mul(Dg, P), sizeof(double)));
    double *bi = nnpi_malloc(nnpi_mul(nnpi_mul(Dg, P), sizeof(double)));
    double *yb = nnpi_malloc(nnpi_mul(2 * Dg + 2 * kh, sizeof(double)));
    const size_t lw_doubles = nnpi_lanczos_work_doubles(2 * P, 2 * P + 1);
    double *lwork = nnpi_malloc(nnpi_mul(lw_doubles, sizeof(double)));
    nnp_status st = NNP_OK;
    double *vec = NULL;
    if (!twh || !tww || !br || !bi || !yb || !lwork) {
        st = nnpi_error(NNP_ENOMEM, "conv Fourier bound: out of memory");
        goto done;
    }
    twiddles(Nh, kh, dh, twh);
    twiddles(Nw, kw, dw, tww);
    fourier_ctx ctx = {Dg, P, br, bi, yb, yb + Dg};
    double *tr = yb + 2 * Dg, *ti = tr + kh; /* per-row partial sums over the kernel width */
    /* vec: the Ritz vector of the frequency just done; start: the next one's start vector,
     * the previous Ritz vector plus a little of a fixed random vector. Neighbouring frequencies
     * have close top singular vectors, so this warm start saves Lanczos steps (measured on the
     * 64→64 3×3 conv on 34×34: 17 instead of 20.5 per frequency); the random part keeps the
     * Krylov space from being trapped should the old vector be nearly a lower eigenvector. */
    vec = nnpi_malloc(nnpi_mul(4 * P, sizeof(double)));
    if (vec == NULL) {
        st = nnpi_error(NNP_ENOMEM, "conv Fourier bound: out of memory");
        goto done;
    }
    double *start = vec + 2 * P;
    nnpi_lanczos_opts lo = {.tol = 1e-8, .max_iter = 4 * P + 20, .max_basis = 2 * P + 1,
                            .seed = 0x5eed, .ritz_out = vec};
    nnpi_rng rng;
    nnpi_rng_seed(&rng, 0x5eed);
    int warm = 0;
    double best = 0.0;
    for (size_t g = 0; g < groups; g++)
        for (size_t eh = 0; eh < Mh; eh++)
            for (size_t ew = 0; ew < Mw; ew++) {
                /* a real kernel has K̂(−f) = conj K̂(f), so B(−η) is conj B(η) with its columns
                 * permuted: same σ_max. Only one of η and −η (mod the output grid) is done. */
                const size_t mh = (Mh - eh) % Mh, mw = (Mw - ew) % Mw;
                if (pg && pg->fn &&
                    pg->fn(pg->base + (g * Mh + eh) * Mw + ew + 1, pg->total, pg->user)) {
                    st = nnpi_error(NNP_ECANCELLED, "conv Fourier bound: cancelled by the "
                                                    "progress callback");
                    goto done;
                }
                if (mh < eh || (mh == eh && mw < ew)) continue;
                for (size_t d = 0; d < Dg; d++)
                    for (size_t c = 0; c < Cg; c++)
                        for (size_t lh = 0; lh < sh; lh++)
                            for (size_t lw = 0; lw < sw; lw++) {
                                const size_t fh = eh + lh * Mh, fw = ew + lw * Mw;
                                const float *k = w + ((g * Dg + d) * Cg + c) * kh * kw;
                                for (size_t a = 0; a < kh; a++) {
                                    double sr = 0.0, si = 0.0;
                                    for (size_t b = 0; b < kw; b++) {
                                        const double *e = tww + 2 * (fw * kw + b);
                                        sr += k[a * kw + b] * e[0];
                                        si += k[a * kw + b] * e[1];
                                    }
                                    tr[a] = sr;
                                    ti[a] = si;
                                }
                                double sr = 0.0, si = 0.0;
                                for (size_t a = 0; a < kh; a++) {
                                    const double *e = twh + 2 * (fh * kh + a);
                                    sr += e[0] * tr[a] - e[1] * ti[a];
                                    si += e[0] * ti[a] + e[1] * tr[a];
                                }
                                const size_t col = (c * sh + lh) * sw + lw;
                                br[d * P + col] = sr;
                                bi[d * P + col] = si;
                            }
                if (warm) {
                    for (size_t i = 0; i < 2 * P; i++)
                        start[i] = vec[i] + 1e-3 * nnpi_rng_normal(&rng) / sqrt((double)(2 * P));
                    lo.start = start;
                }
                nnpi_lanczos_result r;
                st = nnpi_lanczos_top(2 * P, fourier_gram, &ctx, &lo, lwork, &r);
                if (st != NNP_OK) goto done;
                warm = 1;
                if (r.sigma > best) {
                    best = r.sigma;
                    if (peak) {
                        peak->group = g;
                        peak->eh = eh;
                        peak->ew = ew;
                        memcpy(peak->vec, vec, 2 * P * sizeof *vec);
                    }
                }
            }
    *out = best / sqrt((double)sh * (double)sw);
done:
    nnpi_free(twh);
    nnpi_free(tww);
    nnpi_free(br);
    nnpi_free(bi);
    nnpi_free(yb);
    nnpi_free(lwork);
    nnpi_free(vec);
    return st;
}

/* Group g's kernel in tap-major order, kt[t·E + e] (t = a·kw + b, e = d·Cg + c, E = Dg·Cg), in
 * double: build_b_at then runs over contiguous, independent entries per tap. */
static void tap_major(const float *w, size_t Dg, size_t Cg, size_t g, size_t taps, double *kt)
{
    const size_t E = Dg * Cg;
    const float *wg = w + g * E * taps;
    for (size_t e = 0; e < E; e++)
        for (size_t t = 0; t < taps; t++) kt[t * E + e] = wg[e * taps + t];
}

/* B(ω) of one group at a continuous frequency ω = (oh, ow) in radians per input cell, stride 1:
 * K̂(ω)[d][c] = Σ_{a,b} k[d][c][a][b] e^{−i(oh·a·dh + ow·b·dw)}, the grid formula above with
 * ω = 2πf/N; kt from tap_major() (E = Dg·Cg entries per tap). */
static void build_b_at(const double *kt, size_t E, size_t kh, size_t kw, size_t dh, size_t dw,
                       double oh, double ow, double *br, double *bi)
{
    for (size_t a = 0; a < kh; a++)
        for (size_t b = 0; b < kw; b++) {
            const size_t t = a * kw + b;
            const double ang = oh * (double)(a * dh) + ow * (double)(b * dw);
            const double cr = cos(ang), ci = -sin(ang);
            const double *restrict k = kt + t * E;
            double *restrict r = br, *restrict i = bi;
            if (t == 0)
                for (size_t e = 0; e < E; e++) {
                    r[e] = k[e] * cr;
                    i[e] = k[e] * ci;
                }
            else
                for (size_t e = 0; e < E; e++) {
                    r[e] += k[e] * cr;
                    i[e] += k[e] * ci;
                }
        }
}

nnp_status nnpi_conv_fourier_refine(const float *w, size_t D, size_t C, size_t groups, size_t kh,
                                    size_t kw, size_t dh, size_t dw, size_t group, double step,
                                    double min_step, double *oh, double *ow, double *vec,
                                    double *sigma)
{
    const size_t Cg = C / groups, Dg = D / groups, P = Cg;
    double *br = nnpi_malloc(nnpi_mul(nnpi_mul(Dg, P), sizeof(double)));
    double *bi = nnpi_malloc(nnpi_mul(nnpi_mul(Dg, P), sizeof(double)));
    double *yb = nnpi_malloc(nnpi_mul(2 * Dg, sizeof(double)));
    double *lwork = nnpi_malloc(nnpi_mul(nnpi_lanczos_work_doubles(2 * P, 2 * P + 1), sizeof(double)));
    double *cand = nnpi_malloc(nnpi_mul(4 * P, sizeof(double)));
    double *kt = nnpi_malloc(nnpi_mul(nnpi_mul(Dg * Cg, kh * kw), sizeof(double)));
    nnp_status st = NNP_OK;
    if (!br || !bi || !yb || !lwork || !cand || !kt) {
        st = nnpi_error(NNP_ENOMEM, "conv Fourier refinement: out of memory");
        goto done;
    }
    tap_major(w, Dg, Cg, group, kh * kw, kt);
    fourier_ctx ctx = {Dg, P, br, bi, yb, yb + Dg};
    double *start = cand + 2 * P;
    nnpi_lanczos_opts lo = {.tol = fmax(1e-9, fmin(1e-4, 0.01 * step * step)),
                            .max_iter = 4 * P + 20, .max_basis = 2 * P + 1,
                            .seed = 0x5eed, .ritz_out = cand};
    nnpi_rng rng;
    nnpi_rng_seed(&rng, 0x5eed);
    /* σ at the start point, warm-started from the caller's vector */
    double best;
    {
        build_b_at(kt, Dg * Cg, kh, kw, dh, dw, *oh, *ow, br, bi);
        lo.start = vec;
        nnpi_lanczos_result r;
        st = nnpi_lanczos_top(2 * P, fourier_gram, &ctx, &lo, lwork, &r);
        if (st != NNP_OK) goto done;
        best = r.sigma;
        memcpy(vec, cand, 2 * P * sizeof *vec);
    }
    /* compass search (pattern search with step halving) on the torus of frequencies: try ±step
     * along each axis, move to the first that increases σ, else halve the step */
    static const int dir[4][2] = {{1, 0}, {-1, 0}, {0, 1}, {0, -1}};
    while (step >= min_step) {
        int moved = 0;
        /* σ differs by ~step² (relative) between the points compared: solve to 1% of that */
        lo.tol = fmax(1e-9, fmin(1e-4, 0.01 * step * step));
        for (int t = 0; t < 4 && !moved; t++) {
            const double ch = *oh + step * dir[t][0], cw = *ow + step * dir[t][1];
            build_b_at(kt, Dg * Cg, kh, kw, dh, dw, ch, cw, br, bi);
            for (size_t i = 0; i < 2 * P; i++)
                start[i] = vec[i] + 1e-3 * nnpi_rng_normal(&rng) / sqrt((double)(2 * P));
            lo.start = start;
            nnpi_lanczos_result r;
            st = nnpi_lanczos_top(2 * P, fourier_gram, &ctx, &lo, lwork, &r);
            if (st != NNP_OK) goto done;
            if (r.sigma > best) {
                best = r.sigma;
                *oh = ch;
                *ow = cw;
                memcpy(vec, cand, 2 * P * sizeof *vec);
                moved = 1;
            }
        }
        if (!moved) step *= 0.5;
    }
    *sigma = best;
done:
    nnpi_free(br);
    nnpi_free(bi);
    nnpi_free(yb);
    nnpi_free(lwork);
    nnpi_free(cand);
    nnpi_free(kt);
    return st;
}

nnp_status nnpi_conv_fourier_start(const float *w, size_t D, size_t C, size_t groups, size_t kh,
                                   size_t kw, size_t dh, size_t dw, size_t Nh, size_t Nw,
                                   size_t n_try, double min_step, double fine_step, size_t *group,
                                   double *oh, double *ow, double *vec)
{
    const size_t Cg = C / groups, Dg = D / groups, P = Cg, n = Nh * Nw;
    const double two_pi = 6.283185307179586476925286766559;
    double *br = nnpi_malloc(nnpi_mul(nnpi_mul(Dg, P), sizeof(double)));
    double *bi = nnpi_malloc(nnpi_mul(nnpi_mul(Dg, P), sizeof(double)));
    double *yb = nnpi_malloc(nnpi_mul(2 * Dg, sizeof(double)));
    double *lwork = nnpi_malloc(nnpi_mul(nnpi_lanczos_work_doubles(2 * P, 2 * P + 1), sizeof(double)));
    double *vecs = nnpi_malloc(nnpi_mul(6 * P, sizeof(double)));
    double *sig = nnpi_malloc(nnpi_mul(nnpi_mul(groups, n), sizeof(double)));
    size_t *best = nnpi_malloc(nnpi_mul(n_try + 1, sizeof(size_t)));
    double *kt = nnpi_malloc(nnpi_mul(nnpi_mul(Dg * Cg, kh * kw), sizeof(double)));
    nnp_status st = NNP_OK;
    if (!br || !bi || !yb || !lwork || !vecs || !sig || !best || !kt) {
        st = nnpi_error(NNP_ENOMEM, "conv Fourier start: out of memory");
        goto done;
    }
    fourier_ctx ctx = {Dg, P, br, bi, yb, yb + Dg};
    double *cur = vecs, *trial = vecs + 2 * P, *out = vecs + 4 * P;
    /* σ_max on the grid, to 1e-4 (only to rank the basins), warm-started along the scan;
     * σ(−η) = σ(η) for a real kernel, so half the grid is computed */
    nnpi_lanczos_opts lo = {.tol = 1e-4, .max_iter = 4 * P + 20, .max_basis = 2 * P + 1,
                            .seed = 0x5eed, .ritz_out = cur};
    int warm = 0;
    for (size_t g = 0; g < groups; g++) {
        tap_major(w, Dg, Cg, g, kh * kw, kt);
        for (size_t eh = 0; eh < Nh; eh++)
            for (size_t ew = 0; ew < Nw; ew++) {
                const size_t mh = (Nh - eh) % Nh, mw = (Nw - ew) % Nw;
                if (mh < eh || (mh == eh && mw < ew)) continue;
                build_b_at(kt, Dg * Cg, kh, kw, dh, dw, two_pi * (double)eh / (double)Nh,
                           two_pi * (double)ew / (double)Nw, br, bi);
                if (warm) {
                    memcpy(trial, cur, 2 * P * sizeof *trial);
                    lo.start = trial;
                }
                nnpi_lanczos_result r;
                st = nnpi_lanczos_top(2 * P, fourier_gram, &ctx, &lo, lwork, &r);
                if (st != NNP_OK) goto done;
                warm = 1;
                sig[g * n + eh * Nw + ew] = sig[g * n + mh * Nw + mw] = r.sigma;
            }
    }
    /* the n_try largest grid points that are local maxima (≥ their 8 neighbours on the torus),
     * one of each ±η pair, in decreasing order */
    size_t found = 0;
    for (size_t g = 0; g < groups; g++)
        for (size_t eh = 0; eh < Nh; eh++)
            for (size_t ew = 0; ew < Nw; ew++) {
                const size_t mh = (Nh - eh) % Nh, mw = (Nw - ew) % Nw;
                if (mh < eh || (mh == eh && mw < ew)) continue;
                const double v = sig[g * n + eh * Nw + ew];
                int peak = 1;
                for (size_t a = 0; a < 3 && peak; a++)
                    for (size_t b = 0; b < 3 && peak; b++)
                        peak = v >= sig[g * n + (eh + Nh + a - 1) % Nh * Nw + (ew + Nw + b - 1) % Nw];
                if (!peak) continue;
                size_t pos = found < n_try ? found++ : n_try;
                best[pos] = g * n + eh * Nw + ew;
                for (; pos > 0 && sig[best[pos - 1]] < sig[best[pos]]; pos--) {
                    const size_t t = best[pos - 1];
                    best[pos - 1] = best[pos];
                    best[pos] = t;
                }
            }
    /* refine each off the grid; keep the highest */
    double top = -1.0;
    for (size_t t = 0; t < found; t++) {
        const size_t g = best[t] / n, e = best[t] % n;
        double h = two_pi * (double)(e / Nw) / (double)Nh, v = two_pi * (double)(e % Nw) / (double)Nw;
        double s;
        memset(out, 0, 2 * P * sizeof *out); /* a random start for the first evaluation */
        st = nnpi_conv_fourier_refine(w, D, C, groups, kh, kw, dh, dw, g,
                                      0.5 * two_pi / (double)(Nh > Nw ? Nh : Nw), min_step, &h, &v,
                                      out, &s);
        if (st != NNP_OK) goto done;
        if (s > top) {
            top = s;
            *group = g;
            *oh = h;
            *ow = v;
            memcpy(vec, out, 2 * P * sizeof *vec);
        }
    }
    /* the winner on down to fine_step */
    if (found > 0 && fine_step < min_step) {
        double s;
        st = nnpi_conv_fourier_refine(w, D, C, groups, kh, kw, dh, dw, *group, 0.5 * min_step,
                                      fine_step, oh, ow, vec, &s);
    }
done:
    nnpi_free(br);
    nnpi_free(bi);
    nnpi_free(yb);
    nnpi_free(lwork);
    nnpi_free(vecs);
    nnpi_free(sig);
    nnpi_free(best);
    nnpi_free(kt);
    return st;
}
