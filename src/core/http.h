/*
 * The library's one HTTP client, over libcurl: collateral (AMD KDS, Intel PCS, JWKS), the key
 * exchange client and the Confidential Space launcher all go through bpt_http_send().
 *
 * - URLs: https://, or plain http:// only to loopback (127.0.0.0/8, localhost, [::1]). The URL
 *   is parsed once with libcurl's URL parser and that parsed handle is what curl fetches, so
 *   the check and the fetch cannot read the URL differently. A refused URL makes no connection.
 * - Protocols http and https only, redirects included. TLS peer and host verification are
 *   always on: there is no switch to turn them off.
 * - Redirects are not followed unless a request asks; then at most BPT_HTTP_MAX_REDIRECTS, and
 *   every Location is checked against the same URL rule before curl may go there.
 * - One time-out for the whole exchange, one for connecting; the body is bounded by its
 *   bpt_buf's max (checked while receiving, and at once against a declared Content-Length).
 * - Optionally over a unix socket (the URL then names http://localhost/...).
 * - Environment proxies apply to https only; plain http (loopback) and unix sockets never use
 *   a proxy. No content decoding (no compressed bodies), no signals (CURLOPT_NOSIGNAL).
 * Errors never carry a body or a header value: only the URL's scheme and host, curl's reason.
 *
 * Threads: reentrant; each call uses its own curl handle. libcurl's global initialisation runs
 * once per process, on first use, under pthread_once (it is never cleaned up).
 */
#ifndef BPT_CORE_HTTP_H
#define BPT_CORE_HTTP_H

#include <blueprint-tee/buf.h>
#include <blueprint-tee/common.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Connect time-out of a request that names none: min(timeout_ms, this). */
#define BPT_HTTP_CONNECT_TIMEOUT_MS 5000L
/** The longest whole-exchange time-out a request may ask for. */
#define BPT_HTTP_MAX_TIMEOUT_MS 600000L
/** Redirects followed at most, when a request asks for them. */
#define BPT_HTTP_MAX_REDIRECTS 5L

/** PUT sends its body as POST does; DELETE sends none (ARM's and Compute's JSON APIs). */
typedef enum bpt_http_method {
    BPT_HTTP_GET,
    BPT_HTTP_POST,
    BPT_HTTP_PUT,
    BPT_HTTP_DELETE
} bpt_http_method;

/** What went wrong when bpt_http_send() returned BPT_EFETCH (callers with their own codes). */
typedef enum bpt_http_failure {
    BPT_HTTP_FAIL_NONE = 0,  /**< no transport failure (success, BPT_EINVAL, BPT_ELIMIT) */
    BPT_HTTP_FAIL_CONNECT,   /**< no connection: refused, no such socket, unknown host */
    BPT_HTTP_FAIL_TIMEOUT,   /**< the connect or the whole-exchange time-out passed */
    BPT_HTTP_FAIL_PROTOCOL,  /**< the answer is not HTTP, or its framing is damaged */
    BPT_HTTP_FAIL_TRUNCATED, /**< the peer closed before the end its framing announced */
    BPT_HTTP_FAIL_IO,        /**< anything else: TLS, send or receive error, redirect loop */
} bpt_http_failure;

/** One request; every pointer is borrowed for the duration of the call. */
struct bpt_http_request {
    bpt_http_method method;
    const char *url;
    /** NULL: TCP. Else connect to this unix socket (shorter than sun_path). */
    const char *unix_socket;
    /** POST, PUT: the Content-Type header value; NULL: application/octet-stream. */
    const char *content_type;
    /** @p n_headers more request headers, "Name: value" each (no CR or LF). */
    const char *const *headers;
    size_t n_headers;
    /** POST, PUT: @p body_len bytes sent as they are (NULL with 0: empty). GET, DELETE: must
     *  be NULL. */
    const uint8_t *body;
    size_t body_len;
    /** The whole exchange (connect, send, receive, redirects), 1..BPT_HTTP_MAX_TIMEOUT_MS. */
    long timeout_ms;
    /** Connecting; 0: min(timeout_ms, BPT_HTTP_CONNECT_TIMEOUT_MS). */
    long connect_timeout_ms;
    /** false: a 3xx comes back as its status and body, never followed. */
    bool follow_redirects;
    /** @p n_capture response header names (case-insensitive) whose values to capture. */
    const char *const *capture;
    size_t n_capture;
    /** NULL: unsigned. Else libcurl signs the request with AWS Signature Version 4
     *  (CURLOPT_AWS_SIGV4, e.g. "aws:amz:us-east-1:ec2") with this access key id and secret
     *  key (both required then; never logged; a session token goes in @p headers as
     *  X-Amz-Security-Token). */
    const char *aws_sigv4;
    const char *aws_key_id;
    const char *aws_secret;
};

/** Where the answer goes; the caller sets body (and values), the call sets the rest. */
struct bpt_http_response {
    /** Set by the caller: the body is appended here; more than body->max - body->len bytes
     *  is BPT_ELIMIT. On failure its length is what it was before the call. */
    bpt_buf *body;
    /** Set by the caller when the request captures headers: n_capture buffers, each replaced
     *  by its header's value in the final response (trimmed; empty when absent; the last
     *  one wins; a value past the buffer's max is BPT_ELIMIT). */
    bpt_buf *values;
    /** The final response's HTTP status (0 when none arrived). */
    long status;
    /** Its declared Content-Length, -1 when none. */
    int64_t content_length;
    /** Set with BPT_EFETCH: which kind of transport failure. */
    bpt_http_failure failure;
    /** errno of a failed connect, send or receive, else 0. */
    int os_errno;
};

/**
 * Send @p req and receive the answer into @p resp. Any HTTP status is a success: the caller
 * judges it.
 * @return 0; BPT_EINVAL (URL refused, a redirect to a refused URL, or a malformed request:
 *         nothing is sent); BPT_EFETCH (transport error or time-out; resp->failure says which;
 *         the message names the host and curl's reason); BPT_ELIMIT (body or a captured header
 *         over its cap); BPT_ENOMEM.
 */
BPT_MUST_USE int bpt_http_send(struct bpt_http_response *resp, const struct bpt_http_request *req);

/** true for a URL bpt_http_send() fetches: https://, or http:// to a loopback host. */
bool bpt_http_url_allowed(const char *url);

/**
 * GET @p url into @p body (appended, bounded by body->max); *status gets the HTTP status.
 * Connect time-out min(timeout_ms, 5 s); no redirects.
 * @return as bpt_http_send().
 */
BPT_MUST_USE int bpt_http_get(bpt_buf *body, long *status, const char *url, long timeout_ms);

/**
 * bpt_http_get, also capturing the values of the @p n response headers named in @p names
 * (case-insensitive) into @p values[i] (replaced; empty when absent; bounded by its max).
 */
BPT_MUST_USE int bpt_http_get_headers(bpt_buf *body, long *status, const char *url, long timeout_ms,
                                      const char *const *names, bpt_buf *values, size_t n);

#endif
