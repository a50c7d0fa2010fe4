/*
 * AMD SEV-SNP report parsing and verification (SEV-SNP firmware ABI "ATTESTATION_REPORT";
 * AMD "Versioned Chip Endorsement Key (VCEK) Certificate and KDS Interface Specification").
 */
#include <blueprint-tee/secret.h>
#include <blueprint-tee/sev_snp.h>

#include "attestation/collateral/amd_crl.h"
#include "attestation/collateral/kds.h"
#include "attestation/context_internal.h"
#include "attestation/evidence_internal.h"
#include "attestation/model_internal.h"
#include "attestation/pki/chain_cache.h"
#include "attestation/pki/pki.h"
#include "attestation/policy_internal.h"
#include "attestation/providers/providers.h"
#include "attestation/verified_internal.h"
#include "attestation/providers/sev_snp_internal.h"

#include "core/codec.h"
#include "core/err.h"
#include "core/json.h"
#include "core/reader.h"
#include "core/util.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

const char *bpt_snp_product_name(bpt_snp_product p)
{
    switch (p) {
    case BPT_SNP_MILAN:
        return "Milan";
    case BPT_SNP_GENOA:
        return "Genoa";
    case BPT_SNP_TURIN:
        return "Turin";
    default:
        return "unknown";
    }
}

bpt_snp_tcb bpt_sev_snp_tcb_decode(uint64_t raw, bpt_snp_product product)
{
    bpt_snp_tcb t = {0};
    uint8_t b[8];
    for (int i = 0; i < 8; i++) {
        b[i] = (uint8_t)(raw >> (8 * i));
    }
    if (product == BPT_SNP_TURIN) {
        t.fmc = b[0];
        t.bootloader = b[1];
        t.tee = b[2];
        t.snp = b[3];
    } else {
        t.bootloader = b[0];
        t.tee = b[1];
        t.snp = b[6];
    }
    t.microcode = b[7];
    return t;
}

/* CPUID family/model of version 3+ reports to the product. */
static bpt_snp_product product_from_cpuid(uint8_t fam, uint8_t model)
{
    if (fam == 0x19 && model <= 0x0F) {
        return BPT_SNP_MILAN;
    }
    if (fam == 0x19 && model >= 0x10 && model <= 0x1F) {
        return BPT_SNP_GENOA;
    }
    if (fam == 0x1A) {
        return BPT_SNP_TURIN;
    }
    return BPT_SNP_PRODUCT_UNKNOWN;
}

/* The first version of bpt_snp_report: a caller's size may never be smaller. */
#define SNP_REPORT_V1_SIZE offsetof(bpt_snp_report, launch_mit_vector)

static int snp_parse(bpt_snp_report *rep, const uint8_t *ev, size_t len);

int bpt_sev_snp_parse(bpt_snp_report *out, const uint8_t *ev, size_t len)
{
    bpt_snp_report full = BPT_SNP_REPORT_INIT;
    int rc = bpt_sized_check(out, SNP_REPORT_V1_SIZE, "bpt_snp_report");
    if (rc == 0) {
        rc = snp_parse(&full, ev, len);
        bpt_sized_out(out, &full, sizeof(full));
    }
    return rc;
}

static int snp_parse(bpt_snp_report *rep, const uint8_t *ev, size_t len)
{
    struct bpt_reader r;
    int rc;

    if (!ev || len != BPT_SNP_REPORT_SIZE) {
        return bpt_err(BPT_EMALFORMED, "sev_snp: report is %zu bytes, expected %d", ev ? len : 0,
                       BPT_SNP_REPORT_SIZE);
    }
    bpt_reader_init(&r, ev, len, "sev_snp");
    BPT_CHECK(bpt_reader_u32le(&r, &rep->version, "version"));
    if (rep->version < 2) {
        return bpt_err(BPT_EMALFORMED,
                       "sev_snp: report version %u unsupported (expected 2 or "
                       "later)",
                       rep->version);
    }
    /* Reserved regions per the SEV-SNP ABI's ATTESTATION_REPORT (versions 2..5; a later
     * version is read as 5): each must be zero, named by its offsets when it is not. */
    BPT_CHECK(bpt_reader_u32le(&r, &rep->guest_svn, "guest_svn"));
    BPT_CHECK(bpt_reader_u64le(&r, &rep->policy, "policy"));
    BPT_CHECK(bpt_reader_copy(&r, rep->family_id, 16, "family_id"));
    BPT_CHECK(bpt_reader_copy(&r, rep->image_id, 16, "image_id"));
    BPT_CHECK(bpt_reader_u32le(&r, &rep->vmpl, "vmpl"));
    BPT_CHECK(bpt_reader_u32le(&r, &rep->signature_algo, "signature_algo"));
    BPT_CHECK(bpt_reader_u64le(&r, &rep->current_tcb, "current_tcb"));
    BPT_CHECK(bpt_reader_u64le(&r, &rep->platform_info, "platform_info"));
    BPT_CHECK(bpt_reader_u32le(&r, &rep->key_info, "key_info"));
    if (rep->key_info >> 5) {
        return bpt_err(BPT_EMALFORMED,
                       "sev_snp: reserved bits 31:5 of key_info (0x048) are not zero: 0x%08x",
                       rep->key_info);
    }
    BPT_CHECK(bpt_reader_zeros(&r, 4, "0x04C-0x04F"));
    BPT_CHECK(bpt_reader_copy(&r, rep->report_data, 64, "report_data"));
    BPT_CHECK(bpt_reader_copy(&r, rep->measurement, 48, "measurement"));
    BPT_CHECK(bpt_reader_copy(&r, rep->host_data, 32, "host_data"));
    BPT_CHECK(bpt_reader_copy(&r, rep->id_key_digest, 48, "id_key_digest"));
    BPT_CHECK(bpt_reader_copy(&r, rep->author_key_digest, 48, "author_key_digest"));
    BPT_CHECK(bpt_reader_copy(&r, rep->report_id, 32, "report_id"));
    BPT_CHECK(bpt_reader_copy(&r, rep->report_id_ma, 32, "report_id_ma"));
    BPT_CHECK(bpt_reader_u64le(&r, &rep->reported_tcb, "reported_tcb"));
    if (rep->version >= 3) {
        BPT_CHECK(bpt_reader_u8(&r, &rep->cpuid_fam_id, "cpuid_fam_id"));
        BPT_CHECK(bpt_reader_u8(&r, &rep->cpuid_mod_id, "cpuid_mod_id"));
        BPT_CHECK(bpt_reader_u8(&r, &rep->cpuid_step, "cpuid_step"));
        BPT_CHECK(bpt_reader_zeros(&r, 0x1A0 - 0x18B, "0x18B-0x19F"));
    } else {
        rep->cpuid_fam_id = rep->cpuid_mod_id = rep->cpuid_step = 0;
        BPT_CHECK(bpt_reader_zeros(&r, 0x1A0 - 0x188, "0x188-0x19F (a version 2 report)"));
    }
    BPT_CHECK(bpt_reader_copy(&r, rep->chip_id, 64, "chip_id"));
    BPT_CHECK(bpt_reader_u64le(&r, &rep->committed_tcb, "committed_tcb"));
    BPT_CHECK(bpt_reader_u8(&r, &rep->current_build, "current_build"));
    BPT_CHECK(bpt_reader_u8(&r, &rep->current_minor, "current_minor"));
    BPT_CHECK(bpt_reader_u8(&r, &rep->current_major, "current_major"));
    BPT_CHECK(bpt_reader_zeros(&r, 1, "0x1EB"));
    BPT_CHECK(bpt_reader_u8(&r, &rep->committed_build, "committed_build"));
    BPT_CHECK(bpt_reader_u8(&r, &rep->committed_minor, "committed_minor"));
    BPT_CHECK(bpt_reader_u8(&r, &rep->committed_major, "committed_major"));
    BPT_CHECK(bpt_reader_zeros(&r, 1, "0x1EF"));
    BPT_CHECK(bpt_reader_u64le(&r, &rep->launch_tcb, "launch_tcb"));
    if (rep->version >= 5) {
        BPT_CHECK(bpt_reader_u64le(&r, &rep->launch_mit_vector, "launch_mit_vector"));
        BPT_CHECK(bpt_reader_u64le(&r, &rep->current_mit_vector, "current_mit_vector"));
        BPT_CHECK(bpt_reader_zeros(&r, BPT_SNP_SIGNED_SIZE - 0x208, "0x208-0x29F"));
    } else {
        rep->launch_mit_vector = rep->current_mit_vector = 0;
        BPT_CHECK(bpt_reader_zeros(&r, BPT_SNP_SIGNED_SIZE - 0x1F8,
                                   "0x1F8-0x29F (a version 2-4 report)"));
    }
    BPT_CHECK(bpt_reader_copy(&r, rep->sig_r, 72, "signature r"));
    BPT_CHECK(bpt_reader_copy(&r, rep->sig_s, 72, "signature s"));
    /* Unsigned: without this check each of these bytes could change the evidence's hash
     * while it still verifies. */
    BPT_CHECK(bpt_reader_zeros(&r, BPT_SNP_REPORT_SIZE - BPT_SNP_SIGNED_SIZE - 144,
                               "0x330-0x49F (signature, after r and s)"));
    BPT_CHECK(bpt_reader_end(&r, "sev_snp report"));

    rep->abi_minor = (uint8_t)(rep->policy & 0xFF);
    rep->abi_major = (uint8_t)(rep->policy >> 8 & 0xFF);
    rep->policy_smt = rep->policy >> 16 & 1;
    rep->policy_migrate_ma = rep->policy >> 18 & 1;
    rep->policy_debug = rep->policy >> 19 & 1;
    rep->policy_single_socket = rep->policy >> 20 & 1;
    rep->policy_cxl = rep->policy >> 21 & 1;
    rep->policy_aes_256_xts = rep->policy >> 22 & 1;
    rep->policy_rapl_dis = rep->policy >> 23 & 1;
    rep->policy_ciphertext_hiding = rep->policy >> 24 & 1;
    rep->policy_page_swap_disable = rep->policy >> 25 & 1;
    rep->author_key_en = rep->key_info & 1;
    rep->mask_chip_key = rep->key_info >> 1 & 1;
    rep->signing_key = (bpt_snp_signing_key)(rep->key_info >> 2 & 7);
    rep->cpuid_product = rep->version >= 3
                             ? product_from_cpuid(rep->cpuid_fam_id, rep->cpuid_mod_id)
                             : BPT_SNP_PRODUCT_UNKNOWN;
    rc = 0;
out:
    return rc;
}

/* ---- VCEK/VLEK certificate extensions ---------------------------------------------------- */

#define AMD_OID_PREFIX "1.3.6.1.4.1.3704.1."

int bpt_snp_vek_extensions(struct bpt_snp_vek_ext *out, X509 *cert)
{
    int n = X509_get_ext_count(cert);

    memset(out, 0, sizeof(*out));
    for (int i = 0; i < n; i++) {
        X509_EXTENSION *ext = X509_get_ext(cert, i);
        ASN1_OBJECT *obj = X509_EXTENSION_get_object(ext);
        ASN1_OCTET_STRING *data = X509_EXTENSION_get_data(ext);
        const unsigned char *p = ASN1_STRING_get0_data(data);
        long len = ASN1_STRING_length(data);
        char oid[64];
        const char *tail;

        if (OBJ_obj2txt(oid, sizeof(oid), obj, 1) <= 0 ||
            strncmp(oid, AMD_OID_PREFIX, strlen(AMD_OID_PREFIX)) != 0) {
            continue;
        }
        tail = oid + strlen(AMD_OID_PREFIX);
        if (strcmp(tail, "4") == 0) { /* hwID: OCTET STRING of 64 bytes (raw or wrapped) */
            ASN1_OCTET_STRING *os = NULL;
            const unsigned char *q = p;
            if (len == 64) {
                memcpy(out->hwid, p, 64);
            } else if ((os = d2i_ASN1_OCTET_STRING(NULL, &q, len)) != NULL &&
                       ASN1_STRING_length(os) == 64 && q == p + len) {
                memcpy(out->hwid, ASN1_STRING_get0_data(os), 64);
            } else {
                ASN1_OCTET_STRING_free(os);
                return bpt_err(BPT_EMALFORMED, "sev_snp: VCEK hwID extension is not 64 bytes");
            }
            ASN1_OCTET_STRING_free(os);
            out->has_hwid = true;
        } else if (strcmp(tail, "2") == 0) { /* productName: IA5String "Milan-B0" */
            ASN1_IA5STRING *s = NULL;
            const unsigned char *q = p;
            size_t sl;
            s = d2i_ASN1_IA5STRING(NULL, &q, len);
            if (!s || q != p + len || (sl = (size_t)ASN1_STRING_length(s)) == 0 ||
                sl >= sizeof(out->product_name)) {
                ASN1_IA5STRING_free(s);
                return bpt_err(BPT_EMALFORMED, "sev_snp: VCEK productName extension malformed");
            }
            memcpy(out->product_name, ASN1_STRING_get0_data(s), sl);
            out->product_name[sl] = '\0';
            ASN1_IA5STRING_free(s);
        } else if (strncmp(tail, "3.", 2) == 0) { /* TCB SPLs: INTEGER 0..255 */
            long comp = strtol(tail + 2, NULL, 10);
            ASN1_INTEGER *ai = NULL;
            const unsigned char *q = p;
            int64_t v = -1;
            ai = d2i_ASN1_INTEGER(NULL, &q, len);
            if (!ai || q != p + len || ASN1_INTEGER_get_int64(&v, ai) != 1 || v < 0 || v > 255) {
                ASN1_INTEGER_free(ai);
                return bpt_err(BPT_EMALFORMED,
                               "sev_snp: VCEK TCB extension %s is not an integer 0..255", oid);
            }
            ASN1_INTEGER_free(ai);
            switch (comp) {
            case 1:
                out->bl = (int)v;
                out->has_bl = true;
                break;
            case 2:
                out->tee = (int)v;
                out->has_tee = true;
                break;
            case 3:
                out->snp = (int)v;
                out->has_snp = true;
                break;
            case 8:
                out->ucode = (int)v;
                out->has_ucode = true;
                break;
            case 9:
                out->fmc = (int)v;
                out->has_fmc = true;
                break;
            default:
                break;
            }
        }
    }
    return 0;
}

bpt_snp_product bpt_snp_product_from_name(const char *name)
{
    if (strncmp(name, "Milan", 5) == 0) {
        return BPT_SNP_MILAN;
    }
    if (strncmp(name, "Genoa", 5) == 0) {
        return BPT_SNP_GENOA;
    }
    if (strncmp(name, "Turin", 5) == 0) {
        return BPT_SNP_TURIN;
    }
    return BPT_SNP_PRODUCT_UNKNOWN;
}

static unsigned product_bit(bpt_snp_product p)
{
    switch (p) {
    case BPT_SNP_MILAN:
        return BPT_SNP_PRODUCT_MILAN;
    case BPT_SNP_GENOA:
        return BPT_SNP_PRODUCT_GENOA;
    case BPT_SNP_TURIN:
        return BPT_SNP_PRODUCT_TURIN;
    default:
        return 0;
    }
}

/* ---- certificates from the policy ---------------------------------------------------------- */

static bool cert_is_ca(X509 *c)
{
    return X509_check_ca(c) > 0;
}

static bool cn_contains(X509 *c, const char *needle)
{
    char cn[128] = "";
    X509_NAME_get_text_by_NID(X509_get_subject_name(c), NID_commonName, cn, sizeof(cn));
    return strstr(cn, needle) != NULL;
}

/* Split the certificates given (the context's, the evidence's) into the VCEK/VLEK leaf and CA
 * certificates; the CRLs given come in the same reading. */
static int collect_certs(X509 **leaf, STACK_OF(X509) * *cas, STACK_OF(X509_CRL) * *crls,
                         const bpt_verify_ctx *ctx, const struct bpt_evidence *ev)
{
    STACK_OF(X509) *all = NULL;
    int rc;

    *leaf = NULL;
    *cas = sk_X509_new_null();
    if (!*cas) {
        return bpt_err_nomem("certificates");
    }
    if ((rc = bpt_verify_ctx_given(&all, crls, ctx, ev, "sev_snp: certificate")) < 0) {
        rc = bpt_err_prefix(BPT_EKEYS, "sev_snp");
        goto out;
    }
    while (all && sk_X509_num(all) > 0) {
        X509 *c = sk_X509_shift(all);
        if (cert_is_ca(c)) {
            if (!sk_X509_push(*cas, c)) {
                X509_free(c);
                rc = bpt_err_nomem("certificates");
                goto out;
            }
        } else if (!*leaf && (cn_contains(c, "VCEK") || cn_contains(c, "VLEK"))) {
            *leaf = c;
        } else {
            X509_free(c);
        }
    }
    rc = 0;
out:
    sk_X509_pop_free(all, X509_free);
    return rc;
}

/* ---- signature ------------------------------------------------------------------------------ */

static int verify_signature(const uint8_t *report, const bpt_snp_report *rep, EVP_PKEY *key)
{
    uint8_t r_be[72], s_be[72]; /* the report stores r and s little-endian */
    for (int i = 0; i < 72; i++) {
        r_be[i] = rep->sig_r[71 - i];
        s_be[i] = rep->sig_s[71 - i];
    }
    return bpt_pki_verify_p384_rs(key, r_be, s_be, 72, report, BPT_SNP_SIGNED_SIZE,
                                  "sev_snp: report signature with the VCEK/VLEK");
}

/* ---- verification -------------------------------------------------------------------------- */

static int check_tcb_ext(const struct bpt_snp_vek_ext *x, bpt_snp_tcb t, bpt_snp_product product)
{
#define TCB_EQ(has, got, want, name)                                                               \
    if (!(has)) {                                                                                  \
        return bpt_err(BPT_EMALFORMED, "sev_snp: VCEK/VLEK lacks the %s extension", name);         \
    }                                                                                              \
    if ((got) != (want)) {                                                                         \
        return bpt_err(BPT_ESIGNATURE, "sev_snp: VCEK/VLEK %s %d != reported_tcb %s %u", name,     \
                       (got), name, (unsigned)(want));                                             \
    }
    TCB_EQ(x->has_bl, x->bl, t.bootloader, "blSPL")
    TCB_EQ(x->has_tee, x->tee, t.tee, "teeSPL")
    TCB_EQ(x->has_snp, x->snp, t.snp, "snpSPL")
    TCB_EQ(x->has_ucode, x->ucode, t.microcode, "ucodeSPL")
    if (product == BPT_SNP_TURIN) {
        TCB_EQ(x->has_fmc, x->fmc, t.fmc, "fmcSPL")
    }
#undef TCB_EQ
    return 0;
}

/* The reserved bytes inside the four TCB_VERSION fields, by the product's layout: Milan and
 * Genoa reserve bytes 2-5, Turin bytes 4-6. */
static int check_tcb_reserved(const bpt_snp_report *rep, bpt_snp_product product)
{
    const bool turin = product == BPT_SNP_TURIN;
    const uint64_t mask = turin ? 0x00FFFFFF00000000ull : 0x0000FFFFFFFF0000ull;
    const struct {
        const char *name;
        uint64_t v;
        unsigned off;
    } f[] = {
        {"current_tcb", rep->current_tcb, 0x038},
        {"reported_tcb", rep->reported_tcb, 0x180},
        {"committed_tcb", rep->committed_tcb, 0x1E0},
        {"launch_tcb", rep->launch_tcb, 0x1F0},
    };
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        if (f[i].v & mask) {
            return bpt_err(BPT_EMALFORMED,
                           "sev_snp: reserved bytes %s of %s (0x%03X) are not zero in %s's "
                           "layout: 0x%016llx",
                           turin ? "4-6" : "2-5", f[i].name, f[i].off,
                           bpt_snp_product_name(product), (unsigned long long)f[i].v);
        }
    }
    return 0;
}

/* @p got against the policy's component-wise minimum (fmc counts on Turin only). */
static int check_min_tcb(bpt_snp_tcb got, const bpt_snp_tcb *min, bpt_snp_product product,
                         const char *which)
{
    const struct {
        const char *name;
        unsigned got, min;
    } c[] = {
        {"bootloader", got.bootloader, min->bootloader},
        {"tee", got.tee, min->tee},
        {"snp", got.snp, min->snp},
        {"microcode", got.microcode, min->microcode},
        {"fmc", got.fmc, min->fmc},
    };
    size_t n = product == BPT_SNP_TURIN ? 5 : 4;
    for (size_t i = 0; i < n; i++) {
        if (c[i].got < c[i].min) {
            return bpt_err(BPT_ECLAIM, "sev_snp: %s %s %u < policy minimum %u", which, c[i].name,
                           c[i].got, c[i].min);
        }
    }
    return 0;
}

/* The guest policy (report 0x008): permissions the relying party refuses, requirements it
 * sets, and the ABI version the guest's owner asked for. */
static int check_guest_policy(const bpt_snp_report *rep, const bpt_policy *p)
{
    if (!p->sev_snp.allow_smt && rep->policy_smt) {
        return bpt_err(BPT_ECLAIM, "sev_snp: guest policy allows SMT (bit 16) and the policy "
                                   "refuses it (allow_smt false)");
    }
    if (!p->sev_snp.allow_migration_agent && rep->policy_migrate_ma) {
        return bpt_err(BPT_ECLAIM, "sev_snp: guest policy allows a migration agent (MIGRATE_MA, "
                                   "bit 18) and the policy refuses it (allow_migration_agent "
                                   "false)");
    }
    if (p->sev_snp.require_single_socket && !rep->policy_single_socket) {
        return bpt_err(BPT_ECLAIM, "sev_snp: guest policy does not restrict the guest to a "
                                   "single socket (bit 20 clear) and the policy requires it");
    }
    if (p->sev_snp.has_min_abi && (rep->abi_major < p->sev_snp.min_abi_major ||
                                   (rep->abi_major == p->sev_snp.min_abi_major &&
                                    rep->abi_minor < p->sev_snp.min_abi_minor))) {
        return bpt_err(BPT_ECLAIM, "sev_snp: guest policy ABI %u.%u < policy min_abi %u.%u",
                       rep->abi_major, rep->abi_minor, p->sev_snp.min_abi_major,
                       p->sev_snp.min_abi_minor);
    }
    return 0;
}

static bool digest_listed(const uint8_t (*keys)[48], size_t n, const uint8_t d[48])
{
    bool found = false;
    for (size_t i = 0; i < n; i++) {
        found |= bpt_ct_equal(keys[i], d, 48);
    }
    return found;
}

/* The launch's ID block: family and image id, and the key that signed it (go-sev-guest's
 * trusted ID and author key hashes: a trusted author key vouches for any ID key it signed). */
static int check_id_block(const bpt_snp_report *rep, const bpt_policy *p)
{
    char hex[97];
    bool author_trusted;

    if (p->sev_snp.has_family_id && !bpt_ct_equal(p->sev_snp.family_id, rep->family_id, 16)) {
        bpt_hex_encode_to(hex, rep->family_id, 16);
        return bpt_err(BPT_ECLAIM, "sev_snp: family_id %s differs from the policy's family_id",
                       hex);
    }
    if (p->sev_snp.has_image_id && !bpt_ct_equal(p->sev_snp.image_id, rep->image_id, 16)) {
        bpt_hex_encode_to(hex, rep->image_id, 16);
        return bpt_err(BPT_ECLAIM, "sev_snp: image_id %s differs from the policy's image_id", hex);
    }
    if (!p->sev_snp.n_id_keys && !p->sev_snp.n_author_keys && !p->sev_snp.require_author_key) {
        return 0;
    }
    author_trusted =
        rep->author_key_en && digest_listed((const uint8_t(*)[48])p->sev_snp.author_keys,
                                            p->sev_snp.n_author_keys, rep->author_key_digest);
    if (p->sev_snp.require_author_key && !rep->author_key_en) {
        return bpt_err(BPT_ECLAIM, "sev_snp: the report has no author key (AUTHOR_KEY_EN clear) "
                                   "and the policy requires one (require_author_key)");
    }
    if (p->sev_snp.require_author_key && !author_trusted) {
        bpt_hex_encode_to(hex, rep->author_key_digest, 48);
        return bpt_err(BPT_ECLAIM,
                       "sev_snp: author_key_digest %s is not one of the policy's "
                       "author_key_digests",
                       hex);
    }
    if (!author_trusted && !digest_listed((const uint8_t(*)[48])p->sev_snp.id_keys,
                                          p->sev_snp.n_id_keys, rep->id_key_digest)) {
        bpt_hex_encode_to(hex, rep->id_key_digest, 48);
        return bpt_err(BPT_ECLAIM,
                       "sev_snp: id_key_digest %s is not one of the policy's id_key_digests, "
                       "and no trusted author key signed it",
                       hex);
    }
    return 0;
}

/* Firmware: build and API version, current and committed (committed is what the platform
 * cannot roll back below), and the TCB the guest was launched on. */
static int check_firmware(const bpt_snp_report *rep, bpt_snp_product product, const bpt_policy *p)
{
    const struct {
        const char *which;
        uint8_t build, major, minor;
    } fw[] = {
        {"current", rep->current_build, rep->current_major, rep->current_minor},
        {"committed", rep->committed_build, rep->committed_major, rep->committed_minor},
    };
    for (size_t i = 0; i < 2; i++) {
        if (p->sev_snp.has_min_build && fw[i].build < p->sev_snp.min_build) {
            return bpt_err(BPT_ECLAIM, "sev_snp: %s firmware build %u < policy min_build %u",
                           fw[i].which, fw[i].build, p->sev_snp.min_build);
        }
        if (p->sev_snp.has_min_firmware && (fw[i].major < p->sev_snp.min_firmware_major ||
                                            (fw[i].major == p->sev_snp.min_firmware_major &&
                                             fw[i].minor < p->sev_snp.min_firmware_minor))) {
            return bpt_err(BPT_ECLAIM,
                           "sev_snp: %s firmware version %u.%u < policy min_firmware_version "
                           "%u.%u",
                           fw[i].which, fw[i].major, fw[i].minor, p->sev_snp.min_firmware_major,
                           p->sev_snp.min_firmware_minor);
        }
    }
    if (p->sev_snp.has_min_launch_tcb) {
        return check_min_tcb(bpt_sev_snp_tcb_decode(rep->launch_tcb, product),
                             &p->sev_snp.min_launch_tcb, product, "launch_tcb");
    }
    return 0;
}

/* PLATFORM_INFO bits the policy fixes. */
static int check_platform_info(const bpt_snp_report *rep, const bpt_policy *p)
{
    const struct {
        bool has, want;
        unsigned bit;
        const char *name, *key;
    } b[] = {
        {p->sev_snp.has_platform_smt, p->sev_snp.platform_smt, 0, "SMT", "platform_smt_enabled"},
        {p->sev_snp.has_platform_tsme, p->sev_snp.platform_tsme, 1, "TSME",
         "platform_tsme_enabled"},
    };
    for (size_t i = 0; i < 2; i++) {
        bool on = rep->platform_info >> b[i].bit & 1;
        if (b[i].has && on != b[i].want) {
            return bpt_err(BPT_ECLAIM,
                           "sev_snp: the platform has %s %s (platform_info bit %u) and the "
                           "policy wants it %s (%s %s)",
                           b[i].name, on ? "enabled" : "disabled", b[i].bit,
                           b[i].want ? "enabled" : "disabled", b[i].key,
                           b[i].want ? "true" : "false");
        }
    }
    return 0;
}

/* The policy's SEV-SNP rules beyond debug, measurement, report data, host data, VMPL, TCB and
 * product: what go-sev-guest's check offers besides. */
static int check_snp_rules(const bpt_snp_report *rep, bpt_snp_product product, const bpt_policy *p)
{
    int rc = check_guest_policy(rep, p);
    if (rc == 0) {
        rc = check_id_block(rep, p);
    }
    if (rc == 0) {
        rc = check_firmware(rep, product, p);
    }
    if (rc == 0) {
        rc = check_platform_info(rep, p);
    }
    return rc;
}

static int check_policy(const bpt_snp_report *rep, bpt_snp_tcb t, bpt_snp_product product,
                        const bpt_policy *p)
{
    int rc;

    if (rep->policy_debug && !p->allow_debug) {
        return bpt_err(BPT_ECLAIM, "sev_snp: guest policy allows debugging (debug bit 19 set) "
                                   "and the policy refuses debug-mode TEEs");
    }
    rc = bpt_policy_check_measurement(p, rep->measurement, 48, "sev_snp: measurement");
    if (rc == 0) {
        rc = bpt_policy_check_report_data(p, rep->report_data, "sev_snp: report_data");
    }
    if (rc < 0) {
        return rc;
    }
    if (p->sev_snp.has_host_data && !bpt_ct_equal(p->sev_snp.host_data, rep->host_data, 32)) {
        return bpt_err(BPT_ECLAIM, "sev_snp: host_data differs from the policy's host_data");
    }
    if (p->sev_snp.has_vmpl && rep->vmpl != p->sev_snp.vmpl) {
        return bpt_err(BPT_ECLAIM, "sev_snp: vmpl %u != policy vmpl %u", rep->vmpl,
                       p->sev_snp.vmpl);
    }
    if (p->sev_snp.has_min_tcb &&
        (rc = check_min_tcb(t, &p->sev_snp.min_tcb, product, "reported_tcb")) < 0) {
        return rc;
    }
    if (p->sev_snp.products && !(p->sev_snp.products & product_bit(product))) {
        return bpt_err(BPT_ECLAIM, "sev_snp: product %s is not in the policy's products",
                       bpt_snp_product_name(product));
    }
    return check_snp_rules(rep, product, p);
}

static json_t *tcb_json(bpt_snp_tcb t, bpt_snp_product product)
{
    json_t *o = json_pack("{s:i,s:i,s:i,s:i}", "bootloader", t.bootloader, "tee", t.tee, "snp",
                          t.snp, "microcode", t.microcode);
    if (o && product == BPT_SNP_TURIN) {
        json_object_set_new(o, "fmc", json_integer(t.fmc));
    }
    return o;
}

static int build_report(bpt_report **out, const uint8_t *ev, const bpt_snp_report *rep,
                        bpt_snp_product product, int64_t at)
{
    bpt_report *r = NULL;
    struct bpt_claims *c;
    bpt_measurement m;
    char platform[64];
    bpt_snp_tcb t = bpt_sev_snp_tcb_decode(rep->reported_tcb, product);
    int rc;

    *out = NULL;
    BPT_CHECK(bpt_report_new(&r, BPT_PROVIDER_AMD_SEV_SNP, BPT_FORMAT_SEV_SNP_REPORT));
    BPT_CHECK(bpt_report_set_evidence(r, ev, BPT_SNP_REPORT_SIZE));
    bpt_report_set_issued_at(r, at > 0 ? (uint64_t)at : 0);
    BPT_CHECK(bpt_measurement_set_bytes(&m, "sha384", rep->measurement, 48));
    bpt_report_set_measurement(r, &m);
    c = bpt_report_claims_mut(r);
    c->debug_mode = rep->policy_debug;
    snprintf(platform, sizeof(platform), "%s bl=%u tee=%u snp=%u ucode=%u",
             bpt_snp_product_name(product), t.bootloader, t.tee, t.snp, t.microcode);
    BPT_CHECK(bpt_claims_set_platform_version(c, platform));
    BPT_CHECK(bpt_claims_set_user_data(c, rep->report_data, 64));
    BPT_CHECK(bpt_claims_set_customv(c, "chip_id", bpt_json_hex(rep->chip_id, 64)));
    BPT_CHECK(bpt_claims_set_customv(c, "product", json_string(bpt_snp_product_name(product))));
    BPT_CHECK(bpt_claims_set_customv(c, "report_version", json_integer(rep->version)));
    BPT_CHECK(bpt_claims_set_customv(c, "guest_svn", json_integer(rep->guest_svn)));
    BPT_CHECK(bpt_claims_set_customv(c, "vmpl", json_integer(rep->vmpl)));
    BPT_CHECK(bpt_claims_set_customv(
        c, "policy",
        json_pack(
            "{s:s,s:i,s:i,s:b,s:b,s:b,s:b,s:b,s:b,s:b,s:b,s:b}", "raw",
            (snprintf(platform, sizeof(platform), "0x%016llx", (unsigned long long)rep->policy),
             platform),
            "abi_major", rep->abi_major, "abi_minor", rep->abi_minor, "smt", rep->policy_smt,
            "migrate_ma", rep->policy_migrate_ma, "debug", rep->policy_debug, "single_socket",
            rep->policy_single_socket, "cxl", rep->policy_cxl, "mem_aes_256_xts",
            rep->policy_aes_256_xts, "rapl_dis", rep->policy_rapl_dis, "ciphertext_hiding",
            rep->policy_ciphertext_hiding, "page_swap_disable", rep->policy_page_swap_disable)));
    BPT_CHECK(bpt_claims_set_customv(c, "reported_tcb", tcb_json(t, product)));
    BPT_CHECK(bpt_claims_set_customv(
        c, "committed_tcb",
        tcb_json(bpt_sev_snp_tcb_decode(rep->committed_tcb, product), product)));
    BPT_CHECK(bpt_claims_set_customv(
        c, "current_tcb", tcb_json(bpt_sev_snp_tcb_decode(rep->current_tcb, product), product)));
    BPT_CHECK(bpt_claims_set_customv(
        c, "launch_tcb", tcb_json(bpt_sev_snp_tcb_decode(rep->launch_tcb, product), product)));
    BPT_CHECK(bpt_claims_set_customv(c, "host_data", bpt_json_hex(rep->host_data, 32)));
    BPT_CHECK(bpt_claims_set_customv(c, "id_key_digest", bpt_json_hex(rep->id_key_digest, 48)));
    BPT_CHECK(
        bpt_claims_set_customv(c, "author_key_digest", bpt_json_hex(rep->author_key_digest, 48)));
    BPT_CHECK(bpt_claims_set_customv(c, "family_id", bpt_json_hex(rep->family_id, 16)));
    BPT_CHECK(bpt_claims_set_customv(c, "image_id", bpt_json_hex(rep->image_id, 16)));
    BPT_CHECK(bpt_claims_set_customv(
        c, "signing_key", json_string(rep->signing_key == BPT_SNP_KEY_VLEK ? "vlek" : "vcek")));
    *out = r;
    r = NULL;
    rc = 0;
out:
    bpt_report_free(r);
    return rc;
}

/* What a cached chain remembers: the certificate's facts and the product it was checked for. */
struct snp_chain_facts {
    struct bpt_snp_vek_ext ext;
    bpt_snp_product cert_product;
    bpt_snp_product chain_product;
    bool crl_checked;           /* the chain was checked against a CRL... */
    int64_t crl_this, crl_next; /* ...valid in this window: a cache hit outside it redoes it */
};

/* How a caller supplies a certificate the library cannot find or fetch (library words). */
#define GIVE_IT "give it (DER or PEM) with the verification context's certificates"

static int resolve_product(bpt_snp_product *out, const bpt_snp_report *rep,
                           bpt_snp_product cert_product, const bpt_policy *policy, bool vlek);

/* No VCEK given: the on-disk cache, then AMD KDS (unless offline). A VLEK cannot be fetched.
 * Failures say what is missing, the full URL it would come from, and how to supply it. */
static int fetch_vcek(X509 **leaf, const bpt_snp_report *rep, const bpt_verify_ctx *ctx,
                      const bpt_policy *policy, bool vlek)
{
    bpt_buf der = BPT_BUF_INIT(BPT_KDS_MAX_CERT_BYTES);
    STACK_OF(X509) *got = NULL;
    bpt_snp_product product = BPT_SNP_PRODUCT_UNKNOWN;
    struct bpt_kds_tcb kt;
    char url[BPT_KDS_URL_MAX];
    bpt_snp_tcb t;
    int rc;

    if (vlek) {
        return bpt_err(BPT_EKEYS, "sev_snp: VLEK missing: VLEKs are not published on AMD KDS; "
                                  "give the VLEK (DER or PEM, from the host's certificate table "
                                  "or the cloud provider) with the verification context's "
                                  "certificates");
    }
    if (bpt_all_zero(rep->chip_id, 64)) {
        return bpt_err(BPT_EKEYS, "sev_snp: VCEK missing: not given, and the report masks "
                                  "chip_id, so it cannot be fetched; " GIVE_IT);
    }
    if (resolve_product(&product, rep, BPT_SNP_PRODUCT_UNKNOWN, policy, false) < 0) {
        return bpt_err(BPT_EKEYS,
                       "sev_snp: VCEK missing: not given, and a version %u report does not say "
                       "which product to fetch it for; " GIVE_IT
                       ", or name one product in the policy",
                       rep->version);
    }
    t = bpt_sev_snp_tcb_decode(rep->reported_tcb, product);
    kt = (struct bpt_kds_tcb){t.fmc, t.bootloader, t.tee, t.snp, t.microcode};
    BPT_CHECK(bpt_kds_vcek_url(url, sizeof(url), ctx->kds_url, bpt_snp_product_name(product),
                               rep->chip_id, kt));
    rc = bpt_kds_vcek(&der, ctx->kds_url, ctx->cache_dir, ctx->offline,
                      bpt_snp_product_name(product), rep->chip_id, kt);
    if (rc < 0) {
        /* The reason last: if anything is cut at the message's end, it is not the URL. */
        rc = bpt_err(rc, "sev_snp: VCEK missing: not given; it comes from %s; " GIVE_IT ": %s", url,
                     bpt_error_last());
        goto out;
    }
    BPT_CHECK(bpt_pki_parse_certs_cached(&got, ctx->cert_cache, der.data, der.len,
                                         "sev_snp: the VCEK from KDS or cache"));
    if (sk_X509_num(got) != 1) {
        rc = bpt_err(BPT_EMALFORMED, "sev_snp: the VCEK from KDS or cache holds %d certificates",
                     sk_X509_num(got));
        goto out;
    }
    *leaf = sk_X509_shift(got);
    rc = 0;
out:
    sk_X509_pop_free(got, X509_free);
    bpt_buf_dispose(&der);
    return rc;
}

/* SHA-256 over everything that chose the chain: key kind, certificates given, trust roots. */
static int cache_key(uint8_t out[32], const bpt_verify_ctx *ctx, const struct bpt_evidence *ev,
                     const bpt_snp_report *rep, bool vlek)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned int n = 0;
    int rc = BPT_ERROR;
    if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
        EVP_DigestUpdate(md, vlek ? "sev_snp/vlek" : "sev_snp/vcek", 12) != 1 ||
        EVP_DigestUpdate(md, rep->chip_id, 64) != 1 ||
        EVP_DigestUpdate(md, &rep->reported_tcb, sizeof(rep->reported_tcb)) != 1) {
        rc = bpt_err_ossl(BPT_ERROR, "sev_snp: cache key");
        goto out;
    }
    BPT_CHECK(bpt_verify_ctx_digest_certs(md, ctx, ev));
    BPT_CHECK(bpt_verify_ctx_digest_roots(md, ctx));
    if (EVP_DigestFinal_ex(md, out, &n) != 1) {
        rc = bpt_err_ossl(BPT_ERROR, "sev_snp: cache key");
        goto out;
    }
    rc = 0;
out:
    EVP_MD_CTX_free(md);
    return rc;
}

/* Product: CPUID (v3+), the certificate's productName, or the policy's single product. */
static int resolve_product(bpt_snp_product *out, const bpt_snp_report *rep,
                           bpt_snp_product cert_product, const bpt_policy *policy, bool vlek)
{
    bpt_snp_product product = rep->cpuid_product;
    unsigned ps = policy->sev_snp.products;

    if (product != BPT_SNP_PRODUCT_UNKNOWN && cert_product != BPT_SNP_PRODUCT_UNKNOWN &&
        product != cert_product) {
        return bpt_err(BPT_ESIGNATURE, "sev_snp: report CPUID says %s but the %s is for %s",
                       bpt_snp_product_name(product), vlek ? "VLEK" : "VCEK",
                       bpt_snp_product_name(cert_product));
    }
    if (product == BPT_SNP_PRODUCT_UNKNOWN) {
        product = cert_product;
    }
    if (product == BPT_SNP_PRODUCT_UNKNOWN) {
        product = ps == BPT_SNP_PRODUCT_MILAN   ? BPT_SNP_MILAN
                  : ps == BPT_SNP_PRODUCT_GENOA ? BPT_SNP_GENOA
                  : ps == BPT_SNP_PRODUCT_TURIN ? BPT_SNP_TURIN
                                                : BPT_SNP_PRODUCT_UNKNOWN;
    }
    if (product == BPT_SNP_PRODUCT_UNKNOWN) {
        return bpt_err(BPT_EKEYS,
                       "sev_snp: cannot tell the product (no CPUID in a version %u report, no "
                       "productName in the certificate, no single product in the policy)",
                       rep->version);
    }
    *out = product;
    return 0;
}

static X509 *find_subject(STACK_OF(X509) * st, const X509_NAME *name)
{
    for (int i = 0; i < sk_X509_num(st); i++) {
        if (X509_NAME_cmp(X509_get_subject_name(sk_X509_value(st, i)), name) == 0) {
            return sk_X509_value(st, i);
        }
    }
    return NULL;
}

/* With the context's own trust roots, the pinned ASK/ASVK is not used either: say which
 * certificate is missing (by name, before any cryptography) and where it is published. */
static int own_roots_complete(X509 *leaf, STACK_OF(X509) * cas, STACK_OF(X509) * roots,
                              bpt_snp_product product, bool vlek, const bpt_verify_ctx *ctx)
{
    const char *inter_name = vlek ? "ASVK" : "ASK", *leaf_name = vlek ? "VLEK" : "VCEK";
    char url[BPT_KDS_URL_MAX] = "", who[256];
    X509 *inter;

    if (bpt_kds_cert_chain_url(url, sizeof(url), ctx->kds_url, vlek,
                               bpt_snp_product_name(product)) < 0) {
        url[0] = '\0'; /* the message says "AMD KDS" instead */
    }
    if (find_subject(roots, X509_get_issuer_name(leaf))) {
        return 0; /* the intermediate itself is a trust root */
    }
    if (!(inter = find_subject(cas, X509_get_issuer_name(leaf)))) {
        X509_NAME_oneline(X509_get_issuer_name(leaf), who, sizeof(who));
        return bpt_err(BPT_EKEYS,
                       "sev_snp: %s missing: the trust roots given replace the pinned AMD roots, "
                       "so the intermediates must come with the certificates, and none is the "
                       "%s's issuer %s; AMD publishes it at %s; give it (DER or PEM) with the "
                       "verification context's certificates",
                       inter_name, leaf_name, who, url[0] ? url : "AMD KDS");
    }
    if (!find_subject(roots, X509_get_issuer_name(inter))) {
        X509_NAME_oneline(X509_get_issuer_name(inter), who, sizeof(who));
        return bpt_err(BPT_ESIGNATURE,
                       "sev_snp: VCEK chain: ARK missing: no trust root given is the %s's issuer "
                       "%s; add it to the trust roots (AMD publishes it at %s), or verify with "
                       "the pinned AMD roots",
                       inter_name, who, url[0] ? url : "AMD KDS");
    }
    return 0;
}

/* ARK -> ASK/ASVK -> VCEK/VLEK at the policy time: pinned for the product unless the policy
 * brings its own roots (then the intermediates come from the certificates given). */
static int verify_chain(STACK_OF(X509) * *chain, X509 *leaf, STACK_OF(X509) * cas,
                        bpt_snp_product product, bool vlek, const bpt_verify_ctx *ctx,
                        const struct bpt_pki_verify_opts *opts)
{
    STACK_OF(X509) *roots = NULL, *untrusted = NULL;
    enum bpt_pinned_root ark, inter;
    struct bpt_pki_verify_opts o = *opts;
    char who[256], pinned[256], url[BPT_KDS_URL_MAX] = "", where[BPT_KDS_URL_MAX + 256];
    int rc;

    /* What a certificate missing from the chain is and where it comes from (appended by
     * bpt_pki_verify_chain(); the cases the checks below name come first). */
    if (bpt_kds_cert_chain_url(url, sizeof(url), ctx->kds_url, vlek,
                               bpt_snp_product_name(product)) < 0) {
        url[0] = '\0';
    }
    snprintf(where, sizeof(where),
             "AMD publishes the %s and the ARK at %s; give the %s (DER or PEM) with the "
             "verification context's certificates and trust the ARK (pinned, or one of the "
             "context's trust roots)",
             vlek ? "ASVK" : "ASK", url[0] ? url : "AMD KDS", vlek ? "ASVK" : "ASK");
    o.where = where;
    if (bpt_verify_ctx_has_trust_roots(ctx)) {
        BPT_CHECK(bpt_verify_ctx_roots(&roots, ctx, NULL, 0));
        BPT_CHECK(own_roots_complete(leaf, cas, roots, product, vlek, ctx));
        untrusted = X509_chain_up_ref(cas);
        if (!untrusted) {
            rc = bpt_err_nomem("chain");
            goto out;
        }
    } else {
        switch (product) {
        case BPT_SNP_MILAN:
            ark = BPT_ROOT_AMD_MILAN_ARK;
            inter = vlek ? BPT_ROOT_AMD_MILAN_ASVK : BPT_ROOT_AMD_MILAN_ASK;
            break;
        case BPT_SNP_GENOA:
            ark = BPT_ROOT_AMD_GENOA_ARK;
            inter = vlek ? BPT_ROOT_AMD_GENOA_ASVK : BPT_ROOT_AMD_GENOA_ASK;
            break;
        default:
            ark = BPT_ROOT_AMD_TURIN_ARK;
            inter = vlek ? BPT_ROOT_AMD_TURIN_ASVK : BPT_ROOT_AMD_TURIN_ASK;
            break;
        }
        BPT_CHECK(bpt_verify_ctx_pinned(&roots, ctx, &ark, 1));
        BPT_CHECK(bpt_verify_ctx_pinned(&untrusted, ctx, &inter, 1));
        if (X509_NAME_cmp(X509_get_issuer_name(leaf),
                          X509_get_subject_name(sk_X509_value(untrusted, 0))) != 0) {
            X509_NAME_oneline(X509_get_issuer_name(leaf), who, sizeof(who));
            X509_NAME_oneline(X509_get_subject_name(sk_X509_value(untrusted, 0)), pinned,
                              sizeof(pinned));
            rc = bpt_err(BPT_ESIGNATURE,
                         "sev_snp: VCEK chain: the %s's issuer %s is not AMD's pinned %s %s "
                         "(evidence of a simulator or another CA verifies only under its own "
                         "trust roots)",
                         vlek ? "VLEK" : "VCEK", who, vlek ? "ASVK" : "ASK", pinned);
            goto out;
        }
    }
    BPT_CHECK(bpt_pki_verify_chain(chain, leaf, untrusted, roots, &o, "sev_snp: VCEK chain"));
    if (sk_X509_num(*chain) != 3) {
        rc = bpt_err(BPT_ESIGNATURE,
                     "sev_snp: chain has %d certificates, expected ARK, %s and the %s",
                     sk_X509_num(*chain), vlek ? "ASVK" : "ASK", vlek ? "VLEK" : "VCEK");
        goto out;
    }
    if (cn_contains(sk_X509_value(*chain, 1), "VLEK") != vlek) {
        rc = bpt_err(BPT_ESIGNATURE, "sev_snp: the %s must chain through the %s",
                     vlek ? "VLEK" : "VCEK", vlek ? "ASVK" : "ASK");
        goto out;
    }
    rc = 0;
out:
    sk_X509_pop_free(untrusted, X509_free);
    sk_X509_pop_free(roots, X509_free);
    return rc;
}

/* AMD's CRL for the product (the given ones, the cache, KDS): the chain's ASK/ASVK, and its
 * VCEK/VLEK if the CRL lists it, must not be revoked at @p at. */
static int check_revocation(struct snp_chain_facts *facts, STACK_OF(X509) * chain,
                            STACK_OF(X509_CRL) * given, bpt_snp_product product, bool vlek,
                            const bpt_verify_ctx *ctx, int64_t at)
{
    struct bpt_amd_crl_used used;
    struct bpt_amd_crl_src src = {.cache_dir = ctx->cache_dir,
                                  .kds_url = ctx->kds_url,
                                  .offline = ctx->offline,
                                  .vlek = vlek,
                                  .product = bpt_snp_product_name(product)};
    int rc;

    facts->crl_checked = false;
    src.given = given;
    BPT_CHECK(bpt_amd_crl_check(&used, &src, sk_X509_value(chain, 2), sk_X509_value(chain, 1),
                                sk_X509_value(chain, 0), at));
    BPT_LOG(BPT_LOG_DEBUG, "sev_snp", "crl checked source=%s next_update=%lld", used.source,
            (long long)used.next_update);
    facts->crl_checked = true;
    facts->crl_this = used.this_update;
    facts->crl_next = used.next_update;
out:
    return rc;
}

static int snp_verify(bpt_verify_result *res, const struct bpt_evidence *evidence,
                      const bpt_verify_ctx *ctx, const bpt_policy *policy, void *state)
{
    const uint8_t *ev = evidence->bytes;
    bpt_snp_report rep = {.size = sizeof(rep)};
    bpt_snp_product product = BPT_SNP_PRODUCT_UNKNOWN;
    struct bpt_snp_vek_ext ext;
    struct snp_chain_facts facts;
    uint8_t ckey[32];
    struct bpt_pki_verify_opts opts = {.at = evidence->at};
    X509 *leaf = NULL;
    STACK_OF(X509) *cas = NULL, *chain = NULL;
    STACK_OF(X509_CRL) *crls = NULL;
    EVP_PKEY *key = NULL;
    bool vlek;
    int rc;

    (void)state;
    BPT_CHECK(bpt_sev_snp_parse(&rep, ev, evidence->len));
    if (rep.signing_key != BPT_SNP_KEY_VCEK && rep.signing_key != BPT_SNP_KEY_VLEK) {
        rc = bpt_err(BPT_ESIGNATURE,
                     "sev_snp: report signing key field is %u (not VCEK or "
                     "VLEK): the report is unsigned",
                     (unsigned)rep.signing_key);
        goto out;
    }
    if (rep.mask_chip_key) {
        rc = bpt_err(BPT_ESIGNATURE, "sev_snp: MASK_CHIP_KEY is set: the report is unsigned");
        goto out;
    }
    if (rep.signature_algo != 1) {
        rc = bpt_err(BPT_ESIGNATURE,
                     "sev_snp: signature algorithm %u is not 1 (ECDSA P-384 with SHA-384)",
                     rep.signature_algo);
        goto out;
    }
    vlek = rep.signing_key == BPT_SNP_KEY_VLEK;

    /* A cached chain for the same certificates and roots skips parsing and chain building. */
    if (ctx->chain_cache) {
        BPT_CHECK(cache_key(ckey, ctx, evidence, &rep, vlek));
        if (bpt_chain_cache_get(ctx->chain_cache, ckey, opts.at, &key, &facts, sizeof(facts),
                                NULL) == 1) {
            rc = resolve_product(&product, &rep, facts.cert_product, policy, vlek);
            if (rc < 0 || product != facts.chain_product ||
                (!ctx->no_revocation &&
                 (!facts.crl_checked || opts.at < facts.crl_this || opts.at > facts.crl_next))) {
                /* Another product than the cached chain's, or its CRL does not cover the
                 * verification time: redo it all. */
                EVP_PKEY_free(key);
                key = NULL;
            }
        }
    }
    if (!key) {
        BPT_CHECK(collect_certs(&leaf, &cas, &crls, ctx, evidence));
        if (!leaf) {
            BPT_CHECK(fetch_vcek(&leaf, &rep, ctx, policy, vlek));
        }
        if (cn_contains(leaf, "VLEK") != vlek) {
            rc = bpt_err(BPT_ESIGNATURE,
                         "sev_snp: report is signed by a %s but the certificate given is a %s",
                         vlek ? "VLEK" : "VCEK", vlek ? "VCEK" : "VLEK");
            goto out;
        }
        BPT_CHECK(bpt_snp_vek_extensions(&facts.ext, leaf));
        facts.cert_product = facts.ext.product_name[0]
                                 ? bpt_snp_product_from_name(facts.ext.product_name)
                                 : BPT_SNP_PRODUCT_UNKNOWN;
        BPT_CHECK(resolve_product(&product, &rep, facts.cert_product, policy, vlek));
        facts.chain_product = product;
        BPT_CHECK(verify_chain(&chain, leaf, cas, product, vlek, ctx, &opts));
        facts.crl_checked = false;
        if (!ctx->no_revocation) {
            BPT_CHECK(check_revocation(&facts, chain, crls, product, vlek, ctx, opts.at));
        }
        key = X509_get_pubkey(leaf);
        if (!key) {
            rc = bpt_err_ossl(BPT_EMALFORMED, "sev_snp: VCEK public key");
            goto out;
        }
        if (ctx->chain_cache) {
            BPT_CHECK(bpt_chain_cache_put(ctx->chain_cache, ckey, chain, false, key, &facts,
                                          sizeof(facts)));
        }
    }
    ext = facts.ext;
    BPT_CHECK(check_tcb_reserved(&rep, product));

    /* The certificate must endorse exactly this chip and TCB. */
    BPT_CHECK(check_tcb_ext(&ext, bpt_sev_snp_tcb_decode(rep.reported_tcb, product), product));
    if (!vlek) {
        if (!ext.has_hwid) {
            rc = bpt_err(BPT_EMALFORMED, "sev_snp: VCEK lacks the hwID extension");
            goto out;
        }
        if (!bpt_all_zero(rep.chip_id, 64) && !bpt_ct_equal(ext.hwid, rep.chip_id, 64)) {
            rc = bpt_err(BPT_ESIGNATURE, "sev_snp: VCEK hwID differs from the report's chip_id");
            goto out;
        }
    }
    BPT_CHECK(verify_signature(ev, &rep, key));

    /* The TCB is known once the report is authenticated: set before the policy checks, so a
     * refusal by the policy still says which TCB the report had (bpt_verify_explain()). */
    if (!(res->d.tcb =
              json_pack("{s:s,s:s,s:o}", "product", bpt_snp_product_name(product), "signing_key",
                        vlek ? "vlek" : "vcek", "reported",
                        tcb_json(bpt_sev_snp_tcb_decode(rep.reported_tcb, product), product)))) {
        rc = bpt_err_nomem("sev_snp: tcb");
        goto out;
    }

    /* Only now, with the report authenticated, judge its claims. */
    BPT_CHECK(
        check_policy(&rep, bpt_sev_snp_tcb_decode(rep.reported_tcb, product), product, policy));
    BPT_CHECK(build_report(&res->report, ev, &rep, product, opts.at));
    memcpy(res->d.report_data, rep.report_data, 64);
    res->d.report_data_len = 64;
    if ((bpt_all_zero(rep.chip_id, 64) && !vlek) || ctx->no_revocation) {
        res->d.warnings = json_array();
    }
    if (bpt_all_zero(rep.chip_id, 64) && !vlek) {
        json_array_append_new(res->d.warnings,
                              json_string("chip_id is masked: the VCEK's hwID was not compared"));
    }
    if (ctx->no_revocation) {
        json_array_append_new(res->d.warnings,
                              json_string("revocation not checked: the verification context "
                                          "turned AMD's CRL check off"));
    }
    rc = 0;
out:
    EVP_PKEY_free(key);
    sk_X509_pop_free(chain, X509_free);
    sk_X509_pop_free(cas, X509_free);
    sk_X509_CRL_pop_free(crls, X509_CRL_free);
    X509_free(leaf);
    return rc;
}

const bpt_verifier_vtable bpt_sev_snp_verifier = {
    .api_version = BPT_VERIFIER_API_VERSION,
    .name = "amd_sev_snp",
    .provider = BPT_PROVIDER_AMD_SEV_SNP,
    .kind = BPT_EVIDENCE_SEV_SNP_REPORT,
    .level = BPT_VERIFICATION_CRYPTOGRAPHIC,
    .verify = snp_verify,
};

int bpt_sev_snp_verify(bpt_verified **out, const bpt_verify_ctx *ctx, const bpt_policy *policy,
                       const uint8_t *ev, size_t ev_len)
{
    return bpt_verifier_run_direct(out, &bpt_sev_snp_verifier, ctx, policy, ev, ev_len);
}
