#include "nnprobe/version.h"

NNP_API unsigned nnp_version_number(void) { return NNP_VERSION_NUMBER; }

NNP_API const char *nnp_version_string(void) { return NNP_VERSION_STRING; }
