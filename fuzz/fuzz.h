/* The libFuzzer entry point every fuzz_<parser>.c defines. */
#ifndef BPT_FUZZ_H
#define BPT_FUZZ_H
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* A result the target does not care about (any code is fine); (void) does not silence
 * warn_unused_result, a use does. */
static inline void bpt_fuzz_ignore(int rc)
{
    (void)rc;
}

/* The fixed verification time fuzz targets use (2024-01-01T00:00:00Z). */
#define BPT_FUZZ_AT 1704067200

#include <blueprint-tee/context.h>

/*
 * A verification context for one input: verifying at BPT_FUZZ_AT, offline or not, without
 * in-memory caches (so that every input takes the whole path). NULL if it cannot be made.
 */
static inline bpt_verify_ctx *bpt_fuzz_ctx(bool offline)
{
    bpt_verify_ctx_opts o = BPT_VERIFY_CTX_OPTS_INIT;
    bpt_verify_ctx *c = NULL;
    o.chain_cache_entries = 0;
    o.collateral_cache_entries = 0;
    o.jwks_cache = false;
    if (bpt_verify_ctx_new(&c, &o) != 0 || bpt_verify_ctx_set_at(c, BPT_FUZZ_AT) != 0 ||
        bpt_verify_ctx_set_offline(c, offline) != 0) {
        bpt_verify_ctx_free(c);
        return NULL;
    }
    return c;
}
#endif
