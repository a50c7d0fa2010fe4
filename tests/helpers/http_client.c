/* The tests' HTTP client (http_client.h). */
#include "helpers/http_client.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static size_t on_body(char *p, size_t s, size_t n, void *u)
{
    return bpt_buf_append(u, p, s * n) == 0 ? s * n : 0;
}

static size_t on_header(char *p, size_t s, size_t n, void *u)
{
    struct bpt_test_http_answer *a = u;
    size_t len = s * n, have = a->headers ? strlen(a->headers) : 0;
    char *h = realloc(a->headers, have + len + 1);
    if (!h) {
        return 0;
    }
    memcpy(h + have, p, len);
    h[have + len] = 0;
    a->headers = h;
    return len;
}

void bpt_test_http(struct bpt_test_http_answer *a, const char *method, const char *url,
                   const char *const *headers, const void *body, size_t len)
{
    struct curl_slist *hdr = curl_slist_append(NULL, "Expect:");
    CURL *h = curl_easy_init();
    CURLcode cc;

    memset(a, 0, sizeof(*a));
    bpt_buf_init(&a->body, 64u << 20);
    if (!h) {
        snprintf(a->curl_error, sizeof(a->curl_error), "curl_easy_init failed");
        curl_slist_free_all(hdr);
        return;
    }
    for (size_t i = 0; headers && headers[i]; i++) {
        hdr = curl_slist_append(hdr, headers[i]);
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &a->body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, a);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    if ((cc = curl_easy_perform(h)) != CURLE_OK) {
        snprintf(a->curl_error, sizeof(a->curl_error), "%s: %s", url, curl_easy_strerror(cc));
    } else {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &a->status);
    }
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    if (a->body.len && bpt_buf_append(&a->body, "", 1) == 0) {
        a->body.len--; /* NUL-terminated, not counted */
    }
    a->json = a->body.len ? json_loadb((const char *)a->body.data, a->body.len, 0, NULL) : NULL;
}

bool bpt_test_http_header(const struct bpt_test_http_answer *a, const char *name, char *out,
                          size_t out_len)
{
    size_t nl = strlen(name);
    for (const char *line = a->headers; line && *line;) {
        const char *end = strstr(line, "\r\n");
        size_t ll = end ? (size_t)(end - line) : strlen(line);
        if (ll > nl && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ') {
                v++;
            }
            snprintf(out, out_len, "%.*s", (int)(ll - (size_t)(v - line)), v);
            return true;
        }
        line = end ? end + 2 : line + ll;
    }
    return false;
}

const char *bpt_test_http_error_code(const struct bpt_test_http_answer *a)
{
    const char *c = json_string_value(json_object_get(json_object_get(a->json, "error"), "code"));
    return c ? c : "";
}

void bpt_test_http_dispose(struct bpt_test_http_answer *a)
{
    json_decref(a->json);
    bpt_buf_dispose(&a->body);
    free(a->headers);
    memset(a, 0, sizeof(*a));
}
