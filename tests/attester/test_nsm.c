/*
 * /dev/nsm through a fake driver that speaks the NSM API's CBOR: the request it receives, a
 * simulated document back that verifies, NSM errors, and malformed or oversized responses.
 */
#include "helpers/test.h"

#include "helpers/sim_fixture.h"

#include "attester/attester_internal.h"
#include "attester/sim/aws_nitro.h"

#include <cbor.h>
#include <errno.h>
#include <stdio.h>

struct fake_nsm {
    const char *sim;
    int mode; /* 0 document, 1 NSM error, 2 garbage, 3 length too large, 4 ioctl fails */
    uint8_t user_data[64];
    size_t user_data_len;
    uint8_t nonce[64];
    size_t nonce_len;
};

static int fake_open(const char *path, void *ud)
{
    (void)path;
    (void)ud;
    return 7;
}

static void fake_close(int fd, void *ud)
{
    (void)fd;
    (void)ud;
}

static void reply(struct bpt_nsm_message *m, cbor_item_t *r)
{
    unsigned char *b = NULL;
    size_t alloc = 0, n = cbor_serialize_alloc(r, &b, &alloc);
    assert_true(n > 0 && n <= m->response.iov_len);
    memcpy(m->response.iov_base, b, n);
    m->response.iov_len = n;
    free(b);
    cbor_decref(&r);
}

static int fake_ioctl(int fd, unsigned long req, void *arg, void *ud)
{
    struct fake_nsm *f = ud;
    struct bpt_nsm_message *m = arg;
    struct cbor_load_result res;
    cbor_item_t *rq, *att, *r, *inner;
    (void)fd;
    assert_int_equal(req, BPT_NSM_IOCTL_REQUEST);
    if (f->mode == 4) {
        errno = EINVAL;
        return -1;
    }
    /* The request is {"Attestation": {"user_data": ..., "nonce": ..., "public_key": null}}. */
    rq = cbor_load(m->request.iov_base, m->request.iov_len, &res);
    assert_non_null(rq);
    assert_true(cbor_isa_map(rq) && cbor_map_size(rq) == 1);
    att = cbor_map_handle(rq)[0].value;
    for (size_t i = 0; i < cbor_map_size(att); i++) {
        struct cbor_pair kv = cbor_map_handle(att)[i];
        if (cbor_string_length(kv.key) == 9 && cbor_isa_bytestring(kv.value)) {
            f->user_data_len = cbor_bytestring_length(kv.value);
            memcpy(f->user_data, cbor_bytestring_handle(kv.value), f->user_data_len);
        }
        if (cbor_string_length(kv.key) == 5 && cbor_isa_bytestring(kv.value)) {
            f->nonce_len = cbor_bytestring_length(kv.value);
            assert_true(f->nonce_len <= sizeof(f->nonce));
            memcpy(f->nonce, cbor_bytestring_handle(kv.value), f->nonce_len);
        }
    }
    cbor_decref(&rq);
    if (f->mode == 1) {
        r = cbor_new_definite_map(1);
        cbor_map_add(r, (struct cbor_pair){cbor_move(cbor_build_string("Error")),
                                           cbor_move(cbor_build_string("InvalidArgument"))});
        reply(m, r);
        return 0;
    }
    if (f->mode == 2) {
        memcpy(m->response.iov_base, "\xff\xff", 2);
        m->response.iov_len = 2;
        return 0;
    }
    if (f->mode == 3) {
        m->response.iov_len = BPT_NSM_RESPONSE_MAX + 1;
        return 0;
    }
    struct bpt_sim_nitro_opts o = {.user_data = f->user_data_len ? f->user_data : NULL,
                                   .user_data_len = f->user_data_len,
                                   .nonce = f->nonce_len ? f->nonce : NULL,
                                   .nonce_len = f->nonce_len};
    uint8_t *doc = NULL;
    size_t n = 0;
    assert_ok(bpt_sim_aws_nitro_build(&doc, &n, f->sim, &o));
    inner = cbor_new_definite_map(1);
    cbor_map_add(inner, (struct cbor_pair){cbor_move(cbor_build_string("document")),
                                           cbor_move(cbor_build_bytestring(doc, n))});
    r = cbor_new_definite_map(1);
    cbor_map_add(r,
                 (struct cbor_pair){cbor_move(cbor_build_string("Attestation")), cbor_move(inner)});
    reply(m, r);
    bpt_free(doc);
    return 0;
}

static void test_nsm_document_verifies_and_errors_are_named(void **state)
{
    char *root = bpt_test_tmpdir();
    struct bpt_sim_fixture sim;
    struct fake_nsm f = {0};
    struct bpt_dev_ops ops = {fake_open, fake_ioctl, fake_close, &f};
    uint8_t rd[64];
    bpt_report *r = NULL;
    bpt_verify_ctx *ctx = NULL;
    bpt_verified *v = NULL;
    size_t n = 0;
    (void)state;
    for (int i = 0; i < 64; i++) {
        rd[i] = (uint8_t)(i * 3);
    }
    assert_int_equal(bpt_sim_fixture_init(&sim), 0);
    f.sim = sim.dir;
    assert_ok(bpt_attest_hw(&r, rd, root, -1, NULL, NULL, &ops));
    assert_int_equal(f.user_data_len, 64);
    assert_memory_equal(f.user_data, rd, 64);
    assert_int_equal(bpt_report_provider(r), BPT_PROVIDER_AWS_NITRO);
    ctx = bpt_sim_fixture_ctx(&sim, BPT_SIM_NITRO_TIME + 5, NULL);
    assert_non_null(ctx);
    assert_ok(bpt_verify_report(&v, ctx, NULL, r));
    assert_memory_equal(bpt_verified_report_data(v, &n), rd, 64);
    bpt_verified_free(v);
    bpt_report_free(r);
    r = NULL;

    f.mode = 1;
    assert_rc_msg(bpt_attest_hw(&r, rd, root, -1, NULL, NULL, &ops), BPT_EIO, "InvalidArgument");
    f.mode = 2;
    assert_rc_msg(bpt_attest_hw(&r, rd, root, -1, NULL, NULL, &ops), BPT_EMALFORMED,
                  "nsm: response");
    f.mode = 3;
    assert_rc_msg(bpt_attest_hw(&r, rd, root, -1, NULL, NULL, &ops), BPT_EMALFORMED,
                  "response length");
    f.mode = 4;
    assert_rc_msg(bpt_attest_hw(&r, rd, root, -1, NULL, NULL, &ops), BPT_EIO, "request failed");
    assert_null(r);
    bpt_verify_ctx_free(ctx);
    bpt_test_rmtree(root);
    free(root);
    bpt_sim_fixture_dispose(&sim);
}

/* The nonce rule on the hardware path: a nonce goes to the NSM request's nonce field (no
 * user_data), and the document verifies with that nonce expected (issue 12). */
static void test_nsm_nonce_goes_to_the_nonce_field(void **state)
{
    char *root = bpt_test_tmpdir();
    struct bpt_sim_fixture sim;
    struct fake_nsm f = {0};
    struct bpt_dev_ops ops = {fake_open, fake_ioctl, fake_close, &f};
    bpt_report *r = NULL;
    bpt_verify_ctx *ctx = NULL;
    bpt_policy *p = NULL;
    bpt_verified *v = NULL;
    (void)state;
    assert_int_equal(bpt_sim_fixture_init(&sim), 0);
    f.sim = sim.dir;
    assert_ok(bpt_attest_hw_nonce(&r, (const uint8_t *)"n-42", 4, root, -1, NULL, NULL, &ops));
    assert_int_equal(f.nonce_len, 4);
    assert_memory_equal(f.nonce, "n-42", 4);
    assert_int_equal(f.user_data_len, 0);
    ctx = bpt_sim_fixture_ctx(&sim, BPT_SIM_NITRO_TIME + 5, NULL);
    assert_non_null(ctx);
    assert_ok(bpt_policy_new(&p));
    assert_ok(bpt_policy_set_expected_nonce(p, "n-42"));
    assert_ok(bpt_verify_report(&v, ctx, p, r));
    bpt_verified_free(v);
    bpt_policy_free(p);
    bpt_verify_ctx_free(ctx);
    bpt_report_free(r);
    bpt_test_rmtree(root);
    free(root);
    bpt_sim_fixture_dispose(&sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nsm_document_verifies_and_errors_are_named),
        cmocka_unit_test(test_nsm_nonce_goes_to_the_nonce_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
