/*
 * What every cloud backend (DESIGN.md §13, src/runtime/remote/) shares: a deadline with
 * exponential back-off that honours a server's Retry-After, the cloud's own error code and
 * message in our error, config files read with their fields checked, and a small, strict,
 * bounded XML reader for the clouds that answer in XML (EC2's Query API).
 */
#ifndef BPT_RUNTIME_REMOTE_H
#define BPT_RUNTIME_REMOTE_H

#include <blueprint-tee/buf.h>
#include <blueprint-tee/common.h>
#include <blueprint-tee/sys/backend.h>

#include <jansson.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** An XML answer's size at most. */
#define BPT_REMOTE_XML_MAX (1024u * 1024u)
/** Element nesting at most. */
#define BPT_REMOTE_XML_DEPTH 24
/** An element name's length at most. */
#define BPT_REMOTE_XML_NAME_MAX 64
/** A Retry-After honoured at most (longer ones are cut to this, then the deadline rules). */
#define BPT_REMOTE_RETRY_AFTER_MAX_MS 60000L

/** A whole text file into @p b (NUL after its bytes; dispose cleanses): not empty, no NUL. */
BPT_MUST_USE int bpt_remote_read_text(bpt_buf *b, const char *path);

/** true when every byte of @p s is [A-Za-z0-9] or in @p extra. */
bool bpt_remote_id_chars(const char *s, const char *extra);

/**
 * The config's string @p key (absent: @p out untouched, or refused when @p required) into @p out:
 * 1..cap-1 bytes, and with @p extra non-NULL only [A-Za-z0-9] and @p extra. Messages
 * "CLOUD: PATH: ...". @return 0; BPT_EINVAL.
 */
BPT_MUST_USE int bpt_remote_cfg_string(const char *cloud, char *out, size_t cap, json_t *o,
                                       const char *key, bool required, const char *extra,
                                       const char *path);

/** The config's integer @p key in lo..hi into @p out (absent: untouched). @return 0; EINVAL. */
BPT_MUST_USE int bpt_remote_cfg_int(const char *cloud, long *out, json_t *o, const char *key,
                                    long lo, long hi, const char *path);

/** Append "&key=value" (no '&' first) to a form or query, the value percent-encoded (RFC 3986
 *  unreserved bytes kept). */
BPT_MUST_USE int bpt_remote_form_param(bpt_buf *q, const char *key, const char *value);

/** Back-off over one deadline: base, doubling per attempt up to max, never past the deadline. */
struct bpt_remote_backoff {
    int64_t deadline_ms; /* bpt_mono_ms() + budget */
    long base_ms, max_ms;
    unsigned attempt;
};

void bpt_remote_backoff_init(struct bpt_remote_backoff *b, long budget_ms, long base_ms,
                             long max_ms);

/**
 * Wait before the next attempt: @p retry_after_ms when the server named one (>= 0), else the
 * back-off's next step.
 * @return 0 after waiting; BPT_EBUSY (nothing waited) when the wait would end past the
 *         deadline, "@p what: still STATE after N attempts in T ms" style message left to the
 *         caller (the message here names @p what).
 */
BPT_MUST_USE int bpt_remote_backoff_wait(struct bpt_remote_backoff *b, long retry_after_ms,
                                         const char *what);

/** A Retry-After value in ms: delay-seconds only (an HTTP date counts as absent); -1 absent or
 *  not a number; capped at BPT_REMOTE_RETRY_AFTER_MAX_MS. */
long bpt_remote_retry_after_ms(const char *value);

/**
 * An error carrying the cloud's code and message: "CLOUD: WHAT: CODE: MESSAGE" (the code cut
 * at 64 bytes, the message at 300, control bytes replaced in both). @return @p rc.
 */
BPT_MUST_USE int bpt_remote_cloud_error(int rc, const char *cloud, const char *what,
                                        const char *code, const char *message);

/**
 * The workload plane's base URL "SCHEME://ADDR:PORT" (IPv6 in brackets) from the IP literal a
 * cloud reports for an instance. @return false (out untouched) when @p addr is no IP address.
 */
bool bpt_remote_plane_url(char *out, size_t cap, bool https, const char *addr, unsigned port);

/**
 * Walk @p xml strictly: one root element, tags balanced, names [A-Za-z_][A-Za-z0-9_.:-]*, only
 * the five predefined entities and numeric references (ASCII), no DTD, no CDATA, no processing
 * instructions but the leading declaration, comments allowed, at most BPT_REMOTE_XML_DEPTH
 * levels and BPT_REMOTE_XML_MAX bytes. @p fn gets every element with no child elements, its
 * ancestors' names (path[0] the root, path[depth-1] the element itself) and its decoded text
 * (NUL-terminated, at most 4096 bytes); non-zero from @p fn stops the walk and is returned.
 * @return 0; BPT_EMALFORMED naming the offset; BPT_ELIMIT; @p fn's code.
 */
typedef int (*bpt_remote_xml_fn)(const char *const *path, size_t depth, const char *text, void *ud);
BPT_MUST_USE int bpt_remote_xml_walk(const char *xml, size_t len, bpt_remote_xml_fn fn, void *ud);

/** true when path ends with the names of @p suffix ("a/b/c"). */
bool bpt_remote_xml_path_ends(const char *const *path, size_t depth, const char *suffix);

/** What every cloud backend keeps for one runtime: its config file, and the runtime's verifier. */
struct bpt_remote_state {
    char config_path[4200];
    const struct bpt_verifier *verifier;
};

/** A backend's init(): a struct bpt_remote_state whose config is $@p env_var when set, else
 *  STATE_DIR/@p file. bpt_remote_cleanup() frees it. */
BPT_MUST_USE int bpt_remote_init(void **state, const bpt_backend_env *env, const char *env_var,
                                 const char *file);
void bpt_remote_cleanup(void *state);

/**
 * A JWT signed RS256 with @p key (an RSA key): base64url(@p header).base64url(@p claims).
 * base64url(signature) into @p out (reset first; wiped when disposed), for the clouds' OAuth2
 * assertions. @return 0; BPT_EINVAL (@p what: not signed); BPT_ENOMEM; BPT_ELIMIT (@p out's cap).
 */
struct evp_pkey_st;
BPT_MUST_USE int bpt_remote_jwt_rs256(bpt_buf *out, const json_t *header, const json_t *claims,
                                      struct evp_pkey_st *key, const char *what);

/* ---- one request to a cloud, retried within the request deadline ---------------------------- */

struct bpt_http_request;
struct bpt_http_response;

/**
 * Send @p req once. 0 with an answer in @p resp; on a transport failure (BPT_EFETCH) wait for
 * @p b's next step and set *again (send again); past the deadline BPT_EFETCH "CLOUD: WHAT:
 * unreachable until the deadline: WHY"; the transport's other codes prefixed "CLOUD: WHAT".
 */
BPT_MUST_USE int bpt_remote_send(bool *again, struct bpt_http_response *resp,
                                 const struct bpt_http_request *req, struct bpt_remote_backoff *b,
                                 const char *cloud, const char *what);

/** A captured header's value as text in @p out; "" when absent or not shorter than @p cap. */
void bpt_remote_header_text(char *out, size_t cap, const bpt_buf *value);

/**
 * A throttling answer (the cloud's @p code and @p message, its Retry-After header @p retry_after
 * as captured): wait as it asks, else for @p b's next step, and return 0 (send again); past the
 * deadline BPT_EBUSY with the cloud's code and "MESSAGE (still refused when the request deadline
 * passed)".
 */
BPT_MUST_USE int bpt_remote_throttled(struct bpt_remote_backoff *b, const bpt_buf *retry_after,
                                      const char *cloud, const char *what, const char *code,
                                      const char *message);

#endif
