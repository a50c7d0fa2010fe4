/*
 * A small HTTP client for tests (libcurl): any method, request headers, a body, and the whole
 * answer kept (status, headers, body, the body as JSON when it is).
 */
#ifndef BPT_TEST_HTTP_CLIENT_H
#define BPT_TEST_HTTP_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include <blueprint-tee/buf.h>

struct bpt_test_http_answer {
    long status; /* 0: the request failed (curl_error says why) */
    char curl_error[256];
    bpt_buf body;  /* NUL-terminated when non-empty */
    char *headers; /* the answer's header lines, "\r\n"-separated as received */
    json_t *json;  /* the body parsed, when it is JSON; else NULL */
};

/**
 * Send @p method to @p url with @p headers (NULL-terminated "Name: value" strings, or NULL)
 * and @p body (len bytes; NULL: none). "Expect:" is always sent empty. Never asserts: a
 * transport failure leaves status 0. Free the answer with bpt_test_http_dispose().
 */
void bpt_test_http(struct bpt_test_http_answer *a, const char *method, const char *url,
                   const char *const *headers, const void *body, size_t len);

/** The value of the answer's header @p name (case-insensitive), copied into @p out; false when
 * absent. */
bool bpt_test_http_header(const struct bpt_test_http_answer *a, const char *name, char *out,
                          size_t out_len);

/** The answer's error code ({"error":{"code":..}}), or "" when it has none. */
const char *bpt_test_http_error_code(const struct bpt_test_http_answer *a);

void bpt_test_http_dispose(struct bpt_test_http_answer *a);

#endif
