/*
 * A small HTTP GET client over libcurl for collateral (AMD KDS, Intel PCS, JWKS): HTTPS only,
 * except plain http to loopback addresses (tests); no redirects; connect and total time-outs;
 * the body is bounded by out->max. Never used for secrets.
 */
#ifndef BPT_CORE_HTTP_H
#define BPT_CORE_HTTP_H

#include <blueprint-tee/buf.h>

#include <stdbool.h>

/** true for a URL this client fetches: https://, or http:// to 127.0.0.1, localhost or [::1]. */
bool bpt_http_url_allowed(const char *url);

/**
 * GET @p url into @p body (appended); *status gets the HTTP status.
 * @return 0 with any status; BPT_EINVAL (URL refused); BPT_EFETCH (transport error or
 *         time-out); BPT_ELIMIT (body larger than body->max).
 */
int bpt_http_get(bpt_buf *body, long *status, const char *url, long timeout_ms);

/**
 * bpt_http_get, also capturing the values of the @p n response headers named in @p names
 * (case-insensitive) into @p values[i] (replaced; empty when absent; bounded by its max).
 */
int bpt_http_get_headers(bpt_buf *body, long *status, const char *url, long timeout_ms,
                         const char *const *names, bpt_buf *values, size_t n);

#endif
