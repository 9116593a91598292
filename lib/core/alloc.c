/* The one allocation wrapper: every library allocation passes here, so a
 * test can make the n-th one fail and check that each failure path is clean. */
#include <stdint.h>
#include <stdlib.h>

#include "core.h"

/* Fault injection is for the test suites only and is process-wide; the counter is atomic so
 * that concurrent allocations stay well defined. */
static _Atomic long fail_countdown = 0;

void nnpi_fail_alloc_after(long n) { fail_countdown = n; }

static int should_fail(void)
{
    if (fail_countdown <= 0) return 0;
    return --fail_countdown == 0;
}

void *nnpi_malloc(size_t size)
{
    if (size == SIZE_MAX || should_fail()) return NULL;
    return malloc(size ? size : 1);
}

void *nnpi_calloc(size_t count, size_t size)
{
    if (nnpi_mul(count, size) == SIZE_MAX || should_fail()) return NULL;
    return calloc(count ? count : 1, size ? size : 1);
}

void *nnpi_realloc(void *p, size_t size)
{
    if (size == SIZE_MAX || should_fail()) return NULL;
    return realloc(p, size ? size : 1);
}

void nnpi_free(void *p) { free(p); }

size_t nnpi_mul(size_t a, size_t b)
{
    if (a != 0 && b > (SIZE_MAX - 1) / a) return SIZE_MAX;
    return a * b;
}
