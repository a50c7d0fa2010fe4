/*
 * The runtime (docs/runtime.md, "Speed"):
 * - the store: operations per second through the registry with a backend that does nothing
 *   (deploy of a new name, deploy of a deployed spec, status, destroy) and of the store alone
 *   (claim + transition, lookup);
 * - on the real runc (skipped, saying why, where it cannot run a container): deploy-to-running
 *   and deploy-to-ready (the workload's socket accepts) in ms, p50/p99, for the simulated TEE
 *   service as a hardened container; the attestation round trip (fresh nonce, GET over the
 *   socket, verification) p50/p99; and `bpt deploy` as a process (reconcile included).
 *   bench_runtime [--seconds N] [--runs N]
 */
#include "util.h"

#include <blueprint-tee/bpt.h>
#include <blueprint-tee/sys/backend.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "helpers/runtime_fixture.h"
#include "runtime/store.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report_ms(const char *name, double *ms, size_t n)
{
    qsort(ms, n, sizeof(*ms), cmp_double);
    size_t p99 = (size_t)((double)(n - 1) * 0.99 + 0.5);
    printf("BENCH case=%s runs=%zu p50_ms=%.1f p99_ms=%.1f min_ms=%.1f\n", name, n, ms[n / 2],
           ms[p99], ms[0]);
}

/* ---- a backend that does nothing: the registry and the store alone ------------------------ */

static int null_deploy(void *s, const bpt_backend_deployment *d)
{
    (void)s;
    (void)d;
    return 0;
}
static int null_att(bpt_verified **o, void *s, const bpt_backend_deployment *d, const uint8_t *n,
                    size_t l)
{
    (void)o;
    (void)s;
    (void)d;
    (void)n;
    (void)l;
    return bpt_error_set(BPT_ENOTSUP, "null backend");
}
static int null_pk(bpt_kx_client_key *o, void *s, const bpt_backend_deployment *d)
{
    (void)o;
    (void)s;
    (void)d;
    return bpt_error_set(BPT_ENOTSUP, "null backend");
}
static int null_status(bpt_backend_state *o, void *s, const bpt_backend_deployment *d)
{
    (void)s;
    (void)d;
    *o = BPT_BACKEND_RUNNING;
    return 0;
}
static int null_list(void *s, bpt_backend_list_fn fn, void *ud)
{
    (void)s;
    (void)fn;
    (void)ud;
    return 0;
}

static const bpt_runtime_backend NULL_BACKEND = {
    .version = BPT_RUNTIME_BACKEND_VERSION,
    .name = "null",
    .deploy = null_deploy,
    .attestation = null_att,
    .public_key = null_pk,
    .status = null_status,
    .stop = null_deploy,
    .destroy = null_deploy,
    .list = null_list,
};

struct store_ctx {
    bpt_runtime *rt;
    bpt_store *st;
    char ids[4096][17];
    size_t n, next, made;
    struct bpt_store_owner me;
    char deployments[4200];
};

static bool op_deploy_new(void *p)
{
    struct store_ctx *c = p;
    char json[128];
    bpt_deploy_spec *s = NULL;
    bpt_deployment *d = NULL;
    snprintf(json, sizeof(json), "{\"name\":\"n%zu\",\"image\":\"/i\"}", c->made++);
    bool ok = bpt_deploy_spec_load_json(&s, json, strlen(json)) == 0 &&
              bpt_runtime_deploy(&d, c->rt, s, "null") == 0;
    if (ok && c->n < 4096) { /* the first 4096 for status and destroy */
        memcpy(c->ids[c->n++], bpt_deployment_id(d), 17);
    }
    bpt_deployment_free(d);
    bpt_deploy_spec_free(s);
    return ok;
}

static bool op_deploy_same(void *p)
{
    struct store_ctx *c = p;
    bpt_deploy_spec *s = NULL;
    bpt_deployment *d = NULL;
    static const char json[] = "{\"name\":\"n0\",\"image\":\"/i\"}";
    bool ok = bpt_deploy_spec_load_json(&s, json, strlen(json)) == 0 &&
              bpt_runtime_deploy(&d, c->rt, s, "null") == 0;
    bpt_deployment_free(d);
    bpt_deploy_spec_free(s);
    return ok;
}

static bool op_status(void *p)
{
    struct store_ctx *c = p;
    bpt_deployment *d = NULL;
    bool ok = bpt_runtime_status(&d, c->rt, c->ids[c->next++ % c->n]) == 0;
    bpt_deployment_free(d);
    return ok;
}

static bool op_store_claim(void *p)
{
    struct store_ctx *c = p;
    struct bpt_store_row r;
    bool created = false, changed = false;
    char name[32];
    snprintf(name, sizeof(name), "s%zu", c->next++);
    bool ok =
        bpt_store_claim(&r, &created, c->st, name, "h", "null", c->deployments, &c->me, 1) == 0 &&
        bpt_store_transition(&changed, c->st, r.id, BPT_DEPLOY_CREATING, c->me.pid,
                             BPT_DEPLOY_RUNNING, NULL, "", 2) == 0;
    if (ok && c->n < 4096) {
        memcpy(c->ids[c->n++], r.id, 17);
    }
    bpt_store_row_dispose(&r);
    return ok;
}

static bool op_store_get(void *p)
{
    struct store_ctx *c = p;
    struct bpt_store_row r;
    bool ok = bpt_store_get(&r, c->st, c->ids[c->next++ % c->n]) == 0;
    bpt_store_row_dispose(&r);
    return ok;
}

static int bench_store(double seconds)
{
    struct store_ctx *c = calloc(1, sizeof(*c));
    char dir[] = "/tmp/bpt-bench-store.XXXXXX", state[64], db[96];
    bpt_runtime_options o = BPT_RUNTIME_OPTIONS_INIT;
    if (c == NULL || mkdtemp(dir) == NULL) {
        return -1;
    }
    snprintf(state, sizeof(state), "%s/state", dir);
    o.state_dir = state;
    o.oci_runtime = "/nonexistent";
    if (bpt_runtime_new(&c->rt, &o) != 0 || bpt_runtime_add_backend(c->rt, &NULL_BACKEND, NULL)) {
        fprintf(stderr, "bench_runtime: %s\n", bpt_error_last());
        return -1;
    }
    double r1 = bench_rate(op_deploy_new, c, seconds);
    bench_report("store_deploy_new", r1, "none", 0);
    double r2 = bench_rate(op_deploy_same, c, seconds);
    bench_report("store_deploy_same_spec", r2, "none", 0);
    c->next = 0;
    double r3 = bench_rate(op_status, c, seconds);
    bench_report("store_status", r3, "none", 0);
    /* destroy every deployment made above: a fixed count, timed */
    double t0 = now_ms(), r4 = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (bpt_runtime_destroy(c->rt, c->ids[i]) != 0) {
            fprintf(stderr, "bench_runtime: %s\n", bpt_error_last());
            return -1;
        }
    }
    r4 = (double)c->n / ((now_ms() - t0) / 1e3);
    bench_report("store_destroy", r4, "none", 0);
    bpt_runtime_free(c->rt);
    /* the store alone */
    snprintf(db, sizeof(db), "%s/state/state.db", dir);
    snprintf(c->deployments, sizeof(c->deployments), "%s/state/deployments", dir);
    c->me.pid = getpid();
    c->n = c->next = 0;
    if (bpt_store_process_start(&c->me.start, getpid()) != 0 ||
        bpt_store_open(&c->st, db, 10000) != 0) {
        fprintf(stderr, "bench_runtime: %s\n", bpt_error_last());
        return -1;
    }
    double r5 = bench_rate(op_store_claim, c, seconds);
    bench_report("store_claim_and_transition", r5, "none", 0);
    c->next = 0;
    double r6 = bench_rate(op_store_get, c, seconds);
    bench_report("store_get", r6, "none", 0);
    bpt_store_close(c->st);
    bpt_remove_tree(dir);
    free(c);
    return r1 > 0 && r2 > 0 && r3 > 0 && r4 > 0 && r5 > 0 && r6 > 0 ? 0 : -1;
}

/* ---- the real runc ----------------------------------------------------------------------- */

static int bench_runc(int runs)
{
    struct bpt_sim_fixture sim;
    struct bpt_runtime_fixture rtf;
    bpt_runtime_options o = BPT_RUNTIME_OPTIONS_INIT;
    bpt_runtime *rt = NULL;
    bpt_verify_ctx *ctx = NULL;
    bpt_verifier *v = NULL;
    char state[4300], json[8192], ids[64][17], sock[4200];
    double *to_run = calloc((size_t)runs, sizeof(double)),
           *to_ready = calloc((size_t)runs, sizeof(double)),
           *att = calloc((size_t)runs * 2, sizeof(double));
    int rc = -1;

    if (bpt_sim_fixture_init(&sim) != 0 ||
        bpt_runtime_fixture_init(&rtf, getenv("BPT_BIN") ? getenv("BPT_BIN") : BPT_BENCH_BPT,
                                 sim.dir) != 0) {
        return -1;
    }
    if (!rtf.usable) {
        printf("BENCH case=runtime_direct skipped=\"%s\"\n", rtf.why);
        rc = 0;
        goto out;
    }
    snprintf(state, sizeof(state), "%s/state", rtf.dir);
    if (!(ctx = bpt_sim_fixture_ctx(&sim, 0, NULL)) || bpt_verifier_new(&v, ctx, NULL) != 0) {
        goto out;
    }
    o.state_dir = state;
    o.verifier = v;
    if (bpt_runtime_new(&rt, &o) != 0) {
        fprintf(stderr, "bench_runtime: %s\n", bpt_error_last());
        goto out;
    }
    for (int i = 0; i < runs; i++) {
        bpt_deploy_spec *s = NULL;
        bpt_deployment *d = NULL;
        snprintf(json, sizeof(json),
                 "{\"name\":\"b%d\",\"image\":\"%s\",\"args\":[\"/usr/bin/bpt\",\"serve\","
                 "\"--simulate\",\"sev-snp\",\"--sim-dir\",\"/etc/bpt/sim\",\"--listen\","
                 "\"unix:/run/bpt/kx.sock\"]}",
                 i, rtf.image);
        double t0 = now_ms();
        if (bpt_deploy_spec_load_json(&s, json, strlen(json)) != 0 ||
            bpt_runtime_deploy(&d, rt, s, NULL) != 0) {
            fprintf(stderr, "bench_runtime: deploy: %s\n", bpt_error_last());
            bpt_deploy_spec_free(s);
            goto out;
        }
        to_run[i] = now_ms() - t0;
        memcpy(ids[i], bpt_deployment_id(d), 17);
        if (bpt_runtime_kx_socket(sock, sizeof(sock), rt, ids[i]) != 0) {
            fprintf(stderr, "bench_runtime: ready: %s\n", bpt_error_last());
            goto out;
        }
        to_ready[i] = now_ms() - t0;
        bpt_deployment_free(d);
        bpt_deploy_spec_free(s);
    }
    report_ms("deploy_to_running", to_run, (size_t)runs);
    report_ms("deploy_to_ready", to_ready, (size_t)runs);
    for (int i = 0; i < runs * 2; i++) {
        bpt_verified *ver = NULL;
        double t0 = now_ms();
        if (bpt_runtime_attestation(&ver, rt, ids[0], NULL, 0) != 0) {
            fprintf(stderr, "bench_runtime: attestation: %s\n", bpt_error_last());
            goto out;
        }
        att[i] = now_ms() - t0;
        bpt_verified_free(ver);
    }
    report_ms("attestation_round_trip", att, (size_t)runs * 2);
    /* `bpt deploy` as a process: open the store, reconcile (runc list), deploy */
    char spec[4400], out_text[4096];
    snprintf(spec, sizeof(spec), "%s/cli.json", rtf.dir);
    for (int i = 0; i < runs; i++) {
        FILE *f = fopen(spec, "w");
        fprintf(f,
                "{\"name\":\"c%d\",\"image\":\"%s\",\"args\":[\"/usr/bin/bpt\",\"serve\","
                "\"--simulate\",\"sev-snp\",\"--sim-dir\",\"/etc/bpt/sim\",\"--listen\","
                "\"unix:/run/bpt/kx.sock\"]}",
                i, rtf.image);
        fclose(f);
        const char *argv[] = {getenv("BPT_BIN") ? getenv("BPT_BIN") : BPT_BENCH_BPT,
                              "deploy",
                              "--state-dir",
                              state,
                              spec,
                              NULL};
        double t0 = now_ms();
        if (bpt_runtime_fixture_run(out_text, sizeof(out_text), argv) != 0) {
            fprintf(stderr, "bench_runtime: bpt deploy: %s\n", out_text);
            goto out;
        }
        to_run[i] = now_ms() - t0;
    }
    report_ms("cli_bpt_deploy", to_run, (size_t)runs);
    rc = 0;
out:
    if (rt != NULL) {
        bpt_deployment **list = NULL;
        size_t n = 0;
        if (bpt_runtime_list(&list, &n, rt, false) == 0) {
            for (size_t i = 0; i < n; i++) {
                if (bpt_runtime_destroy(rt, bpt_deployment_id(list[i])) != 0) {
                    fprintf(stderr, "bench_runtime: destroy: %s\n", bpt_error_last());
                }
            }
        }
        bpt_deployment_list_free(list, n);
    }
    bpt_runtime_free(rt);
    bpt_verifier_free(v);
    bpt_verify_ctx_free(ctx);
    bpt_runtime_fixture_dispose(&rtf);
    bpt_sim_fixture_dispose(&sim);
    free(to_run);
    free(to_ready);
    free(att);
    return rc;
}

int main(int argc, char **argv)
{
    double seconds = bench_seconds(argc, argv);
    int runs = 20;
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--runs") == 0) {
            long v = strtol(argv[i + 1], NULL, 10);
            runs = v > 0 && v <= 64 ? (int)v : 20;
        }
    }
    if (getenv("BPT_SOURCE_DIR") == NULL) { /* the image script, for the runc cases */
        setenv("BPT_SOURCE_DIR", BPT_BENCH_SOURCE_DIR, 1);
    }
    if (bench_store(seconds) != 0 || bench_runc(runs) != 0) {
        return 1;
    }
    return 0;
}
