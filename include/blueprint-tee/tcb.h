/**
 * @file tcb.h
 * TCB types: Intel TDX TCB statuses (Intel's TCB Info and QE Identity), with the snake_case
 * names used in every JSON document of this library (Intel's CamelCase spellings are accepted
 * on input), and the components of an AMD SEV-SNP TCB_VERSION.
 *
 * Threads: reentrant; the name strings are static.
 */
#ifndef BPT_TCB_H
#define BPT_TCB_H

#include "common.h"

BPT_BEGIN_DECLS

/** TDX TCB statuses. */
typedef enum bpt_tdx_tcb_status {
    BPT_TCB_UP_TO_DATE = 0,
    BPT_TCB_SW_HARDENING_NEEDED,
    BPT_TCB_CONFIGURATION_NEEDED,
    BPT_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED,
    BPT_TCB_OUT_OF_DATE,
    BPT_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED,
    BPT_TCB_REVOKED,
    BPT_TCB_STATUS_COUNT
} bpt_tdx_tcb_status;

/** "up_to_date", ...; "unknown" otherwise. */
BPT_API const char *bpt_tcb_status_name(bpt_tdx_tcb_status s);
/** Parse snake_case or Intel CamelCase ("UpToDate"). @return 0; BPT_EINVAL. */
BPT_API BPT_MUST_USE int bpt_tcb_status_parse(bpt_tdx_tcb_status *out, const char *name);

/** A decoded SEV-SNP TCB_VERSION. Milan/Genoa: bootloader, tee, snp, microcode; Turin adds fmc. */
typedef struct bpt_snp_tcb {
    uint8_t fmc; /**< Turin only; 0 otherwise */
    uint8_t bootloader;
    uint8_t tee;
    uint8_t snp;
    uint8_t microcode;
} bpt_snp_tcb;

BPT_END_DECLS

#endif
