/* stub */
#include "paper.h"
void paper_charts(paper_ctx *c) { (void)c; }
