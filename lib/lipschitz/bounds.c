/* nnp_lipschitz_bounds(): per layer the paper's bound (Szegedy et al. 2013, §4.3) beside the
 * exact operator norm of each linear layer (Lanczos on AᵀA, core/spectral.c, with A the
 * layer's forward pass without offsets and Aᵀ its backward-input pass), combined into
 * whole-net bounds over the DAG; and the options shared by the module
 * (include/nnprobe/lipschitz.h states every rule). The lower bound is in lower.c, the
 * CLEVER-style estimate in clever.c.
 *
 * Nothing here knows a layer kind: each kind's ops entry (lib/net, nnpi_layer_ops) gives its
 * bound (lip_bound), what its exact norm is (lip_flags: linear, identity, bound = norm) and
 * how the products combine at it (NNPI_LIP_SUM_INPUTS), so a new kind is taught once, in its
 * own file. A kind without a rule is refused (NNP_EUNSUPPORTED) rather than guessed.
 * docs/architecture.md ("Lipschitz bounds") says why the table and not a switch here.
 */
#include <math.h>
#include <string.h>

#include "lipschitz/internal.h"
#include "lipschitz/jvp.h"

void nnpi_lip_default_opts(nnp_lipschitz_opts *o)
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
    o->paper_bound = 1;
}

NNP_API nnp_status nnp_lipschitz_opts_init_sized(nnp_lipschitz_opts *opts, size_t size)
{
    nnp_lipschitz_opts d;
    nnpi_lip_default_opts(&d);
    return nnpi_opts_init(opts, size, &d, sizeof d, "nnp_lipschitz_opts_init");
}

nnp_status nnpi_lip_check_opts(const nnp_lipschitz_opts *o, const char *f)
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

/* AAᵀ for a layer with fewer outputs than inputs: the same nonzero singular values on the
 * smaller side, so Lanczos works with shorter vectors and a smaller basis. Only for kinds
 * whose backward-input pass reads neither `in` nor `out` (NNPI_LIP_GRAM_OUTPUT_SIDE: dense). */
static nnp_status layer_gram_t(void *vctx, const double *u, double *out)
{
    layer_op *c = vctx;
    static const unsigned char overwrite[NNP_MAX_LAYER_INPUTS] = {0};
    for (size_t i = 0; i < c->dout; i++) c->fout[i] = (float)u[i];
    const float *in[1] = {c->fin};
    float *din[1] = {c->fgrad};
    c->node->ops->backward_input(c->node, c->params, in, c->fout, c->fout, din, 1, overwrite,
                                 c->scratch);
    in[0] = c->fgrad;
    c->node->ops->forward(c->node, c->params, in, c->fin, 1, c->scratch);
    for (size_t i = 0; i < c->dout; i++) out[i] = c->fin[i];
    return NNP_OK;
}

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

static int has_exact_norm(const nnpi_node *node)
{
    return (node->ops->lip_flags & NNPI_LIP_LINEAR) != 0;
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
    /* AAᵀ (layer_gram_t) writes the forward result into fin: at least dout floats */
    const int transposed =
        (node->ops->lip_flags & NNPI_LIP_GRAM_OUTPUT_SIDE) && c.dout < c.din && start == NULL;
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
    st = nnpi_lanczos_top(transposed ? c.dout : c.din, transposed ? layer_gram_t : layer_gram, &c,
                          &lo, NULL, &r);
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
    nnpi_lip_default_opts(&o);
    NNPI_TRY(nnpi_opts_copy(&o, sizeof o, opts, "nnp_lipschitz_bounds: opts"));
    NNPI_TRY(nnpi_lip_check_opts(&o, f));
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
    int need_lin = 0; /* an exact norm, or a bound that is one (computed even when !o.exact) */
    for (size_t i = 1; i < L; i++) {
        const nnpi_node *node = &net->nodes[i];
        if (o.exact) n_exact += (size_t)has_exact_norm(node);
        if (node->ops->lip_flags & NNPI_LIP_BOUND_IS_NORM) need_lin = 1;
    }
    if (n_exact) need_lin = 1;
    float *lin = NULL;
    if (need_lin) NNPI_TRY(nnpi_linear_params(net, &lin));
    double *up = nnpi_malloc(nnpi_mul(L, 2 * sizeof(double)));
    if (up == NULL) {
        nnpi_free(lin);
        return nnpi_error(NNP_ENOMEM, "%s: out of memory", f);
    }
    double *upx = up + L;
    nnp_status st = NNP_OK;
    /* progress units: each costly bound's (a conv's (group, frequency) pairs), then max_iter
     * per exact norm */
    uint64_t done = 0, total = (uint64_t)n_exact * o.max_iter;
    for (size_t i = 1; i < L; i++) {
        const nnpi_node *node = &net->nodes[i];
        if (node->ops->lip_bound_units == NULL) continue;
        const nnpi_lip_query q = {.func = f,
                                  .index = i,
                                  .grid_h = o.fourier_grid_h,
                                  .grid_w = o.fourier_grid_w,
                                  .paper_bound = o.paper_bound};
        uint64_t units;
        st = node->ops->lip_bound_units(node, &q, &units);
        if (st != NNP_OK) goto done;
        total += units;
    }
    for (size_t i = 0; i < L; i++) {
        const nnpi_node *node = &net->nodes[i];
        const unsigned flags = node->ops->lip_flags;
        nnp_lipschitz_info r;
        memset(&r, 0, sizeof r);
        r.size = stride;
        r.kind = node->ops->kind;
        r.exact = NAN;
        const nnpi_progress_span pg = {o.progress, o.progress_user, done, total};
        /* a linear layer's bound may come with a start vector for its exact norm's Lanczos */
        const nnpi_lip_query q = {.func = f,
                                  .index = i,
                                  .grid_h = o.fourier_grid_h,
                                  .grid_w = o.fourier_grid_w,
                                  .paper_bound = o.paper_bound,
                                  .want_start = o.exact && has_exact_norm(node),
                                  .progress = &pg};
        nnpi_lip_rule rule = {.bound = NAN, .stride_h = 1, .stride_w = 1}; /* the rest 0 */
        if (node->ops->lip_bound)
            st = node->ops->lip_bound(node, net->params + node->param_offset, &q, &rule);
        else if (!(flags & NNPI_LIP_BOUND_IS_NORM))
            st = nnpi_error(NNP_EUNSUPPORTED, "%s: layer %zu (%s): no Lipschitz rule for this kind",
                            f, i, node->ops->name);
        if (st != NNP_OK) {
            nnpi_free(rule.start);
            goto done;
        }
        done += rule.units;
        r.bound = rule.bound;
        r.stride_h = rule.stride_h;
        r.stride_w = rule.stride_w;
        r.grid_h = rule.grid_h;
        r.grid_w = rule.grid_w;
        r.overlap = rule.overlap;
        if (flags & NNPI_LIP_IDENTITY) {
            r.exact = 1.0;
            r.converged = 1;
        } else if (o.exact && has_exact_norm(node)) {
            st = exact_norm(node, lin, i, &o, rule.start, done, total, &r);
            if (st != NNP_OK) {
                nnpi_free(rule.start);
                goto done;
            }
            done += o.max_iter;
        }
        nnpi_free(rule.start);
        if (flags & NNPI_LIP_BOUND_IS_NORM) {
            if (isnan(r.exact)) { /* opts.exact = 0: the bound still needs the norm */
                nnp_lipschitz_opts quiet = o;
                quiet.progress = NULL;
                nnp_lipschitz_info t = r;
                st = exact_norm(node, lin, i, &quiet, NULL, 0, 0, &t);
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
        } else if (flags & NNPI_LIP_SUM_INPUTS) {
            up[i] = up[node->inputs[0]];
            upx[i] = upx[node->inputs[0]];
            for (size_t k = 1; k < node->n_inputs; k++) {
                up[i] += up[node->inputs[k]];
                upx[i] += upx[node->inputs[k]];
            }
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
