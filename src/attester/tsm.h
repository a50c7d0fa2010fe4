/*
 * configfs-tsm (Linux /sys/kernel/config/tsm/report): the kernel's common interface for TEE
 * evidence. An entry is a directory: write 64 bytes to inblob (and optionally privlevel), read
 * outblob (the report or quote), auxblob (SEV-SNP's certificate table), provider
 * ("sev_guest", "tdx_guest") and generation (bumped by every write; a change between our write
 * and our read means another writer raced us).
 */
#ifndef BPT_ATTESTER_TSM_H
#define BPT_ATTESTER_TSM_H

#include <blueprint-tee/buf.h>

/* For tests: called after inblob is written, standing in for the kernel. NULL in production. */
struct bpt_tsm_hooks {
    int (*after_inblob)(const char *entry_dir, const uint8_t *inblob, size_t len, void *ud);
    void *ud;
};

struct bpt_tsm_result {
    bpt_buf outblob; /* the evidence */
    bpt_buf auxblob; /* may be empty */
    char provider[32];
};

/** Initialise/dispose a result (buffers bounded by the evidence and collateral limits). */
void bpt_tsm_result_init(struct bpt_tsm_result *r);
void bpt_tsm_result_dispose(struct bpt_tsm_result *r);

/**
 * Request evidence binding @p report_data through configfs-tsm under @p root (NULL = "/"),
 * with @p privlevel (SEV-SNP VMPL; -1 = leave the default).
 * @return 0; BPT_ENOTSUP (no configfs-tsm); BPT_EIO; BPT_EBUSY (generation raced);
 *         BPT_EMALFORMED (empty outblob).
 */
BPT_MUST_USE int bpt_tsm_report(struct bpt_tsm_result *out, const char *root,
                                const uint8_t report_data[64], int privlevel,
                                const struct bpt_tsm_hooks *hooks);

#endif
