/* Largest singular value of a linear operator given only as a product with AᵀA, by the Lanczos
 * method with full reorthogonalisation, in double (lib/core/spectral.c). Internal, no public
 * header. It lives in lib/core, below lib/net, because both the exact norms of
 * lib/lipschitz (bounds.c) and the convolution layer's own Fourier bound (lib/net/conv_fourier.c,
 * the conv kind's Lipschitz rule) run it: a generic numeric kernel that knows no layer.
 *
 * Method (Golub & Van Loan, "Matrix Computations", 4th ed., §10.1, Lanczos tridiagonalisation;
 * §10.3.1 for full reorthogonalisation): Lanczos on the symmetric positive semi-definite
 * M = AᵀA builds an orthonormal basis V_k of the Krylov space and the tridiagonal
 * T_k = V_kᵀ M V_k; the largest eigenvalue θ of T_k (a Ritz value) approaches λ_max(M) = σ_max(A)²
 * from below. Each step costs one application of M, i.e. one of A and one of Aᵀ.
 *
 * Reorthogonalisation. The basis must stay orthonormal to working accuracy, else spurious
 * copies of θ appear. Problems of dimension ≤ 2048 orthogonalise every new vector against the
 * whole basis (classical Gram–Schmidt, repeated under the DGKS test). Larger ones do it only
 * when needed (partial reorthogonalisation, Simon 1984, "The Lanczos algorithm with partial
 * reorthogonalization", Math. Comp. 42; as in Larsen's PROPACK): the inner products
 * ω_{k+1,i} = v_{k+1}ᵀv_i are estimated by Simon's recurrence
 *   β_k ω_{k+1,i} = β_i ω_{k,i+1} + (α_i − α_k) ω_{k,i} + β_{i−1} ω_{k,i−1} − β_{k−1} ω_{k−1,i}
 * plus a rounding term ε√n(β_k + β_i) of the same sign, and when one exceeds √ε the new vector
 * and the next one are orthogonalised against the whole basis. This keeps the basis
 * semi-orthogonal (|ω| ≤ √ε), enough for Ritz values accurate to working precision (Simon),
 * while the full orthogonalisation (two passes over a basis of k × n doubles) runs on a
 * fraction of the steps: it cost as much as the operator itself on the 64×64 3×3 conv.
 *
 * Accuracy estimate. With y the unit eigenvector of T_k for θ and β_k the norm of the next
 * Lanczos residual, ρ = β_k·|y_k| = ‖M V_k y − θ V_k y‖ (GVL eq. 10.1.9). Some eigenvalue of M
 * lies within ρ of θ, and, with δ = θ − θ₂ (θ₂ the second Ritz value) as the gap estimate,
 * within ρ²/δ (Kato–Temple; GVL Thm 8.1.12 style refinement). The relative error of
 * σ = √θ is then estimated by min(ρ, ρ²/δ)/(2θ), which is what `rel_err` reports. θ₂ ≤ λ₂, so
 * δ may overestimate the true gap: the estimate is the standard one, not a certificate. After
 * an explicit restart θ₂ comes from a small basis and is unreliable, so only ρ/(2θ) is used;
 * likewise during the first 20 steps (KT_MIN_STEPS in spectral.c), when a small Krylov space
 * can hold two close eigenvalues unresolved in θ's Ritz vector and θ₂ then stands for λ₃: a
 * 2→4 3×3 conv on 9×9 with σ₁, σ₂ 8e-5 apart claimed 7e-8 at 8 steps while 3e-5 off.
 *
 * Memory: max_basis vectors of dim doubles. When the basis is full without convergence the
 * method restarts from the current Ritz vector (explicit restart). */
#ifndef NNP_CORE_SPECTRAL_H
#define NNP_CORE_SPECTRAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* out = AᵀA·v for one vector of `dim` doubles (out and v do not overlap). Returns NNP_OK or a
 * status that aborts the iteration (the callback sets the message). */
typedef nnp_status (*nnpi_gram_fn)(void *ctx, const double *v, double *out);

typedef struct nnpi_lanczos_opts {
    double tol;            /* stop when the estimated relative error of σ is ≤ tol */
    size_t max_iter;       /* applications of AᵀA at most (≥ 1) */
    size_t max_basis;      /* basis vectors kept before a restart (≥ 2) */
    uint64_t seed;         /* of the random start vector */
    int full_reorth;       /* non-zero: orthogonalise against the whole basis at every step */
    const double *start;   /* start vector (dim, any norm ≠ 0), or NULL for a random one */
    double *ritz_out;      /* if not NULL: receives the unit Ritz vector of sigma (dim) */
    /* progress: called after every step with (done_base + steps so far, total); may cancel */
    nnp_progress_fn progress;
    void *progress_user;
    uint64_t done_base, total;
} nnpi_lanczos_opts;

typedef struct nnpi_lanczos_result {
    double sigma;          /* √θ: the estimate of σ_max(A) (a lower estimate up to rounding) */
    double rel_err;        /* estimated relative error of sigma (see above) */
    size_t iterations;     /* applications of AᵀA (each is one of A and one of Aᵀ) */
    size_t restarts;
    size_t reorthogonalisations; /* steps that orthogonalised against the whole basis */
    int converged;         /* rel_err ≤ tol */
} nnpi_lanczos_result;

/* Doubles of working memory nnpi_lanczos_top needs for these sizes. */
size_t nnpi_lanczos_work_doubles(size_t dim, size_t max_basis);

/* Runs Lanczos on M = AᵀA of size dim × dim. `work`: nnpi_lanczos_work_doubles(dim, max_basis)
 * doubles, or NULL to allocate them here. Not converging within max_iter is not an error:
 * the result says so. Errors: NNP_ENOMEM, NNP_ECANCELLED (progress), NNP_ENUMERIC (M gave NaN
 * or infinity), or whatever the callback returned. */
nnp_status nnpi_lanczos_top(size_t dim, nnpi_gram_fn gram, void *ctx,
                            const nnpi_lanczos_opts *opts, double *work, nnpi_lanczos_result *res);

/* Progress reporting through a computation made of parts: units done before this part, and
 * the whole computation's total. fn NULL = none. (lib/attack has its own nnpi_progress; this
 * one is named apart so that both can be seen from one file.) */
typedef struct nnpi_progress_span nnpi_progress_span;
struct nnpi_progress_span {
    nnp_progress_fn fn;
    void *user;
    uint64_t base, total;
};

#endif
