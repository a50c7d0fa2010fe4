/* Small shared helpers: bounded file reads, string duplication, digests. */
#ifndef BPT_CORE_UTIL_H
#define BPT_CORE_UTIL_H

#include <blueprint-tee/buf.h>

#define BPT_SHA256_LEN 32
#define BPT_SHA384_LEN 48

/** Read a whole file ("-" = stdin) into @p out, refusing more than out->max bytes. */
int bpt_file_read(bpt_buf *out, const char *path);

/**
 * Write @p n bytes to @p path (mode 0600 when @p private_file, else 0644), replacing it
 * atomically: a unique temporary file beside it, fsync, rename.
 */
int bpt_file_write(const char *path, const void *p, size_t n, bool private_file);

/** strdup that reports ENOMEM through the error message; NULL in, NULL out (returns 0). */
int bpt_strdup(char **out, const char *s);

/** SHA-256 / SHA-384 of @p n bytes into @p md (32 / 48 bytes). Cannot fail in practice. */
int bpt_sha256(uint8_t md[BPT_SHA256_LEN], const void *p, size_t n);
int bpt_sha384(uint8_t md[BPT_SHA384_LEN], const void *p, size_t n);

/** true if all @p n bytes are zero (time independent of where a non-zero byte is). */
bool bpt_all_zero(const void *p, size_t n);

/** Case-sensitive string equality that treats two NULLs as equal. */
bool bpt_str_eq(const char *a, const char *b);

#endif
