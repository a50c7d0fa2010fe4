/* bpt-test-labels: unit loopback */
/*
 * TDX collateral fetched from a PCS-like HTTP server on 127.0.0.1 (libmicrohttpd) answering as
 * Intel PCS v4 / PCCS do: signed bodies, issuer chains URL-encoded in headers, DER and hex
 * CRLs, error codes; the on-disk cache, offline mode and the server's refusals.
 */
#include "helpers/fake_pcs.h"
#include "helpers/test.h"
#include "helpers/sim_fixture.h"

#include "attester/sim/tdx.h"

#include <jansson.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <stdio.h>

#define AT 1750000000

struct server {
    struct MHD_Daemon *d;
    char url[64];
    json_t *coll; /* the simulated collateral the answers are cut from */
    atomic_int hits;
    atomic_int
        mode; /* 0 normal, 1 404 with Error-Code, 2 no issuer chain, 3 oversized, 4 bad sig */
};

enum { NORMAL, NOT_FOUND, NO_CHAIN, OVERSIZED, BAD_SIGNATURE };

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_len, void **con_cls)
{
    struct server *s = cls;
    struct MHD_Response *resp = NULL;
    unsigned status = MHD_HTTP_OK;
    int mode = atomic_load(&s->mode);
    enum MHD_Result r;
    (void)method;
    (void)version;
    (void)upload;
    (void)upload_len;
    (void)con_cls;
    atomic_fetch_add(&s->hits, 1);
    if (mode == OVERSIZED) {
        static char big[1100 * 1024];
        memset(big, ' ', sizeof(big));
        resp = MHD_create_response_from_buffer(sizeof(big), big, MHD_RESPMEM_PERSISTENT);
    } else if (mode == NOT_FOUND) {
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(resp, "Error-Code", "FmspcNotFound");
        status = MHD_HTTP_NOT_FOUND;
    } else if (!(resp =
                     bpt_fake_pcs_answer(&status, conn, url, s->coll,
                                         (mode == BAD_SIGNATURE ? BPT_FAKE_PCS_BAD_SIGNATURE : 0) |
                                             (mode == NO_CHAIN ? BPT_FAKE_PCS_NO_CHAIN : 0)))) {
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        status = MHD_HTTP_NOT_FOUND;
    }
    r = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return r;
}

struct fixture {
    struct bpt_sim_fixture sim;
    struct server srv;
    uint8_t *quote;
    size_t len;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct bpt_sim_tdx_opts o = {.now = AT};
    char *coll = NULL;
    const union MHD_DaemonInfo *info;
    *state = f;
    if (!f || bpt_sim_fixture_init(&f->sim) != 0 ||
        bpt_sim_tdx_quote(&f->quote, &f->len, f->sim.dir, &o) != 0 ||
        bpt_sim_tdx_collateral(&coll, f->sim.dir, &o) != 0) {
        return -1;
    }
    f->srv.coll = json_loads(coll, 0, NULL);
    bpt_free(coll);
    f->srv.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handle, &f->srv,
                                MHD_OPTION_END);
    if (!f->srv.d || !f->srv.coll) {
        return -1;
    }
    info = MHD_get_daemon_info(f->srv.d, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(f->srv.url, sizeof(f->srv.url), "http://127.0.0.1:%u", info->port);
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    MHD_stop_daemon(f->srv.d);
    json_decref(f->srv.coll);
    bpt_sim_fixture_dispose(&f->sim);
    bpt_free(f->quote);
    free(f);
    return 0;
}

/*
 * A context at @p at trusting the simulated roots and fetching from the test server (reset to
 * answer normally), through the disk cache @p cache (may be NULL). No in-memory caches: every
 * verification goes to the server or the disk cache.
 */
static bpt_verify_ctx *pcs_ctx(struct fixture *f, int64_t at, const char *cache, bool offline)
{
    bpt_verify_ctx_opts o = BPT_VERIFY_CTX_OPTS_INIT;
    bpt_verify_ctx *c;
    o.chain_cache_entries = 0;
    o.collateral_cache_entries = 0;
    o.jwks_cache = false;
    c = bpt_sim_fixture_ctx(&f->sim, at, &o);
    assert_non_null(c);
    assert_ok(bpt_verify_ctx_set_pccs_url(c, f->srv.url));
    if (cache) {
        assert_ok(bpt_verify_ctx_set_cache_dir(c, cache));
    }
    assert_ok(bpt_verify_ctx_set_offline(c, offline));
    atomic_store(&f->srv.mode, NORMAL);
    return c;
}

static void test_fetch_verify_and_cache(void **state)
{
    struct fixture *f = *state;
    char cache[4096];
    bpt_verified *v = NULL;
    bpt_verify_ctx *ctx;
    snprintf(cache, sizeof(cache), "%s/pcs-cache", f->sim.dir);

    ctx = pcs_ctx(f, AT, cache, false);
    atomic_store(&f->srv.hits, 0);
    assert_ok(bpt_verify(&v, ctx, NULL, f->quote, f->len, BPT_PROVIDER_INTEL_TDX));
    bpt_verified_free(v);
    assert_int_equal(atomic_load(&f->srv.hits), 4); /* TCB Info, QE Identity, two CRLs */
    bpt_verify_ctx_free(ctx);

    /* From the cache: no request, also offline. */
    ctx = pcs_ctx(f, AT, cache, true);
    assert_ok(bpt_verify(&v, ctx, NULL, f->quote, f->len, BPT_PROVIDER_INTEL_TDX));
    bpt_verified_free(v);
    assert_int_equal(atomic_load(&f->srv.hits), 4);
    bpt_verify_ctx_free(ctx);

    /* Past the cached collateral's nextUpdate the cache is not used: offline, that is "keys". */
    ctx = pcs_ctx(f, AT + 40 * 86400, cache, true);
    assert_rc_msg(bpt_verify(&v, ctx, NULL, f->quote, f->len, BPT_PROVIDER_INTEL_TDX), BPT_EKEYS,
                  "none current in the cache");
    bpt_verify_ctx_free(ctx);
}

static void test_fetch_collateral_api(void **state)
{
    struct fixture *f = *state;
    bpt_verify_ctx *ctx = pcs_ctx(f, AT, NULL, false);
    char *json = NULL;
    json_t *o;
    assert_ok(bpt_tdx_fetch_collateral(&json, ctx, f->quote, f->len));
    o = json_loads(json, 0, NULL);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "tcb_info")),
                        json_string_value(json_object_get(f->srv.coll, "tcb_info")));
    assert_string_equal(json_string_value(json_object_get(o, "pck_crl")),
                        json_string_value(json_object_get(f->srv.coll, "pck_crl")));
    assert_string_equal(json_string_value(json_object_get(o, "root_ca_crl")),
                        json_string_value(json_object_get(f->srv.coll, "root_ca_crl")));
    assert_string_equal(
        json_string_value(json_object_get(o, "qe_identity_issuer_chain")),
        json_string_value(json_object_get(f->srv.coll, "qe_identity_issuer_chain")));
    json_decref(o);
    bpt_free(json);
    bpt_verify_ctx_free(ctx);
}

static void test_offline_without_cache(void **state)
{
    struct fixture *f = *state;
    bpt_verify_ctx *ctx = pcs_ctx(f, AT, NULL, true);
    bpt_verified *v = NULL;
    atomic_store(&f->srv.hits, 0);
    assert_rc_msg(bpt_verify(&v, ctx, NULL, f->quote, f->len, BPT_PROVIDER_INTEL_TDX), BPT_EKEYS,
                  "the context is offline (no fetching)");
    assert_int_equal(atomic_load(&f->srv.hits), 0);
    bpt_verify_ctx_free(ctx);
}

static void test_server_refusals(void **state)
{
    struct fixture *f = *state;
    bpt_verify_ctx *ctx = pcs_ctx(f, AT, NULL, false);
    bpt_verified *v = NULL;
    static const struct {
        int mode, code;
        const char *msg;
    } cases[] = {
        {NOT_FOUND, BPT_EFETCH,
         "pcs: TCB Info: HTTP 404 (not found: unknown FMSPC or CA?), "
         "Error-Code FmspcNotFound"},
        {NO_CHAIN, BPT_EFETCH, "pcs: TCB Info: no TCB-Info-Issuer-Chain header"},
        {OVERSIZED, BPT_EFETCH, "larger than"},
        {BAD_SIGNATURE, BPT_ESIGNATURE, "TCB Info signature does not verify"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        atomic_store(&f->srv.mode, cases[i].mode);
        assert_rc_msg(bpt_verify(&v, ctx, NULL, f->quote, f->len, BPT_PROVIDER_INTEL_TDX),
                      cases[i].code, cases[i].msg);
    }
    bpt_verify_ctx_free(ctx);
}

static void test_plain_http_to_a_remote_host_is_refused(void **state)
{
    struct fixture *f = *state;
    bpt_verify_ctx *ctx = pcs_ctx(f, AT, NULL, false);
    /* The context checks the URL when it is set (the policy took it and refused it at fetch
     * time). */
    assert_rc_msg(bpt_verify_ctx_set_pccs_url(ctx, "http://pccs.example"), BPT_EINVAL,
                  "https only");
    bpt_verify_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fetch_verify_and_cache),
        cmocka_unit_test(test_fetch_collateral_api),
        cmocka_unit_test(test_offline_without_cache),
        cmocka_unit_test(test_server_refusals),
        cmocka_unit_test(test_plain_http_to_a_remote_host_is_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
