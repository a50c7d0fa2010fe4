/*
 * The Tangle contract and the blueprint's service manager (chain.h, tangle.h): job events,
 * execution profiles, services, submitResult, and the attestation hash of the dual-path check.
 * Signatures and layouts: ../shared/reference/tangle-chain.md (tnt-core 0.19.1).
 */
#include <blueprint-tee/chain.h>

#include "chain/abi.h"
#include "chain/chain_internal.h"
#include "chain/tangle.h"

#include "core/codec.h"
#include "core/err.h"
#include "core/json.h"
#include "core/reader.h"
#include "core/util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

const uint8_t bpt_tangle_topic_job_submitted[32] = {
    0xde, 0x37, 0xcc, 0x48, 0xd2, 0x17, 0x78, 0xe1, 0xc9, 0xa0, 0x75, 0xc4, 0xe4, 0x1c, 0x5a, 0xff,
    0x69, 0x18, 0xc3, 0xea, 0x61, 0x51, 0x22, 0x1f, 0x0a, 0xf3, 0xce, 0x81, 0x21, 0xa2, 0x9d, 0xb5};
const uint8_t bpt_tangle_topic_job_submitted_from_quote[32] = {
    0xb7, 0x07, 0x25, 0x9a, 0x8a, 0x16, 0x04, 0xad, 0xca, 0x25, 0x1f, 0xec, 0xf8, 0x4e, 0xb2, 0x83,
    0x32, 0x9c, 0xd4, 0x51, 0x75, 0x69, 0x0d, 0xcb, 0x8f, 0xf1, 0xcf, 0x52, 0xa6, 0x25, 0x24, 0x22};

/* The getBlueprintDefinition return: one BlueprintDefinition struct (reference §1c). */
#define BLUEPRINT_DEFINITION                                                                       \
    "((string,bytes32,address,uint32,bool,(uint8,uint8,uint32,uint32,uint256,uint64,uint256),"     \
    "(string,string,string,string,string,string,string,string,string),"                            \
    "(string,string,string,bytes,bytes)[],bytes,bytes,"                                            \
    "(uint8,(string,string,string),(uint8,uint8,string,string),(uint8,string,string),"             \
    "(string,string,string),(uint8,uint8,string,bytes32)[])[],uint8[]))"
#define SERVICE                                                                                    \
    "((uint64,address,uint64,uint64,uint64,uint64,uint32,uint32,uint32,uint8,uint8,uint8,uint8))"

/* ---- job events --------------------------------------------------------------------------- */

static int topic_u64(uint64_t *out, const uint8_t t[32], const char *what)
{
    if (!bpt_abi_word_u64(out, t)) {
        return bpt_err(BPT_EMALFORMED, "tangle: job event: topic %s does not fit 64 bits", what);
    }
    return 0;
}

int bpt_tangle_job_decode(struct bpt_tangle_job *out, const uint8_t (*topics)[32], size_t n_topics,
                          const uint8_t *data, size_t len)
{
    struct bpt_abi_value *v = NULL;
    uint64_t idx = 0;
    int rc;
    memset(out, 0, sizeof(*out));
    if (n_topics == 0) {
        return 0;
    }
    out->from_quote = memcmp(topics[0], bpt_tangle_topic_job_submitted_from_quote, 32) == 0;
    if (!out->from_quote && memcmp(topics[0], bpt_tangle_topic_job_submitted, 32) != 0) {
        return 0;
    }
    if (n_topics != 3 && !(n_topics == 4 && !out->from_quote)) {
        return bpt_err(BPT_EMALFORMED, "tangle: %s with %zu topics (want 3)",
                       out->from_quote ? "JobSubmittedFromQuote" : "JobSubmitted", n_topics);
    }
    BPT_CHECK(topic_u64(&out->service_id, topics[1], "serviceId"));
    BPT_CHECK(topic_u64(&out->call_id, topics[2], "callId"));
    if (out->from_quote) {
        BPT_CHECK(bpt_abi_decode_text(&v, "(uint8,address,address[],uint256,bytes)", data, len));
        BPT_CHECK(bpt_abi_get_u64(&idx, &v->items[0], "jobIndex"));
        bpt_abi_get_address(out->caller.bytes, &v->items[1]);
        out->inputs = v->items[4].data;
        out->inputs_len = v->items[4].len;
    } else if (n_topics == 3) { /* the real event: jobIndex not indexed */
        BPT_CHECK(bpt_abi_decode_text(&v, "(uint8,address,bytes)", data, len));
        BPT_CHECK(bpt_abi_get_u64(&idx, &v->items[0], "jobIndex"));
        bpt_abi_get_address(out->caller.bytes, &v->items[1]);
        out->inputs = v->items[2].data;
        out->inputs_len = v->items[2].len;
    } else { /* the interface's form: jobIndex in topic 3 */
        BPT_CHECK(topic_u64(&idx, topics[3], "jobIndex"));
        if (idx > 255) {
            rc = bpt_err(BPT_EMALFORMED, "tangle: JobSubmitted topic jobIndex %llu > 255",
                         (unsigned long long)idx);
            goto out;
        }
        BPT_CHECK(bpt_abi_decode_text(&v, "(address,bytes)", data, len));
        bpt_abi_get_address(out->caller.bytes, &v->items[0]);
        out->inputs = v->items[1].data;
        out->inputs_len = v->items[1].len;
    }
    out->job_index = (uint8_t)idx;
    rc = 1;
out:
    bpt_abi_value_free(v);
    if (rc < 0) {
        bpt_err_prefix(rc, "tangle: job event");
    }
    return rc;
}

/* ---- confidentiality and execution profiles ------------------------------------------------ */

static const char *const CONF_NAMES[] = {"any", "tee_required", "standard_required",
                                         "tee_preferred"};

const char *bpt_confidentiality_name(bpt_confidentiality c)
{
    return (unsigned)c < 4 ? CONF_NAMES[c] : "unknown";
}

int bpt_confidentiality_combine(bpt_confidentiality *out, bpt_confidentiality blueprint,
                                bpt_confidentiality service)
{
    bool tee = blueprint == BPT_CONFIDENTIALITY_TEE_REQUIRED ||
               service == BPT_CONFIDENTIALITY_TEE_REQUIRED;
    bool std = blueprint == BPT_CONFIDENTIALITY_STANDARD_REQUIRED ||
               service == BPT_CONFIDENTIALITY_STANDARD_REQUIRED;
    if (!out || (unsigned)blueprint > 3 || (unsigned)service > 3) {
        return bpt_err(BPT_EINVAL, "confidentiality: a value past 3");
    }
    if (tee && std) {
        return bpt_err(BPT_EUNSATISFIABLE,
                       "confidentiality: the blueprint says %s and the service %s: no placement "
                       "satisfies both",
                       CONF_NAMES[blueprint], CONF_NAMES[service]);
    }
    *out = tee   ? BPT_CONFIDENTIALITY_TEE_REQUIRED
           : std ? BPT_CONFIDENTIALITY_STANDARD_REQUIRED
           : (blueprint == BPT_CONFIDENTIALITY_TEE_PREFERRED ||
              service == BPT_CONFIDENTIALITY_TEE_PREFERRED)
               ? BPT_CONFIDENTIALITY_TEE_PREFERRED
               : BPT_CONFIDENTIALITY_ANY;
    return 0;
}

static int u32_field(uint32_t *out, const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        return 0; /* serde's Option / default */
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > UINT32_MAX) {
        return bpt_err(BPT_EINVAL, "execution_profile.gpu.%s: an integer 0..4294967295", key);
    }
    *out = (uint32_t)json_integer_value(v);
    return 1;
}

int bpt_execution_profile_parse(bpt_execution_profile *out, const char *data, size_t len)
{
    static const char *const EP_KEYS[] = {"confidentiality", "gpu", NULL};
    static const char *const GPU_KEYS[] = {"policy", "min_count", "min_vram_gb", NULL};
    json_t *root = NULL, *ep, *gpu, *v;
    size_t a = 0;
    int rc;
    if (!out || (!data && len)) {
        return bpt_err(BPT_EINVAL, "execution profile: NULL argument");
    }
    memset(out, 0, sizeof(*out));
    while (a < len && isspace((unsigned char)data[a])) {
        a++;
    }
    if (a == len) {
        return 0; /* empty: no profile */
    }
    if (bpt_json_parse(&root, data, len, "profilingData") < 0) {
        return bpt_err_prefix(BPT_EMALFORMED, "execution profile: profilingData is not JSON");
    }
    if (!json_is_object(root)) {
        rc = bpt_err(BPT_EMALFORMED, "execution profile: profilingData is not a JSON object");
        goto out;
    }
    ep = json_object_get(root, "execution_profile");
    if (!ep || json_is_null(ep)) {
        rc = 0;
        goto out;
    }
    if (!json_is_object(ep)) {
        rc = bpt_err(BPT_EINVAL, "execution profile: execution_profile is not an object");
        goto out;
    }
    BPT_CHECK(bpt_json_check_keys(ep, EP_KEYS, "execution_profile"));
    out->present = true;
    if ((v = json_object_get(ep, "confidentiality")) && !json_is_null(v)) {
        const char *s = json_is_string(v) ? json_string_value(v) : "";
        unsigned i = 0;
        while (i < 4 && strcmp(s, CONF_NAMES[i]) != 0) {
            i++;
        }
        if (i == 4) {
            rc = bpt_err(BPT_EINVAL,
                         "execution profile: confidentiality '%.40s': any, tee_required, "
                         "standard_required or tee_preferred",
                         s);
            goto out;
        }
        out->confidentiality = (bpt_confidentiality)i;
    }
    if ((gpu = json_object_get(ep, "gpu")) && !json_is_null(gpu)) {
        static const char *const POLICIES[] = {"none", "required", "preferred"};
        if (!json_is_object(gpu)) {
            rc = bpt_err(BPT_EINVAL, "execution profile: gpu is not an object");
            goto out;
        }
        BPT_CHECK(bpt_json_check_keys(gpu, GPU_KEYS, "execution_profile.gpu"));
        if ((v = json_object_get(gpu, "policy")) && !json_is_null(v)) {
            const char *s = json_is_string(v) ? json_string_value(v) : "";
            unsigned i = 0;
            while (i < 3 && strcmp(s, POLICIES[i]) != 0) {
                i++;
            }
            if (i == 3) {
                rc = bpt_err(BPT_EINVAL,
                             "execution profile: gpu.policy '%.40s': none, required or preferred",
                             s);
                goto out;
            }
            out->gpu = (bpt_gpu_policy)i;
        }
        BPT_CHECK(u32_field(&out->gpu_min_count, gpu, "min_count"));
        BPT_CHECK(u32_field(&out->gpu_min_vram_gb, gpu, "min_vram_gb"));
        out->has_gpu_min_vram = rc == 1;
    }
    if (out->gpu != BPT_GPU_NONE && out->gpu_min_count == 0) {
        out->gpu_min_count = 1;
    }
    rc = 0;
out:
    json_decref(root);
    return rc;
}

/* ---- reads -------------------------------------------------------------------------------- */

/* A view call's answer: its bytes and the values decoded from them (which borrow the bytes). */
struct answer {
    bpt_buf bytes;
    struct bpt_abi_value *v;
};

static void answer_dispose(struct answer *a)
{
    bpt_abi_value_free(a->v);
    a->v = NULL;
    bpt_buf_dispose(&a->bytes);
}

/* eth_call of @p signature with @p args, the answer decoded as @p ret_types. */
static int view_call(struct answer *a, bpt_chain *c, const bpt_eth_address *to,
                     const char *signature, struct bpt_abi_value *args, size_t n,
                     const char *ret_types)
{
    bpt_buf data = BPT_BUF_INIT(4096);
    int rc;
    bpt_buf_init(&a->bytes, BPT_LIMIT_JSON_BYTES);
    a->v = NULL;
    BPT_CHECK(bpt_abi_calldata(&data, signature, args, n));
    BPT_CHECK(bpt_chain_eth_call(&a->bytes, NULL, c, NULL, to, data.data, data.len, "latest"));
    if (a->bytes.len == 0) {
        rc = bpt_err(BPT_EPROTOCOL, "chain: %s returned nothing (no contract at that address?)",
                     signature);
        goto out;
    }
    if ((rc = bpt_abi_decode_text(&a->v, ret_types, a->bytes.data, a->bytes.len)) < 0) {
        rc = bpt_err_prefix(rc, "chain: %s answer", signature);
        goto out;
    }
out:
    bpt_buf_dispose(&data);
    if (rc < 0) {
        answer_dispose(a);
    }
    return rc;
}

int bpt_chain_blueprint_profile(bpt_execution_profile *out, char name_out[128], bpt_chain *c,
                                const bpt_eth_address *tangle, uint64_t blueprint_id)
{
    struct bpt_abi_value arg;
    struct answer a = {BPT_BUF_INIT(0), NULL};
    const struct bpt_abi_value *def, *meta, *pd;
    int rc;
    if (!out || !c || !tangle) {
        return bpt_err(BPT_EINVAL, "chain: blueprint profile: NULL argument");
    }
    bpt_abi_set_uint(&arg, blueprint_id);
    BPT_CHECK(
        view_call(&a, c, tangle, "getBlueprintDefinition(uint64)", &arg, 1, BLUEPRINT_DEFINITION));
    def = &a.v->items[0];
    meta = &def->items[6];
    pd = &meta->items[8];
    if (name_out) {
        snprintf(name_out, 128, "%.*s", (int)(meta->items[0].len > 127 ? 127 : meta->items[0].len),
                 (const char *)meta->items[0].data);
    }
    if ((rc = bpt_execution_profile_parse(out, (const char *)pd->data, pd->len)) < 0) {
        rc = bpt_err_prefix(rc, "blueprint %llu", (unsigned long long)blueprint_id);
        goto out;
    }
out:
    answer_dispose(&a);
    return rc;
}

int bpt_chain_service_get(bpt_chain_service *out, bpt_chain *c, const bpt_eth_address *tangle,
                          uint64_t service_id)
{
    struct bpt_abi_value arg;
    struct answer a = {BPT_BUF_INIT(0), NULL};
    const struct bpt_abi_value *s;
    uint64_t x;
    int rc;
    if (!out || !c || !tangle) {
        return bpt_err(BPT_EINVAL, "chain: service: NULL argument");
    }
    memset(out, 0, sizeof(*out));
    bpt_abi_set_uint(&arg, service_id);
    BPT_CHECK(view_call(&a, c, tangle, "getService(uint64)", &arg, 1, SERVICE));
    s = &a.v->items[0];
    BPT_CHECK(bpt_abi_get_u64(&out->blueprint_id, &s->items[0], "blueprintId"));
    bpt_abi_get_address(out->owner.bytes, &s->items[1]);
    BPT_CHECK(bpt_abi_get_u64(&out->created_at, &s->items[2], "createdAt"));
    BPT_CHECK(bpt_abi_get_u64(&out->ttl, &s->items[3], "ttl"));
    BPT_CHECK(bpt_abi_get_u64(&x, &s->items[6], "operatorCount"));
    out->operator_count = (uint32_t)x;
    BPT_CHECK(bpt_abi_get_u64(&x, &s->items[11], "status"));
    out->status = (uint8_t)x;
    BPT_CHECK(bpt_abi_get_u64(&x, &s->items[12], "confidentiality"));
    if (x > 3) {
        rc = bpt_err(BPT_EMALFORMED, "chain: service %llu: confidentiality %llu is not 0..3",
                     (unsigned long long)service_id, (unsigned long long)x);
        goto out;
    }
    out->confidentiality = (bpt_confidentiality)x;
out:
    answer_dispose(&a);
    return rc;
}

/* ---- writes ------------------------------------------------------------------------------- */

int bpt_chain_submit_result(bpt_chain_receipt *out, bpt_chain_signer *s,
                            const bpt_eth_address *tangle, uint64_t service_id, uint64_t call_id,
                            const uint8_t *body, size_t body_len, const bpt_chain_tx_opts *o)
{
    bpt_buf data = BPT_BUF_INIT(17u * 1024u * 1024u);
    struct bpt_abi_value args[3];
    int rc;
    if (!out || !s || !tangle || (!body && body_len)) {
        return bpt_err(BPT_EINVAL, "chain: submit result: NULL argument");
    }
    bpt_abi_set_uint(&args[0], service_id);
    bpt_abi_set_uint(&args[1], call_id);
    bpt_abi_set_bytes(&args[2], body, body_len);
    BPT_CHECK(bpt_abi_calldata(&data, "submitResult(uint64,uint64,bytes)", args, 3));
    rc = bpt_chain_transact(out, s, tangle, data.data, data.len, o);
    /* tnt-core checks "completed" before "already submitted": with one required result, this
     * operator's second submission meets JobAlreadyCompleted. Either way nothing is left to
     * send for this call. */
    if (rc == BPT_EPROTOCOL && strncmp(out->reason, "ResultAlreadySubmitted(", 23) == 0) {
        rc = bpt_err(BPT_EEXISTS,
                     "chain: service %llu call %llu: this operator's result is already on chain "
                     "(%s)",
                     (unsigned long long)service_id, (unsigned long long)call_id, out->reason);
    } else if (rc == BPT_EPROTOCOL && strncmp(out->reason, "JobAlreadyCompleted(", 20) == 0) {
        rc = bpt_err(BPT_EEXISTS,
                     "chain: service %llu call %llu: the job is already completed on chain (%s)",
                     (unsigned long long)service_id, (unsigned long long)call_id, out->reason);
    }
out:
    bpt_buf_dispose(&data);
    return rc;
}

/* ---- attestation hashes ------------------------------------------------------------------- */

int bpt_chain_attestation_hash(uint8_t out[32], bpt_chain *c, const bpt_eth_address *bsm,
                               uint64_t service_id, const bpt_eth_address *operator_addr)
{
    struct bpt_abi_value args[2];
    struct answer a = {BPT_BUF_INIT(0), NULL};
    int rc;
    if (!out || !c || !bsm || !operator_addr) {
        return bpt_err(BPT_EINVAL, "chain: attestation hash: NULL argument");
    }
    bpt_abi_set_uint(&args[0], service_id);
    bpt_abi_set_address(&args[1], operator_addr->bytes);
    BPT_CHECK(view_call(&a, c, bsm, "getAttestationHash(uint64,address)", args, 2, "(bytes32)"));
    memcpy(out, a.v->items[0].word, 32);
out:
    answer_dispose(&a);
    return rc;
}

int bpt_chain_attestation_digest(uint8_t digest[32], char **json_out, const bpt_report *report)
{
    char *json = NULL;
    int rc;
    if (json_out) {
        *json_out = NULL;
    }
    if (!digest || !report) {
        return bpt_err(BPT_EINVAL, "chain: attestation digest: NULL argument");
    }
    BPT_CHECK(bpt_report_to_json(&json, report));
    bpt_keccak256(digest, json, strlen(json));
    if (json_out) {
        *json_out = json;
        json = NULL;
    }
out:
    bpt_free(json);
    return rc;
}

static void hex32(char out[67], const uint8_t h[32])
{
    out[0] = '0';
    out[1] = 'x';
    bpt_hex_encode_to(out + 2, h, 32);
}

int bpt_chain_attestation_check(bpt_chain *c, const bpt_eth_address *bsm, uint64_t service_id,
                                const bpt_eth_address *operator_addr, const bpt_report *report)
{
    uint8_t local[32], onchain[32];
    char a[67], b[67], op[43];
    int rc;
    if (!c || !bsm || !operator_addr || !report) {
        return bpt_err(BPT_EINVAL, "chain: attestation check: NULL argument");
    }
    BPT_CHECK(bpt_chain_attestation_digest(local, NULL, report));
    bpt_eth_address_format(op, operator_addr);
    if ((rc = bpt_chain_attestation_hash(onchain, c, bsm, service_id, operator_addr)) < 0) {
        return bpt_err_prefix(rc, "on-chain attestation check: %s",
                              rc == BPT_EFETCH ? "the chain is unreachable"
                                               : "getAttestationHash failed");
    }
    hex32(a, local);
    hex32(b, onchain);
    if (bpt_all_zero(onchain, 32)) {
        return bpt_err(BPT_ENOTFOUND,
                       "on-chain attestation check: operator %s published no attestation for "
                       "service %llu (the hash is zero)",
                       op, (unsigned long long)service_id);
    }
    if (CRYPTO_memcmp(local, onchain, 32) != 0) {
        return bpt_err(BPT_ECLAIM,
                       "on-chain attestation check: mismatch: keccak256 of the attestation is %s, "
                       "the chain has %s for service %llu operator %s",
                       a, b, (unsigned long long)service_id, op);
    }
    rc = 0;
out:
    return rc;
}

int bpt_chain_report_provisioned(bpt_chain_receipt *out, bpt_chain_signer *s,
                                 const bpt_eth_address *bsm, uint64_t service_id,
                                 const char *sandbox_id, const char *sidecar_url, uint32_t ssh_port,
                                 const bpt_report *report, const bpt_chain_tx_opts *o)
{
    bpt_buf data = BPT_BUF_INIT(8u * 1024u * 1024u);
    struct bpt_abi_value args[5];
    uint8_t digest[32];
    char *json = NULL;
    int rc;
    if (!out || !s || !bsm || !report) {
        return bpt_err(BPT_EINVAL, "chain: report provisioned: NULL argument");
    }
    BPT_CHECK(bpt_chain_attestation_digest(digest, &json, report));
    bpt_abi_set_uint(&args[0], service_id);
    bpt_abi_set_bytes(&args[1], sandbox_id ? sandbox_id : "", sandbox_id ? strlen(sandbox_id) : 0);
    bpt_abi_set_bytes(&args[2], sidecar_url ? sidecar_url : "",
                      sidecar_url ? strlen(sidecar_url) : 0);
    bpt_abi_set_uint(&args[3], ssh_port);
    bpt_abi_set_bytes(&args[4], json, strlen(json));
    BPT_CHECK(
        bpt_abi_calldata(&data, "reportProvisioned(uint64,string,string,uint32,string)", args, 5));
    BPT_CHECK(bpt_chain_transact(out, s, bsm, data.data, data.len, o));
out:
    bpt_free(json);
    bpt_buf_dispose(&data);
    return rc;
}
