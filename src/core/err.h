/*
 * Internal error helpers: set this thread's message and return the code.
 *
 *   return bpt_err(BPT_EMALFORMED, "tdx: quote is %zu bytes, header says %u", len, n);
 *   BPT_CHECK(bpt_reader_u32le(&r, &v, "version"));   // rc = ...; if (rc < 0) goto out;
 *   bpt_err_prefix(rc, "sev_snp: VCEK chain");        // "sev_snp: VCEK chain: <old message>"
 *   rc = bpt_err_ossl(BPT_ESIGNATURE, "sev_snp: report signature"); // appends OpenSSL reason
 */
#ifndef BPT_CORE_ERR_H
#define BPT_CORE_ERR_H

#include <blueprint-tee/error.h>

/** Size of the thread-local message buffer, including the NUL. */
#define BPT_ERROR_MSG_MAX 512

/** Set the message from a format and return @p code. */
int bpt_err(int code, const char *fmt, ...) BPT_PRINTF(2, 3);

/**
 * Prefix the current message with a formatted context and ": ", returning @p code.
 * With no current message, the context alone becomes the message; a message that already
 * starts with the context (followed by ": " or nothing) is left as it is, so a prefix is never
 * repeated ("sev_snp: sev_snp: ...").
 */
int bpt_err_prefix(int code, const char *fmt, ...) BPT_PRINTF(2, 3);

/**
 * Set the message from a format, append the reason at the top of OpenSSL's error queue
 * (if any) and clear the queue, so it cannot leak into a later call. Returns @p code.
 */
int bpt_err_ossl(int code, const char *fmt, ...) BPT_PRINTF(2, 3);

/** Report an allocation failure without allocating; returns BPT_ENOMEM. */
int bpt_err_nomem(const char *what);

/** The one control-flow macro: needs `int rc` and an `out:` label in scope. */
#define BPT_CHECK(expr)                                                                            \
    do {                                                                                           \
        rc = (expr);                                                                               \
        if (rc < 0)                                                                                \
            goto out;                                                                              \
    } while (0)

#endif
