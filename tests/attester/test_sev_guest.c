/*
 * /dev/sev-guest through a fake device layer: SNP_GET_EXT_REPORT with the driver's "buffer
 * too small" retry, firmware and driver errors, and a regular file named like the device.
 */
#include "helpers/test.h"

#include "helpers/sim_fixture.h"

#include "attester/attester_internal.h"
#include "attester/sim/sev_snp.h"
#include "attestation/pki/pki.h"

#include <errno.h>
#include <stdio.h>

#define AT 1750000000

struct fake_dev {
    const char *sim;
    int calls;
    uint32_t fw_status; /* written into the response */
    int fail_errno;     /* non-zero: the ioctl fails with this errno and fw_error 5 */
    uint8_t table[20480];
    size_t table_len;
};

static int fake_open(const char *path, void *ud)
{
    (void)path;
    (void)ud;
    return 42;
}

static void fake_close(int fd, void *ud)
{
    (void)ud;
    assert_int_equal(fd, 42);
}

static int fake_ioctl(int fd, unsigned long req, void *arg, void *ud)
{
    struct fake_dev *d = ud;
    struct bpt_snp_guest_request_ioctl *io = arg;
    struct bpt_snp_ext_report_req *ext = (void *)(uintptr_t)io->req_data;
    uint8_t *resp = (void *)(uintptr_t)io->resp_data, *rep = NULL;
    size_t n = 0;
    assert_int_equal(fd, 42);
    assert_int_equal(req, BPT_SNP_GET_EXT_REPORT);
    d->calls++;
    if (d->fail_errno) {
        io->exitinfo2 = 5;
        errno = d->fail_errno;
        return -1;
    }
    if (ext->certs_len < d->table_len) {
        ext->certs_len = (uint32_t)d->table_len; /* the driver says how much it needs */
        io->exitinfo2 = (uint64_t)BPT_SNP_VMM_ERR_INVALID_LEN << 32;
        errno = EIO;
        return -1;
    }
    memcpy((void *)(uintptr_t)ext->certs_address, d->table, d->table_len);
    ext->certs_len = (uint32_t)d->table_len;
    assert_ok(bpt_sim_sev_snp_attest(&rep, &n, d->sim, ext->data.user_data));
    memset(resp, 0, BPT_SNP_RESP_SIZE);
    resp[0] = (uint8_t)d->fw_status;
    resp[4] = (uint8_t)(n & 0xff);
    resp[5] = (uint8_t)(n >> 8);
    memcpy(resp + 32, rep, n);
    bpt_free(rep);
    return 0;
}

/* A certificate table with the simulated VCEK and ASK (DER), larger than one page. */
static void build_table(struct fake_dev *d)
{
    static const uint8_t vcek_guid[16] = {0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64,
                                          0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd};
    static const uint8_t ask_guid[16] = {0x4a, 0xb7, 0xb3, 0x79, 0xbb, 0xac, 0x4f, 0xe4,
                                         0xa0, 0x2f, 0x05, 0xae, 0xf3, 0x27, 0xc7, 0x82};
    char path[4096];
    size_t vl = 0, pl = 0, al;
    STACK_OF(X509) *st = NULL;
    unsigned char *ask = NULL;
    snprintf(path, sizeof(path), "%s/sev-snp/vcek.der", d->sim);
    uint8_t *vcek = bpt_test_read_file(path, &vl);
    snprintf(path, sizeof(path), "%s/sev-snp/ask.pem", d->sim);
    uint8_t *pem = bpt_test_read_file(path, &pl);
    assert_ok(bpt_pki_parse_certs(&st, pem, pl, "ask"));
    al = (size_t)i2d_X509(sk_X509_value(st, 0), &ask);
    memset(d->table, 0, sizeof(d->table));
    memcpy(d->table, vcek_guid, 16);
    d->table[16] = 72;
    d->table[20] = (uint8_t)vl;
    d->table[21] = (uint8_t)(vl >> 8);
    memcpy(d->table + 24, ask_guid, 16);
    d->table[40] = (uint8_t)(72 + vl);
    d->table[41] = (uint8_t)((72 + vl) >> 8);
    d->table[44] = (uint8_t)al;
    d->table[45] = (uint8_t)(al >> 8);
    memcpy(d->table + 72, vcek, vl);
    memcpy(d->table + 72 + vl, ask, al);
    d->table_len = 72 + vl + al > 4 * 4096 ? 72 + vl + al : 4 * 4096 + 10;
    if (d->table_len > sizeof(d->table)) {
        d->table_len = sizeof(d->table);
    }
    OPENSSL_free(ask);
    sk_X509_pop_free(st, X509_free);
    free(pem);
    free(vcek);
}

static void test_ext_report_with_retry_verifies(void **state)
{
    char *root = bpt_test_tmpdir(), path[4096];
    struct bpt_sim_fixture sim;
    struct fake_dev d = {0};
    struct bpt_dev_ops ops = {fake_open, fake_ioctl, fake_close, &d};
    uint8_t rd[64] = {9, 8, 7};
    bpt_report *r = NULL;
    bpt_verify_ctx *ctx = NULL;
    bpt_verified *v = NULL;
    (void)state;
    assert_int_equal(bpt_sim_fixture_init(&sim), 0);
    d.sim = sim.dir;
    build_table(&d);
    assert_ok(bpt_attest_hw(&r, rd, root, 1, NULL, &ops, NULL));
    assert_int_equal(d.calls, 2); /* the first buffer was too small */
    ctx = bpt_sim_fixture_ctx(&sim, AT, NULL);
    assert_non_null(ctx);
    assert_ok(bpt_verify_ctx_set_offline(ctx, true));
    /* The certificate table carries no CRL: the relying party's own copy (KDS's, in life). */
    assert_int_equal(bpt_sim_fixture_add_snp_crl(&sim, ctx), 0);
    assert_ok(bpt_verify_report(&v, ctx, NULL, r));
    bpt_verified_free(v);
    bpt_report_free(r);
    r = NULL;

    d.fw_status = 0x16;
    assert_rc_msg(bpt_attest_hw(&r, rd, root, -1, NULL, &ops, NULL), BPT_EIO,
                  "firmware status 0x16");
    d.fw_status = 0;
    d.fail_errno = EPERM;
    assert_rc_msg(bpt_attest_hw(&r, rd, root, -1, NULL, &ops, NULL), BPT_EIO, "firmware error 0x5");
    assert_null(r);

    /* A regular file named like the device does not count. */
    snprintf(path, sizeof(path), "%s/dev/sev-guest", root);
    bpt_test_write_file(path, "x", 1);
    assert_rc_msg(bpt_attest_hw(&r, rd, root, -1, NULL, NULL, NULL), BPT_ENOTSUP,
                  "/dev/sev-guest, /dev/nsm or /dev/tdx_guest");
    bpt_verify_ctx_free(ctx);
    bpt_test_rmtree(root);
    free(root);
    bpt_sim_fixture_dispose(&sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ext_report_with_retry_verifies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
