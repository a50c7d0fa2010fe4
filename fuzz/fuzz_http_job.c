/*
 * The local HTTP source's translation of a request into a job call, and of a result into the
 * answer (src/runner/http_job.c). The input is a request written out: "METHOD\n", "PATH\n",
 * "FORMAT\n" (empty: no ?format), header lines "Name: value\n", an empty line, the body. Jobs
 * of even index are routed. A call that is made gets a result carrying its body and every
 * metadata entry the result rules take (or, by the body's first byte, an error result), and
 * the answer is made raw and as JSON. Every answer and call is freed.
 */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#include <blueprint-tee/bpt.h>

#include "runner/http_job.h"

#define MAX_LINE 1024
#define MAX_HEADERS 16

static bool even_jobs(uint8_t index, void *ud)
{
    (void)ud;
    return index % 2 == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char method[MAX_LINE], path[MAX_LINE], format[MAX_LINE], lines[MAX_HEADERS][MAX_LINE];
    struct bpt_kx_header h[MAX_HEADERS];
    struct bpt_http_job_request q;
    bpt_kx_http_answer a;
    bpt_job_call *call = NULL;
    bpt_job_result *res = NULL;
    size_t off = 0, n = 0, refused = 0;
    bool json = false;

    bpt_fuzz_next_line(method, MAX_LINE, data, size, &off);
    bpt_fuzz_next_line(path, MAX_LINE, data, size, &off);
    bpt_fuzz_next_line(format, MAX_LINE, data, size, &off);
    while (n < MAX_HEADERS && bpt_fuzz_next_line(lines[n], MAX_LINE, data, size, &off) > 0) {
        char *colon = strchr(lines[n], ':');
        h[n].name = lines[n];
        h[n].value = "";
        if (colon) {
            *colon = '\0';
            h[n].value = colon + 1 + (colon[1] == ' ');
        }
        n++;
    }
    q.method = method;
    q.path = path;
    q.format = format[0] ? format : NULL;
    q.headers = h;
    q.n_headers = n;
    q.body = data + off;
    q.len = size - off;
    memset(&a, 0, sizeof(a));
    bpt_http_job_call(&call, &json, &a, &q, even_jobs, NULL, 1);
    if (!call) {
        bpt_kx_http_answer_dispose(&a);
        return 0;
    }
    if (bpt_job_result_new(&res) != 0) {
        abort();
    }
    if (q.len && q.body[0] == '!') {
        (void)bpt_job_result_set_error(res, (const char *)path + 1, "%.*s", (int)q.len,
                                       (const char *)q.body);
    } else {
        const char *k, *v;
        if (bpt_job_result_set_body(res, q.body, q.len) != 0) {
            refused++;
        }
        for (size_t i = 0; bpt_job_call_meta_at(call, i, &k, &v); i++) {
            if (bpt_job_result_meta_set(res, k, v) != 0) {
                refused++; /* an entry the result rules refuse is left out */
            }
        }
    }
    (void)refused;
    bpt_http_job_answer(&a, call, res, false);
    bpt_kx_http_answer_dispose(&a);
    bpt_http_job_answer(&a, call, res, true);
    bpt_kx_http_answer_dispose(&a);
    bpt_job_result_free(res);
    bpt_job_call_free(call);
    return 0;
}
