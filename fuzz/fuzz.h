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

/*
 * The next line of @p text from *off (up to '\n' or the end; the '\n' consumed) into @p out
 * (cap bytes, NUL-terminated, longer lines cut): the targets that read requests written out
 * line by line. Returns the line's length as kept.
 */
static inline size_t bpt_fuzz_next_line(char *out, size_t cap, const uint8_t *text, size_t len,
                                        size_t *off)
{
    size_t n = 0;
    while (*off < len && text[*off] != '\n') {
        if (n + 1 < cap) {
            out[n++] = (char)text[*off];
        }
        (*off)++;
    }
    if (*off < len) {
        (*off)++;
    }
    out[n] = '\0';
    return n;
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
