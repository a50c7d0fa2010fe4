/* Small shared helpers: bounded file reads, string duplication, digests. */
#ifndef BPT_CORE_UTIL_H
#define BPT_CORE_UTIL_H

#include <blueprint-tee/common.h>

#include <blueprint-tee/buf.h>

#define BPT_SHA256_LEN 32
#define BPT_SHA384_LEN 48

/** Read a whole file ("-" = stdin) into @p out, refusing more than out->max bytes. */
BPT_MUST_USE int bpt_file_read(bpt_buf *out, const char *path);

/**
 * Write @p n bytes to @p path (mode 0600 when @p private_file, else 0644), replacing it
 * atomically: a unique temporary file beside it, fsync, rename.
 */
BPT_MUST_USE int bpt_file_write(const char *path, const void *p, size_t n, bool private_file);

/** strdup that reports ENOMEM through the error message; NULL in, NULL out (returns 0). */
BPT_MUST_USE int bpt_strdup(char **out, const char *s);

/** SHA-256 / SHA-384 of @p n bytes into @p md (32 / 48 bytes). Cannot fail in practice. */
/** Milliseconds on the monotonic clock (deadlines, back-off). */
int64_t bpt_mono_ms(void);

BPT_MUST_USE int bpt_sha256(uint8_t md[BPT_SHA256_LEN], const void *p, size_t n);
BPT_MUST_USE int bpt_sha384(uint8_t md[BPT_SHA384_LEN], const void *p, size_t n);

/**
 * A private key from @p len bytes of PEM, never asking for a passphrase (OpenSSL's default
 * prompts on the terminal): an encrypted key is refused. *out an EVP_PKEY* (EVP_PKEY_free()).
 * @return 0; BPT_EINVAL "@p what is encrypted (...)" or "@p what is not a PEM private key".
 */
struct evp_pkey_st;
BPT_MUST_USE int bpt_pem_private_key(struct evp_pkey_st **out, const void *pem, size_t len,
                                     const char *what);

/** true if all @p n bytes are zero (time independent of where a non-zero byte is). */
bool bpt_all_zero(const void *p, size_t n);

/**
 * Copy @p in into @p out (@p out_len bytes, always NUL-terminated, cut short when full) with
 * every byte outside printable ASCII 0x20..0x7e, and the backslash, written as \xNN: text from
 * the network is passed through this before it reaches a log or a terminal, so it can neither
 * start a new line nor send escape sequences. Returns @p out.
 */
char *bpt_escape_text(char *out, size_t out_len, const char *in);

/** Case-sensitive string equality that treats two NULLs as equal. */
bool bpt_str_eq(const char *a, const char *b);

/*
 * Size-prefixed public structs (bpt_snp_report, bpt_tdx_quote, ...) start with a uint32_t size
 * the caller sets to sizeof as it was compiled. A parser fills a full local copy, then
 * bpt_sized_out() checks the caller's size covers at least the struct's first version
 * (@p v1_size) and copies the part it covers.
 * @return 0; BPT_EINVAL naming @p type (NULL, or a size too small).
 */
BPT_MUST_USE int bpt_sized_check(const void *out, size_t v1_size, const char *type);
void bpt_sized_out(void *out, const void *full, size_t full_size);

#endif
