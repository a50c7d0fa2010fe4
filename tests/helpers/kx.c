#include "helpers/kx.h"

#include "helpers/test.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "core/codec.h"
#include "core/err.h"

int bpt_test_kx_attest(bpt_report **out, const uint8_t report_data[64], void *userdata)
{
    struct bpt_test_kx_attester *fa = userdata;
    fa->calls++;
    memcpy(fa->last_rd, report_data, 64);
    if (fa->fail != 0) {
        return bpt_err(fa->fail, "fake attester: no TEE");
    }
    bpt_report *r = NULL;
    int rc = bpt_report_new(&r, BPT_PROVIDER_AMD_SEV_SNP, BPT_FORMAT_SEV_SNP_REPORT);
    if (rc == 0) {
        rc = bpt_report_set_evidence(r, report_data, 64);
    }
    if (rc < 0) {
        bpt_report_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

void bpt_test_kx_on_secret(const char *sid, const char *name, const bpt_secret *secret, void *u)
{
    struct bpt_test_kx_seen *sn = u;
    assert_int_equal(strlen(sid), 32);
    snprintf(sn->sid, sizeof(sn->sid), "%s", sid);
    snprintf(sn->name, sizeof(sn->name), "%s", name);
    snprintf(sn->value, sizeof(sn->value), "%.*s", (int)bpt_secret_len(secret),
             (const char *)bpt_secret_data(secret));
    sn->calls++;
}

bpt_kx_service *bpt_test_kx_service(int64_t *now, size_t max_sessions, bpt_kx_binding binding,
                                    struct bpt_test_kx_attester *att)
{
    bpt_kx_service *svc = NULL;
    bpt_kx_service_options so = BPT_KX_SERVICE_OPTIONS_INIT;
    so.clock = bpt_clock_fixed(now);
    so.ttl_secs = 60;
    so.max_sessions = max_sessions;
    so.binding = binding;
    if (att != NULL) {
        so.attest = bpt_test_kx_attest;
        so.attest_userdata = att;
    }
    assert_ok(bpt_kx_service_new(&svc, &so));
    return svc;
}

struct bpt_test_kx_server *bpt_test_kx_server_start(size_t max_sessions,
                                                    const bpt_kx_server_options *o)
{
    struct bpt_test_kx_server *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->now = 1700000000;
    f->svc = bpt_test_kx_service(&f->now, max_sessions, BPT_KX_BINDING_SESSION, &f->att);
    assert_ok(bpt_kx_store_new(&f->store));
    bpt_kx_server_options so = *o;
    so.store = f->store;
    so.clock = bpt_clock_fixed(&f->now); /* the rate limit's time is the fixture's */
    assert_ok(bpt_kx_server_start(&f->srv, f->svc, &so));
    f->port = bpt_kx_server_port(f->srv);
    assert_true(f->port != 0);
    snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%u", (unsigned)f->port);
    return f;
}

void bpt_test_kx_server_stop(struct bpt_test_kx_server *f)
{
    bpt_kx_server_stop(f->srv);
    bpt_kx_store_free(f->store);
    bpt_kx_service_free(f->svc);
    free(f);
}

char *bpt_test_kx_secrets_body(const uint8_t pk[32], const uint8_t id[16], const char *name,
                               const char *aad_name, const char *value)
{
    uint8_t enc[32];
    bpt_buf ct;
    char *e64 = NULL, *c64 = NULL;
    bpt_buf_init(&ct, 4096);
    assert_ok(bpt_kx_seal(enc, &ct, pk, id, aad_name, (const uint8_t *)value, strlen(value)));
    assert_ok(bpt_base64_encode(&e64, enc, 32));
    assert_ok(bpt_base64_encode(&c64, ct.data, ct.len));
    json_t *j =
        json_pack("{s:[{s:s,s:s,s:s}]}", "secrets", "name", name, "enc", e64, "ciphertext", c64);
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    bpt_free(e64);
    bpt_free(c64);
    bpt_buf_dispose(&ct);
    assert_non_null(text);
    return text;
}

static json_t *bytes(const uint8_t *p, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(a, json_integer(p[i]));
    }
    return a;
}

char *bpt_test_kx_v0_body(const char *session_id, const uint8_t server_pk[32], const char *msg,
                          bool break_tag)
{
    EVP_PKEY *client = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
    EVP_PKEY *peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, server_pk, 32);
    EVP_PKEY_CTX *d = EVP_PKEY_CTX_new_from_pkey(NULL, client, NULL);
    uint8_t shared[32], key[32], nonce[12], cpub[32], ct[256];
    size_t sl = 32, pl = 32, ml = strlen(msg);
    unsigned kl = 0;
    int outl = 0, fl = 0;
    assert_true(ml + 16 <= sizeof(ct));
    assert_true(EVP_PKEY_derive_init(d) == 1 && EVP_PKEY_derive_set_peer(d, peer) == 1 &&
                EVP_PKEY_derive(d, shared, &sl) == 1);
    assert_true(EVP_Digest(shared, 32, key, &kl, EVP_sha256(), NULL) == 1);
    assert_true(RAND_bytes(nonce, 12) == 1);
    assert_true(EVP_PKEY_get_raw_public_key(client, cpub, &pl) == 1);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    assert_true(EVP_EncryptInit_ex(c, EVP_chacha20_poly1305(), NULL, key, nonce) == 1 &&
                EVP_EncryptUpdate(c, ct, &outl, (const uint8_t *)msg, (int)ml) == 1 &&
                EVP_EncryptFinal_ex(c, ct + outl, &fl) == 1 &&
                EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, ct + ml) == 1);
    if (break_tag) {
        ct[ml + 3] ^= 1;
    }
    json_t *o =
        json_pack("{s:s,s:o,s:o,s:o}", "session_id", session_id, "ciphertext", bytes(ct, ml + 16),
                  "nonce", bytes(nonce, 12), "ephemeral_public_key", bytes(cpub, 32));
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    EVP_CIPHER_CTX_free(c);
    EVP_PKEY_CTX_free(d);
    EVP_PKEY_free(peer);
    EVP_PKEY_free(client);
    assert_non_null(text);
    return text;
}
