/*
 * Jobs through the router, with and without the TeeLayer (stamping three metadata entries from
 * a snapshot), beside the router alone as the baseline: the layer's cost is their ratio.
 * Usage: bench_jobs [--seconds N]
 */
#include "util.h"

#include <blueprint-tee/bpt.h>

#include "attester/sim/aws_nitro.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>

struct ctx {
    bpt_router *r;
    bpt_job_call *call;
};

static int square(const bpt_job_call *call, bpt_job_result *res, const bpt_tee_context *tee,
                  void *ud)
{
    size_t n = 0;
    const uint8_t *b = bpt_job_call_body(call, &n);
    uint8_t out[8] = {0};
    uint64_t x = 0;
    (void)tee;
    (void)ud;
    for (size_t i = 0; i < n && i < 8; i++) {
        x = x << 8 | b[i];
    }
    x *= x;
    for (int i = 7; i >= 0; i--, x >>= 8) {
        out[i] = (uint8_t)x;
    }
    return bpt_job_result_set_body(res, out, sizeof(out));
}

/* A job that does a little real work: SHA-256 of its (1 KiB) body. */
static int digest(const bpt_job_call *call, bpt_job_result *res, const bpt_tee_context *tee,
                  void *ud)
{
    size_t n = 0;
    const uint8_t *b = bpt_job_call_body(call, &n);
    uint8_t md[32];
    (void)tee;
    (void)ud;
    SHA256(b, n, md);
    return bpt_job_result_set_body(res, md, sizeof(md));
}

static bool dispatch_once(void *p)
{
    struct ctx *c = p;
    bpt_job_result *res = NULL;
    bool ok = bpt_job_result_new(&res) == 0 && bpt_router_dispatch(c->r, c->call, res, NULL) == 0 &&
              bpt_job_result_is_ok(res);
    bpt_job_result_free(res);
    return ok;
}

int main(int argc, char **argv)
{
    double secs = bench_seconds(argc, argv), plain, layered;
    struct bpt_sim_fixture fx;
    struct bpt_sim_nitro_opts o = {0};
    struct ctx bare = {0}, tee = {0};
    bpt_tee_layer *t = NULL;
    bpt_tee_snapshot *snap = NULL;
    bpt_verify_ctx *vctx = NULL;
    bpt_verified *v = NULL;
    uint8_t *doc = NULL;
    size_t doc_len = 0;
    bpt_layer l;

    /* A real snapshot: a simulated Nitro document, verified. */
    if (bpt_sim_fixture_init(&fx) != 0 ||
        bpt_sim_aws_nitro_build(&doc, &doc_len, fx.dir, &o) != 0 ||
        !(vctx = bpt_sim_fixture_ctx(&fx, BPT_SIM_NITRO_TIME + 30, NULL)) ||
        bpt_verify(&v, vctx, NULL, doc, doc_len, BPT_PROVIDER_UNKNOWN) != 0 ||
        bpt_tee_snapshot_new(&snap, v) != 0 ||
        bpt_tee_layer_new(&t, BPT_REQUIREMENT_REQUIRED) != 0 || bpt_router_new(&bare.r) != 0 ||
        bpt_router_new(&tee.r) != 0 || bpt_router_route(bare.r, 0, square, NULL) != 0 ||
        bpt_router_route(tee.r, 0, square, NULL) != 0 ||
        bpt_router_route(bare.r, 1, digest, NULL) != 0 ||
        bpt_router_route(tee.r, 1, digest, NULL) != 0 ||
        bpt_job_call_new(&bare.call, 1, 1, 0, (const uint8_t *)"\x01\x02\x03", 3) != 0) {
        fprintf(stderr, "setup: %s\n", bpt_error_last());
        return 1;
    }
    bpt_tee_layer_set_snapshot(t, snap);
    l = bpt_tee_layer_as_layer(t);
    if (bpt_router_add_layer(tee.r, &l) != 0) {
        fprintf(stderr, "setup: %s\n", bpt_error_last());
        return 1;
    }
    tee.call = bare.call;
    plain = bench_rate(dispatch_once, &bare, secs);
    layered = bench_rate(dispatch_once, &tee, secs);
    plain =
        (plain + bench_rate(dispatch_once, &bare, secs)) / 2; /* both sides of the layered run */
    bench_report("jobs_router_tee_layer", layered, "jobs_router_alone", plain);
    printf("# TeeLayer cost: %.1f ns per job, %.1f%% of a job whose handler does nothing "
           "(router + TeeLayer / router alone = %.3f)\n",
           plain > 0 && layered > 0 ? 1e9 / layered - 1e9 / plain : 0.0,
           plain > 0 ? 100.0 * (1.0 - layered / plain) : 0.0, plain > 0 ? layered / plain : 0.0);

    /* The same with a handler that hashes a 1 KiB body (job 1). */
    {
        uint8_t body[1024] = {1};
        bpt_job_call *c1 = NULL;
        struct ctx bare1, tee1;
        if (bpt_job_call_new(&c1, 1, 2, 1, body, sizeof(body)) != 0) {
            fprintf(stderr, "setup: %s\n", bpt_error_last());
            return 1;
        }
        bare1 = (struct ctx){bare.r, c1};
        tee1 = (struct ctx){tee.r, c1};
        plain = bench_rate(dispatch_once, &bare1, secs);
        layered = bench_rate(dispatch_once, &tee1, secs);
        plain = (plain + bench_rate(dispatch_once, &bare1, secs)) / 2;
        bench_report("jobs_sha256_1k_router_tee_layer", layered, "jobs_sha256_1k_router_alone",
                     plain);
        printf("# TeeLayer cost on a job hashing 1 KiB: %.1f ns per job, %.1f%% (ratio %.3f)\n",
               plain > 0 && layered > 0 ? 1e9 / layered - 1e9 / plain : 0.0,
               plain > 0 ? 100.0 * (1.0 - layered / plain) : 0.0,
               plain > 0 ? layered / plain : 0.0);
        bpt_job_call_free(c1);
    }
    bpt_job_call_free(bare.call);
    bpt_router_free(bare.r);
    bpt_router_free(tee.r);
    bpt_tee_layer_free(t);
    bpt_tee_snapshot_free(snap);
    bpt_verify_ctx_free(vctx);
    bpt_free(doc);
    bpt_sim_fixture_dispose(&fx);
    return 0;
}
