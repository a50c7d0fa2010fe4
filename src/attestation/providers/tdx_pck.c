/* The SGX extensions of a PCK certificate (OID 1.2.840.113741.1.13.1 and its arcs). */
#include "attestation/providers/tdx_internal.h"

#include "core/err.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/objects.h>

#define SGX_ARC BPT_INTEL_SGX_OID "."

/* One SEQUENCE { OID, value } of the extension: its arc below the SGX OID and its value. */
struct item {
    char arc[32];
    const ASN1_TYPE *value;
};

static int read_item(struct item *it, STACK_OF(ASN1_TYPE) * *holder, const ASN1_TYPE *t)
{
    const unsigned char *p;
    char oid[80];
    const ASN1_TYPE *o;

    if (t->type != V_ASN1_SEQUENCE) {
        return bpt_err(BPT_EMALFORMED, "tdx: PCK SGX extension: an entry is not a SEQUENCE");
    }
    p = t->value.sequence->data;
    *holder = d2i_ASN1_SEQUENCE_ANY(NULL, &p, t->value.sequence->length);
    if (!*holder || p != t->value.sequence->data + t->value.sequence->length ||
        sk_ASN1_TYPE_num(*holder) != 2 ||
        (o = sk_ASN1_TYPE_value(*holder, 0))->type != V_ASN1_OBJECT ||
        OBJ_obj2txt(oid, sizeof(oid), o->value.object, 1) <= 0 ||
        strncmp(oid, SGX_ARC, strlen(SGX_ARC)) != 0 ||
        strlen(oid) - strlen(SGX_ARC) >= sizeof(it->arc)) {
        return bpt_err(BPT_EMALFORMED, "tdx: PCK SGX extension: an entry is not {SGX OID, value}");
    }
    memcpy(it->arc, oid + strlen(SGX_ARC), strlen(oid) - strlen(SGX_ARC) + 1); /* fits: checked */
    it->value = sk_ASN1_TYPE_value(*holder, 1);
    return 0;
}

static int octets(uint8_t *dst, size_t n, const struct item *it, const char *name)
{
    if (it->value->type != V_ASN1_OCTET_STRING ||
        (size_t)ASN1_STRING_length(it->value->value.octet_string) != n) {
        return bpt_err(BPT_EMALFORMED, "tdx: PCK %s is not an OCTET STRING of %zu bytes", name, n);
    }
    memcpy(dst, ASN1_STRING_get0_data(it->value->value.octet_string), n);
    return 0;
}

static int integer(long *out, const struct item *it, long max, const char *name)
{
    int64_t v = -1;
    int ok = it->value->type == V_ASN1_INTEGER
                 ? ASN1_INTEGER_get_int64(&v, it->value->value.integer)
             : it->value->type == V_ASN1_ENUMERATED
                 ? ASN1_ENUMERATED_get_int64(&v, it->value->value.enumerated)
                 : 0;
    if (ok != 1 || v < 0 || v > max) {
        return bpt_err(BPT_EMALFORMED, "tdx: PCK %s is not an integer 0..%ld", name, max);
    }
    *out = (long)v;
    return 0;
}

/* The TCB entry: SEQUENCE of {arc 2.1..2.16 comp SVN, 2.17 PCESVN, 2.18 CPUSVN}. */
static int read_tcb(struct bpt_pck_ext *x, const ASN1_TYPE *t)
{
    STACK_OF(ASN1_TYPE) *seq = NULL;
    const unsigned char *p;
    unsigned seen = 0;
    int rc = 0;

    if (t->type != V_ASN1_SEQUENCE) {
        return bpt_err(BPT_EMALFORMED, "tdx: PCK TCB is not a SEQUENCE");
    }
    p = t->value.sequence->data;
    seq = d2i_ASN1_SEQUENCE_ANY(NULL, &p, t->value.sequence->length);
    if (!seq || p != t->value.sequence->data + t->value.sequence->length) {
        rc = bpt_err(BPT_EMALFORMED, "tdx: PCK TCB does not parse");
        goto out;
    }
    for (int i = 0; i < sk_ASN1_TYPE_num(seq); i++) {
        STACK_OF(ASN1_TYPE) *h = NULL;
        struct item it = {.arc = ""};
        long v = 0, comp;
        char *end = it.arc;
        rc = read_item(&it, &h, sk_ASN1_TYPE_value(seq, i));
        if (rc == 0) {
            comp = strncmp(it.arc, "2.", 2) == 0 ? strtol(it.arc + 2, &end, 10) : -1;
            if (comp >= 1 && comp <= 16 && *end == '\0') {
                if ((rc = integer(&v, &it, 255, "TCB component SVN")) == 0) {
                    x->comp_svn[comp - 1] = (uint8_t)v;
                    seen |= 1u << (comp - 1);
                }
            } else if (strcmp(it.arc, "2.17") == 0) {
                if ((rc = integer(&v, &it, 65535, "PCESVN")) == 0) {
                    x->pcesvn = (uint16_t)v;
                    seen |= 1u << 16;
                }
            } else if (strcmp(it.arc, "2.18") == 0) {
                rc = octets(x->cpusvn, 16, &it, "CPUSVN");
                seen |= 1u << 17;
            }
        }
        sk_ASN1_TYPE_pop_free(h, ASN1_TYPE_free);
        if (rc < 0) {
            goto out;
        }
    }
    if (seen != 0x3ffffu) {
        rc = bpt_err(BPT_EMALFORMED, "tdx: PCK TCB lacks components, PCESVN or CPUSVN");
    }
out:
    sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
    return rc;
}

static bool issuer_cn_is(X509 *c, const char *cn)
{
    char buf[128];
    int n = X509_NAME_get_text_by_NID(X509_get_issuer_name(c), NID_commonName, buf, sizeof(buf));
    return n > 0 && strcmp(buf, cn) == 0;
}

int bpt_pck_extensions(struct bpt_pck_ext *out, X509 *pck)
{
    ASN1_OBJECT *want = OBJ_txt2obj(BPT_INTEL_SGX_OID, 1);
    STACK_OF(ASN1_TYPE) *seq = NULL;
    const ASN1_OCTET_STRING *data;
    const unsigned char *p;
    unsigned seen = 0;
    int idx, rc = 0;

    memset(out, 0, sizeof(*out));
    idx = want ? X509_get_ext_by_OBJ(pck, want, -1) : -1;
    ASN1_OBJECT_free(want);
    if (idx < 0) {
        return bpt_err(BPT_EMALFORMED, "tdx: the PCK certificate has no SGX extension");
    }
    data = X509_EXTENSION_get_data(X509_get_ext(pck, idx));
    p = ASN1_STRING_get0_data(data);
    seq = d2i_ASN1_SEQUENCE_ANY(NULL, &p, ASN1_STRING_length(data));
    if (!seq || p != ASN1_STRING_get0_data(data) + ASN1_STRING_length(data)) {
        rc = bpt_err(BPT_EMALFORMED, "tdx: the PCK SGX extension does not parse");
        goto out;
    }
    for (int i = 0; i < sk_ASN1_TYPE_num(seq); i++) {
        STACK_OF(ASN1_TYPE) *h = NULL;
        struct item it;
        long v = 0;
        rc = read_item(&it, &h, sk_ASN1_TYPE_value(seq, i));
        if (rc == 0 && strcmp(it.arc, "1") == 0) {
            rc = octets(out->ppid, 16, &it, "PPID");
            seen |= 1;
        } else if (rc == 0 && strcmp(it.arc, "2") == 0) {
            rc = read_tcb(out, it.value);
            seen |= 2;
        } else if (rc == 0 && strcmp(it.arc, "3") == 0) {
            rc = octets(out->pceid, 2, &it, "PCE-ID");
            seen |= 4;
        } else if (rc == 0 && strcmp(it.arc, "4") == 0) {
            rc = octets(out->fmspc, 6, &it, "FMSPC");
            seen |= 8;
        } else if (rc == 0 && strcmp(it.arc, "5") == 0) {
            if ((rc = integer(&v, &it, 2, "SGX Type")) == 0) {
                out->sgx_type = (int)v;
            }
            seen |= 16;
        }
        sk_ASN1_TYPE_pop_free(h, ASN1_TYPE_free);
        if (rc < 0) {
            goto out;
        }
    }
    if ((seen & 0x1f) != 0x1f) {
        rc = bpt_err(BPT_EMALFORMED,
                     "tdx: the PCK SGX extension lacks PPID, TCB, PCE-ID, FMSPC or SGX Type");
        goto out;
    }
    if (issuer_cn_is(pck, "Intel SGX PCK Platform CA")) {
        out->platform_ca = true;
    } else if (!issuer_cn_is(pck, "Intel SGX PCK Processor CA")) {
        rc = bpt_err(BPT_EMALFORMED, "tdx: the PCK certificate's issuer is neither the Intel SGX "
                                     "PCK Platform CA nor the Processor CA");
        goto out;
    }
    rc = 0;
out:
    sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
    return rc;
}
