/*
 * Jobs over the local HTTP source on loopback: round trips per second with p50/p99 latency for
 * POST /v1/jobs/0 (an in-process handler, the result stamped by the runner's TeeLayer from a
 * simulated SEV-SNP attestation) from two keep-alive client threads, beside GET /healthz on the
 * same listener in the same run (the HTTP transport alone): their ratio is what the job path
 * (the runner's queue, a worker, the suspended connection, the stamp) adds.
 *   bench_jobs_http [--seconds N]
 */
#include "util.h"

#include <blueprint-tee/bpt.h>

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#define THREADS 2

struct target {
    char job_url[96], health_url[96];
    struct curl_slist *headers;
};

static int square(const bpt_job_call *call, bpt_job_result *res, const bpt_tee_context *tee,
                  void *ud)
{
    size_t n = 0;
    const uint8_t *b = bpt_job_call_body(call, &n);
    char out[32];
    long long x = 0;
    (void)tee;
    (void)ud;
    for (size_t i = 0; i < n && b[i] >= '0' && b[i] <= '9' && x < 100000000; i++) {
        x = x * 10 + (b[i] - '0');
    }
    snprintf(out, sizeof(out), "%lld", x * x);
    return bpt_job_result_set_body(res, (const uint8_t *)out, strlen(out));
}

static size_t discard(char *p, size_t s, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return s * n;
}

static bench_http_step call(CURL *c, const char *url, struct curl_slist *h, const char *body)
{
    long status = 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    } else {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
    if (curl_easy_perform(c) != CURLE_OK) {
        return BENCH_HTTP_FAILED;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    return status == 200 ? BENCH_HTTP_OK : BENCH_HTTP_FAILED;
}

static bench_http_step job_req(void *curl, void *p)
{
    struct target *t = p;
    return call(curl, t->job_url, t->headers, "12345");
}

static bench_http_step health_req(void *curl, void *p)
{
    struct target *t = p;
    return call(curl, t->health_url, NULL, NULL);
}

int main(int argc, char **argv)
{
    double secs = bench_seconds(argc, argv);
    struct bpt_sim_fixture fx;
    struct bench_http_result jobs, health;
    struct target t = {0};
    bpt_config_builder *b = NULL;
    bpt_config *cfg = NULL;
    bpt_router *rt = NULL;
    bpt_runner *run = NULL;
    bpt_runner_opts o = BPT_RUNNER_OPTS_INIT;
    int rc = 1;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (bpt_sim_fixture_init(&fx) != 0 || bpt_config_builder_new(&b) != 0) {
        return 1;
    }
    bpt_config_builder_set_mode(b, BPT_MODE_DIRECT);
    bpt_config_builder_set_requirement(b, BPT_REQUIREMENT_REQUIRED);
    o.simulate = BPT_PROVIDER_AMD_SEV_SNP;
    o.sim_dir = fx.dir;
    o.workers = 2;
    o.queue_depth = 1024;
    if (bpt_config_builder_build(&cfg, b) != 0 || bpt_router_new(&rt) != 0 ||
        bpt_router_route(rt, 0, square, NULL) != 0 || bpt_runner_new(&run, cfg) != 0 ||
        bpt_runner_set_options(run, &o) != 0 || bpt_runner_set_router(run, rt) != 0 ||
        bpt_runner_add_source(run, bpt_source_http_local("127.0.0.1:0")) != 0 ||
        bpt_runner_start(run) != 0) {
        fprintf(stderr, "setup: %s\n", bpt_error_last());
        goto out;
    }
    snprintf(t.job_url, sizeof(t.job_url), "http://127.0.0.1:%u/v1/jobs/0",
             bpt_runner_http_port(run));
    snprintf(t.health_url, sizeof(t.health_url), "http://127.0.0.1:%u/healthz",
             bpt_runner_http_port(run));
    t.headers = curl_slist_append(NULL, "Content-Type: application/octet-stream");
    t.headers = curl_slist_append(t.headers, "Expect:");
    if (bench_http_load(&health, health_req, &t, THREADS, secs / 2) != 0 ||
        bench_http_load(&jobs, job_req, &t, THREADS, secs) != 0) {
        goto out;
    }
    bench_report_http("http_healthz_round_trip", &health, "none", 0);
    bench_report_http("http_job_round_trip_stamped", &jobs, "http_healthz_round_trip",
                      health.ops_per_s);
    printf("# a job over HTTP costs %.1f us more than a bare round trip on the same listener "
           "(jobs/healthz = %.2f)\n",
           jobs.ops_per_s > 0 && health.ops_per_s > 0
               ? 1e6 / jobs.ops_per_s - 1e6 / health.ops_per_s
               : 0.0,
           health.ops_per_s > 0 ? jobs.ops_per_s / health.ops_per_s : 0.0);
    rc = 0;
out:
    curl_slist_free_all(t.headers);
    bpt_runner_free(run);
    bpt_router_free(rt);
    bpt_config_free(cfg);
    bpt_config_builder_free(b);
    bpt_sim_fixture_dispose(&fx);
    curl_global_cleanup();
    return rc;
}
