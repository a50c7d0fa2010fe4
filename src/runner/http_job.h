/*
 * The local HTTP source's translation between HTTP and jobs, with no server in it (so it can be
 * fuzzed): a request (method, path, ?format, headers, body) becomes a job call or a refusal,
 * and a job's result becomes the answer (http_source.c has the wire rules in its comment).
 */
#ifndef BPT_RUNNER_HTTP_JOB_H
#define BPT_RUNNER_HTTP_JOB_H

#include <blueprint-tee/middleware.h>

#include "exchange/protocol.h"
#include "exchange/server_hooks.h"

#define BPT_HTTP_JOBS_PREFIX "/v1/jobs/"

/** A request on the jobs path, as the server hands it over. */
struct bpt_http_job_request {
    const char *method, *path;
    const char *format; /* the ?format argument, NULL when absent */
    const struct bpt_kx_header *headers;
    size_t n_headers;
    const uint8_t *body;
    size_t len;
};

/** "/v1/jobs/<0..255>" (decimal, no sign, no leading zero): true with the index. */
bool bpt_http_job_index(const char *path, uint8_t *index);

/**
 * The call @p q makes (its index routed, by @p has_job), numbered @p next_id unless it names
 * one (X-Bpt-Call-Id). On refusal @p ans holds the answer (404, 405, 400) and *out is NULL.
 * @param[out] json whether the answer is to be ?format=json.
 */
void bpt_http_job_call(bpt_job_call **out, bool *json, bpt_kx_http_answer *ans,
                       const struct bpt_http_job_request *q, bool (*has_job)(uint8_t, void *),
                       void *ud, uint64_t next_id);

/** The answer for a job's @p result (200 raw or JSON, 422, 503 shutting_down). */
void bpt_http_job_answer(bpt_kx_http_answer *ans, const bpt_job_call *call,
                         const bpt_job_result *result, bool json);

/** An error answer in DESIGN.md §6's shape. */
void bpt_http_job_error(bpt_kx_http_answer *ans, unsigned status, const char *code,
                        const char *message, unsigned retry_after);

#endif
