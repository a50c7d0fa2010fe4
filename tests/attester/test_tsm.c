/*
 * configfs-tsm against a fake tree: a hook stands in for the kernel and answers the inblob
 * with a simulated SEV-SNP report and a certificate table; the result must verify.
 */
#include "helpers/test.h"

#include "helpers/sim_fixture.h"

#include "attester/attester_internal.h"
#include "attester/sim/sev_snp.h"
#include "attester/sim/tdx.h"
#include "attester/snp_cert_table.h"
#include "attestation/pki/pki.h"

#include <stdio.h>
#include <sys/stat.h>

#define AT 1750000000

struct fake {
    const char *sim_dir;
    const char *provider; /* written to the provider file */
    bool empty_outblob;
    bool bad_table;
    char privlevel[8]; /* what the fake saw */
};

static uint8_t *read_rel(const char *dir, const char *rel, size_t *len)
{
    char p[4096];
    snprintf(p, sizeof(p), "%s/%s", dir, rel);
    return bpt_test_read_file(p, len);
}

static void put(uint8_t *t, size_t *off, const uint8_t guid[16], uint32_t o, uint32_t n)
{
    memcpy(t + *off, guid, 16);
    for (int i = 0; i < 4; i++) {
        t[*off + 16 + i] = (uint8_t)(o >> (8 * i));
        t[*off + 20 + i] = (uint8_t)(n >> (8 * i));
    }
    *off += 24;
}

static int fake_kernel(const char *entry, const uint8_t *inblob, size_t len, void *ud)
{
    struct fake *f = ud;
    uint8_t *rep = NULL, *vcek, *ask, table[8192] = {0};
    size_t rep_len = 0, vl = 0, al = 0, off = 0;
    char p[4300];
    static const uint8_t vcek_guid[16] = {0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64,
                                          0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd};
    static const uint8_t ask_guid[16] = {0x4a, 0xb7, 0xb3, 0x79, 0xbb, 0xac, 0x4f, 0xe4,
                                         0xa0, 0x2f, 0x05, 0xae, 0xf3, 0x27, 0xc7, 0x82};
    FILE *pl;
    assert_int_equal(len, 64);
    snprintf(p, sizeof(p), "%s/privlevel", entry);
    pl = fopen(p, "r");
    if (pl) {
        size_t n = fread(f->privlevel, 1, sizeof(f->privlevel) - 1, pl);
        f->privlevel[n] = 0;
        fclose(pl);
    }
    assert_ok(bpt_sim_sev_snp_attest(&rep, &rep_len, f->sim_dir, inblob));
    snprintf(p, sizeof(p), "%s/outblob", entry);
    bpt_test_write_file(p, rep, f->empty_outblob ? 0 : rep_len);
    bpt_free(rep);
    vcek = read_rel(f->sim_dir, "sev-snp/vcek.der", &vl);
    {
        /* The ASK as DER: convert the PEM with OpenSSL's help through the library's parser. */
        char path[4096];
        snprintf(path, sizeof(path), "%s/sev-snp/ask.pem", f->sim_dir);
        X509 *c = NULL;
        size_t pl_len = 0;
        uint8_t *pem = bpt_test_read_file(path, &pl_len);
        STACK_OF(X509) *st = NULL;
        unsigned char *der = NULL;
        assert_ok(bpt_pki_parse_certs(&st, pem, pl_len, "ask"));
        c = sk_X509_value(st, 0);
        int dl = i2d_X509(c, &der);
        ask = malloc((size_t)dl);
        memcpy(ask, der, (size_t)dl);
        al = (size_t)dl;
        OPENSSL_free(der);
        sk_X509_pop_free(st, X509_free);
        free(pem);
    }
    put(table, &off, vcek_guid, 3 * 24, (uint32_t)vl);
    put(table, &off, ask_guid, (uint32_t)(3 * 24 + vl), f->bad_table ? 60000 : (uint32_t)al);
    off += 24; /* terminator */
    memcpy(table + off, vcek, vl);
    memcpy(table + off + vl, ask, al);
    snprintf(p, sizeof(p), "%s/auxblob", entry);
    bpt_test_write_file(p, table, off + vl + al);
    snprintf(p, sizeof(p), "%s/provider", entry);
    bpt_test_write_file(p, f->provider, strlen(f->provider));
    snprintf(p, sizeof(p), "%s/generation", entry);
    bpt_test_write_file(p, "1\n", 2);
    free(vcek);
    free(ask);
    return 0;
}

/* The TDX side: the kernel answers with a quote from the simulated QE. */
static int fake_tdx_kernel(const char *entry, const uint8_t *inblob, size_t len, void *ud)
{
    struct fake *f = ud;
    struct bpt_sim_tdx_opts o = {.now = AT};
    uint8_t *q = NULL;
    size_t n = 0;
    char p[4300];
    assert_int_equal(len, 64);
    memcpy(o.report_data, inblob, 64);
    assert_ok(bpt_sim_tdx_quote(&q, &n, f->sim_dir, &o));
    snprintf(p, sizeof(p), "%s/outblob", entry);
    bpt_test_write_file(p, q, n);
    snprintf(p, sizeof(p), "%s/provider", entry);
    bpt_test_write_file(p, f->provider, strlen(f->provider));
    snprintf(p, sizeof(p), "%s/generation", entry);
    bpt_test_write_file(p, "1\n", 2);
    bpt_free(q);
    return 0;
}

struct fixture {
    char *root;
    struct bpt_sim_fixture sim;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char p[4096];
    *state = f;
    if (!f) {
        return -1;
    }
    f->root = bpt_test_tmpdir();
    snprintf(p, sizeof(p), "%s/sys/kernel/config/tsm/report/.keep", f->root);
    bpt_test_write_file(p, "", 0);
    return bpt_sim_fixture_init(&f->sim);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f) {
        bpt_test_rmtree(f->root);
        free(f->root);
        bpt_sim_fixture_dispose(&f->sim);
        free(f);
    }
    return 0;
}

static void test_sev_guest_report_with_cert_table_verifies(void **state)
{
    struct fixture *f = *state;
    struct fake fk = {.sim_dir = f->sim.dir, .provider = "sev_guest\n"};
    struct bpt_tsm_hooks hooks = {fake_kernel, &fk};
    uint8_t rd[64];
    bpt_report *r = NULL;
    bpt_verify_ctx *ctx = NULL;
    bpt_verified *v = NULL;
    size_t n = 0;
    for (int i = 0; i < 64; i++) {
        rd[i] = (uint8_t)(0xA0 + i);
    }
    assert_ok(bpt_attest_hw(&r, rd, f->root, 2, &hooks, NULL, NULL));
    assert_string_equal(fk.privlevel, "2");
    assert_int_equal(bpt_report_provider(r), BPT_PROVIDER_AMD_SEV_SNP);
    ctx = bpt_sim_fixture_ctx(&f->sim, AT, NULL);
    assert_non_null(ctx);
    assert_ok(bpt_verify_ctx_set_offline(ctx, true));
    /* The certificate table carries no CRL: the relying party's own copy (KDS's, in life). */
    assert_int_equal(bpt_sim_fixture_add_snp_crl(&f->sim, ctx), 0);
    /* The VCEK and ASK came from the certificate table, through the report's collateral. */
    assert_ok(bpt_verify_report(&v, ctx, NULL, r));
    const uint8_t *got = bpt_verified_report_data(v, &n);
    assert_int_equal(n, 64);
    assert_memory_equal(got, rd, 64);
    bpt_verified_free(v);
    bpt_verify_ctx_free(ctx);
    bpt_report_free(r);
}

static void test_tdx_guest_quote_verifies(void **state)
{
    struct fixture *f = *state;
    struct fake fk = {.sim_dir = f->sim.dir, .provider = "tdx_guest\n"};
    struct bpt_tsm_hooks hooks = {fake_tdx_kernel, &fk};
    struct bpt_sim_tdx_opts o = {.now = AT};
    uint8_t rd[64];
    bpt_report *r = NULL;
    bpt_verify_ctx *ctx = NULL;
    bpt_verified *v = NULL;
    char *coll = NULL;
    size_t n = 0;
    for (int i = 0; i < 64; i++) {
        rd[i] = (uint8_t)(0x40 + i);
    }
    assert_ok(bpt_attest_hw(&r, rd, f->root, -1, &hooks, NULL, NULL));
    assert_int_equal(bpt_report_provider(r), BPT_PROVIDER_INTEL_TDX);
    assert_int_equal(bpt_report_format(r), BPT_FORMAT_TDX_QUOTE);
    assert_string_equal(bpt_report_measurement(r)->algorithm, "sha384");
    assert_ok(bpt_sim_tdx_collateral(&coll, f->sim.dir, &o));
    ctx = bpt_sim_fixture_ctx(&f->sim, AT, NULL);
    assert_non_null(ctx);
    assert_ok(bpt_verify_ctx_set_offline(ctx, true));
    /* The certificate table carries no CRL: the relying party's own copy (KDS's, in life). */
    assert_int_equal(bpt_sim_fixture_add_snp_crl(&f->sim, ctx), 0);
    assert_ok(bpt_verify_ctx_set_collateral_json(ctx, coll, strlen(coll)));
    assert_ok(bpt_verify_report(&v, ctx, NULL, r));
    const uint8_t *got = bpt_verified_report_data(v, &n);
    assert_int_equal(n, 64);
    assert_memory_equal(got, rd, 64);
    bpt_verified_free(v);
    bpt_verify_ctx_free(ctx);
    bpt_report_free(r);
    bpt_free(coll);
}

static void test_tsm_refusals(void **state)
{
    struct fixture *f = *state;
    struct fake fk = {.sim_dir = f->sim.dir, .provider = "sev_guest\n"};
    struct bpt_tsm_hooks hooks = {fake_kernel, &fk};
    uint8_t rd[64] = {0};
    bpt_report *r = NULL;

    assert_rc_msg(bpt_attest_hw(&r, rd, f->sim.dir, -1, &hooks, NULL, NULL), BPT_ENOTSUP,
                  "/dev/sev-guest, /dev/nsm or /dev/tdx_guest");
    fk.empty_outblob = true;
    assert_rc_msg(bpt_attest_hw(&r, rd, f->root, -1, &hooks, NULL, NULL), BPT_EMALFORMED,
                  "empty outblob");
    fk.empty_outblob = false;
    fk.provider = "acme_guest";
    assert_rc_msg(bpt_attest_hw(&r, rd, f->root, -1, &hooks, NULL, NULL), BPT_ENOTSUP,
                  "acme_guest");
    fk.provider = "sev_guest";
    fk.bad_table = true;
    assert_rc_msg(bpt_attest_hw(&r, rd, f->root, -1, &hooks, NULL, NULL), BPT_EMALFORMED,
                  "outside the");
    assert_null(r);
}

static void test_cert_table_parser(void **state)
{
    uint8_t t[24 * 3 + 4] = {0};
    struct bpt_snp_cert_entry e[BPT_SNP_CERT_TABLE_MAX];
    size_t n = 9;
    (void)state;
    /* No terminator: the reader runs out. */
    memset(t, 0x11, 16);
    t[20] = 1; /* offset 0, length 1: valid, then no terminator follows */
    assert_rc_msg(bpt_snp_cert_table_parse(e, &n, t, 24), BPT_EMALFORMED, "needs 16 bytes");
    /* An unknown GUID is kept as "other"; a terminator ends the table. */
    memset(t, 0, sizeof(t));
    memset(t, 0x22, 16);
    t[16] = 72; /* offset 72 */
    t[20] = 4;  /* length 4 */
    assert_ok(bpt_snp_cert_table_parse(e, &n, t, sizeof(t)));
    assert_int_equal(n, 1);
    assert_int_equal(e[0].kind, BPT_SNP_CERT_OTHER);
    assert_int_equal(e[0].len, 4);
    t[20] = 5; /* one byte past the end */
    assert_rc_msg(bpt_snp_cert_table_parse(e, &n, t, sizeof(t)), BPT_EMALFORMED, "outside");
    /* An empty table (just the terminator) is fine. */
    assert_ok(bpt_snp_cert_table_parse(e, &n, t + 24, 24));
    assert_int_equal(n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sev_guest_report_with_cert_table_verifies),
        cmocka_unit_test(test_tdx_guest_quote_verifies),
        cmocka_unit_test(test_tsm_refusals),
        cmocka_unit_test(test_cert_table_parser),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
