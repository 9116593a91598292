/* stub */
#include "paper.h"
int paper_table_5(paper_ctx *c) { (void)c; return CLI_OK; }
int paper_units(paper_ctx *c) { (void)c; return CLI_OK; }
int paper_zhang(paper_ctx *c) { (void)c; return CLI_OK; }
