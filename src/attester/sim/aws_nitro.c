#include "attester/sim/aws_nitro.h"
#include "attester/sim/x509.h"

#include <blueprint-tee/buf.h>

#include "core/err.h"
#include "core/limits.h"
#include "core/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cbor.h>
#include <openssl/bn.h>
#include <openssl/ec.h>

static int save(const char *sub, const char *name, X509 *cert, EVP_PKEY *key)
{
    char path[4096], kname[64];
    int rc;
    BPT_CHECK(bpt_sim_path(path, sizeof(path), sub, name));
    BPT_CHECK(bpt_sim_write_cert(path, cert));
    snprintf(kname, sizeof(kname), "%.40s-key", name);
    BPT_CHECK(bpt_sim_path(path, sizeof(path), sub, kname));
    BPT_CHECK(bpt_sim_write_key(path, key));
out:
    return rc;
}

int bpt_sim_aws_nitro_init(const char *dir)
{
    char sub[4096], path[4096];
    EVP_PKEY *rk = NULL, *ik = NULL, *lk = NULL, *lrk = NULL, *nk = NULL;
    X509 *root = NULL, *inter = NULL, *leaf = NULL, *leaf_r = NULL, *nonca = NULL, *leaf_n = NULL;
    int rc;

    BPT_CHECK(bpt_sim_path(sub, sizeof(sub), dir, "aws-nitro"));
    if (mkdir(sub, 0700) != 0 && errno != EEXIST) {
        rc = bpt_err(BPT_EIO, "sim: cannot create %s: %s", sub, strerror(errno));
        goto out;
    }
    BPT_CHECK(bpt_sim_keygen(&rk, "P-384"));
    BPT_CHECK(bpt_sim_keygen(&ik, "P-384"));
    BPT_CHECK(bpt_sim_keygen(&lk, "P-384"));
    BPT_CHECK(bpt_sim_keygen(&nk, "P-384"));
    BPT_CHECK(bpt_sim_make_cert(&root, rk, "aws.nitro-enclaves", NULL, NULL, 2,
                                BPT_SIM_SIG_ECDSA_SHA384, 1, NULL, NULL));
    BPT_CHECK(bpt_sim_make_cert(&inter, ik, "sim.zonal.aws.nitro-enclaves", root, rk, 1,
                                BPT_SIM_SIG_ECDSA_SHA384, 2, NULL, NULL));
    BPT_CHECK(bpt_sim_make_cert(&leaf, lk, "i-sim-enc.aws", inter, ik, -1, BPT_SIM_SIG_ECDSA_SHA384,
                                3, NULL, NULL));
    /* For the refusal tests: a leaf the root signed directly (the bundle then does not link),
     * and a non-CA certificate with a leaf under it. */
    BPT_CHECK(bpt_sim_make_cert(&leaf_r, lk, "i-sim-enc.aws", root, rk, -1,
                                BPT_SIM_SIG_ECDSA_SHA384, 4, NULL, NULL));
    BPT_CHECK(bpt_sim_make_cert(&nonca, nk, "sim.not-a-ca", root, rk, -1, BPT_SIM_SIG_ECDSA_SHA384,
                                5, NULL, NULL));
    BPT_CHECK(bpt_sim_make_cert(&leaf_n, lk, "i-sim-enc.aws", nonca, nk, -1,
                                BPT_SIM_SIG_ECDSA_SHA384, 6, NULL, NULL));
    BPT_CHECK(save(sub, "root.pem", root, rk));
    BPT_CHECK(save(sub, "intermediate.pem", inter, ik));
    BPT_CHECK(save(sub, "leaf.pem", leaf, lk));
    BPT_CHECK(bpt_sim_path(path, sizeof(path), sub, "leaf-from-root.pem"));
    BPT_CHECK(bpt_sim_write_cert(path, leaf_r));
    BPT_CHECK(bpt_sim_path(path, sizeof(path), sub, "not-a-ca.pem"));
    BPT_CHECK(bpt_sim_write_cert(path, nonca));
    BPT_CHECK(bpt_sim_path(path, sizeof(path), sub, "leaf-under-not-a-ca.pem"));
    BPT_CHECK(bpt_sim_write_cert(path, leaf_n));
    rc = 0;
out:
    X509_free(root);
    X509_free(inter);
    X509_free(leaf);
    X509_free(leaf_r);
    X509_free(nonca);
    X509_free(leaf_n);
    EVP_PKEY_free(rk);
    EVP_PKEY_free(ik);
    EVP_PKEY_free(lk);
    EVP_PKEY_free(lrk);
    EVP_PKEY_free(nk);
    return rc;
}

static int der_of(uint8_t **der, size_t *len, const char *sub, const char *name)
{
    char path[4096];
    X509 *c = NULL;
    unsigned char *p = NULL;
    int n, rc;
    *der = NULL;
    BPT_CHECK(bpt_sim_path(path, sizeof(path), sub, name));
    BPT_CHECK(bpt_sim_read_cert(&c, path));
    n = i2d_X509(c, &p);
    X509_free(c);
    if (n <= 0) {
        return bpt_err_ossl(BPT_ERROR, "sim: DER of %s", name);
    }
    *der = p;
    *len = (size_t)n;
    rc = 0;
out:
    return rc;
}

static bool add(cbor_item_t *map, const char *key, cbor_item_t *value)
{
    bool ok =
        value && cbor_map_add(map, (struct cbor_pair){.key = cbor_move(cbor_build_string(key)),
                                                      .value = cbor_move(value)});
    return ok;
}

int bpt_sim_aws_nitro_build(uint8_t **ev, size_t *ev_len, const char *dir,
                            const struct bpt_sim_nitro_opts *o)
{
    char sub[4096], path[4096];
    uint8_t *root = NULL, *inter = NULL, *leaf = NULL, *payload = NULL, *prot = NULL, *tbs = NULL,
            *big = NULL;
    size_t root_len = 0, inter_len = 0, leaf_len = 0, payload_len = 0, prot_len = 0;
    cbor_item_t *doc = NULL, *pcrs = NULL, *bundle = NULL, *ph = NULL, *cose = NULL;
    EVP_PKEY *key = NULL;
    size_t tbs_len = 0;
    uint8_t rs[96];
    const char *leaf_name = o->leaf_from_root        ? "leaf-from-root.pem"
                            : o->non_ca_intermediate ? "leaf-under-not-a-ca.pem"
                                                     : "leaf.pem";
    int rc = BPT_ERROR;

    *ev = NULL;
    BPT_CHECK(bpt_sim_path(sub, sizeof(sub), dir, "aws-nitro"));
    BPT_CHECK(der_of(&root, &root_len, sub, "root.pem"));
    BPT_CHECK(der_of(&inter, &inter_len, sub,
                     o->non_ca_intermediate ? "not-a-ca.pem" : "intermediate.pem"));
    BPT_CHECK(der_of(&leaf, &leaf_len, sub, leaf_name));

    doc = cbor_new_definite_map(12);
    pcrs = cbor_new_definite_map(16);
    bundle = cbor_new_definite_array(2);
    if (!doc || !pcrs || !bundle) {
        rc = bpt_err_nomem("sim document");
        goto out;
    }
    for (uint8_t i = 0; i < 16; i++) {
        uint8_t v[48];
        memset(v, (o->debug && i < 3) ? 0 : 0x10 + i, sizeof(v));
        if (!cbor_map_add(pcrs, (struct cbor_pair){
                                    .key = cbor_move(cbor_build_uint8(i)),
                                    .value = cbor_move(cbor_build_bytestring(v, sizeof(v)))})) {
            rc = bpt_err_nomem("sim pcrs");
            goto out;
        }
    }
    cbor_array_push(bundle,
                    cbor_move(cbor_build_bytestring(o->bundle_reversed ? inter : root,
                                                    o->bundle_reversed ? inter_len : root_len)));
    cbor_array_push(bundle,
                    cbor_move(cbor_build_bytestring(o->bundle_reversed ? root : inter,
                                                    o->bundle_reversed ? root_len : inter_len)));
    if (o->oversized_user_data) {
        big = calloc(1, o->oversized_user_data);
    }
    if (!add(doc, "module_id", cbor_build_string("i-sim-enc")) ||
        !add(doc, "digest", cbor_build_string("SHA384")) ||
        (o->duplicate_key && !add(doc, "digest", cbor_build_string("SHA384"))) ||
        !add(doc, "timestamp",
             cbor_build_uint64(o->timestamp_ms ? o->timestamp_ms
                                               : (uint64_t)BPT_SIM_NITRO_TIME * 1000)) ||
        !add(doc, "pcrs", cbor_incref(pcrs)) ||
        !add(doc, "certificate", cbor_build_bytestring(leaf, leaf_len)) ||
        !add(doc, "cabundle", cbor_incref(bundle)) ||
        !add(doc, "public_key",
             o->public_key ? cbor_build_bytestring(o->public_key, o->public_key_len)
                           : cbor_new_null()) ||
        !add(doc, "user_data",
             big            ? cbor_build_bytestring(big, o->oversized_user_data)
             : o->user_data ? cbor_build_bytestring(o->user_data, o->user_data_len)
                            : cbor_new_null()) ||
        !add(doc, "nonce",
             o->nonce ? cbor_build_bytestring(o->nonce, o->nonce_len) : cbor_new_null())) {
        rc = bpt_err_nomem("sim document");
        goto out;
    }
    /* cbor_serialize_alloc returns the bytes written; its out-parameter is the allocation. */
    size_t alloc = 0;
    if (!(payload_len = cbor_serialize_alloc(doc, &payload, &alloc))) {
        rc = bpt_err_nomem("sim payload");
        goto out;
    }
    ph = cbor_new_definite_map(1);
    if (!ph ||
        !cbor_map_add(ph, (struct cbor_pair){.key = cbor_move(cbor_build_uint8(1)),
                                             .value = cbor_move(cbor_build_negint8(
                                                 (uint8_t)(-1 - (o->alg ? o->alg : -35))))}) ||
        !(prot_len = cbor_serialize_alloc(ph, &prot, &alloc))) {
        rc = bpt_err_nomem("sim protected header");
        goto out;
    }
    {
        /* Sig_structure: ["Signature1", protected, h'', payload] */
        cbor_item_t *s = cbor_new_definite_array(4);
        size_t sl = 0;
        cbor_array_push(s, cbor_move(cbor_build_string("Signature1")));
        cbor_array_push(s, cbor_move(cbor_build_bytestring(prot, prot_len)));
        cbor_array_push(s, cbor_move(cbor_build_bytestring(NULL, 0)));
        cbor_array_push(s, cbor_move(cbor_build_bytestring(payload, payload_len)));
        if (!(sl = cbor_serialize_alloc(s, &tbs, &alloc))) {
            cbor_decref(&s);
            rc = bpt_err_nomem("sim sig structure");
            goto out;
        }
        tbs_len = sl;
        cbor_decref(&s);
    }
    BPT_CHECK(bpt_sim_path(path, sizeof(path), sub, "leaf.pem-key"));
    BPT_CHECK(bpt_sim_read_key(&key, path));
    BPT_CHECK(bpt_sim_sign_rs(rs, 48, false, key, tbs, tbs_len));
    cose = cbor_new_definite_array(4);
    cbor_array_push(cose, cbor_move(cbor_build_bytestring(prot, prot_len)));
    cbor_array_push(cose, cbor_move(cbor_new_definite_map(0)));
    cbor_array_push(cose, cbor_move(cbor_build_bytestring(payload, payload_len)));
    cbor_array_push(cose, cbor_move(cbor_build_bytestring(rs, sizeof(rs))));
    {
        cbor_item_t *tagged = cbor_new_tag(18);
        size_t n = 0;
        cbor_tag_set_item(tagged, cose);
        if (!(n = cbor_serialize_alloc(tagged, ev, &alloc))) {
            cbor_decref(&tagged);
            rc = bpt_err_nomem("sim COSE");
            goto out;
        }
        *ev_len = n;
        cbor_decref(&tagged);
    }
    rc = 0;
out:
    if (cose) {
        cbor_decref(&cose);
    }
    if (doc) {
        cbor_decref(&doc);
    }
    if (pcrs) {
        cbor_decref(&pcrs);
    }
    if (bundle) {
        cbor_decref(&bundle);
    }
    if (ph) {
        cbor_decref(&ph);
    }
    EVP_PKEY_free(key);
    free(big);
    free(tbs);
    free(prot);
    free(payload);
    OPENSSL_free(root);
    OPENSSL_free(inter);
    OPENSSL_free(leaf);
    return rc;
}
