/* Internal entry points of the attester, for tests that stand in for the kernel. */
#ifndef BPT_ATTESTER_INTERNAL_H
#define BPT_ATTESTER_INTERNAL_H

#include <blueprint-tee/attester.h>

#include "attester/nsm.h"
#include "attester/sev_guest.h"
#include "attester/tsm.h"

/**
 * bpt_attest's hardware path: configfs-tsm, else /dev/sev-guest, else /dev/nsm. Tests pass a
 * hook standing in for configfs-tsm's kernel side, and device ops standing in for the
 * sev-guest and NSM drivers (NULL: the real devices under @p root).
 */
BPT_MUST_USE int bpt_attest_hw(bpt_report **out, const uint8_t report_data[64], const char *root,
                               int privlevel, const struct bpt_tsm_hooks *hooks,
                               const struct bpt_dev_ops *sev_guest_ops,
                               const struct bpt_dev_ops *nsm_ops);

/** bpt_attest_nonce's hardware path: @p nonce bound by the nonce rule (bpt_nonce_bind()). */
BPT_MUST_USE int bpt_attest_hw_nonce(bpt_report **out, const uint8_t *nonce, size_t nonce_len,
                                     const char *root, int privlevel,
                                     const struct bpt_tsm_hooks *hooks,
                                     const struct bpt_dev_ops *sev_guest_ops,
                                     const struct bpt_dev_ops *nsm_ops);

#endif
