/* bpt-test-labels: unit loopback */
/*
 * Prefetching for air-gapped verification (bpt_verify_prefetch, `bpt fetch`): against one
 * loopback server answering as AMD KDS (VCEK and CRL), Intel PCS and a JWKS endpoint, each kind
 * of evidence's collateral is fetched into a cache directory, found there the second time, and a
 * verification with --offline and that directory then succeeds (SEV-SNP: with its revocation
 * check) where it failed before. Refusals by class: a failed fetch, nothing to fetch from, not
 * evidence, no cache directory, offline.
 */
#include "helpers/fake_pcs.h"
#include "helpers/test.h"

#include "helpers/sim_fixture.h"

#include "attester/sim/jwt.h"
#include "attester/sim/sev_snp.h"
#include "attester/sim/tdx.h"

#include <jansson.h>
#include <microhttpd.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include <stdatomic.h>
#include <stdio.h>

#define AT 1750000000 /* the TDX collateral's window, and the token's time */
#define GCP_ISS "https://confidentialcomputing.googleapis.com"

struct server {
    struct MHD_Daemon *d;
    char url[64];
    char vcek_path[256];
    uint8_t *vcek;
    size_t vcek_len;
    uint8_t *crl; /* the simulated ARK's CRL, served at /vcek/v1/Milan/crl */
    size_t crl_len;
    json_t *coll; /* the simulated TDX collateral the PCS answers are cut from */
    char *jwks;
    atomic_int hits;
    atomic_int failing; /* answer 500 to everything */
};

static struct MHD_Response *copy_response(const void *p, size_t n)
{
    return MHD_create_response_from_buffer(n, (void *)p, MHD_RESPMEM_MUST_COPY);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_len, void **con_cls)
{
    struct server *s = cls;
    struct MHD_Response *resp;
    unsigned status = MHD_HTTP_OK;
    enum MHD_Result r;
    (void)method, (void)version, (void)upload, (void)upload_len, (void)con_cls;
    atomic_fetch_add(&s->hits, 1);
    if (atomic_load(&s->failing)) {
        resp = copy_response("", 0);
        status = MHD_HTTP_INTERNAL_SERVER_ERROR;
    } else if (strcmp(url, s->vcek_path) == 0) { /* AMD KDS */
        resp = copy_response(s->vcek, s->vcek_len);
    } else if (strcmp(url, "/vcek/v1/Milan/crl") == 0) {
        resp = copy_response(s->crl, s->crl_len);
    } else if (strcmp(url, "/jwks") == 0) { /* a JWKS endpoint */
        resp = copy_response(s->jwks, strlen(s->jwks));
    } else if (!(resp = bpt_fake_pcs_answer(&status, conn, url, s->coll,
                                            BPT_FAKE_PCS_ROOT_CRL_DER))) { /* Intel PCS */
        resp = copy_response("", 0);
        status = MHD_HTTP_NOT_FOUND;
    }
    r = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return r;
}

struct fixture {
    struct bpt_sim_fixture sim;
    struct server srv;
    char *dir; /* files for the CLI */
    char snp[4096], tdx[4096], gcp[4096], maa[4096], nitro[4096], report[4096], ask[4096];
    char roots[4096], jwks_url[128];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct bpt_sim_tdx_opts to = {.now = AT};
    uint8_t rd[64] = {0}, *ev = NULL;
    size_t n = 0;
    char *coll = NULL, *jwk = NULL, *tok = NULL, hex[129], claims[512], *text = NULL;
    EVP_PKEY *key = EVP_EC_gen("P-256");
    bpt_attester_opts ao = BPT_ATTESTER_OPTS_INIT;
    bpt_report *r = NULL;
    const union MHD_DaemonInfo *info;
    *state = f;
    if (!f || !key || bpt_sim_fixture_init(&f->sim) != 0 || !(f->dir = bpt_test_tmpdir())) {
        return -1;
    }
    snprintf(f->roots, sizeof(f->roots), "%s/trust-roots.pem", f->sim.dir);
    snprintf(f->ask, sizeof(f->ask), "%s/sev-snp/ask.pem", f->sim.dir);
    /* SEV-SNP: a raw report (no certificates with it) and the VCEK KDS serves. */
    if (bpt_sim_sev_snp_attest(&ev, &n, f->sim.dir, rd) != 0) {
        return -1;
    }
    for (int i = 0; i < 64; i++) {
        snprintf(hex + 2 * i, 3, "%02x", ev[0x1A0 + i]);
    }
    snprintf(f->srv.vcek_path, sizeof(f->srv.vcek_path), "/vcek/v1/Milan/%s", hex);
    snprintf(f->snp, sizeof(f->snp), "%s/snp.bin", f->dir);
    bpt_test_write_file(f->snp, ev, n);
    bpt_free(ev);
    snprintf(hex, sizeof(hex), "%s/sev-snp/vcek.der", f->sim.dir);
    f->srv.vcek = bpt_test_read_file(hex, &f->srv.vcek_len);
    snprintf(hex, sizeof(hex), "%s/sev-snp/crl.der", f->sim.dir);
    f->srv.crl = bpt_test_read_file(hex, &f->srv.crl_len);
    /* TDX: a raw quote, and the collateral PCS serves. */
    if (bpt_sim_tdx_quote(&ev, &n, f->sim.dir, &to) != 0 ||
        bpt_sim_tdx_collateral(&coll, f->sim.dir, &to) != 0) {
        return -1;
    }
    snprintf(f->tdx, sizeof(f->tdx), "%s/tdx.quote", f->dir);
    bpt_test_write_file(f->tdx, ev, n);
    bpt_free(ev);
    f->srv.coll = json_loads(coll, 0, NULL);
    bpt_free(coll);
    /* JWT: a GCP token and an MAA one, signed by the key the JWKS endpoint serves. */
    if (bpt_sim_jwk(&jwk, key, "k1") != 0 || asprintf(&f->srv.jwks, "{\"keys\":[%s]}", jwk) < 0) {
        return -1;
    }
    snprintf(claims, sizeof(claims),
             "{\"iss\":\"" GCP_ISS "\",\"aud\":\"rp\",\"iat\":%d,\"exp\":%d,\"dbgstat\":"
             "\"disabled-since-boot\"}",
             AT - 10, AT + 3600);
    if (bpt_sim_jwt_make(&tok, "{\"alg\":\"ES256\",\"kid\":\"k1\"}", claims, key) != 0) {
        return -1;
    }
    snprintf(f->gcp, sizeof(f->gcp), "%s/gcp.jwt", f->dir);
    bpt_test_write_file(f->gcp, tok, strlen(tok));
    bpt_free(tok);
    /* Nitro, and a report JSON that carries its certificates. */
    ao.sim_dir = f->sim.dir;
    ao.simulate = BPT_PROVIDER_AWS_NITRO;
    if (bpt_attest(&r, rd, &ao) != 0) {
        return -1;
    }
    snprintf(f->nitro, sizeof(f->nitro), "%s/nitro.bin", f->dir);
    ev = (uint8_t *)bpt_report_evidence(r, &n);
    bpt_test_write_file(f->nitro, ev, n);
    bpt_report_free(r);
    ao.simulate = BPT_PROVIDER_AMD_SEV_SNP;
    if (bpt_attest(&r, rd, &ao) != 0 || bpt_report_to_json(&text, r) != 0) {
        return -1;
    }
    snprintf(f->report, sizeof(f->report), "%s/snp-report.json", f->dir);
    bpt_test_write_file(f->report, text, strlen(text));
    bpt_free(text);
    bpt_report_free(r);

    f->srv.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handle, &f->srv,
                                MHD_OPTION_END);
    if (!f->srv.d || !f->srv.coll || !f->srv.vcek || !f->srv.crl) {
        return -1;
    }
    info = MHD_get_daemon_info(f->srv.d, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(f->srv.url, sizeof(f->srv.url), "http://127.0.0.1:%u", info->port);
    snprintf(f->jwks_url, sizeof(f->jwks_url), "%s/jwks", f->srv.url);
    /* An MAA token whose issuer is the server (its <iss>/certs is not served: 404). */
    snprintf(claims, sizeof(claims), "{\"iss\":\"%s\",\"aud\":\"rp\"}", f->srv.url);
    if (bpt_sim_jwt_make(&tok, "{\"alg\":\"ES256\",\"kid\":\"k1\"}", claims, key) != 0) {
        return -1;
    }
    snprintf(f->maa, sizeof(f->maa), "%s/maa.jwt", f->dir);
    bpt_test_write_file(f->maa, tok, strlen(tok));
    bpt_free(tok);
    bpt_free(jwk);
    EVP_PKEY_free(key);
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    MHD_stop_daemon(f->srv.d);
    json_decref(f->srv.coll);
    free(f->srv.vcek);
    free(f->srv.crl);
    free(f->srv.jwks);
    bpt_sim_fixture_dispose(&f->sim);
    bpt_test_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* A fresh empty cache directory's path (free()). */
static char *cache(struct fixture *f, const char *name)
{
    char *p = NULL;
    assert_true(asprintf(&p, "%s/%s", f->dir, name) > 0);
    bpt_test_rmtree(p);
    return p;
}

/* A context for prefetching into @p dir from the server, at AT; @p revocation: the SEV-SNP
 * revocation check (whose CRL is prefetched) on. */
static bpt_verify_ctx *fetch_ctx_rev(struct fixture *f, const char *dir, bool offline,
                                     bool revocation)
{
    bpt_verify_ctx *c = NULL;
    assert_ok(bpt_verify_ctx_new(&c, NULL));
    assert_ok(bpt_verify_ctx_set_at(c, AT));
    assert_ok(bpt_verify_ctx_set_cache_dir(c, dir));
    assert_ok(bpt_verify_ctx_set_kds_url(c, f->srv.url));
    assert_ok(bpt_verify_ctx_set_pccs_url(c, f->srv.url));
    assert_ok(bpt_verify_ctx_set_jwks_url(c, f->jwks_url));
    assert_ok(bpt_verify_ctx_set_offline(c, offline));
    assert_ok(bpt_verify_ctx_set_revocation_check(c, revocation));
    return c;
}

static bpt_verify_ctx *fetch_ctx(struct fixture *f, const char *dir, bool offline)
{
    return fetch_ctx_rev(f, dir, offline, true);
}

/* Prefetch the file @p path; the state of its item @p what. */
static void prefetch_file(struct fixture *f, const char *dir, const char *path, const char *what,
                          const char *want_state)
{
    size_t n = 0;
    uint8_t *ev = bpt_test_read_file(path, &n);
    bpt_verify_ctx *c = fetch_ctx(f, dir, false);
    char *out = NULL, needle[128];
    assert_non_null(ev);
    assert_ok(bpt_verify_prefetch(&out, c, NULL, ev, n));
    snprintf(needle, sizeof(needle), "\"state\":\"%s\",\"what\":\"%s\"", want_state, what);
    if (!strstr(out, needle)) {
        fail_msg("%s: '%s' not in %s", path, needle, out);
    }
    bpt_free(out);
    bpt_verify_ctx_free(c);
    free(ev);
}

static void test_each_kind_is_fetched_then_cached(void **state)
{
    struct fixture *f = *state;
    char *dir = cache(f, "lib");
    static const struct {
        const char *what;
        size_t path_off;
    } kinds[] = {
        {"vcek", offsetof(struct fixture, snp)},
        {"tdx_collateral", offsetof(struct fixture, tdx)},
        {"jwks", offsetof(struct fixture, gcp)},
    };
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        const char *path = (const char *)f + kinds[i].path_off;
        int before;
        atomic_store(&f->srv.hits, 0);
        prefetch_file(f, dir, path, kinds[i].what, "fetched");
        assert_true(atomic_load(&f->srv.hits) > 0);
        before = atomic_load(&f->srv.hits);
        prefetch_file(f, dir, path, kinds[i].what, "cached");
        assert_int_equal(atomic_load(&f->srv.hits), before); /* the cache answered */
    }
    /* What needs nothing, and what the evidence carries. */
    prefetch_file(f, dir, f->nitro, "nothing", "not_needed");
    prefetch_file(f, dir, f->report, "vcek", "given");
    prefetch_file(f, dir, f->report, "crl", "given"); /* the simulator's report JSON has it */
    prefetch_file(f, dir, f->snp, "crl", "cached");   /* fetched with the VCEK above */
    free(dir);
}

/* SEV-SNP: AMD's CRL goes where the revocation check reads it; fetched, then cached; a cached
 * file that is no CRL is fetched again; none with the revocation check off; offline, a missing
 * one is keys. */
static void test_snp_crl(void **state)
{
    struct fixture *f = *state;
    char *dir = cache(f, "snp-crl"), path[4200];
    size_t n = 0, got_len = 0;
    uint8_t *ev = bpt_test_read_file(f->snp, &n), *got;
    bpt_verify_ctx *c;
    bpt_verified *v = NULL;
    char *out = NULL;
    int before;

    assert_non_null(ev);
    atomic_store(&f->srv.hits, 0);
    prefetch_file(f, dir, f->snp, "crl", "fetched");
    assert_int_equal(atomic_load(&f->srv.hits), 2); /* the VCEK and the CRL */
    snprintf(path, sizeof(path), "%s/crl-vcek-Milan.der", dir);
    got = bpt_test_read_file(path, &got_len);
    assert_non_null(got);
    assert_int_equal(got_len, f->srv.crl_len);
    assert_memory_equal(got, f->srv.crl, got_len);
    free(got);
    before = atomic_load(&f->srv.hits);
    prefetch_file(f, dir, f->snp, "crl", "cached");
    assert_int_equal(atomic_load(&f->srv.hits), before);

    /* What was prefetched verifies offline with revocation checked (the simulator's roots). */
    c = fetch_ctx(f, dir, true);
    {
        uint8_t *roots = bpt_test_read_file(f->roots, &got_len);
        uint8_t *ask = NULL;
        size_t ask_len = 0;
        assert_ok(bpt_verify_ctx_add_trust_roots(c, roots, got_len));
        ask = bpt_test_read_file(f->ask, &ask_len);
        assert_ok(bpt_verify_ctx_add_certs(c, ask, ask_len));
        free(roots);
        free(ask);
    }
    assert_ok(bpt_verify(&v, c, NULL, ev, n, BPT_PROVIDER_AMD_SEV_SNP));
    assert_int_equal(bpt_verified_warning_count(v), 0); /* no "revocation not checked" */
    bpt_verified_free(v);
    bpt_verify_ctx_free(c);

    /* A cached file that is no CRL is fetched again. */
    bpt_test_write_file(path, "not a CRL", 9);
    prefetch_file(f, dir, f->snp, "crl", "fetched");

    /* Offline with the VCEK cached and the CRL damaged, then missing: keys, naming the CRL
     * and what is wrong with it. */
    bpt_test_write_file(path, "not a CRL", 9);
    c = fetch_ctx(f, dir, true);
    assert_rc_msg(bpt_verify_prefetch(NULL, c, NULL, ev, n), BPT_EKEYS,
                  "prefetch: AMD's CRL of ASKs is not usable from the cache directory and the "
                  "context is offline (prefetch: the cached AMD's CRL of ASKs is not one CRL)");
    bpt_verify_ctx_free(c);
    remove(path);
    c = fetch_ctx(f, dir, true);
    assert_rc_msg(bpt_verify_prefetch(NULL, c, NULL, ev, n), BPT_EKEYS,
                  "prefetch: AMD's CRL of ASKs is not usable from the cache directory and the "
                  "context is offline (prefetch: AMD's CRL of ASKs is not in the cache directory)");
    bpt_verify_ctx_free(c);

    /* The revocation check off: no CRL is needed. */
    c = fetch_ctx_rev(f, dir, false, false);
    assert_ok(bpt_verify_prefetch(&out, c, NULL, ev, n));
    assert_non_null(strstr(out, "\"state\":\"not_needed\",\"what\":\"crl\""));
    bpt_free(out);
    bpt_verify_ctx_free(c);

    /* KDS without the CRL (the server failing): fetch, as for the VCEK. */
    c = fetch_ctx(f, dir, false);
    atomic_store(&f->srv.failing, 1);
    assert_rc_msg(bpt_verify_prefetch(NULL, c, NULL, ev, n), BPT_EFETCH, "HTTP 500");
    atomic_store(&f->srv.failing, 0);
    bpt_verify_ctx_free(c);
    free(ev);
    free(dir);
}

/* An SEV-SNP VCEK that cannot be fetched says why (the report is read, not verified). */
static void test_snp_vceks_that_cannot_be_fetched(void **state)
{
    struct fixture *f = *state;
    char *dir = cache(f, "snp-refusals");
    size_t n = 0;
    uint8_t *ev = bpt_test_read_file(f->snp, &n), *edited = malloc(n);
    bpt_verify_ctx *c = fetch_ctx(f, dir, false);
    bpt_policy *p = NULL;
    assert_non_null(ev);
    memcpy(edited, ev, n);
    edited[0x48] = (uint8_t)((edited[0x48] & ~0x1C) | (1 << 2)); /* SIGNING_KEY: VLEK */
    assert_rc_msg(bpt_verify_prefetch(NULL, c, NULL, edited, n), BPT_EKEYS,
                  "signed by a VLEK, which AMD KDS does not publish");
    memcpy(edited, ev, n);
    memset(edited + 0x1A0, 0, 64); /* chip_id masked */
    assert_rc_msg(bpt_verify_prefetch(NULL, c, NULL, edited, n), BPT_EKEYS,
                  "the report masks its chip_id");
    memcpy(edited, ev, n);
    edited[0] = 2; /* version 2: no CPUID, so no product; its CPUID bytes are reserved */
    memset(edited + 0x188, 0, 0x18);
    assert_rc_msg(bpt_verify_prefetch(NULL, c, NULL, edited, n), BPT_EKEYS,
                  "a version 2 report does not name its product");
    static const char milan[] = "{\"sev_snp\":{\"products\":[\"Milan\"]}}";
    assert_ok(bpt_policy_load_json(&p, milan, sizeof(milan) - 1));
    assert_ok(bpt_verify_prefetch(NULL, c, p, edited, n)); /* the policy names it */
    bpt_policy_free(p);
    bpt_verify_ctx_free(c);
    free(edited);
    free(ev);
    free(dir);
}

static void test_refusals(void **state)
{
    struct fixture *f = *state;
    char *dir = cache(f, "refusals");
    size_t n = 0;
    uint8_t *ev = bpt_test_read_file(f->snp, &n);
    bpt_verify_ctx *c = NULL;
    bpt_policy *p = NULL;

    assert_ok(bpt_verify_ctx_new(&c, NULL));
    assert_rc_msg(bpt_verify_prefetch(NULL, c, NULL, ev, n), BPT_EINVAL, "no cache directory");
    assert_rc_msg(bpt_verify_prefetch(NULL, NULL, NULL, ev, n), BPT_EINVAL, "no verification");
    bpt_verify_ctx_free(c);
    /* Offline: nothing fetched, a miss is keys (a way to check a cache). */
    c = fetch_ctx(f, dir, true);
    atomic_store(&f->srv.hits, 0);
    assert_rc_msg(bpt_verify_prefetch(NULL, c, NULL, ev, n), BPT_EKEYS,
                  "prefetch: the VCEK is not usable from the cache directory and the context "
                  "is offline (kds: the VCEK is not in the cache directory");
    assert_int_equal(atomic_load(&f->srv.hits), 0);
    bpt_verify_ctx_free(c);
    /* The server fails: fetch (retrying may help). */
    c = fetch_ctx(f, dir, false);
    atomic_store(&f->srv.failing, 1);
    assert_rc_msg(bpt_verify_prefetch(NULL, c, NULL, ev, n), BPT_EFETCH, "HTTP 500");
    atomic_store(&f->srv.failing, 0);
    assert_rc_msg(bpt_verify_prefetch(NULL, c, NULL, (const uint8_t *)"junk", 4), BPT_EMALFORMED,
                  "4 bytes are not a recognised evidence format");
    bpt_verify_ctx_free(c);
    free(ev);
    /* An MAA token whose issuer nobody names: nothing to fetch its keys from. */
    ev = bpt_test_read_file(f->maa, &n);
    assert_ok(bpt_verify_ctx_new(&c, NULL));
    assert_ok(bpt_verify_ctx_set_cache_dir(c, dir));
    assert_rc_msg(bpt_verify_prefetch(NULL, c, NULL, ev, n), BPT_EUNSATISFIABLE,
                  "no URL to take this token's keys from: name its issuer");
    bpt_verify_ctx_free(c);
    /* Named in the policy, its keys come from <issuer>/certs (not served here: fetch). */
    char certs[128];
    snprintf(certs, sizeof(certs), "%s/certs answered HTTP 404", f->srv.url);
    assert_ok(bpt_policy_new(&p));
    assert_ok(bpt_policy_add_jwt_issuer(p, f->srv.url));
    assert_ok(bpt_verify_ctx_new(&c, NULL));
    assert_ok(bpt_verify_ctx_set_cache_dir(c, dir));
    assert_rc_msg(bpt_verify_prefetch(NULL, c, p, ev, n), BPT_EFETCH, certs);
    bpt_verify_ctx_free(c);
    bpt_policy_free(p);
    free(ev);
    free(dir);
}

/* `bpt fetch` then `bpt verify --offline --cache-dir`: refused before, verified after. */
static void test_cli_fetch_then_verify_offline(void **state)
{
    struct fixture *f = *state;
    char *dir = cache(f, "cli"), at[32], *out = NULL;
    snprintf(at, sizeof(at), "%d", AT);
    const char *snp_verify[] = {"verify", "--offline", "--cache-dir", dir,    "--trust-root",
                                f->roots, "--certs",   f->ask,        f->snp, NULL};
    const char *tdx_verify[] = {"verify", "--offline",    "--cache-dir", dir,    "--at",
                                at,       "--trust-root", f->roots,      f->tdx, NULL};
    const char *gcp_verify[] = {
        "verify", "--offline", "--cache-dir",       dir,  "--jwks-url", f->jwks_url,
        "--at",   at,          "--expect-audience", "rp", f->gcp,       NULL};
    assert_int_equal(bpt_test_run_cli(&out, snp_verify), 1);
    assert_non_null(strstr(out, "refused: keys: sev_snp: VCEK missing"));
    assert_non_null(strstr(out, "[bpt verify: --certs FILE (DER or PEM), or 'bpt fetch --out DIR' "
                                "and --cache-dir DIR]"));
    free(out);
    assert_int_equal(bpt_test_run_cli(&out, tdx_verify), 1);
    assert_non_null(strstr(out, "prefetch it into the cache directory"));
    assert_non_null(strstr(out, "'bpt fetch --out DIR' and --cache-dir DIR"));
    free(out);
    assert_int_equal(bpt_test_run_cli(NULL, gcp_verify), 1);

    const char *fetch[] = {
        "fetch",     "--out", dir, "--kds-url", f->srv.url, "--pccs-url", f->srv.url, "--jwks-url",
        f->jwks_url, "--at",  at,  f->snp,      f->tdx,     f->gcp,       f->nitro,   NULL};
    assert_int_equal(bpt_test_run_cli(&out, fetch), 0);
    assert_non_null(strstr(out, "amd_sev_snp vcek: fetched (Milan)"));
    assert_non_null(strstr(out, "amd_sev_snp crl: fetched (Milan, VCEK path)"));
    assert_non_null(strstr(out, "intel_tdx tdx_collateral: fetched"));
    assert_non_null(strstr(out, "gcp_confidential jwks: fetched"));
    assert_non_null(strstr(out, "aws_nitro nothing: not_needed"));
    assert_non_null(strstr(out, "everything is in"));
    free(out);
    atomic_store(&f->srv.hits, 0);
    assert_int_equal(bpt_test_run_cli(NULL, snp_verify), 0);
    assert_int_equal(bpt_test_run_cli(NULL, tdx_verify), 0);
    assert_int_equal(bpt_test_run_cli(NULL, gcp_verify), 0);
    assert_int_equal(atomic_load(&f->srv.hits), 0); /* offline: nothing asked of the server */

    /* Without the CRL the revocation check refuses offline, in the library's words, and the
     * CLI adds its flags. */
    char crl[4200];
    snprintf(crl, sizeof(crl), "%s/crl-vcek-Milan.der", dir);
    assert_int_equal(remove(crl), 0);
    assert_int_equal(bpt_test_run_cli(&out, snp_verify), 1);
    assert_non_null(strstr(out, "refused: keys: sev_snp: CRL missing: none of the ARK-Milan"));
    assert_non_null(strstr(out, "(bpt_verify_ctx_add_crl)"));
    assert_non_null(strstr(out, "[bpt verify: --crl FILE (DER or PEM), or 'bpt fetch --out DIR' "
                                "and --cache-dir DIR; --no-revocation-check skips the check]"));
    free(out);

    /* --json: one object; a second run finds everything cached. */
    const char *again[] = {"fetch", "--out", dir, "--kds-url", f->srv.url, "--json", f->snp, NULL};
    assert_int_equal(bpt_test_run_cli(&out, again), 0);
    assert_non_null(strstr(out, "\"complete\":true"));
    assert_non_null(strstr(out, "\"state\":\"cached\""));
    free(out);
    free(dir);
}

/* Exit classes of `bpt fetch` (the CLI's table, cli_exit_for): 1 cannot be fetched or not
 * evidence (as verifying it is refused), 2 usage, 3 local input, 4 network. */
static void test_cli_exit_classes(void **state)
{
    struct fixture *f = *state;
    char *dir = cache(f, "classes"), junk[4200], *out = NULL, *err = NULL;
    snprintf(junk, sizeof(junk), "%s/junk.bin", f->dir);
    bpt_test_write_file(junk, "no evidence", 11);
    const char *no_out[] = {"fetch", f->snp, NULL};
    assert_int_equal(bpt_test_run_cli_err(NULL, &err, no_out), 2);
    assert_non_null(strstr(err, "--out DIR is required"));
    free(err);
    const char *no_ev[] = {"fetch", "--out", dir, NULL};
    assert_int_equal(bpt_test_run_cli(NULL, no_ev), 2);
    const char *maa[] = {"fetch", "--out", dir, f->maa, NULL};
    assert_int_equal(bpt_test_run_cli(NULL, maa), 1);
    const char *missing[] = {"fetch", "--out", dir, "/no/such/evidence", NULL};
    assert_int_equal(bpt_test_run_cli(NULL, missing), 3);
    const char *notev[] = {"fetch", "--out", dir, junk, NULL};
    assert_int_equal(bpt_test_run_cli(NULL, notev), 1);
    const char *unwritable[] = {"fetch", "--out", "/proc/bpt-no-such-dir", "--kds-url", f->srv.url,
                                f->snp,  NULL};
    assert_int_equal(bpt_test_run_cli(NULL, unwritable), 3);
    atomic_store(&f->srv.failing, 1);
    const char *down[] = {"fetch", "--out", dir, "--kds-url", f->srv.url, "--json", f->snp, NULL};
    assert_int_equal(bpt_test_run_cli(&out, down), 4);
    assert_non_null(strstr(out, "\"kind\":\"fetch\""));
    assert_non_null(strstr(out, "\"complete\":false"));
    assert_non_null(strstr(out, "\"exit_code\":4"));
    assert_non_null(strstr(out, "\"exit_class\":\"network\""));
    assert_non_null(strstr(out, "\"schema_version\":1"));
    free(out);
    atomic_store(&f->srv.failing, 0);
    /* The first failure decides; the rest are still fetched. */
    const char *mixed[] = {"fetch",    "--out",         dir,    "--kds-url",
                           f->srv.url, "/no/such/file", f->snp, NULL};
    assert_int_equal(bpt_test_run_cli(&out, mixed), 3);
    assert_non_null(strstr(out, "amd_sev_snp vcek: fetched"));
    free(out);
    const char *help[] = {"fetch", "--help", NULL};
    assert_int_equal(bpt_test_run_cli(&out, help), 0);
    assert_non_null(strstr(out, "--offline --cache-dir DIR"));
    free(out);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_kind_is_fetched_then_cached),
        cmocka_unit_test(test_snp_crl),
        cmocka_unit_test(test_snp_vceks_that_cannot_be_fetched),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_cli_fetch_then_verify_offline),
        cmocka_unit_test(test_cli_exit_classes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
