/* bpt-test-labels: unit loopback */
/*
 * VCEK fetching from a KDS-like HTTP server on 127.0.0.1 (libmicrohttpd): the URL form, the
 * on-disk cache, offline mode, and KDS's refusals (404, 429), an oversized body and a URL
 * that is not https.
 */
#include "helpers/test.h"

#include "helpers/sim_fixture.h"

#include "attester/sim/sev_snp.h"

#include <microhttpd.h>
#include <stdatomic.h>
#include <stdio.h>

#define AT 1750000000

struct server {
    struct MHD_Daemon *d;
    char url[64];
    uint8_t *vcek;
    size_t vcek_len;
    char want_path[256];
    atomic_int hits;
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
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char path[4096], hex[129];
    uint8_t rd[64] = {0};
    const union MHD_DaemonInfo *info;
    *state = f;
    if (!f || bpt_sim_fixture_init(&f->sim) != 0 ||
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

    bpt_verify_ctx *ctx = kds_ctx(f, cache, true);
    assert_rc_msg(bpt_sev_snp_verify(&v, ctx, NULL, f->report, f->len), BPT_EKEYS, "not cached");
    assert_int_equal(atomic_load(&f->srv.hits), 0);
    bpt_verify_ctx_free(ctx);

    ctx = kds_ctx(f, cache, false);
    assert_ok(bpt_sev_snp_verify(&v, ctx, NULL, f->report, f->len));
    bpt_verified_free(v);
    v = NULL;
    assert_int_equal(atomic_load(&f->srv.hits), 1);
    bpt_verify_ctx_free(ctx);

    ctx = kds_ctx(f, cache, true); /* offline: the cached VCEK is used (and chain-checked) */
    assert_ok(bpt_sev_snp_verify(&v, ctx, NULL, f->report, f->len));
    bpt_verified_free(v);
    assert_int_equal(atomic_load(&f->srv.hits), 1);
    bpt_verify_ctx_free(ctx);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fetch_then_cache_then_offline),
        cmocka_unit_test(test_kds_refusals),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
