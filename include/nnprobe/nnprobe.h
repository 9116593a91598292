/**
 * @file nnprobe.h
 * @brief libnnprobe: probe trained neural networks as in Szegedy et al. (2013), "Intriguing
 * properties of neural networks". Include this header to get the whole public API.
 *
 * @section conventions Conventions
 *
 * Every public function follows these rules; `docs/abi.md` says what may change between
 * releases.
 *
 * - **Names.** Functions are `nnp_<module>_<verb>` (`nnp_attack_lbfgs`, `nnp_grad_loss`,
 *   `nnp_maxact_search`, `nnp_eval_error_rate`); the module is the header's name. Types are
 *   lower-case `nnp_…`, macros and enum constants `NNP_…`. Internal symbols (`nnpi_…`) are
 *   never exported.
 * - **Status and errors.** Every fallible function returns ::nnp_status (0 = ::NNP_OK).
 *   nnp_last_error() returns a thread-local message naming the function and the argument or
 *   field at fault. Library code never prints, aborts or exits. Results are `NNP_NODISCARD`.
 * - **Handles.** Opaque; made by `nnp_X_create` / `nnp_X_load_…` into an out-parameter that
 *   is set to NULL on failure, freed by `nnp_X_free` (NULL is a no-op). No function returns
 *   memory for the caller to free: the caller owns every buffer it passes, and the library
 *   keeps no pointer to it after the call returns.
 * - **Options.** A plain struct `nnp_<module>_<verb>_opts` (or `nnp_<module>_opts` when all
 *   verbs of a module share one) whose first member is `size_t size`. Fill it with the macro
 *   `nnp_X_opts_init(&o)`, which calls `nnp_X_opts_init_sized(&o, sizeof o)`; FFI callers
 *   call the `_sized` function with their struct's size. Writing only the caller's size keeps
 *   a program built against an older header safe with a newer library: fields it does not
 *   know get their defaults; a larger struct (newer header) is accepted only if the extra
 *   bytes are zero, else ::NNP_EVERSION. A NULL options pointer means all defaults. A value
 *   out of range is refused with ::NNP_EINVAL naming the field, never clamped.
 * - **Argument order.** Inputs, then options, then outputs:
 *   `(net, ws, inputs…, counts…, opts, outputs…)`. Where a per-batch query takes a
 *   workspace (::nnp_workspace, forward, gradients, max-activation) it is the second
 *   argument, may be NULL (the call makes its own), and must not be shared between threads;
 *   whole-set operations (attacks, evaluation, Lipschitz) make their own.
 * - **Types.** Labels and class indices are `int32_t` (−1 where "none" is meaningful);
 *   counts, sizes and indices of layers, units and examples are `size_t`; tensors are
 *   `float`, batch-major, NCHW; accumulations that need it are `double`. The examples
 *   processed per pass are always the option `batch_size`.
 * - **Progress.** Long operations take an optional ::nnp_progress_fn (done, total, user) in
 *   their options; a non-zero return cancels with ::NNP_ECANCELLED, leaving the documented
 *   partial results.
 * - **Non-finite values.** No query returns, classifies or ranks a NaN or an infinity as if
 *   it were a number. Every input tensor (pixels, start points, cotangents) is checked before
 *   the first pass: a NaN or infinity is refused with ::NNP_EINVAL naming the example and the
 *   index. Every probe checks the output it uses (the logits, or φ_l) of each batch: a
 *   non-finite value (a model with huge weights, batch norm with a negative variance) is
 *   refused with ::NNP_ENUMERIC naming the example and the layer where it first became
 *   non-finite; gradient queries also refuse a non-finite input gradient. The layers
 *   themselves propagate NaN (ReLU, leaky ReLU, pooling). `docs/reliability.md`.
 * - **Threads.** A `const nnp_net *` may be queried from many threads at once; functions
 *   taking a non-const handle need exclusive use of it.
 * - **Versions.** `@since` gives the release that introduced a function in its current form.
 */
#ifndef NNPROBE_NNPROBE_H
#define NNPROBE_NNPROBE_H

#include "nnprobe/version.h" /* generated: found through the include path */
#include "status.h"
#include "net.h"
#include "grad.h"
#include "dataset.h"
#include "train.h"
#include "attack.h"
#include "eval.h"
#include "onnx.h"
#include "maxact.h"
#include "lipschitz.h"
#include "file.h"
#include "runtime.h"
#include "shard.h"

#endif
