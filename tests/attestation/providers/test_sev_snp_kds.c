/* bpt-test-labels: unit loopback */
/*
 * VCEK and CRL fetching from a KDS-like HTTP server on 127.0.0.1 (libmicrohttpd): the URL form,
 * the on-disk cache, offline mode, and KDS's refusals (404, 429), an oversized body and a URL
 * that is not https. Revocation: the simulated ARK's CRL served at /vcek/v1/Milan/crl, and each
 * way a CRL is refused (the ASK or the VCEK revoked, past nextUpdate, a bad signature, another
 * issuer), the cache used offline, offline without it refused, the opt-out.
 */
#include "helpers/test.h"

#include "helpers/sim_fixture.h"

#include "attester/sim/sev_snp.h"

#include "attestation/collateral/kds.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#define AT 1750000000

struct server {
    struct MHD_Daemon *d;
    char url[64];
    uint8_t *vcek;
    size_t vcek_len;
    pthread_mutex_t crl_lock; /* the server thread copies the CRL under it; set_crl swaps it */
    uint8_t *crl;             /* served at /vcek/v1/Milan/crl (NULL: 404) */
    size_t crl_len;
    char want_path[256];
    atomic_int hits, crl_hits;
    atomic_int mode; /* 0 normal, 1 always 429, 2 oversized body */
};

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_len, void **con_cls)
{
    struct server *s = cls;
    struct MHD_Response *resp;
    unsigned status = MHD_HTTP_OK;
    const char *bl = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "blSPL");
    const char *uc = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "ucodeSPL");
    static uint8_t big[20000];
    enum MHD_Result r;
    (void)method;
    (void)version;
    (void)upload;
    (void)upload_len;
    (void)con_cls;
    if (strcmp(url, "/vcek/v1/Milan/crl") == 0) {
        atomic_fetch_add(&s->crl_hits, 1);
        pthread_mutex_lock(&s->crl_lock);
        resp = MHD_create_response_from_buffer(s->crl_len, s->crl, MHD_RESPMEM_MUST_COPY);
        status = s->crl ? MHD_HTTP_OK : MHD_HTTP_NOT_FOUND;
        pthread_mutex_unlock(&s->crl_lock);
        r = MHD_queue_response(conn, status, resp);
        MHD_destroy_response(resp);
        return r;
    }
    atomic_fetch_add(&s->hits, 1);
    if (atomic_load(&s->mode) == 1) {
        resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        status = 429;
    } else if (atomic_load(&s->mode) == 2) {
        resp = MHD_create_response_from_buffer(sizeof(big), big, MHD_RESPMEM_PERSISTENT);
    } else if (strcmp(url, s->want_path) != 0 || !bl || strcmp(bl, "3") != 0 || !uc ||
               strcmp(uc, "115") != 0) {
        resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        status = MHD_HTTP_NOT_FOUND;
    } else {
        resp = MHD_create_response_from_buffer(s->vcek_len, s->vcek, MHD_RESPMEM_PERSISTENT);
    }
    r = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return r;
}

struct fixture {
    struct bpt_sim_fixture sim;
    struct server srv;
    uint8_t *report;
    size_t len;
    char *ask;
    size_t ask_len;
    char vcek_file[256]; /* the VCEK's name in a cache directory */
};

static const struct bpt_sim_snp_crl valid_crl = {0};

/* What the server answers at the CRL's URL: @p o's CRL, or NULL for a 404. Only while no
 * verification runs (the server thread reads the buffer). */
static int set_crl(struct fixture *f, const struct bpt_sim_snp_crl *o)
{
    uint8_t *crl = NULL;
    size_t len = 0;
    int rc = o ? bpt_sim_sev_snp_crl(&crl, &len, f->sim.dir, o) : 0;
    pthread_mutex_lock(&f->srv.crl_lock);
    bpt_free(f->srv.crl);
    f->srv.crl = crl;
    f->srv.crl_len = len;
    pthread_mutex_unlock(&f->srv.crl_lock);
    return rc;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char path[4096], hex[129];
    uint8_t rd[64] = {0};
    const union MHD_DaemonInfo *info;
    *state = f;
    if (!f || pthread_mutex_init(&f->srv.crl_lock, NULL) != 0 ||
        bpt_sim_fixture_init(&f->sim) != 0 ||
        bpt_sim_sev_snp_attest(&f->report, &f->len, f->sim.dir, rd)) {
        return -1;
    }
    snprintf(path, sizeof(path), "%s/sev-snp/vcek.der", f->sim.dir);
    f->srv.vcek = bpt_test_read_file(path, &f->srv.vcek_len);
    snprintf(path, sizeof(path), "%s/sev-snp/ask.pem", f->sim.dir);
    f->ask = (char *)bpt_test_read_file(path, &f->ask_len);
    for (int i = 0; i < 64; i++) {
        snprintf(hex + 2 * i, 3, "%02x", f->report[0x1A0 + i]);
    }
    snprintf(f->srv.want_path, sizeof(f->srv.want_path), "/vcek/v1/Milan/%s", hex);
    snprintf(f->vcek_file, sizeof(f->vcek_file), "vcek-Milan-%s-00%02x%02x%02x%02x.der", hex,
             BPT_SIM_SNP_BOOTLOADER, BPT_SIM_SNP_TEE, BPT_SIM_SNP_SNP, BPT_SIM_SNP_MICROCODE);
    if (set_crl(f, &valid_crl) != 0) {
        return -1;
    }
    f->srv.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handle, &f->srv,
                                MHD_OPTION_SOCK_ADDR, NULL, MHD_OPTION_END);
    if (!f->srv.d) {
        return -1;
    }
    info = MHD_get_daemon_info(f->srv.d, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(f->srv.url, sizeof(f->srv.url), "http://127.0.0.1:%u", info->port);
    return f->srv.vcek && f->ask ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    MHD_stop_daemon(f->srv.d);
    bpt_free(f->srv.crl);
    pthread_mutex_destroy(&f->srv.crl_lock);
    bpt_sim_fixture_dispose(&f->sim);
    free(f->srv.vcek);
    free(f->ask);
    bpt_free(f->report);
    free(f);
    return 0;
}

static bpt_verify_ctx *kds_ctx(struct fixture *f, const char *cache, bool offline)
{
    bpt_verify_ctx *ctx = bpt_sim_fixture_ctx(&f->sim, AT, NULL);
    assert_non_null(ctx);
    assert_ok(bpt_verify_ctx_add_certs(ctx, (const uint8_t *)f->ask, f->ask_len)); /* ASK only */
    assert_ok(bpt_verify_ctx_set_kds_url(ctx, f->srv.url));
    assert_ok(bpt_verify_ctx_set_cache_dir(ctx, cache));
    assert_ok(bpt_verify_ctx_set_offline(ctx, offline));
    return ctx;
}

static void test_fetch_then_cache_then_offline(void **state)
{
    struct fixture *f = *state;
    char cache[4096];
    bpt_verified *v = NULL;
    snprintf(cache, sizeof(cache), "%s/cache", f->sim.dir);
    atomic_store(&f->srv.hits, 0);

    atomic_store(&f->srv.crl_hits, 0);
    bpt_verify_ctx *ctx = kds_ctx(f, cache, true);
    assert_rc_msg(bpt_sev_snp_verify(&v, ctx, NULL, f->report, f->len), BPT_EKEYS,
                  "sev_snp: VCEK missing: not given; it comes from http://127.0.0.1:");
    assert_rc_msg(bpt_sev_snp_verify(&v, ctx, NULL, f->report, f->len), BPT_EKEYS,
                  "kds: the VCEK is not in the cache directory and fetching is off (offline)");
    assert_int_equal(atomic_load(&f->srv.hits), 0);
    bpt_verify_ctx_free(ctx);

    ctx = kds_ctx(f, cache, false);
    assert_ok(bpt_sev_snp_verify(&v, ctx, NULL, f->report, f->len));
    bpt_verified_free(v);
    v = NULL;
    assert_int_equal(atomic_load(&f->srv.hits), 1);
    assert_int_equal(atomic_load(&f->srv.crl_hits), 1);
    bpt_verify_ctx_free(ctx);

    /* Offline: the cached VCEK and the cached CRL are used (and checked again). */
    ctx = kds_ctx(f, cache, true);
    assert_ok(bpt_sev_snp_verify(&v, ctx, NULL, f->report, f->len));
    bpt_verified_free(v);
    assert_int_equal(atomic_load(&f->srv.hits), 1);
    assert_int_equal(atomic_load(&f->srv.crl_hits), 1);
    bpt_verify_ctx_free(ctx);
}

/* A fresh cache directory under the simulator's, holding the VCEK: only the CRL is looked for. */
static void fresh_cache(char *out, size_t len, const struct fixture *f, const char *name)
{
    char vcek[4400];
    snprintf(out, len, "%s/%s", f->sim.dir, name);
    bpt_test_rmtree(out);
    snprintf(vcek, sizeof(vcek), "%s/%s", out, f->vcek_file);
    bpt_test_write_file(vcek, f->srv.vcek, f->srv.vcek_len);
}

/* KDS answering the CRL's URL with something that is not one CRL (here the ASK): a fetch
 * failure that says what came instead. */
static void test_crl_answer_not_a_crl(void **state)
{
    struct fixture *f = *state;
    char cache[4096];
    bpt_verified *v = NULL;
    bpt_verify_ctx *ctx;
    uint8_t *ask = malloc(f->ask_len);
    assert_non_null(ask);
    memcpy(ask, f->ask, f->ask_len);
    pthread_mutex_lock(&f->srv.crl_lock);
    bpt_free(f->srv.crl);
    f->srv.crl = ask;
    f->srv.crl_len = f->ask_len;
    pthread_mutex_unlock(&f->srv.crl_lock);
    fresh_cache(cache, sizeof(cache), f, "crl-not-a-crl");
    ctx = kds_ctx(f, cache, false);
    assert_rc_msg(bpt_sev_snp_verify(&v, ctx, NULL, f->report, f->len), BPT_EFETCH,
                  "/vcek/v1/Milan/crl: 0 CRLs and 1 certificates (expected exactly one CRL)");
    assert_non_null(strstr(bpt_error_last(), "sev_snp: KDS answered something else"));
    assert_null(v);
    bpt_verify_ctx_free(ctx);
    assert_ok(set_crl(f, &valid_crl));
}

/* Each way a CRL from KDS is refused, and that a refused one is not cached. */
static void test_crl_refusals(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *name;
        struct bpt_sim_snp_crl crl;
        int want;
        const char *msg;
    } cases[] = {
        /* The first two verify (and are cached); the rest are refused as CRLs. */
        {"the ASK revoked",
         {.revoke_ask = true},
         BPT_ESIGNATURE,
         "/vcek/v1/Milan/crl: the ASK (O = bpt simulator, CN = SEV-Milan, serial 2) is revoked"},
        {"the VCEK revoked by an entry naming its issuer",
         {.revoke_vcek = true},
         BPT_ESIGNATURE,
         "the VCEK (O = bpt simulator, CN = SEV-VCEK, serial 3) is revoked"},
        {"past nextUpdate",
         {.this_update = AT - 86400 * 30, .next_update = AT - 1},
         BPT_ESIGNATURE,
         "expired at the verification time (nextUpdate)"},
        {"issued after the verification time",
         {.this_update = AT + 1},
         BPT_ESIGNATURE,
         "not yet valid at the verification time (thisUpdate)"},
        {"a bad signature (another key, the ARK's name)",
         {.foreign_key = true},
         BPT_ESIGNATURE,
         "signature does not verify with the key of O = bpt simulator, CN = ARK-Milan"},
        {"the ARK's key, but PKCS#1 v1.5 rather than RSASSA-PSS",
         {.pkcs1 = true},
         BPT_ESIGNATURE,
         "signed with sha384WithRSAEncryption, not RSASSA-PSS as AMD's ARK signs"},
        {"another issuer",
         {.foreign_issuer = true},
         BPT_ESIGNATURE,
         "issued by someone other than O = bpt simulator, CN = ARK-Milan"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char cache[4096];
        bpt_verified *v = NULL;
        bpt_verify_ctx *ctx;
        int rc;
        assert_ok(set_crl(f, &cases[i].crl));
        fresh_cache(cache, sizeof(cache), f, "crl-refusal");
        ctx = kds_ctx(f, cache, false);
        rc = bpt_sev_snp_verify(&v, ctx, NULL, f->report, f->len);
        if (rc != cases[i].want || !strstr(bpt_error_last(), cases[i].msg)) {
            fail_msg("case '%s': got %d '%s', want %d with '%s'", cases[i].name, rc,
                     bpt_error_last(), cases[i].want, cases[i].msg);
        }
        assert_null(v);
        bpt_verify_ctx_free(ctx);
        /* A CRL that verified is cached, revocations and all; one that did not, is not. */
        ctx = kds_ctx(f, cache, true);
        if (i < 2) {
            assert_rc_msg(bpt_sev_snp_verify(&v, ctx, NULL, f->report, f->len), BPT_ESIGNATURE,
                          "sev_snp: the cached CRL: the");
        } else {
            assert_rc_msg(bpt_sev_snp_verify(&v, ctx, NULL, f->report, f->len), BPT_EKEYS,
                          "none is in the cache directory");
        }
        bpt_verify_ctx_free(ctx);
    }
    assert_ok(set_crl(f, &valid_crl));
}

static void test_crl_cache_offline_and_opt_out(void **state)
{
    struct fixture *f = *state;
    static const struct bpt_sim_snp_crl soon = {.next_update = AT + 3600};
    bpt_verify_ctx_opts o = BPT_VERIFY_CTX_OPTS_INIT;
    char cache[4096], path[4200];
    bpt_verified *v = NULL;
    bpt_verify_ctx *ctx;
    int64_t now = AT;
    bpt_clock clock = bpt_clock_fixed(&now);
    uint64_t hits = 0;
    char *json = NULL;

    /* Offline without a cached CRL: refused, saying what is missing and from where. */
    fresh_cache(cache, sizeof(cache), f, "crl-cache");
    assert_ok(set_crl(f, &soon));
    atomic_store(&f->srv.crl_hits, 0);
    ctx = kds_ctx(f, cache, true);
    assert_rc_msg(bpt_sev_snp_verify(&v, ctx, NULL, f->report, f->len), BPT_EKEYS,
                  "sev_snp: CRL missing: none of the ARK-Milan (VCEK path) was given, none is in "
                  "the cache directory, and fetching is off (offline); it comes from "
                  "http://127.0.0.1:");
    assert_int_equal(atomic_load(&f->srv.crl_hits), 0);
    bpt_verify_ctx_free(ctx);

    /* Online: fetched, verified and stored as it came. */
    ctx = kds_ctx(f, cache, false);
    assert_ok(bpt_sev_snp_verify(&v, ctx, NULL, f->report, f->len));
    bpt_verified_free(v);
    bpt_verify_ctx_free(ctx);
    assert_int_equal(atomic_load(&f->srv.crl_hits), 1);
    snprintf(path, sizeof(path), "%s/crl-vcek-Milan.der", cache);
    {
        size_t n = 0;
        uint8_t *stored = bpt_test_read_file(path, &n);
        assert_non_null(stored);
        assert_int_equal(n, f->srv.crl_len);
        assert_memory_equal(stored, f->srv.crl, n);
        free(stored);
    }

    /* Offline: a cache hit, twice (the second through the chain cache). */
    o.chain_cache_entries = 4;
    ctx = bpt_sim_fixture_ctx(&f->sim, 0, &o);
    assert_non_null(ctx);
    assert_ok(bpt_verify_ctx_add_certs(ctx, (const uint8_t *)f->ask, f->ask_len));
    assert_ok(bpt_verify_ctx_set_cache_dir(ctx, cache));
    assert_ok(bpt_verify_ctx_set_offline(ctx, true));
    assert_ok(bpt_verify_ctx_set_clock(ctx, &clock));
    for (int i = 0; i < 2; i++) {
        assert_ok(bpt_sev_snp_verify(&v, ctx, NULL, f->report, f->len));
        bpt_verified_free(v);
    }
    bpt_verify_ctx_cache_stats(ctx, BPT_CACHE_CHAIN, &hits, NULL);
    assert_int_equal(hits, 1);
    assert_int_equal(atomic_load(&f->srv.crl_hits), 1);
    /* Past the cached CRL's nextUpdate, offline: refused, the chain cache notwithstanding. */
    now = AT + 7200;
    assert_rc_msg(bpt_sev_snp_verify(&v, ctx, NULL, f->report, f->len), BPT_EKEYS,
                  "the cached one is not valid at the verification time");
    assert_null(v);
    bpt_verify_ctx_free(ctx);

    /* A cached CRL whose signature does not verify, or that is no CRL: unusable, like a
     * missing one (offline: refused, saying which). */
    now = AT;
    {
        size_t n = 0;
        uint8_t *stored = bpt_test_read_file(path, &n);
        assert_non_null(stored);
        stored[n - 1] ^= 0x01; /* the signature's last byte */
        bpt_test_write_file(path, stored, n);
        free(stored);
    }
    ctx = kds_ctx(f, cache, true);
    assert_rc_msg(bpt_sev_snp_verify(&v, ctx, NULL, f->report, f->len), BPT_EKEYS,
                  "the cached one does not verify with this ARK, and fetching is off");
    bpt_verify_ctx_free(ctx);
    bpt_test_write_file(path, "not a CRL", 9);
    ctx = kds_ctx(f, cache, true);
    assert_rc_msg(bpt_sev_snp_verify(&v, ctx, NULL, f->report, f->len), BPT_EKEYS,
                  "the cached one is not a CRL of this ARK, and fetching is off");
    assert_null(v);
    bpt_verify_ctx_free(ctx);

    /* The opt-out: no CRL needed, and the result says it was not checked. */
    ctx = kds_ctx(f, cache, true);
    assert_ok(bpt_verify_ctx_set_at(ctx, AT + 7200));
    assert_ok(bpt_verify_ctx_set_revocation_check(ctx, false));
    assert_ok(bpt_sev_snp_verify(&v, ctx, NULL, f->report, f->len));
    assert_ok(bpt_verified_to_json(&json, v));
    assert_non_null(strstr(json, "revocation not checked"));
    bpt_free(json);
    bpt_verified_free(v);
    bpt_verify_ctx_free(ctx);
    assert_ok(set_crl(f, &valid_crl));
}

/* CRLs handed in come first: the ARK's must hold; another issuer's is passed over. */
static void test_crl_given(void **state)
{
    struct fixture *f = *state;
    static const struct bpt_sim_snp_crl revoked = {.revoke_ask = true};
    static const struct bpt_sim_snp_crl other = {.foreign_issuer = true};
    char cache[4096];
    uint8_t *der = NULL;
    size_t len = 0;
    bpt_verified *v = NULL;
    bpt_verify_ctx *ctx;

    fresh_cache(cache, sizeof(cache), f, "crl-given");
    assert_ok(set_crl(f, NULL)); /* KDS has none: a 404 if asked */
    ctx = kds_ctx(f, cache, false);
    assert_ok(bpt_sim_sev_snp_crl(&der, &len, f->sim.dir, &revoked));
    assert_ok(bpt_verify_ctx_add_crl(ctx, der, len));
    bpt_free(der);
    assert_rc_msg(bpt_sev_snp_verify(&v, ctx, NULL, f->report, f->len), BPT_ESIGNATURE,
                  "the CRL given for the ARK-Milan: the ASK (O = bpt simulator, CN = SEV-Milan, "
                  "serial 2) is revoked");
    bpt_verify_ctx_free(ctx);

    /* Another issuer's CRL is not this ARK's: KDS is asked, and answers 404. */
    ctx = kds_ctx(f, cache, false);
    assert_ok(bpt_sim_sev_snp_crl(&der, &len, f->sim.dir, &other));
    assert_ok(bpt_verify_ctx_add_crl(ctx, der, len));
    bpt_free(der);
    assert_rc_msg(bpt_sev_snp_verify(&v, ctx, NULL, f->report, f->len), BPT_EFETCH,
                  "CRL missing: fetching http://127.0.0.1:");
    assert_rc_msg(bpt_sev_snp_verify(&v, ctx, NULL, f->report, f->len), BPT_EFETCH,
                  "/vcek/v1/Milan/crl failed (give it to the verification context with "
                  "bpt_verify_ctx_add_crl, or turn revocation checking off): kds: CRL request "
                  "answered HTTP 404");
    bpt_verify_ctx_free(ctx);

    /* bpt_verify_ctx_add_crl() takes CRLs only. */
    assert_ok(bpt_verify_ctx_new(&ctx, NULL));
    assert_rc_msg(bpt_verify_ctx_add_crl(ctx, (const uint8_t *)f->ask, f->ask_len), BPT_EINVAL,
                  "not a CRL (DER, or PEM of CRLs only): it holds certificates");
    assert_rc_msg(bpt_verify_ctx_add_crl(ctx, (const uint8_t *)"x", 1), BPT_EINVAL, "not a CRL");
    bpt_verify_ctx_free(ctx);
    assert_ok(set_crl(f, &valid_crl));
}

static void test_kds_refusals(void **state)
{
    struct fixture *f = *state;
    bpt_verified *v = NULL;
    uint8_t rep[BPT_SNP_REPORT_SIZE];
    bpt_verify_ctx *ctx = kds_ctx(f, NULL, false);

    /* Another chip: KDS answers 404. */
    memcpy(rep, f->report, sizeof(rep));
    rep[0x1A0] ^= 0xFF;
    assert_ok(bpt_sim_sev_snp_sign(rep, f->sim.dir));
    assert_rc_msg(bpt_sev_snp_verify(&v, ctx, NULL, rep, sizeof(rep)), BPT_EFETCH, "HTTP 404");
    atomic_store(&f->srv.mode, 1);
    assert_rc_msg(bpt_sev_snp_verify(&v, ctx, NULL, f->report, f->len), BPT_EFETCH, "rate limited");
    atomic_store(&f->srv.mode, 2);
    assert_rc_msg(bpt_sev_snp_verify(&v, ctx, NULL, f->report, f->len), BPT_EFETCH, "larger than");
    atomic_store(&f->srv.mode, 0);
    bpt_verify_ctx_free(ctx);
    /* A KDS URL that is neither https nor loopback is refused when it is set. */
    assert_ok(bpt_verify_ctx_new(&ctx, NULL));
    assert_rc_msg(bpt_verify_ctx_set_kds_url(ctx, "http://kds.invalid"), BPT_EINVAL, "https only");
    assert_null(v);
    bpt_verify_ctx_free(ctx);
}

/* The KDS URLs and cache names, VLEK paths included (the simulator has no VLEK to fetch). */
static void test_kds_urls(void **state)
{
    char buf[BPT_KDS_URL_MAX];
    uint8_t chip[64];
    (void)state;
    for (int i = 0; i < 64; i++) {
        chip[i] = (uint8_t)i;
    }
    assert_ok(bpt_kds_crl_url(buf, sizeof(buf), NULL, false, "Milan"));
    assert_string_equal(buf, "https://kdsintf.amd.com/vcek/v1/Milan/crl");
    assert_ok(bpt_kds_crl_url(buf, sizeof(buf), "http://127.0.0.1:1", true, "Genoa"));
    assert_string_equal(buf, "http://127.0.0.1:1/vlek/v1/Genoa/crl");
    assert_ok(bpt_kds_cert_chain_url(buf, sizeof(buf), NULL, true, "Turin"));
    assert_string_equal(buf, "https://kdsintf.amd.com/vlek/v1/Turin/cert_chain");
    assert_ok(bpt_kds_crl_cache_path(buf, sizeof(buf), "/c", true, "Turin"));
    assert_string_equal(buf, "/c/crl-vlek-Turin.der");
    assert_ok(bpt_kds_vcek_url(buf, sizeof(buf), NULL, "Turin", chip,
                               (struct bpt_kds_tcb){1, 2, 3, 4, 5}));
    assert_string_equal(buf, "https://kdsintf.amd.com/vcek/v1/Turin/0001020304050607?fmcSPL=1&"
                             "blSPL=2&teeSPL=3&snpSPL=4&ucodeSPL=5");
    assert_rc_msg(bpt_kds_crl_url(buf, sizeof(buf), NULL, false, "Rome"), BPT_EKEYS,
                  "Milan, Genoa or Turin");
    assert_rc_msg(bpt_kds_crl_url(buf, 20, NULL, false, "Milan"), BPT_EINVAL, "too long");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fetch_then_cache_then_offline),
        cmocka_unit_test(test_kds_refusals),
        cmocka_unit_test(test_crl_refusals),
        cmocka_unit_test(test_crl_answer_not_a_crl),
        cmocka_unit_test(test_crl_cache_offline_and_opt_out),
        cmocka_unit_test(test_crl_given),
        cmocka_unit_test(test_kds_urls),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
