/* Internal entry points of the attester, for tests that stand in for the kernel. */
#ifndef BPT_ATTESTER_INTERNAL_H
#define BPT_ATTESTER_INTERNAL_H

#include <blueprint-tee/attester.h>

#include "attester/tsm.h"

/** bpt_attest's hardware path through configfs-tsm, with test hooks. */
int bpt_attest_tsm(bpt_report **out, const uint8_t report_data[64], const char *root, int privlevel,
                   const struct bpt_tsm_hooks *hooks);

#endif
