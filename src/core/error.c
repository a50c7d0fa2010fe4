#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

static _Thread_local char last_msg[BPT_ERROR_MSG_MAX];

const char *bpt_error_last(void)
{
    return last_msg;
}

void bpt_error_clear(void)
{
    last_msg[0] = '\0';
}

static void append_str(size_t *used, const char *s)
{
    size_t n = strlen(s), room = sizeof(last_msg) - 1 - *used;
    if (n > room) {
        n = room;
    }
    memcpy(last_msg + *used, s, n);
    *used += n;
}

/* Format into a scratch buffer first: an argument may point into last_msg itself
 * (bpt_err(rc, "ctx: %s", bpt_error_last())), and vsnprintf's source and destination
 * must not overlap. */
BPT_PRINTF(1, 0) static void set_msg_v(const char *fmt, va_list ap)
{
    char tmp[BPT_ERROR_MSG_MAX];
    if (vsnprintf(tmp, sizeof(tmp), fmt, ap) < 0) {
        tmp[0] = '\0';
    }
    memcpy(last_msg, tmp, sizeof(last_msg));
}

int bpt_err(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_msg_v(fmt, ap);
    va_end(ap);
    return code;
}

int bpt_error_set(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_msg_v(fmt, ap);
    va_end(ap);
    return code < 0 && code >= BPT_ERROR_CODE_MIN ? code : BPT_ERROR;
}

int bpt_err_prefix(int code, const char *fmt, ...)
{
    char prev[BPT_ERROR_MSG_MAX];
    char ctx[BPT_ERROR_MSG_MAX];
    va_list ap;

    memcpy(prev, last_msg, sizeof(prev));
    va_start(ap, fmt);
    if (vsnprintf(ctx, sizeof(ctx), fmt, ap) < 0) {
        ctx[0] = '\0';
    }
    va_end(ap);
    /* A message that already starts with this context keeps its one prefix ("sev_snp: x"
     * prefixed with "sev_snp" stays "sev_snp: x", never "sev_snp: sev_snp: x"). */
    size_t n = strlen(ctx);
    if (n > 0 && strncmp(prev, ctx, n) == 0 &&
        (prev[n] == '\0' || strncmp(prev + n, ": ", 2) == 0)) {
        return code;
    }
    /* Assemble "ctx: prev", truncating at the buffer's end. */
    size_t used = 0;
    append_str(&used, ctx);
    if (prev[0] != '\0') {
        append_str(&used, ": ");
        append_str(&used, prev);
    }
    last_msg[used] = '\0';
    return code;
}

int bpt_err_ossl(int code, const char *fmt, ...)
{
    va_list ap;
    unsigned long e;
    char reason[256];
    size_t used;

    va_start(ap, fmt);
    set_msg_v(fmt, ap);
    va_end(ap);

    e = ERR_peek_last_error();
    if (e != 0) {
        ERR_error_string_n(e, reason, sizeof(reason));
        used = strlen(last_msg);
        append_str(&used, ": ");
        append_str(&used, reason);
        last_msg[used] = '\0';
    }
    ERR_clear_error();
    return code;
}

int bpt_err_nomem(const char *what)
{
    /* snprintf of a short literal with %s does not allocate in glibc. */
    snprintf(last_msg, sizeof(last_msg), "out of memory: %s", what ? what : "allocation");
    return BPT_ENOMEM;
}

struct code_info {
    int code;
    const char *name;
    const char *text;
};

static const struct code_info codes[] = {
    {BPT_OK, "ok", "success"},
    {BPT_ERROR, "error", "unspecified failure"},
    {BPT_EINVAL, "invalid_argument", "invalid argument or configuration"},
    {BPT_ENOMEM, "out_of_memory", "out of memory"},
    {BPT_ENOTSUP, "not_supported", "not supported"},
    {BPT_EMALFORMED, "malformed", "malformed evidence or input"},
    {BPT_ESIGNATURE, "signature", "signature or certificate chain verification failed"},
    {BPT_ECLAIM, "claim", "claim refused by policy"},
    {BPT_EKEYS, "keys", "verification key or collateral unavailable"},
    {BPT_EFETCH, "fetch", "fetching keys or collateral failed"},
    {BPT_EUNSATISFIABLE, "unsatisfiable", "no verifier can satisfy the request"},
    {BPT_EIO, "io", "input/output error"},
    {BPT_ENOTFOUND, "not_found", "not found"},
    {BPT_EEXPIRED, "expired", "expired"},
    {BPT_ELIMIT, "limit_exceeded", "size, count or rate limit exceeded"},
    {BPT_EBUSY, "busy", "busy or at capacity"},
    {BPT_EDECRYPT, "decrypt_failed", "authenticated decryption failed"},
    {BPT_EPROTOCOL, "protocol", "protocol violation by peer"},
    {BPT_EEXISTS, "exists", "already exists"},
};

static const struct code_info *find_code(int code)
{
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        if (codes[i].code == code) {
            return &codes[i];
        }
    }
    return NULL;
}

const char *bpt_strerror(int code)
{
    const struct code_info *ci = find_code(code);
    return ci ? ci->text : "unknown error code";
}

const char *bpt_error_name(int code)
{
    const struct code_info *ci = find_code(code);
    return ci ? ci->name : "unknown";
}

bool bpt_error_is_attestation(int code)
{
    return code <= BPT_EMALFORMED && code >= BPT_EUNSATISFIABLE;
}
