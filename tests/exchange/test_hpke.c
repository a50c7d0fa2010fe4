/*
 * HPKE base mode: every RFC 9180 DHKEM(X25519, HKDF-SHA256)/HKDF-SHA256 vector (AES-128-GCM and
 * ChaCha20-Poly1305) through key derivation, key schedule, each encryption and each export;
 * the Wycheproof X25519 cases with an all-zero shared secret refused on both sides; tampered
 * ciphertext, tag, aad and info refused with BPT_EDECRYPT.
 */
#include "helpers/test.h"

#include <jansson.h>
#include <openssl/evp.h>

#include "core/codec.h"
#include "exchange/hpke_internal.h"

static json_t *load_json(const char *rel)
{
    size_t len = 0;
    uint8_t *p = bpt_test_data_read(rel, &len);
    if (p == NULL) {
        return NULL;
    }
    json_error_t jerr;
    json_t *j = json_loadb((const char *)p, len, 0, &jerr);
    free(p);
    assert_non_null(j);
    return j;
}

/* Decode the hex string field @p key of @p obj into a fresh buffer. */
static void hexf(bpt_buf *b, const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    assert_non_null(s);
    bpt_buf_init(b, 1 << 16);
    assert_ok(bpt_hex_decode(b, s, strlen(s), key));
}

static void check_vector(const json_t *v)
{
    bpt_buf info, ikm_e, ikm_r, pk_em, pk_rm, sk_rm, enc, key, nonce, exp_secret;
    hexf(&info, v, "info");
    hexf(&ikm_e, v, "ikmE");
    hexf(&ikm_r, v, "ikmR");
    hexf(&pk_em, v, "pkEm");
    hexf(&pk_rm, v, "pkRm");
    hexf(&sk_rm, v, "skRm");
    hexf(&enc, v, "enc");
    hexf(&key, v, "key");
    hexf(&nonce, v, "base_nonce");
    hexf(&exp_secret, v, "exporter_secret");
    bpt_hpke_aead aead = (bpt_hpke_aead)json_integer_value(json_object_get(v, "aead_id"));

    /* DeriveKeyPair gives the vector's keys. */
    EVP_PKEY *sk_e = NULL, *sk_r = NULL;
    uint8_t pub[32];
    assert_ok(bpt_hpke_derive_keypair(&sk_e, ikm_e.data, ikm_e.len));
    assert_ok(bpt_hpke_derive_keypair(&sk_r, ikm_r.data, ikm_r.len));
    assert_ok(bpt_x25519_public_raw(pub, sk_e));
    assert_memory_equal(pub, pk_em.data, 32);
    assert_ok(bpt_x25519_public_raw(pub, sk_r));
    assert_memory_equal(pub, pk_rm.data, 32);
    uint8_t raw[32];
    size_t raw_len = sizeof(raw);
    assert_int_equal(EVP_PKEY_get_raw_private_key(sk_r, raw, &raw_len), 1);
    assert_memory_equal(raw, sk_rm.data, 32);

    /* Both sides reach the vector's key schedule. */
    bpt_hpke_ctx *s = NULL, *r = NULL;
    uint8_t enc_out[32];
    assert_ok(bpt_hpke_setup_sender_eph(&s, enc_out, aead, pk_rm.data, pk_rm.len, info.data,
                                        info.len, sk_e));
    assert_memory_equal(enc_out, enc.data, 32);
    assert_ok(bpt_hpke_setup_recipient(&r, aead, enc.data, enc.len, sk_r, info.data, info.len));
    bpt_hpke_ctx *both[2] = {s, r};
    for (int i = 0; i < 2; i++) {
        size_t klen = 0;
        const uint8_t *k = bpt_hpke_ctx_key(both[i], &klen);
        assert_int_equal(klen, key.len);
        assert_memory_equal(k, key.data, key.len);
        assert_memory_equal(bpt_hpke_ctx_base_nonce(both[i]), nonce.data, 12);
        assert_memory_equal(bpt_hpke_ctx_exporter_secret(both[i]), exp_secret.data, 32);
    }

    const json_t *encs = json_object_get(v, "encryptions");
    size_t i;
    const json_t *e;
    json_array_foreach(encs, i, e)
    {
        bpt_buf pt, aad, ct, out;
        hexf(&pt, e, "pt");
        hexf(&aad, e, "aad");
        hexf(&ct, e, "ct");
        uint64_t seq = (uint64_t)json_integer_value(json_object_get(e, "sequence_number"));
        bpt_hpke_ctx_set_seq(s, seq);
        bpt_hpke_ctx_set_seq(r, seq);
        bpt_buf_init(&out, 1 << 16);
        assert_ok(bpt_hpke_seal(s, &out, aad.data, aad.len, pt.data, pt.len));
        assert_int_equal(out.len, ct.len);
        assert_memory_equal(out.data, ct.data, ct.len);
        bpt_secret *opened = NULL;
        assert_ok(bpt_hpke_open(&opened, r, aad.data, aad.len, ct.data, ct.len));
        assert_int_equal(bpt_secret_len(opened), pt.len);
        assert_memory_equal(bpt_secret_data(opened), pt.data, pt.len);
        bpt_secret_free(opened);
        bpt_buf_dispose(&pt);
        bpt_buf_dispose(&aad);
        bpt_buf_dispose(&ct);
        bpt_buf_dispose(&out);
    }

    const json_t *exps = json_object_get(v, "exports");
    json_array_foreach(exps, i, e)
    {
        bpt_buf ectx, val;
        hexf(&ectx, e, "exporter_context");
        hexf(&val, e, "exported_value");
        size_t L = (size_t)json_integer_value(json_object_get(e, "L"));
        for (int k = 0; k < 2; k++) {
            bpt_secret *x = NULL;
            assert_ok(bpt_hpke_export(&x, both[k], ectx.data, ectx.len, L));
            assert_int_equal(bpt_secret_len(x), val.len);
            assert_memory_equal(bpt_secret_data(x), val.data, val.len);
            bpt_secret_free(x);
        }
        bpt_buf_dispose(&ectx);
        bpt_buf_dispose(&val);
    }

    bpt_hpke_ctx_free(s);
    bpt_hpke_ctx_free(r);
    EVP_PKEY_free(sk_e);
    EVP_PKEY_free(sk_r);
    bpt_buf *bufs[] = {&info,  &ikm_e, &ikm_r, &pk_em, &pk_rm,
                       &sk_rm, &enc,   &key,   &nonce, &exp_secret};
    for (size_t b = 0; b < sizeof(bufs) / sizeof(bufs[0]); b++) {
        bpt_buf_dispose(bufs[b]);
    }
}

static void test_rfc9180_vectors(void **state)
{
    (void)state;
    json_t *j = load_json("hpke/rfc9180-x25519-sha256-base.json");
    if (j == NULL) {
        skip();
    }
    size_t i;
    json_t *v;
    int seen_gcm = 0, seen_chacha = 0;
    json_array_foreach(j, i, v)
    {
        if (json_integer_value(json_object_get(v, "mode")) != 0 ||
            json_integer_value(json_object_get(v, "kem_id")) != 0x20 ||
            json_integer_value(json_object_get(v, "kdf_id")) != 1) {
            continue;
        }
        json_int_t aead = json_integer_value(json_object_get(v, "aead_id"));
        seen_gcm += aead == 1;
        seen_chacha += aead == 3;
        check_vector(v);
    }
    assert_true(seen_gcm >= 1);
    assert_true(seen_chacha >= 1);
    json_decref(j);
}

/* Wycheproof X25519 cases whose shared secret is all zero: refused as sender and recipient. */
static void test_wycheproof_zero_shared_secret(void **state)
{
    (void)state;
    json_t *j = load_json("wycheproof/x25519_test.json");
    if (j == NULL) {
        skip();
    }
    size_t gi, ti, fi;
    json_t *g, *t, *f;
    int n = 0;
    json_array_foreach(json_object_get(j, "testGroups"), gi, g)
    {
        json_array_foreach(json_object_get(g, "tests"), ti, t)
        {
            bool zero = false;
            json_array_foreach(json_object_get(t, "flags"), fi, f)
            {
                zero |= strcmp(json_string_value(f), "ZeroSharedSecret") == 0;
            }
            if (!zero) {
                continue;
            }
            bpt_buf pub, priv;
            hexf(&pub, t, "public");
            hexf(&priv, t, "private");
            EVP_PKEY *sk = NULL;
            assert_ok(bpt_x25519_from_private(&sk, priv.data, priv.len));
            bpt_hpke_ctx *ctx = NULL;
            uint8_t enc[32];
            assert_rc_msg(bpt_hpke_setup_sender(&ctx, enc, BPT_HPKE_AEAD_CHACHA20_POLY1305,
                                                pub.data, pub.len, NULL, 0),
                          BPT_EINVAL, "all-zero");
            assert_null(ctx);
            assert_rc_msg(bpt_hpke_setup_recipient(&ctx, BPT_HPKE_AEAD_CHACHA20_POLY1305, pub.data,
                                                   pub.len, sk, NULL, 0),
                          BPT_EDECRYPT, "all-zero");
            assert_null(ctx);
            EVP_PKEY_free(sk);
            bpt_buf_dispose(&pub);
            bpt_buf_dispose(&priv);
            n++;
        }
    }
    assert_true(n > 0);
    json_decref(j);
}

struct sealed {
    EVP_PKEY *sk;
    uint8_t pk[32];
    uint8_t enc[32];
    bpt_buf ct;
};

static const uint8_t INFO[] = "blueprint-tee/v1 test";
static const uint8_t AAD[] = "name";
static const uint8_t PT[] = "the secret";

static void seal_one(struct sealed *s, bpt_hpke_aead aead)
{
    assert_ok(bpt_x25519_generate(&s->sk));
    assert_ok(bpt_x25519_public_raw(s->pk, s->sk));
    bpt_hpke_ctx *ctx = NULL;
    assert_ok(bpt_hpke_setup_sender(&ctx, s->enc, aead, s->pk, 32, INFO, sizeof(INFO) - 1));
    bpt_buf_init(&s->ct, 4096);
    assert_ok(bpt_hpke_seal(ctx, &s->ct, AAD, sizeof(AAD) - 1, PT, sizeof(PT) - 1));
    bpt_hpke_ctx_free(ctx);
}

static int open_with(const struct sealed *s, bpt_hpke_aead aead, const uint8_t *enc,
                     const uint8_t *info, size_t info_len, const uint8_t *aad, size_t aad_len,
                     const uint8_t *ct, size_t ct_len)
{
    bpt_hpke_ctx *ctx = NULL;
    bpt_secret *pt = NULL;
    int rc = bpt_hpke_setup_recipient(&ctx, aead, enc, 32, s->sk, info, info_len);
    if (rc == 0) {
        rc = bpt_hpke_open(&pt, ctx, aad, aad_len, ct, ct_len);
        if (rc == 0) {
            assert_int_equal(bpt_secret_len(pt), sizeof(PT) - 1);
            assert_memory_equal(bpt_secret_data(pt), PT, sizeof(PT) - 1);
        } else {
            assert_null(pt);
        }
    }
    bpt_secret_free(pt);
    bpt_hpke_ctx_free(ctx);
    return rc;
}

static void test_tampering(void **state)
{
    (void)state;
    static const bpt_hpke_aead aeads[] = {BPT_HPKE_AEAD_CHACHA20_POLY1305,
                                          BPT_HPKE_AEAD_AES_128_GCM};
    for (size_t a = 0; a < 2; a++) {
        struct sealed s;
        seal_one(&s, aeads[a]);
        const uint8_t *info = INFO;
        size_t il = sizeof(INFO) - 1, al = sizeof(AAD) - 1;
        assert_ok(open_with(&s, aeads[a], s.enc, info, il, AAD, al, s.ct.data, s.ct.len));

        uint8_t *ct = malloc(s.ct.len);
        assert_non_null(ct);
        /* every ciphertext byte and every tag byte */
        for (size_t i = 0; i < s.ct.len; i++) {
            memcpy(ct, s.ct.data, s.ct.len);
            ct[i] ^= 0x01;
            assert_rc_msg(open_with(&s, aeads[a], s.enc, info, il, AAD, al, ct, s.ct.len),
                          BPT_EDECRYPT, "authentication failed");
        }
        /* truncated: one byte short, and shorter than a tag */
        assert_rc_msg(open_with(&s, aeads[a], s.enc, info, il, AAD, al, s.ct.data, s.ct.len - 1),
                      BPT_EDECRYPT, "authentication failed");
        assert_rc_msg(open_with(&s, aeads[a], s.enc, info, il, AAD, al, s.ct.data, 15),
                      BPT_EDECRYPT, "shorter than the tag");
        /* aad, info, enc and AEAD changed */
        assert_rc_msg(open_with(&s, aeads[a], s.enc, info, il, (const uint8_t *)"nama", al,
                                s.ct.data, s.ct.len),
                      BPT_EDECRYPT, "authentication failed");
        assert_rc_msg(open_with(&s, aeads[a], s.enc, info, il, NULL, 0, s.ct.data, s.ct.len),
                      BPT_EDECRYPT, "authentication failed");
        assert_rc_msg(open_with(&s, aeads[a], s.enc, info, il - 1, AAD, al, s.ct.data, s.ct.len),
                      BPT_EDECRYPT, "authentication failed");
        uint8_t enc2[32];
        memcpy(enc2, s.enc, 32);
        enc2[3] ^= 0x40;
        assert_rc_msg(open_with(&s, aeads[a], enc2, info, il, AAD, al, s.ct.data, s.ct.len),
                      BPT_EDECRYPT, "authentication failed");
        assert_rc_msg(open_with(&s, aeads[1 - a], s.enc, info, il, AAD, al, s.ct.data, s.ct.len),
                      BPT_EDECRYPT, "authentication failed");
        free(ct);
        bpt_buf_dispose(&s.ct);
        EVP_PKEY_free(s.sk);
    }
}

static void test_sequence_and_roles(void **state)
{
    (void)state;
    EVP_PKEY *sk = NULL;
    uint8_t pk[32], enc[32];
    assert_ok(bpt_x25519_generate(&sk));
    assert_ok(bpt_x25519_public_raw(pk, sk));
    bpt_hpke_ctx *s = NULL, *r = NULL;
    assert_ok(bpt_hpke_setup_sender(&s, enc, BPT_HPKE_AEAD_CHACHA20_POLY1305, pk, 32, NULL, 0));
    assert_ok(bpt_hpke_setup_recipient(&r, BPT_HPKE_AEAD_CHACHA20_POLY1305, enc, 32, sk, NULL, 0));
    bpt_buf c0, c1;
    bpt_buf_init(&c0, 1024);
    bpt_buf_init(&c1, 1024);
    assert_ok(bpt_hpke_seal(s, &c0, NULL, 0, PT, sizeof(PT) - 1));
    assert_ok(bpt_hpke_seal(s, &c1, NULL, 0, PT, sizeof(PT) - 1));
    assert_true(memcmp(c0.data, c1.data, c0.len) != 0);
    bpt_secret *pt = NULL;
    /* out of order: message 1 at sequence 0 fails and does not advance */
    assert_rc_msg(bpt_hpke_open(&pt, r, NULL, 0, c1.data, c1.len), BPT_EDECRYPT, "tag");
    assert_ok(bpt_hpke_open(&pt, r, NULL, 0, c0.data, c0.len));
    bpt_secret_free(pt);
    assert_ok(bpt_hpke_open(&pt, r, NULL, 0, c1.data, c1.len));
    bpt_secret_free(pt);
    /* roles */
    assert_rc_msg(bpt_hpke_seal(r, &c0, NULL, 0, PT, 1), BPT_EINVAL, "recipient context");
    assert_rc_msg(bpt_hpke_open(&pt, s, NULL, 0, c0.data, c0.len), BPT_EINVAL, "sender context");
    /* exhausted sequence number */
    bpt_hpke_ctx_set_seq(s, UINT64_MAX);
    assert_rc_msg(bpt_hpke_seal(s, &c0, NULL, 0, PT, 1), BPT_ELIMIT, "sequence");
    /* export limits */
    bpt_secret *x = NULL;
    assert_rc_msg(bpt_hpke_export(&x, s, NULL, 0, 0), BPT_EINVAL, "export length");
    assert_rc_msg(bpt_hpke_export(&x, s, NULL, 0, BPT_HPKE_EXPORT_MAX + 1), BPT_EINVAL,
                  "export length");
    assert_ok(bpt_hpke_export(&x, s, NULL, 0, BPT_HPKE_EXPORT_MAX));
    bpt_secret *y = NULL;
    assert_ok(bpt_hpke_export(&y, r, NULL, 0, BPT_HPKE_EXPORT_MAX));
    assert_true(bpt_secret_equal(x, y));
    bpt_secret_free(x);
    bpt_secret_free(y);
    /* bad arguments */
    bpt_hpke_ctx *bad = NULL;
    assert_rc_msg(bpt_hpke_setup_sender(&bad, enc, (bpt_hpke_aead)2, pk, 32, NULL, 0), BPT_EINVAL,
                  "AEAD id 0x0002");
    assert_rc_msg(bpt_hpke_setup_sender(&bad, enc, BPT_HPKE_AEAD_AES_128_GCM, pk, 31, NULL, 0),
                  BPT_EINVAL, "31 bytes");
    assert_rc_msg(bpt_hpke_setup_recipient(&bad, BPT_HPKE_AEAD_AES_128_GCM, enc, 33, sk, NULL, 0),
                  BPT_EDECRYPT, "enc is 33 bytes");
    assert_null(bad);
    bpt_buf_dispose(&c0);
    bpt_buf_dispose(&c1);
    bpt_hpke_ctx_free(s);
    bpt_hpke_ctx_free(r);
    bpt_hpke_ctx_free(NULL);
    EVP_PKEY_free(sk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc9180_vectors),
        cmocka_unit_test(test_wycheproof_zero_shared_secret),
        cmocka_unit_test(test_tampering),
        cmocka_unit_test(test_sequence_and_roles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
