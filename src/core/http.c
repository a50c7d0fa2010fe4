#include "core/http.h"
#include "core/err.h"

#include <string.h>
#include <strings.h>

#include <curl/curl.h>

struct sink {
    bpt_buf *body;
    bool too_big;
    const char *const *names; /* response headers to capture */
    bpt_buf *values;
    size_t n;
};

/* "Name: value\r\n": a wanted header's value (trimmed) into its buffer; the last one wins. */
static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct sink *s = ud;
    size_t len = size * n;
    for (size_t i = 0; i < s->n; i++) {
        size_t k = strlen(s->names[i]), end = len;
        if (len <= k || strncasecmp(p, s->names[i], k) != 0 || p[k] != ':') {
            continue;
        }
        k++;
        while (k < len && (p[k] == ' ' || p[k] == '\t')) {
            k++;
        }
        while (end > k && (p[end - 1] == '\r' || p[end - 1] == '\n' || p[end - 1] == ' ')) {
            end--;
        }
        bpt_buf_reset(&s->values[i]);
        if (bpt_buf_append(&s->values[i], p + k, end - k) != 0) {
            s->too_big = true;
            return 0;
        }
    }
    return len;
}

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    struct sink *s = ud;
    size_t len = size * n;
    if (bpt_buf_append(s->body, p, len) != 0) {
        s->too_big = true;
        return 0; /* abort the transfer */
    }
    return len;
}

bool bpt_http_url_allowed(const char *url)
{
    static const char *const loopback[] = {"http://127.0.0.1:", "http://127.0.0.1/",
                                           "http://localhost:", "http://localhost/",
                                           "http://[::1]:",     "http://[::1]/"};
    if (strncmp(url, "https://", 8) == 0) {
        return true;
    }
    for (size_t i = 0; i < sizeof(loopback) / sizeof(loopback[0]); i++) {
        if (strncmp(url, loopback[i], strlen(loopback[i])) == 0) {
            return true;
        }
    }
    return false;
}

int bpt_http_get(bpt_buf *body, long *status, const char *url, long timeout_ms)
{
    return bpt_http_get_headers(body, status, url, timeout_ms, NULL, NULL, 0);
}

int bpt_http_get_headers(bpt_buf *body, long *status, const char *url, long timeout_ms,
                         const char *const *names, bpt_buf *values, size_t n)
{
    CURL *c;
    CURLcode cc;
    struct sink s = {body, false, names, values, n};
    size_t before = body->len;

    *status = 0;
    if (!url || !bpt_http_url_allowed(url)) {
        return bpt_err(BPT_EINVAL, "http: '%.200s' refused (https only, or http to loopback)",
                       url ? url : "(null)");
    }
    c = curl_easy_init();
    if (!c) {
        return bpt_err_nomem("curl");
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 5000 ? timeout_ms : 5000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)body->max);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    if (n) {
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, &s);
    }
    curl_easy_setopt(c, CURLOPT_USERAGENT, "blueprint-tee/" BPT_VERSION_STRING);
    cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup(c);
    if (s.too_big || cc == CURLE_FILESIZE_EXCEEDED) {
        body->len = before;
        return bpt_err(BPT_ELIMIT,
                       "http: %.200s: response (body or a header) larger than %zu bytes", url,
                       body->max);
    }
    if (cc != CURLE_OK) {
        body->len = before;
        return bpt_err(BPT_EFETCH, "http: %.200s: %s", url, curl_easy_strerror(cc));
    }
    return 0;
}
