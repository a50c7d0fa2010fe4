/*
 * The verification context (context.h) and bpt_verifier (verify.h): options, freezing, setter
 * refusals, reference counting, the time, cache statistics, the context's log sink, NULL
 * arguments of the verify entry points, and two threads verifying through one context and one
 * verifier (the Makefile's tsan target runs this file). Evidence is simulated SEV-SNP.
 */
#include "helpers/test.h"

#include "helpers/sim_fixture.h"

#include "attester/sim/sev_snp.h"

#include "attestation/context_internal.h"

#include <blueprint-tee/sys/verifier.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#define AT 1750000000 /* 2025-06-15: inside the simulated certificates' validity */

/* A context trusting the simulator's roots at AT, with the simulated VCEK chain. */
static bpt_verify_ctx *sim_ctx(const struct bpt_sim_snp_fixture *f, const bpt_verify_ctx_opts *o)
{
    bpt_verify_ctx *c = bpt_sim_fixture_ctx(&f->sim, AT, o);
    assert_non_null(c);
    assert_ok(bpt_verify_ctx_add_certs(c, (const uint8_t *)f->certs, strlen(f->certs)));
    return c;
}

static void verify_snp(const struct bpt_sim_snp_fixture *f, const bpt_verify_ctx *c)
{
    bpt_verified *v = NULL;
    assert_ok(bpt_verify(&v, c, NULL, f->report, f->len, BPT_PROVIDER_AMD_SEV_SNP));
    assert_int_equal(bpt_verified_at(v), AT);
    bpt_verified_free(v);
}

/* ---- options ------------------------------------------------------------------------------ */

static void test_opts_validation(void **state)
{
    bpt_verify_ctx_opts o = BPT_VERIFY_CTX_OPTS_INIT;
    bpt_verify_ctx *c = NULL;
    (void)state;

    o.version = 0;
    assert_rc_msg(bpt_verify_ctx_new(&c, &o), BPT_EINVAL, "BPT_VERIFY_CTX_OPTS_INIT");
    assert_null(c);
    o.version = BPT_VERIFY_CTX_OPTS_VERSION + 1;
    assert_rc_msg(bpt_verify_ctx_new(&c, &o), BPT_EINVAL, "BPT_VERIFY_CTX_OPTS_INIT");
    assert_null(c);
    o.version = BPT_VERIFY_CTX_OPTS_VERSION;
    o.chain_cache_entries = 16777217;
    assert_rc_msg(bpt_verify_ctx_new(&c, &o), BPT_EINVAL, "0..16777216");
    assert_null(c);
    o.chain_cache_entries = 16777216;
    o.collateral_cache_entries = 16777217;
    assert_rc_msg(bpt_verify_ctx_new(&c, &o), BPT_EINVAL, "0..16777216");
    assert_null(c);
    o.collateral_cache_entries = 16777216;
    o.jwks_timeout_ms = 600001;
    assert_rc_msg(bpt_verify_ctx_new(&c, &o), BPT_EINVAL, "timeout_ms");
    assert_null(c);
    o.jwks_timeout_ms = 600000;
    assert_ok(bpt_verify_ctx_new(&c, &o)); /* every value at its limit */
    assert_false(bpt_verify_ctx_is_frozen(c));
    bpt_verify_ctx_free(c);
    c = NULL;
    assert_ok(bpt_verify_ctx_new(&c, NULL));
    assert_false(bpt_verify_ctx_has_trust_roots(c));
    assert_false(bpt_verify_ctx_offline(c));
    bpt_verify_ctx_free(c);
}

/* No out pointer: refused, whatever the options. */
static void test_ctx_new_without_out_pointer(void **state)
{
    bpt_verify_ctx_opts o = BPT_VERIFY_CTX_OPTS_INIT;
    (void)state;
    assert_rc_msg(bpt_verify_ctx_new(NULL, NULL), BPT_EINVAL, "no out pointer");
    assert_rc_msg(bpt_verify_ctx_new(NULL, &o), BPT_EINVAL, "no out pointer");
    o.version = 0;
    assert_rc_msg(bpt_verify_ctx_new(NULL, &o), BPT_EINVAL, "out");
}

/* ---- setters ------------------------------------------------------------------------------ */

static int no_verify(bpt_verify_result *res, const bpt_evidence *ev, const bpt_verify_ctx *ctx,
                     const bpt_policy *policy, void *state)
{
    (void)res, (void)ev, (void)ctx, (void)policy, (void)state;
    return bpt_error_set(BPT_ECLAIM, "never");
}

static bool no_accepts(const bpt_evidence *ev, void *state)
{
    (void)ev, (void)state;
    return false;
}

static void ignore_log(bpt_log_level level, const char *module, const char *msg, void *userdata)
{
    (void)level, (void)module, (void)msg, (void)userdata;
}

static const struct bpt_sim_snp_fixture *setter_fixture;

static int set_at(bpt_verify_ctx *c)
{
    return bpt_verify_ctx_set_at(c, AT + 1);
}
static int set_clock(bpt_verify_ctx *c)
{
    static const int64_t t = AT;
    bpt_clock clk = bpt_clock_fixed(&t);
    return bpt_verify_ctx_set_clock(c, &clk);
}
static int add_trust_root(bpt_verify_ctx *c)
{
    return bpt_verify_ctx_add_trust_root_pem(c, setter_fixture->sim.roots,
                                             setter_fixture->sim.roots_len);
}
static int add_trust_roots(bpt_verify_ctx *c)
{
    return bpt_verify_ctx_add_trust_roots(c, (const uint8_t *)setter_fixture->sim.roots,
                                          setter_fixture->sim.roots_len);
}
static int add_certs(bpt_verify_ctx *c)
{
    return bpt_verify_ctx_add_certs(c, (const uint8_t *)setter_fixture->certs,
                                    strlen(setter_fixture->certs));
}
static int set_collateral(bpt_verify_ctx *c)
{
    return bpt_verify_ctx_set_collateral_json(c, "{}", 2);
}
static int set_jwks(bpt_verify_ctx *c)
{
    return bpt_verify_ctx_set_jwks_json(c, "{\"keys\":[]}", 11);
}
static int set_jwks_url(bpt_verify_ctx *c)
{
    return bpt_verify_ctx_set_jwks_url(c, "https://keys.example/jwks");
}
static int set_offline(bpt_verify_ctx *c)
{
    return bpt_verify_ctx_set_offline(c, true);
}
static int set_kds_url(bpt_verify_ctx *c)
{
    return bpt_verify_ctx_set_kds_url(c, "https://kds.example");
}
static int set_pccs_url(bpt_verify_ctx *c)
{
    return bpt_verify_ctx_set_pccs_url(c, "https://pccs.example");
}
static int set_cache_dir(bpt_verify_ctx *c)
{
    return bpt_verify_ctx_set_cache_dir(c, "/nonexistent/bpt-cache");
}
static int set_log_sink(bpt_verify_ctx *c)
{
    return bpt_verify_ctx_set_log_sink(c, ignore_log, NULL, BPT_LOG_DEBUG);
}
static int add_verifier(bpt_verify_ctx *c)
{
    static const bpt_verifier_vtable vt = {BPT_VERIFIER_API_VERSION,
                                           "acme.never",
                                           BPT_PROVIDER_CUSTOM,
                                           "acme.never",
                                           BPT_EVIDENCE_UNKNOWN,
                                           BPT_VERIFICATION_STRUCTURAL,
                                           0,
                                           no_accepts,
                                           no_verify,
                                           NULL};
    return bpt_verify_ctx_add_verifier(c, &vt);
}

static const struct setter {
    const char *name;
    int (*set)(bpt_verify_ctx *c);
} setters[] = {
    {"set_at", set_at},
    {"set_clock", set_clock},
    {"add_trust_root_pem", add_trust_root},
    {"add_trust_roots", add_trust_roots},
    {"add_certs", add_certs},
    {"set_collateral_json", set_collateral},
    {"set_jwks_json", set_jwks},
    {"set_jwks_url", set_jwks_url},
    {"set_offline", set_offline},
    {"set_kds_url", set_kds_url},
    {"set_pccs_url", set_pccs_url},
    {"set_cache_dir", set_cache_dir},
    {"set_log_sink", set_log_sink},
    {"add_verifier", add_verifier},
};

#define N_SETTERS (sizeof(setters) / sizeof(setters[0]))

/* Every setter refuses on @p c with @p code and @p msg. */
static void assert_setters_refuse(bpt_verify_ctx *c, int code, const char *msg, const char *how)
{
    for (size_t i = 0; i < N_SETTERS; i++) {
        int rc = setters[i].set(c);
        if (rc != code || !strstr(bpt_error_last(), msg)) {
            fail_msg("%s (%s): got %d (%s), want %d with '%s'", setters[i].name, how, rc,
                     bpt_error_last(), code, msg);
        }
    }
}

static void test_setters_refuse_once_frozen(void **state)
{
    const struct bpt_sim_snp_fixture *f = *state;
    bpt_verify_ctx *c;
    bpt_verifier *vf = NULL;
    bpt_verified *v = NULL;

    setter_fixture = f;
    /* Each setter works on a fresh context. */
    for (size_t i = 0; i < N_SETTERS; i++) {
        assert_ok(bpt_verify_ctx_new(&c, NULL));
        if (setters[i].set(c) != 0) {
            fail_msg("%s on a fresh context: %s", setters[i].name, bpt_error_last());
        }
        assert_false(bpt_verify_ctx_is_frozen(c));
        bpt_verify_ctx_free(c);
    }
    assert_setters_refuse(NULL, BPT_EINVAL, "NULL context", "NULL context");
    assert_false(bpt_verify_ctx_is_frozen(NULL));

    /* Frozen by a verification: every setter refuses, and nothing changed. */
    c = sim_ctx(f, NULL);
    assert_false(bpt_verify_ctx_is_frozen(c));
    verify_snp(f, c);
    assert_true(bpt_verify_ctx_is_frozen(c));
    assert_setters_refuse(c, BPT_EBUSY, "in use", "after a verification");
    assert_int_equal(bpt_verify_ctx_at(c), AT);
    assert_false(bpt_verify_ctx_offline(c));
    verify_snp(f, c);
    bpt_verify_ctx_free(c);

    /* Frozen by a provider's own entry point too. */
    c = sim_ctx(f, NULL);
    assert_ok(bpt_sev_snp_verify(&v, c, NULL, f->report, f->len));
    bpt_verified_free(v);
    assert_true(bpt_verify_ctx_is_frozen(c));
    assert_setters_refuse(c, BPT_EBUSY, "in use", "after bpt_sev_snp_verify");
    bpt_verify_ctx_free(c);

    /* Frozen by a verifier, before any verification. */
    c = sim_ctx(f, NULL);
    assert_ok(bpt_verifier_new(&vf, c, NULL));
    assert_true(bpt_verify_ctx_is_frozen(c));
    assert_ptr_equal(bpt_verifier_ctx(vf), c);
    assert_setters_refuse(c, BPT_EBUSY, "in use", "after bpt_verifier_new");
    assert_ok(bpt_verifier_verify(&v, vf, f->report, f->len, BPT_PROVIDER_UNKNOWN));
    bpt_verified_free(v);
    bpt_verifier_free(vf);
    bpt_verify_ctx_free(c);
}

static void test_setters_refuse_bad_values(void **state)
{
    const struct bpt_sim_snp_fixture *f = *state;
    static const char *const refused[] = {
        "http://example.com/x",
        "ftp://example.com/x",
        "file:///etc/passwd",
        "http://127.0.0.1.evil.example/",
        "http://localhost.evil.example/",
        "example.com",
        "",
    };
    static const char *const allowed[] = {
        "https://example.com/x",
        "http://127.0.0.1:8080/x",
        "http://localhost/x",
        "http://[::1]:9/x",
        NULL,
    };
    static const char not_pem[] = "MIIBkTCB+wIJAK not a certificate";
    bpt_verify_ctx *c = NULL;

    assert_ok(bpt_verify_ctx_new(&c, NULL));
    /* Trust roots must be certificates (PEM, or one DER since issue 12: see
     * test_trust_root_der_and_crls); a refused one leaves the pinned roots. */
    assert_rc_msg(bpt_verify_ctx_add_trust_root_pem(c, not_pem, sizeof(not_pem) - 1), BPT_EINVAL,
                  "not a PEM or DER certificate");
    assert_rc_msg(bpt_verify_ctx_add_trust_root_pem(c, NULL, 10), BPT_EINVAL,
                  "not a PEM or DER certificate");
    assert_rc_msg(bpt_verify_ctx_add_trust_root_pem(c, f->sim.roots, 0), BPT_EINVAL,
                  "not a PEM or DER certificate");
    assert_false(bpt_verify_ctx_has_trust_roots(c));
    assert_ok(bpt_verify_ctx_add_trust_root_pem(c, f->sim.roots, f->sim.roots_len));
    assert_true(bpt_verify_ctx_has_trust_roots(c));

    /* Certificates are parsed when they are added: bytes that are none are refused here, with
     * the kind the CLI reports as a file in the wrong format, not later as missing keys. */
    assert_rc_msg(bpt_verify_ctx_add_certs(c, (const uint8_t *)not_pem, sizeof(not_pem) - 1),
                  BPT_EMALFORMED, "verify context: certificates: not a DER certificate");
    {
        static const char damaged[] =
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert_rc_msg(bpt_verify_ctx_add_certs(c, (const uint8_t *)damaged, sizeof(damaged) - 1),
                      BPT_EMALFORMED, "verify context: certificates");
    }
    assert_rc_msg(bpt_verify_ctx_add_certs(c, NULL, 0), BPT_EINVAL, "certificates of 0 bytes");
    assert_ok(bpt_verify_ctx_add_certs(c, (const uint8_t *)f->certs, strlen(f->certs)));
    {
        /* CRLs in the same PEM text are taken as the verification reads them (SEV-SNP's
         * revocation check), so they pass the parse at adding too; a damaged one does not. */
        static const char damaged_crl[] =
            "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n";
        char path[4200], *both = NULL;
        size_t crl_len = 0, n = strlen(f->certs);
        uint8_t *crl;
        snprintf(path, sizeof(path), "%s/sev-snp/crl.pem", f->sim.dir);
        crl = bpt_test_read_file(path, &crl_len);
        assert_non_null(crl);
        both = malloc(n + crl_len);
        assert_non_null(both);
        memcpy(both, f->certs, n);
        memcpy(both + n, crl, crl_len);
        assert_ok(bpt_verify_ctx_add_certs(c, (const uint8_t *)both, n + crl_len));
        memcpy(both + n, damaged_crl, sizeof(damaged_crl) - 1);
        assert_rc_msg(
            bpt_verify_ctx_add_certs(c, (const uint8_t *)both, n + sizeof(damaged_crl) - 1),
            BPT_EMALFORMED, "verify context: certificates: damaged PEM CRL");
        free(both);
        free(crl);
    }

    /* A JWKS document is parsed when it is set. */
    assert_rc_msg(bpt_verify_ctx_set_jwks_json(c, "{\"keys\":{}}", 11), BPT_EMALFORMED,
                  "not a JWK set");
    assert_rc_msg(bpt_verify_ctx_set_jwks_json(c, "[1,2]", 5), BPT_EMALFORMED, "not a JWK set");
    assert_rc_msg(bpt_verify_ctx_set_jwks_json(c, "not json", 8), BPT_EMALFORMED, "jwks");
    assert_ok(bpt_verify_ctx_set_jwks_json(c, NULL, 0));

    /* URLs: https, or plain http to a loopback address only; NULL restores the default. */
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        int (*const set[])(bpt_verify_ctx *, const char *) = {
            bpt_verify_ctx_set_kds_url, bpt_verify_ctx_set_pccs_url, bpt_verify_ctx_set_jwks_url};
        for (size_t k = 0; k < 3; k++) {
            int rc = set[k](c, refused[i]);
            if (rc != BPT_EINVAL ||
                !strstr(bpt_error_last(), "refused (https only, or http to a loopback address)")) {
                fail_msg("url '%s' (setter %zu): got %d (%s), want refused", refused[i], k, rc,
                         bpt_error_last());
            }
        }
    }
    for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
        assert_ok(bpt_verify_ctx_set_kds_url(c, allowed[i]));
        assert_ok(bpt_verify_ctx_set_pccs_url(c, allowed[i]));
        assert_ok(bpt_verify_ctx_set_jwks_url(c, allowed[i]));
    }
    /* Collateral must be JSON. */
    assert_rc_msg(bpt_verify_ctx_set_collateral_json(c, "{", 1), BPT_EMALFORMED, "collateral");
    /* JSON that is not TDX collateral is kept (each verification says what is wrong with it);
     * the setter succeeds and leaves no message of its own attempt to parse it. */
    bpt_error_clear();
    assert_ok(bpt_verify_ctx_set_collateral_json(c, "{}", 2));
    assert_string_equal(bpt_error_last(), "");
    assert_false(bpt_verify_ctx_is_frozen(c));
    bpt_verify_ctx_free(c);
}

/* ---- reference counting ------------------------------------------------------------------- */

static void test_verifier_keeps_its_context_alive(void **state)
{
    const struct bpt_sim_snp_fixture *f = *state;
    bpt_verify_ctx *c = sim_ctx(f, NULL);
    bpt_verifier *vf = NULL;
    bpt_verified *v = NULL;
    bpt_policy *p = NULL;

    assert_ok(bpt_policy_new(&p));
    assert_ok(bpt_verifier_new(&vf, c, p));
    bpt_policy_free(p);     /* copied */
    bpt_verify_ctx_free(c); /* the caller's reference; the verifier holds its own */
    c = NULL;
    assert_non_null(bpt_verifier_ctx(vf));
    assert_non_null(bpt_verifier_policy(vf));
    assert_true(bpt_verify_ctx_is_frozen(bpt_verifier_ctx(vf)));
    assert_int_equal(bpt_verify_ctx_at(bpt_verifier_ctx(vf)), AT);
    for (int i = 0; i < 3; i++) {
        assert_ok(bpt_verifier_verify(&v, vf, f->report, f->len, BPT_PROVIDER_AMD_SEV_SNP));
        assert_int_equal(bpt_verified_at(v), AT);
        bpt_verified_free(v);
        v = NULL;
    }
    bpt_verifier_free(vf); /* the last reference: the context goes with it */

    /* bpt_verify_ctx_ref: each reference is dropped once. */
    assert_ok(bpt_verify_ctx_new(&c, NULL));
    assert_ptr_equal(bpt_verify_ctx_ref(c), c);
    assert_ptr_equal(bpt_verify_ctx_ref(c), c);
    bpt_verify_ctx_free(c);
    bpt_verify_ctx_free(c);
    assert_false(bpt_verify_ctx_is_frozen(c)); /* still alive */
    bpt_verify_ctx_free(c);
    assert_null(bpt_verify_ctx_ref(NULL));
    bpt_verify_ctx_free(NULL);
    bpt_verifier_free(NULL);

    /* A verifier made without a context has a default one of its own. */
    assert_ok(bpt_verifier_new(&vf, NULL, NULL));
    assert_non_null(bpt_verifier_ctx(vf));
    assert_true(bpt_verify_ctx_is_frozen(bpt_verifier_ctx(vf)));
    assert_false(bpt_verify_ctx_has_trust_roots(bpt_verifier_ctx(vf)));
    bpt_verifier_free(vf);
}

/* ---- time and caches ---------------------------------------------------------------------- */

static void test_time_fixed_or_now(void **state)
{
    bpt_verify_ctx *c = NULL;
    bpt_verifier *vf = NULL;
    int64_t t0, at, t1, moving = AT;
    bpt_clock clk = bpt_clock_fixed(&moving);
    (void)state;

    assert_ok(bpt_verify_ctx_new(&c, NULL));
    t0 = bpt_time_now();
    at = bpt_verify_ctx_at(c);
    t1 = bpt_time_now();
    assert_true(t0 <= at && at <= t1);
    assert_ok(bpt_verify_ctx_set_at(c, 1234567890));
    assert_int_equal(bpt_verify_ctx_at(c), 1234567890);
    assert_ok(bpt_verify_ctx_set_at(c, AT));
    assert_int_equal(bpt_verify_ctx_at(c), AT);
    /* A clock replaces the fixed time (and moves it, frozen or not); NULL is the system's. */
    assert_ok(bpt_verify_ctx_set_clock(c, &clk));
    assert_int_equal(bpt_verify_ctx_at(c), AT);
    moving += 100;
    assert_int_equal(bpt_verify_ctx_at(c), AT + 100);
    assert_ok(bpt_verify_ctx_set_clock(c, NULL));
    t0 = bpt_time_now();
    at = bpt_verify_ctx_at(c);
    t1 = bpt_time_now();
    assert_true(t0 <= at && at <= t1);
    /* ... and a fixed time replaces the clock. */
    assert_ok(bpt_verify_ctx_set_clock(c, &clk));
    assert_ok(bpt_verify_ctx_set_at(c, 1234567890));
    moving += 100;
    assert_int_equal(bpt_verify_ctx_at(c), 1234567890);
    assert_ok(bpt_verify_ctx_set_clock(c, &clk));
    assert_ok(bpt_verifier_new(&vf, c, NULL));
    assert_true(bpt_verify_ctx_is_frozen(c));
    moving += 100;
    assert_int_equal(bpt_verify_ctx_at(c), moving);
    bpt_verifier_free(vf);
    bpt_verify_ctx_free(c);
    t0 = bpt_time_now();
    at = bpt_verify_ctx_at(NULL);
    t1 = bpt_time_now();
    assert_true(t0 <= at && at <= t1);
}

static void test_cache_stats_without_caches(void **state)
{
    const struct bpt_sim_snp_fixture *f = *state;
    static const bpt_verify_cache which[] = {BPT_CACHE_CHAIN, BPT_CACHE_COLLATERAL, BPT_CACHE_JWKS};
    bpt_verify_ctx_opts o = BPT_VERIFY_CTX_OPTS_INIT;
    bpt_verify_ctx *c;

    o.chain_cache_entries = 0;
    o.collateral_cache_entries = 0;
    o.jwks_cache = false;
    c = sim_ctx(f, &o);
    verify_snp(f, c);
    verify_snp(f, c);
    for (size_t i = 0; i < 3; i++) {
        uint64_t hits = 99, misses = 99;
        bpt_verify_ctx_cache_stats(c, which[i], &hits, &misses);
        assert_int_equal(hits, 0);
        assert_int_equal(misses, 0);
        hits = misses = 99;
        bpt_verify_ctx_cache_stats(NULL, which[i], &hits, &misses);
        assert_int_equal(hits, 0);
        assert_int_equal(misses, 0);
        bpt_verify_ctx_cache_stats(c, which[i], NULL, NULL);
    }
    bpt_verify_ctx_free(c);

    /* With a chain cache: the second verification is a hit. */
    c = sim_ctx(f, NULL);
    verify_snp(f, c);
    verify_snp(f, c);
    {
        uint64_t hits = 0, misses = 0;
        bpt_verify_ctx_cache_stats(c, BPT_CACHE_CHAIN, &hits, &misses);
        assert_int_equal(hits, 1);
        assert_int_equal(misses, 1);
    }
    bpt_verify_ctx_free(c);
}

/* ---- the context's log sink --------------------------------------------------------------- */

struct log_capture {
    pthread_mutex_t lock;
    int lines;
    char text[4096];
};

static void capture_log(bpt_log_level level, const char *module, const char *msg, void *userdata)
{
    struct log_capture *cap = userdata;
    size_t n;
    (void)level;
    pthread_mutex_lock(&cap->lock);
    cap->lines++;
    n = strlen(cap->text);
    snprintf(cap->text + n, sizeof(cap->text) - n, "%s: %s\n", module, msg);
    pthread_mutex_unlock(&cap->lock);
}

/* A context that finds the VCEK only in its on-disk cache (offline): the KDS code logs it. */
static bpt_verify_ctx *vcek_cache_ctx(const struct bpt_sim_snp_fixture *f, const char *cache)
{
    bpt_verify_ctx *c = bpt_sim_fixture_ctx(&f->sim, AT, NULL);
    char path[4096];
    uint8_t *ask;
    size_t ask_len = 0;

    assert_non_null(c);
    snprintf(path, sizeof(path), "%s/sev-snp/ask.pem", f->sim.dir);
    ask = bpt_test_read_file(path, &ask_len);
    assert_non_null(ask);
    assert_ok(bpt_verify_ctx_add_certs(c, ask, ask_len)); /* the ASK only */
    free(ask);
    snprintf(path, sizeof(path), "%s/sev-snp/crl.der", f->sim.dir);
    ask = bpt_test_read_file(path, &ask_len);
    assert_non_null(ask);
    assert_ok(bpt_verify_ctx_add_crl(c, ask, ask_len)); /* the ARK's CRL, DER */
    free(ask);
    assert_ok(bpt_verify_ctx_set_cache_dir(c, cache));
    assert_ok(bpt_verify_ctx_set_offline(c, true));
    return c;
}

static void test_log_sink_of_the_context(void **state)
{
    const struct bpt_sim_snp_fixture *f = *state;
    struct log_capture global = {.lock = PTHREAD_MUTEX_INITIALIZER},
                       mine = {.lock = PTHREAD_MUTEX_INITIALIZER};
    bpt_snp_report rep = BPT_SNP_REPORT_INIT;
    bpt_snp_tcb t;
    char cache[4096], path[4400], hex[129], vcek_path[4200];
    uint8_t *vcek;
    size_t vcek_len = 0;
    bpt_verify_ctx *c;

    /* Put the simulated VCEK where the KDS cache looks for it. */
    assert_ok(bpt_sev_snp_parse(&rep, f->report, f->len));
    t = bpt_sev_snp_tcb_decode(rep.reported_tcb, BPT_SNP_MILAN);
    for (int i = 0; i < 64; i++) {
        snprintf(hex + 2 * i, 3, "%02x", rep.chip_id[i]);
    }
    snprintf(cache, sizeof(cache), "%s/vcek-cache", f->sim.dir);
    snprintf(path, sizeof(path), "%s/vcek-Milan-%s-%02x%02x%02x%02x%02x.der", cache, hex, t.fmc,
             t.bootloader, t.tee, t.snp, t.microcode);
    snprintf(vcek_path, sizeof(vcek_path), "%s/sev-snp/vcek.der", f->sim.dir);
    vcek = bpt_test_read_file(vcek_path, &vcek_len);
    assert_non_null(vcek);
    bpt_test_write_file(path, vcek, vcek_len);
    free(vcek);

    bpt_log_set_sink(capture_log, &global, BPT_LOG_TRACE);

    /* Without a sink of its own, the context's lines go to the process-wide sink. */
    c = vcek_cache_ctx(f, cache);
    verify_snp(f, c);
    bpt_verify_ctx_free(c);
    assert_non_null(strstr(global.text, "kds: vcek from cache product=Milan"));

    /* With one, they go there only. */
    global.lines = 0;
    global.text[0] = '\0';
    c = vcek_cache_ctx(f, cache);
    assert_ok(bpt_verify_ctx_set_log_sink(c, capture_log, &mine, BPT_LOG_DEBUG));
    verify_snp(f, c);
    assert_non_null(strstr(mine.text, "kds: vcek from cache product=Milan"));
    if (global.lines != 0) {
        fail_msg("the process-wide sink got the context's lines: %s", global.text);
    }
    bpt_verify_ctx_free(c);

    /* A sink's level holds: at info, the debug line is not sent. */
    mine.lines = 0;
    mine.text[0] = '\0';
    c = vcek_cache_ctx(f, cache);
    assert_ok(bpt_verify_ctx_set_log_sink(c, capture_log, &mine, BPT_LOG_INFO));
    verify_snp(f, c);
    assert_null(strstr(mine.text, "vcek from cache"));
    assert_int_equal(global.lines, 0);
    bpt_verify_ctx_free(c);

    bpt_log_set_sink(NULL, NULL, BPT_LOG_OFF);
}

/* ---- NULL arguments ------------------------------------------------------------------------- */

static void test_null_arguments(void **state)
{
    const struct bpt_sim_snp_fixture *f = *state;
    bpt_verify_ctx *c = sim_ctx(f, NULL);
    bpt_verifier *vf = NULL;
    bpt_verified *v = NULL;
    bpt_report *r = NULL;
    const uint8_t *ev = f->report;
    size_t n = f->len;

    /* No out pointer. */
    assert_rc_msg(bpt_verify(NULL, c, NULL, ev, n, BPT_PROVIDER_UNKNOWN), BPT_EINVAL, "out");
    assert_rc_msg(bpt_verify(NULL, NULL, NULL, NULL, 0, BPT_PROVIDER_UNKNOWN), BPT_EINVAL, "out");
    assert_rc_msg(bpt_verifier_new(NULL, c, NULL), BPT_EINVAL, "out");
    assert_false(bpt_verify_ctx_is_frozen(c)); /* a refused verifier took nothing */
    assert_rc_msg(bpt_sev_snp_verify(NULL, c, NULL, ev, n), BPT_EINVAL, "out");
    assert_rc_msg(bpt_tdx_verify(NULL, c, NULL, ev, n), BPT_EINVAL, "out");
    assert_rc_msg(bpt_aws_nitro_verify(NULL, c, NULL, ev, n), BPT_EINVAL, "out");
    assert_rc_msg(bpt_gcp_confidential_verify(NULL, c, NULL, ev, n), BPT_EINVAL, "out");
    assert_rc_msg(bpt_azure_maa_verify(NULL, c, NULL, ev, n), BPT_EINVAL, "out");
    assert_rc_msg(bpt_tdx_fetch_collateral(NULL, c, ev, n), BPT_EINVAL, "out");
    assert_false(bpt_verify_ctx_is_frozen(c));

    /* A verify of a report without one. */
    assert_ok(bpt_verify(&v, c, NULL, ev, n, BPT_PROVIDER_UNKNOWN));
    assert_ok(bpt_report_clone(&r, bpt_verified_report(v)));
    bpt_verified_free(v);
    v = NULL;
    assert_rc_msg(bpt_verify_report(NULL, c, NULL, r), BPT_EINVAL, "out");
    assert_rc_msg(bpt_verify_report(&v, c, NULL, NULL), BPT_EINVAL, "no report");
    assert_null(v);

    /* A verifier's entry points. */
    assert_ok(bpt_verifier_new(&vf, c, NULL));
    assert_rc_msg(bpt_verifier_verify(NULL, vf, ev, n, BPT_PROVIDER_UNKNOWN), BPT_EINVAL, "out");
    assert_rc_msg(bpt_verifier_verify(&v, NULL, ev, n, BPT_PROVIDER_UNKNOWN), BPT_EINVAL,
                  "no verifier");
    assert_null(v);
    assert_rc_msg(bpt_verifier_verify_report(NULL, vf, r), BPT_EINVAL, "out");
    assert_rc_msg(bpt_verifier_verify_report(&v, NULL, r), BPT_EINVAL, "no verifier");
    assert_rc_msg(bpt_verifier_verify_report(&v, vf, NULL), BPT_EINVAL, "no report");
    assert_null(v);
    assert_null(bpt_verifier_ctx(NULL));
    assert_null(bpt_verifier_policy(NULL));
    /* ... and they still work. */
    assert_ok(bpt_verifier_verify_report(&v, vf, r));
    bpt_verified_free(v);
    v = NULL;
    assert_ok(bpt_verify_report(&v, c, NULL, r));
    bpt_verified_free(v);
    v = NULL;

    /* Contexts: predicates and stats take NULL. */
    assert_false(bpt_verify_ctx_has_trust_roots(NULL));
    assert_false(bpt_verify_ctx_offline(NULL));
    bpt_report_free(r);
    bpt_verifier_free(vf);
    bpt_verify_ctx_free(c);
}

/*
 * A NULL evidence pointer, whatever the length it comes with, is refused as no evidence at all
 * (BPT_EMALFORMED, as empty evidence), never read.
 */
static void test_null_evidence(void **state)
{
    const struct bpt_sim_snp_fixture *f = *state;
    bpt_verify_ctx *c = sim_ctx(f, NULL);
    bpt_verifier *vf = NULL;
    bpt_verified *v = NULL;
    char *json = NULL;

    assert_ok(bpt_verifier_new(&vf, c, NULL));
    assert_rc_msg(bpt_verify(&v, c, NULL, NULL, 16, BPT_PROVIDER_UNKNOWN), BPT_EMALFORMED,
                  "no evidence");
    assert_null(v);
    assert_rc_msg(bpt_verify(&v, NULL, NULL, NULL, 16, BPT_PROVIDER_AMD_SEV_SNP), BPT_EMALFORMED,
                  "no evidence");
    assert_null(v);
    assert_rc_msg(bpt_verifier_verify(&v, vf, NULL, 16, BPT_PROVIDER_UNKNOWN), BPT_EMALFORMED,
                  "no evidence");
    assert_null(v);
    assert_rc_msg(bpt_sev_snp_verify(&v, c, NULL, NULL, 16), BPT_EMALFORMED, "no evidence");
    assert_null(v);
    assert_rc_msg(bpt_tdx_fetch_collateral(&json, c, NULL, 16), BPT_EMALFORMED, "no quote");
    assert_null(json);
    bpt_verifier_free(vf);
    bpt_verify_ctx_free(c);
}

/* ---- threads ------------------------------------------------------------------------------ */

#define ROUNDS 20

struct worker {
    const struct bpt_sim_snp_fixture *f;
    const bpt_verify_ctx *c;
    const bpt_verifier *vf;
    pthread_barrier_t *start;
    int ok, failures;
    char first_error[512];
};

static void *verify_many(void *arg)
{
    struct worker *w = arg;
    pthread_barrier_wait(w->start);
    for (int i = 0; i < ROUNDS; i++) {
        bpt_verified *v = NULL;
        int rc =
            i % 2 ? bpt_verifier_verify(&v, w->vf, w->f->report, w->f->len, BPT_PROVIDER_UNKNOWN)
                  : bpt_verify(&v, w->c, NULL, w->f->report, w->f->len, BPT_PROVIDER_AMD_SEV_SNP);
        if (rc == 0 && v && bpt_verified_at(v) == AT) {
            w->ok++;
        } else {
            if (!w->failures++) {
                snprintf(w->first_error, sizeof(w->first_error), "%s", bpt_error_last());
            }
        }
        bpt_verified_free(v);
    }
    return NULL;
}

static void test_threads_share_a_context_and_a_verifier(void **state)
{
    const struct bpt_sim_snp_fixture *f = *state;
    bpt_verify_ctx *c = sim_ctx(f, NULL);
    bpt_verifier *vf = NULL;
    pthread_barrier_t start;
    pthread_t th[2];
    struct worker w[2];
    uint64_t hits = 0, misses = 0;

    assert_ok(bpt_verifier_new(&vf, c, NULL));
    assert_int_equal(pthread_barrier_init(&start, NULL, 2), 0);
    for (int i = 0; i < 2; i++) {
        w[i] = (struct worker){.f = f, .c = c, .vf = vf, .start = &start};
        assert_int_equal(pthread_create(&th[i], NULL, verify_many, &w[i]), 0);
    }
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        if (w[i].failures) {
            fail_msg("thread %d: %d failures, first: %s", i, w[i].failures, w[i].first_error);
        }
        assert_int_equal(w[i].ok, ROUNDS);
    }
    pthread_barrier_destroy(&start);
    /* One chain cache served both: each thread missed at most once (its first lookup). */
    bpt_verify_ctx_cache_stats(c, BPT_CACHE_CHAIN, &hits, &misses);
    assert_int_equal(hits + misses, 2 * ROUNDS);
    assert_true(misses >= 1 && misses <= 2);
    assert_true(hits >= 2 * ROUNDS - 2);
    bpt_verifier_free(vf);
    bpt_verify_ctx_free(c);
}

/* Raw EC points made into keys once per context that keeps chains (TDX attestation keys). */
static void test_ec_keys_made_once(void **state)
{
    bpt_verify_ctx_opts none = BPT_VERIFY_CTX_OPTS_INIT;
    bpt_verify_ctx *c = NULL, *bare = NULL;
    EVP_PKEY *gen = EVP_EC_gen("P-256"), *a = NULL, *b = NULL;
    uint8_t pt[65], off[64];
    size_t n = 0;
    (void)state;
    none.chain_cache_entries = 0;
    assert_int_equal(EVP_PKEY_get_octet_string_param(gen, "encoded-pub-key", pt, sizeof(pt), &n),
                     1);
    assert_ok(bpt_verify_ctx_new(&c, NULL));
    assert_ok(bpt_verify_ctx_new(&bare, &none));
    assert_ok(bpt_verify_ctx_ec_key(&a, c, 256, pt + 1, "k"));
    assert_ok(bpt_verify_ctx_ec_key(&b, c, 256, pt + 1, "k"));
    assert_ptr_equal(a, b);
    assert_int_equal(EVP_PKEY_eq(a, gen), 1);
    EVP_PKEY_free(a);
    EVP_PKEY_free(b);
    assert_ok(bpt_verify_ctx_ec_key(&a, bare, 256, pt + 1, "k"));
    assert_ok(bpt_verify_ctx_ec_key(&b, bare, 256, pt + 1, "k"));
    assert_ptr_not_equal(a, b);
    EVP_PKEY_free(a);
    EVP_PKEY_free(b);
    memset(off, 1, sizeof(off)); /* no point of P-256: refused each time, never kept */
    for (int i = 0; i < 2; i++) {
        assert_rc_msg(bpt_verify_ctx_ec_key(&a, c, 256, off, "k"), BPT_EMALFORMED,
                      "k: not a P-256 public key");
        assert_null(a);
    }
    EVP_PKEY_free(gen);
    bpt_verify_ctx_free(c);
    bpt_verify_ctx_free(bare);
}

struct pinned_worker {
    bpt_verify_ctx *c;
    pthread_barrier_t *start;
    X509 *got;
    int rc;
};

static void *take_pinned(void *p)
{
    struct pinned_worker *w = p;
    static const enum bpt_pinned_root ark = BPT_ROOT_AMD_MILAN_ARK;
    STACK_OF(X509) *st = NULL;
    pthread_barrier_wait(w->start);
    w->rc = bpt_verify_ctx_pinned(&st, w->c, &ark, 1);
    w->got = w->rc == 0 ? sk_X509_value(st, 0) : NULL;
    sk_X509_pop_free(st, X509_free);
    return NULL;
}

/* The pinned roots are parsed once per context, on first use, even when threads race to it;
 * the context's own trust roots replace them as roots but not as pinned certificates. */
static void test_pinned_roots_parsed_once(void **state)
{
    static const enum bpt_pinned_root ids[] = {BPT_ROOT_AMD_MILAN_ARK, BPT_ROOT_AWS_NITRO_G1};
    static const enum bpt_pinned_root bad = BPT_ROOT_COUNT;
    const struct bpt_sim_snp_fixture *f = *state;
    bpt_verify_ctx *c = NULL, *own = sim_ctx(f, NULL);
    STACK_OF(X509) *a = NULL, *b = NULL;
    pthread_barrier_t start;
    pthread_t th[2];
    struct pinned_worker w[2];

    assert_ok(bpt_verify_ctx_new(&c, NULL));
    assert_int_equal(pthread_barrier_init(&start, NULL, 2), 0);
    for (int i = 0; i < 2; i++) {
        w[i] = (struct pinned_worker){.c = c, .start = &start};
        assert_int_equal(pthread_create(&th[i], NULL, take_pinned, &w[i]), 0);
    }
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(w[i].rc, 0);
    }
    pthread_barrier_destroy(&start);
    assert_ptr_equal(w[0].got, w[1].got); /* one copy kept */
    assert_ok(bpt_verify_ctx_roots(&a, c, ids, 2));
    assert_ok(bpt_verify_ctx_pinned(&b, c, ids, 2));
    assert_int_equal(sk_X509_num(a), 2);
    assert_ptr_equal(sk_X509_value(a, 0), w[0].got);
    assert_ptr_equal(sk_X509_value(a, 1), sk_X509_value(b, 1));
    sk_X509_pop_free(a, X509_free);
    sk_X509_pop_free(b, X509_free);
    /* without a context: parsed for the call */
    assert_ok(bpt_verify_ctx_pinned(&a, NULL, ids, 1));
    assert_true(sk_X509_value(a, 0) != w[0].got);
    assert_int_equal(X509_cmp(sk_X509_value(a, 0), w[0].got), 0);
    sk_X509_pop_free(a, X509_free);
    assert_rc_msg(bpt_verify_ctx_pinned(&a, c, &bad, 1), BPT_EINVAL, "no pinned root");
    assert_null(a);
    /* a context with trust roots: those are the roots, the pinned ones stay available */
    assert_ok(bpt_verify_ctx_roots(&a, own, ids, 1));
    assert_int_equal(X509_cmp(sk_X509_value(a, 0), w[0].got) == 0, 0);
    sk_X509_pop_free(a, X509_free);
    assert_ok(bpt_verify_ctx_pinned(&a, own, ids, 1));
    assert_int_equal(X509_cmp(sk_X509_value(a, 0), w[0].got), 0);
    sk_X509_pop_free(a, X509_free);
    bpt_verify_ctx_free(own);
    bpt_verify_ctx_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pinned_roots_parsed_once),
        cmocka_unit_test(test_ec_keys_made_once),
        cmocka_unit_test(test_opts_validation),
        cmocka_unit_test(test_ctx_new_without_out_pointer),
        cmocka_unit_test(test_setters_refuse_once_frozen),
        cmocka_unit_test(test_setters_refuse_bad_values),
        cmocka_unit_test(test_verifier_keeps_its_context_alive),
        cmocka_unit_test(test_time_fixed_or_now),
        cmocka_unit_test(test_cache_stats_without_caches),
        cmocka_unit_test(test_log_sink_of_the_context),
        cmocka_unit_test(test_null_arguments),
        cmocka_unit_test(test_null_evidence),
        cmocka_unit_test(test_threads_share_a_context_and_a_verifier),
    };
    return cmocka_run_group_tests(tests, bpt_sim_snp_fixture_setup, bpt_sim_snp_fixture_teardown);
}
