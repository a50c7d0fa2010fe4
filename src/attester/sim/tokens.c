/* Simulated token services (tokens.h): GCP Confidential Space and Azure Attestation for a CVM. */
#include "attester/sim/tokens.h"

#include "attester/sim/jwt.h"
#include "attester/sim/x509.h"

#include "core/codec.h"
#include "core/err.h"
#include "core/json.h"
#include "core/util.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <openssl/evp.h>

#define GCP_DIR "gcp-confidential"
#define MAA_DIR "azure-maa"
#define GCP_KID "bpt-sim-gcp-1"
#define MAA_KID "bpt-sim-maa-1"
#define GCP_ISSUER "https://confidentialcomputing.googleapis.com"
#define TOKEN_LIFETIME 3600

/* DIR/SUB with an RSA key (key.pem, 0600) and its public JWK as a JWKS (jwks.json). */
static int token_service_init(const char *dir, const char *sub_name, const char *kid)
{
    char sub[4096], path[4096], *jwk = NULL, *jwks = NULL;
    EVP_PKEY *key = NULL;
    int rc;

    BPT_CHECK(bpt_sim_path(sub, sizeof(sub), dir, sub_name));
    if (mkdir(sub, 0700) != 0 && errno != EEXIST) {
        rc = bpt_err(BPT_EIO, "sim: cannot create %s: %s", sub, strerror(errno));
        goto out;
    }
    BPT_CHECK(bpt_sim_keygen(&key, "rsa"));
    BPT_CHECK(bpt_sim_path(path, sizeof(path), sub, "key.pem"));
    BPT_CHECK(bpt_sim_write_key(path, key));
    BPT_CHECK(bpt_sim_jwk(&jwk, key, kid));
    if (asprintf(&jwks, "{\"keys\":[%s]}\n", jwk) < 0) {
        jwks = NULL;
        rc = bpt_err_nomem("sim: jwks");
        goto out;
    }
    BPT_CHECK(bpt_sim_path(path, sizeof(path), sub, "jwks.json"));
    BPT_CHECK(bpt_file_write(path, jwks, strlen(jwks), false));
out:
    free(jwks);
    bpt_free(jwk);
    EVP_PKEY_free(key);
    return rc;
}

int bpt_sim_gcp_init(const char *dir)
{
    return token_service_init(dir, GCP_DIR, GCP_KID);
}

int bpt_sim_maa_init(const char *dir)
{
    return token_service_init(dir, MAA_DIR, MAA_KID);
}

/* Sign @p claims (a reference taken) with DIR/SUB/key.pem as RS256 under @p kid. */
static int sign(char **out, const char *dir, const char *sub_name, const char *kid, json_t *claims)
{
    char sub[4096], path[4096], *header = NULL, *body = NULL;
    EVP_PKEY *key = NULL;
    int rc;

    *out = NULL;
    if (!claims) {
        return bpt_err_nomem("sim: token claims");
    }
    BPT_CHECK(bpt_sim_path(sub, sizeof(sub), dir, sub_name));
    BPT_CHECK(bpt_sim_path(path, sizeof(path), sub, "key.pem"));
    rc = bpt_sim_read_key(&key, path);
    if (rc < 0) {
        rc = bpt_err_prefix(BPT_ENOTFOUND, "sim: %s not initialised (bpt sim init)", sub_name);
        goto out;
    }
    if (asprintf(&header, "{\"alg\":\"RS256\",\"kid\":\"%s\",\"typ\":\"JWT\"}", kid) < 0) {
        header = NULL;
        rc = bpt_err_nomem("sim: token header");
        goto out;
    }
    BPT_CHECK(bpt_json_dump(&body, claims));
    BPT_CHECK(bpt_sim_jwt_make(out, header, body, key));
out:
    json_decref(claims);
    EVP_PKEY_free(key);
    free(header);
    bpt_free(body);
    return rc;
}

/* The nonce as a JSON string: UTF-8 text of lo..hi bytes, as the service takes it. */
static int nonce_text(json_t **out, const struct bpt_sim_token_opts *o, size_t lo, size_t hi,
                      const char *who)
{
    *out = NULL;
    if (o->nonce_len < lo || o->nonce_len > hi) {
        return bpt_err(BPT_EINVAL, "sim: %s takes nonces of %zu..%zu bytes, not %zu", who, lo, hi,
                       o->nonce_len);
    }
    if (memchr(o->nonce, 0, o->nonce_len) ||
        !(*out = json_stringn((const char *)o->nonce, o->nonce_len))) {
        return bpt_err(BPT_EINVAL, "sim: %s takes nonces of UTF-8 text", who);
    }
    return 0;
}

static int check_opts(const char *dir, const struct bpt_sim_token_opts *o)
{
    if (!dir || !o || (o->report_data && o->nonce) || (!o->report_data && !o->nonce)) {
        return bpt_err(BPT_EINVAL, "sim: a token binds either report data or a nonce");
    }
    return 0;
}

int bpt_sim_gcp_token(char **out, const char *dir, const struct bpt_sim_token_opts *o)
{
    json_t *nonces = NULL;
    char half[2][65];
    int rc;

    *out = NULL;
    BPT_CHECK(check_opts(dir, o));
    if (o->nonce) {
        BPT_CHECK(nonce_text(&nonces, o, 10, 74, "the Confidential Space launcher"));
    } else {
        bpt_hex_encode_to(half[0], o->report_data, 32);
        bpt_hex_encode_to(half[1], o->report_data + 32, 32);
        nonces = json_pack("[s,s]", half[0], half[1]);
    }
    if (!nonces) {
        rc = bpt_err_nomem("sim: eat_nonce");
        goto out;
    }
    json_t *claims = json_pack(
        "{s:s,s:s,s:s,s:I,s:I,s:I,s:O,s:b,s:s,s:s,s:[s],s:s,s:i,s:{s:{s:s,s:s,s:s,s:s},"
        "s:{s:s,s:s,s:s},s:{s:[s]}},s:[s]}",
        "iss", GCP_ISSUER, "aud", o->audience ? o->audience : BPT_SIM_GCP_AUDIENCE, "sub",
        "https://www.googleapis.com/compute/v1/projects/bpt-sim/zones/us-central1-a/instances/"
        "bpt-sim",
        "iat", (json_int_t)o->issued_at, "nbf", (json_int_t)o->issued_at, "exp",
        (json_int_t)(o->issued_at + TOKEN_LIFETIME), "eat_nonce", nonces, "secboot", 1, "hwmodel",
        "GCP_AMD_SEV", "swname", "CONFIDENTIAL_SPACE", "swversion", "240900", "dbgstat",
        "disabled-since-boot", "oemid", 11129, "submods", "container", "image_reference",
        "us-docker.pkg.dev/bpt-sim/workloads/bpt:latest", "image_digest", BPT_SIM_GCP_IMAGE_DIGEST,
        "restart_policy", "Never", "image_id",
        "sha256:0000000000000000000000000000000000000000000000000000000000000001", "gce", "zone",
        "us-central1-a", "project_id", "bpt-sim", "instance_name", "bpt-sim", "confidential_space",
        "support_attributes", "STABLE", "google_service_accounts",
        "workload@bpt-sim.iam.gserviceaccount.com");
    rc = sign(out, dir, GCP_DIR, GCP_KID, claims);
out:
    json_decref(nonces);
    return rc;
}

int bpt_sim_maa_token(char **out, const char *dir, const struct bpt_sim_token_opts *o)
{
    json_t *runtime = NULL, *claims = NULL, *nonce = NULL;
    char *runtime_text = NULL, rd_hex[129], hcl_hex[129];
    uint8_t hcl_rd[64] = {0};
    unsigned int n = 0;
    int rc;

    *out = NULL;
    BPT_CHECK(check_opts(dir, o));
    /* The runtime data the vTPM reports; the HCL report's report data is its SHA-256. */
    runtime = json_pack("{s:[],s:{s:b,s:b,s:b}}", "keys", "vm-configuration", "console-enabled", 0,
                        "secure-boot", 1, "tpm-enabled", 1);
    if (!runtime) {
        rc = bpt_err_nomem("sim: runtime claims");
        goto out;
    }
    if (o->report_data) {
        bpt_hex_encode_to(rd_hex, o->report_data, 64);
        if (json_object_set_new(runtime, "client-payload",
                                json_pack("{s:s}", "report_data", rd_hex)) != 0) {
            rc = bpt_err_nomem("sim: client payload");
            goto out;
        }
    } else {
        BPT_CHECK(nonce_text(&nonce, o, 1, 1024, "Azure Attestation"));
    }
    BPT_CHECK(bpt_json_dump(&runtime_text, runtime));
    if (EVP_Digest(runtime_text, strlen(runtime_text), hcl_rd, &n, EVP_sha256(), NULL) != 1) {
        rc = bpt_err_ossl(BPT_ERROR, "sim: SHA-256");
        goto out;
    }
    bpt_hex_encode_to(hcl_hex, hcl_rd, 64);
    claims = json_pack(
        "{s:s,s:I,s:I,s:I,s:s,s:s,s:{s:s,s:s,s:b,s:s,s:s,s:i,s:i,s:i,s:i,s:i},s:O}", "iss",
        BPT_SIM_MAA_ISSUER, "iat", (json_int_t)o->issued_at, "nbf", (json_int_t)o->issued_at, "exp",
        (json_int_t)(o->issued_at + TOKEN_LIFETIME), "x-ms-ver", "1.0", "x-ms-attestation-type",
        "azurevm", "x-ms-isolation-tee", "x-ms-attestation-type", "sevsnpvm",
        "x-ms-compliance-status", "azure-compliant-cvm", "x-ms-sevsnpvm-is-debuggable", 0,
        "x-ms-sevsnpvm-launchmeasurement", BPT_SIM_MAA_MEASUREMENT, "x-ms-sevsnpvm-reportdata",
        hcl_hex, "x-ms-sevsnpvm-guestsvn", 1, "x-ms-sevsnpvm-bootloader-svn", 3,
        "x-ms-sevsnpvm-tee-svn", 0, "x-ms-sevsnpvm-snpfw-svn", 8, "x-ms-sevsnpvm-microcode-svn",
        115, "x-ms-runtime", runtime);
    if (!claims || (nonce && json_object_set(claims, "nonce", nonce) != 0) ||
        (o->audience && json_object_set_new(claims, "aud", json_string(o->audience)) != 0)) {
        rc = bpt_err_nomem("sim: token claims");
        goto out;
    }
    rc = sign(out, dir, MAA_DIR, MAA_KID, claims);
    claims = NULL;
out:
    json_decref(nonce);
    json_decref(claims);
    json_decref(runtime);
    bpt_free(runtime_text);
    return rc;
}
