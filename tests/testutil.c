#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

const char *tu_tmp_path(char *buf, size_t cap, const char *name)
{
    const char *dir = getenv("NNP_TEST_TMPDIR");
    if (dir == NULL || *dir == '\0') dir = "/tmp";
    snprintf(buf, cap, "%s/nnp_test_%ld_%s", dir, (long)getpid(), name);
    return buf;
}

void tu_fill_uniform(float *x, size_t n, float lo, float hi, uint64_t seed)
{
    uint64_t s = seed * 6364136223846793005ull + 1442695040888963407ull;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        double u = (double)(s >> 11) * 0x1.0p-53;
        x[i] = (float)(lo + (hi - lo) * u);
    }
}

int tu_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
