/*
 * The quick start: a job service whose results are stamped with the TEE's attestation.
 *
 *   cc quick_start.c $(pkg-config --cflags --libs blueprint-tee) -o quick_start
 *   ./quick_start [HOST:PORT [SIM_DIR]]
 *   curl -H 'Content-Type: application/octet-stream' --data-binary 12 \
 *        http://127.0.0.1:8788/v1/jobs/0          # -> 144, with X-Bpt-Meta-tee.* headers
 *
 * The TeeConfig requires a TEE (mode direct): on a host without one the runner refuses to
 * start and says why. SIM_DIR (made by `bpt sim init SIM_DIR`) runs it on the simulated
 * SEV-SNP instead, for a test service. It stops on SIGTERM or SIGINT, after the jobs in flight.
 */
#include <blueprint-tee/bpt.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Job 0: the square of a decimal number. */
static int square_handler(const bpt_job_call *call, bpt_job_result *result,
                          const bpt_tee_context *tee, void *userdata)
{
    size_t len = 0;
    const uint8_t *body = bpt_job_call_body(call, &len);
    char text[32], *end = NULL;
    long long n;
    (void)tee;
    (void)userdata;
    if (len == 0 || len >= sizeof(text)) {
        return bpt_job_result_set_error(result, "bad_input", "send a decimal number");
    }
    memcpy(text, body, len);
    text[len] = 0;
    n = strtoll(text, &end, 10);
    if (*end && *end != '\n') {
        return bpt_job_result_set_error(result, "bad_input", "'%s' is not a number", text);
    }
    if (n > 3037000499LL || n < -3037000499LL) {
        return bpt_job_result_set_error(result, "bad_input", "the square would overflow");
    }
    snprintf(text, sizeof(text), "%lld", n * n);
    return bpt_job_result_set_body(result, (const uint8_t *)text, strlen(text));
}

int main(int argc, char **argv)
{
    const char *listen = argc > 1 ? argv[1] : "127.0.0.1:8788";
    bpt_config_builder *b = NULL;
    bpt_config *config = NULL;
    bpt_router *r = NULL;
    bpt_runner *run = NULL;
    int rc;

    /* The TeeConfig: a TEE is required, and this process runs in it (direct). */
    if (bpt_config_builder_new(&b) < 0) {
        return 1;
    }
    bpt_config_builder_set_mode(b, BPT_MODE_DIRECT);
    bpt_config_builder_set_requirement(b, BPT_REQUIREMENT_REQUIRED);
    rc = bpt_config_builder_build(&config, b);
    bpt_config_builder_free(b);
    if (rc < 0) {
        fprintf(stderr, "config: %s\n", bpt_error_last());
        return 1;
    }

    if ((rc = bpt_router_new(&r)) < 0 || (rc = bpt_router_route(r, 0, square_handler, NULL)) < 0 ||
        (rc = bpt_runner_new(&run, config)) < 0 || (rc = bpt_runner_set_router(run, r)) < 0) {
        goto out;
    }
    if (argc > 2) { /* a test service on the simulated TEE */
        bpt_runner_opts o = BPT_RUNNER_OPTS_INIT;
        o.simulate = BPT_PROVIDER_AMD_SEV_SNP;
        o.sim_dir = argv[2];
        if ((rc = bpt_runner_set_options(run, &o)) < 0) {
            goto out;
        }
    }
    if ((rc = bpt_runner_add_source(run, bpt_source_http_local(listen))) < 0) {
        goto out;
    }
    fprintf(stderr, "quick_start: serving job 0 on http://%s until SIGTERM\n", listen);
    rc = bpt_runner_run(run); /* attests, serves, drains on SIGTERM/SIGINT */
out:
    if (rc < 0) {
        fprintf(stderr, "quick_start: %s\n", bpt_error_last());
    }
    bpt_runner_free(run);
    bpt_router_free(r);
    bpt_config_free(config);
    return rc < 0 ? 1 : 0;
}
