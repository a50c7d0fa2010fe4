/* The policy: what a relying party accepts (policy.h). */
#include "attestation/policy_internal.h"

#include "core/codec.h"
#include <blueprint-tee/secret.h>
#include "core/err.h"
#include "core/http.h"
#include "core/limits.h"
#include "core/logging.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

int bpt_policy_new(bpt_policy **out)
{
    bpt_policy *p;
    if (!out) {
        return bpt_err(BPT_EINVAL, "policy: no out pointer");
    }
    *out = NULL;
    if (!(p = calloc(1, sizeof(*p)))) {
        return bpt_err_nomem("policy");
    }
    p->allow_debug = false;
    p->max_age_secs = BPT_POLICY_PRODUCTION_MAX_AGE_SECS;
    p->tdx.accepted_tcb = 1u << BPT_TCB_UP_TO_DATE;
    p->sev_snp.allow_smt = true;
    p->sev_snp.allow_migration_agent = true;
    *out = p;
    return 0;
}

static int copy_str(char **dst, const char *src)
{
    *dst = NULL;
    if (src && !(*dst = strdup(src))) {
        return bpt_err_nomem("policy");
    }
    return 0;
}

int bpt_policy_clone(bpt_policy **out, const bpt_policy *src)
{
    bpt_policy *p = NULL;
    int rc;

    if (!out || !src) {
        return bpt_err(BPT_EINVAL, "policy: clone of NULL");
    }
    *out = NULL;
    if (!(p = malloc(sizeof(*p)))) {
        return bpt_err_nomem("policy");
    }
    *p = *src; /* plain fields; every pointer is replaced by its own copy below */
    p->expected_nonce = p->expected_audience = NULL;
    p->expected_image_digest = p->jwt.jwks_url = p->jwt.jwks_file = NULL;
    p->jwt.issuers = NULL;
    p->jwt.n_issuers = 0;
    BPT_CHECK(copy_str(&p->expected_nonce, src->expected_nonce));
    BPT_CHECK(copy_str(&p->expected_audience, src->expected_audience));
    BPT_CHECK(copy_str(&p->expected_image_digest, src->expected_image_digest));
    BPT_CHECK(copy_str(&p->jwt.jwks_url, src->jwt.jwks_url));
    BPT_CHECK(copy_str(&p->jwt.jwks_file, src->jwt.jwks_file));
    for (size_t i = 0; i < src->jwt.n_issuers; i++) {
        BPT_CHECK(bpt_policy_add_jwt_issuer(p, src->jwt.issuers[i]));
    }
    *out = p;
    p = NULL;
    rc = 0;
out:
    bpt_policy_free(p);
    return rc;
}

void bpt_policy_free(bpt_policy *p)
{
    if (!p) {
        return;
    }
    free(p->expected_nonce);
    free(p->expected_audience);
    free(p->expected_image_digest);
    for (size_t i = 0; i < p->jwt.n_issuers; i++) {
        free(p->jwt.issuers[i]);
    }
    free(p->jwt.issuers);
    free(p->jwt.jwks_url);
    free(p->jwt.jwks_file);
    free(p);
}

void bpt_policy_set_insecure_any_audience(bpt_policy *p, bool yes)
{
    p->insecure_any_audience = yes;
}

bool bpt_policy_insecure_any_audience(const bpt_policy *p)
{
    return p->insecure_any_audience;
}

void bpt_policy_set_allow_debug(bpt_policy *p, bool allow)
{
    p->allow_debug = allow;
}

bool bpt_policy_allow_debug(const bpt_policy *p)
{
    return p->allow_debug;
}

uint64_t bpt_policy_set_max_age(bpt_policy *p, uint64_t secs)
{
    if (secs > BPT_POLICY_MAX_AGE_CEILING_SECS) {
        BPT_LOG(BPT_LOG_WARN, "policy", "max_age_secs clamped requested=%llu ceiling=%d",
                (unsigned long long)secs, BPT_POLICY_MAX_AGE_CEILING_SECS);
        secs = BPT_POLICY_MAX_AGE_CEILING_SECS;
    }
    p->max_age_secs = secs;
    return secs;
}

uint64_t bpt_policy_max_age(const bpt_policy *p)
{
    return p->max_age_secs;
}

static int set_str(char **slot, const char *v, const char *what)
{
    char *copy = NULL;
    if (v) {
        if (strlen(v) > BPT_LIMIT_TEXT_BYTES) {
            return bpt_err(BPT_EINVAL, "policy: %s longer than %u bytes", what,
                           BPT_LIMIT_TEXT_BYTES);
        }
        if (!(copy = strdup(v))) {
            return bpt_err_nomem(what);
        }
    }
    free(*slot);
    *slot = copy;
    return 0;
}

/* The digest algorithms a measurement is made with, by name and length. */
static const struct {
    const char *name;
    size_t len;
} digest_algs[] = {{"sha256", 32}, {"sha384", 48}, {"sha512", 64}};

static const char *alg_of_len(size_t n)
{
    for (size_t i = 0; i < sizeof(digest_algs) / sizeof(digest_algs[0]); i++) {
        if (digest_algs[i].len == n) {
            return digest_algs[i].name;
        }
    }
    return NULL;
}

/*
 * "<hex>" or "<alg>:<hex>", as `bpt verify` prints a measurement: the algorithm must be one of
 * digest_algs and the hex as long as its digests; without one, the length must be a digest's.
 */
int bpt_policy_set_expected_measurement(bpt_policy *p, const char *value)
{
    bpt_buf tmp = BPT_BUF_INIT(BPT_MEASUREMENT_MAX_BYTES);
    const char *hex = value, *colon, *alg = "", *named;
    char alg_buf[8] = "";
    int rc;

    if (!p) {
        return bpt_err(BPT_EINVAL, "policy: NULL policy");
    }
    if (!value) {
        p->has_expected_measurement = false;
        return 0;
    }
    if ((colon = strchr(value, ':')) != NULL) {
        size_t al = (size_t)(colon - value);
        for (size_t i = 0; i < al && i + 1 < sizeof(alg_buf); i++) {
            alg_buf[i] = (char)tolower((unsigned char)value[i]);
            alg_buf[i + 1] = '\0';
        }
        if (al >= sizeof(alg_buf) || !alg_buf[0] ||
            (strcmp(alg_buf, "sha256") != 0 && strcmp(alg_buf, "sha384") != 0 &&
             strcmp(alg_buf, "sha512") != 0)) {
            return bpt_err(BPT_EINVAL,
                           "policy: expected_measurement: algorithm '%.*s' (expected sha256, "
                           "sha384 or sha512 before the ':')",
                           (int)(al > 16 ? 16 : al), value);
        }
        alg = alg_buf;
        hex = colon + 1;
    }
    if ((rc = bpt_hex_decode(&tmp, hex, strlen(hex), "expected_measurement")) < 0) {
        rc = bpt_err_prefix(BPT_EINVAL, "policy");
        goto out;
    }
    named = alg_of_len(tmp.len);
    if (*alg && (!named || strcmp(named, alg) != 0)) {
        rc = bpt_err(BPT_EINVAL,
                     "policy: expected_measurement: a %s digest is %d bytes, this one is %zu", alg,
                     strcmp(alg, "sha256") == 0   ? 32
                     : strcmp(alg, "sha384") == 0 ? 48
                                                  : 64,
                     tmp.len);
        goto out;
    }
    if (!named) {
        rc = bpt_err(BPT_EINVAL,
                     "policy: expected_measurement has %zu byte%s: measurements are sha384 "
                     "(48 bytes: SEV-SNP, TDX MRTD, Nitro PCR0, Azure MAA), sha256 (32 bytes: "
                     "the GCP image digest) or sha512 (64); write it as <hex> or <alg>:<hex>",
                     tmp.len, tmp.len == 1 ? "" : "s");
        goto out;
    }
    memcpy(p->expected_measurement, tmp.data, tmp.len);
    p->expected_measurement_len = tmp.len;
    snprintf(p->expected_measurement_alg, sizeof(p->expected_measurement_alg), "%s", alg);
    p->has_expected_measurement = true;
    rc = 0;
out:
    bpt_buf_dispose(&tmp);
    return rc;
}

int bpt_policy_set_expected_report_data(bpt_policy *p, const char *hex)
{
    bpt_buf tmp = BPT_BUF_INIT(64);
    int rc;
    if (!hex) {
        p->expected_report_data_len = 0;
        return 0;
    }
    rc = bpt_hex_decode(&tmp, hex, strlen(hex), "expected_report_data");
    if (rc < 0) {
        bpt_buf_dispose(&tmp);
        return bpt_err_prefix(BPT_EINVAL, "policy");
    }
    if (tmp.len == 0) {
        bpt_buf_dispose(&tmp);
        return bpt_err(BPT_EINVAL, "policy: expected_report_data is empty");
    }
    memset(p->expected_report_data, 0, sizeof(p->expected_report_data));
    memcpy(p->expected_report_data, tmp.data, tmp.len);
    p->expected_report_data_len = tmp.len;
    bpt_buf_dispose(&tmp);
    return 0;
}

int bpt_policy_set_expected_nonce(bpt_policy *p, const char *nonce)
{
    if (nonce && (!*nonce || strlen(nonce) > BPT_NONCE_MAX_BYTES)) {
        return bpt_err(BPT_EINVAL, "policy: expected_nonce of %zu bytes (a nonce is 1..%d bytes)",
                       strlen(nonce), BPT_NONCE_MAX_BYTES);
    }
    return set_str(&p->expected_nonce, nonce, "expected_nonce");
}

int bpt_policy_set_expected_audience(bpt_policy *p, const char *aud)
{
    return set_str(&p->expected_audience, aud, "expected_audience");
}

int bpt_policy_set_expected_image_digest(bpt_policy *p, const char *digest)
{
    return set_str(&p->expected_image_digest, digest, "expected_image_digest");
}

bool bpt_policy_is_workload_bound(const bpt_policy *p)
{
    return p->expected_audience != NULL || p->expected_image_digest != NULL;
}

int bpt_policy_set_tdx_accepted_tcb(bpt_policy *p, unsigned mask)
{
    if (mask == 0 || mask >= (1u << BPT_TCB_STATUS_COUNT)) {
        return bpt_err(BPT_EINVAL,
                       "policy: accepted TDX TCB statuses 0x%x (expected a non-empty "
                       "mask of 1 << bpt_tdx_tcb_status)",
                       mask);
    }
    p->tdx.accepted_tcb = mask;
    return 0;
}

unsigned bpt_policy_tdx_accepted_tcb(const bpt_policy *p)
{
    return p->tdx.accepted_tcb;
}

/* A byte field a policy may expect: its name, where it goes, its "has" flag and its length. */
struct expected_field {
    const char *name;
    uint8_t *dst;
    bool *has;
    size_t len;
};

/* Set (hex) or clear (NULL) the field of @p fields named @p field; @p module ("tdx",
 * "sev_snp") and @p names for the messages. */
static int set_expected(const struct expected_field *fields, size_t n, const char *field,
                        const char *hex, const char *module, const char *names)
{
    for (size_t i = 0; field && i < n; i++) {
        char what[48];
        if (strcmp(field, fields[i].name) != 0) {
            continue;
        }
        if (!hex) {
            *fields[i].has = false;
            return 0;
        }
        snprintf(what, sizeof(what), "policy: %s %s", module, field);
        if (bpt_hex_decode_exact(fields[i].dst, fields[i].len, hex, strlen(hex), what) < 0) {
            *fields[i].has = false;
            return bpt_err(BPT_EINVAL, "%s: expected %zu bytes of hex", what, fields[i].len);
        }
        *fields[i].has = true;
        return 0;
    }
    return bpt_err(BPT_EINVAL, "policy: unknown %s field '%.32s' (expected %s)",
                   strcmp(module, "tdx") == 0 ? "TDX" : "SEV-SNP", field ? field : "(null)", names);
}

int bpt_policy_set_tdx_expected(bpt_policy *p, const char *field, const char *hex)
{
    const struct expected_field fields[] = {
        {"mr_config_id", p->tdx.mr_config_id, &p->tdx.has_mr_config_id, 48},
        {"mr_owner", p->tdx.mr_owner, &p->tdx.has_mr_owner, 48},
        {"mr_owner_config", p->tdx.mr_owner_config, &p->tdx.has_mr_owner_config, 48},
        {"mr_seam", p->tdx.mr_seam, &p->tdx.has_mr_seam, 48},
        {"rtmr0", p->tdx.rtmr[0], &p->tdx.has_rtmr[0], 48},
        {"rtmr1", p->tdx.rtmr[1], &p->tdx.has_rtmr[1], 48},
        {"rtmr2", p->tdx.rtmr[2], &p->tdx.has_rtmr[2], 48},
        {"rtmr3", p->tdx.rtmr[3], &p->tdx.has_rtmr[3], 48},
        {"xfam", p->tdx.xfam, &p->tdx.has_xfam, 8},
        {"seam_attributes", p->tdx.seam_attributes, &p->tdx.has_seam_attributes, 8},
    };
    return set_expected(fields, sizeof(fields) / sizeof(fields[0]), field, hex, "tdx",
                        "mr_config_id, mr_owner, mr_owner_config, mr_seam, rtmr0..rtmr3, xfam or "
                        "seam_attributes");
}

int bpt_policy_set_sev_snp_expected(bpt_policy *p, const char *field, const char *hex)
{
    const struct expected_field fields[] = {
        {"host_data", p->sev_snp.host_data, &p->sev_snp.has_host_data, 32},
        {"family_id", p->sev_snp.family_id, &p->sev_snp.has_family_id, 16},
        {"image_id", p->sev_snp.image_id, &p->sev_snp.has_image_id, 16},
    };
    return set_expected(fields, sizeof(fields) / sizeof(fields[0]), field, hex, "sev_snp",
                        "host_data, family_id or image_id");
}

int bpt_policy_add_sev_snp_key_digest(bpt_policy *p, const char *field, const char *hex)
{
    bool author = field && strcmp(field, "author_key_digests") == 0;
    size_t *n = author ? &p->sev_snp.n_author_keys : &p->sev_snp.n_id_keys;
    uint8_t(*keys)[48] = author ? p->sev_snp.author_keys : p->sev_snp.id_keys;
    char what[64];

    if (!field || (!author && strcmp(field, "id_key_digests") != 0)) {
        return bpt_err(BPT_EINVAL,
                       "policy: unknown SEV-SNP key list '%.32s' (expected id_key_digests or "
                       "author_key_digests)",
                       field ? field : "(null)");
    }
    if (*n >= BPT_POLICY_MAX_SNP_KEYS) {
        return bpt_err(BPT_ELIMIT, "policy: sev_snp %s holds at most %d digests", field,
                       BPT_POLICY_MAX_SNP_KEYS);
    }
    snprintf(what, sizeof(what), "policy: sev_snp %s[%zu]", field, *n);
    if (!hex || bpt_hex_decode_exact(keys[*n], 48, hex, strlen(hex), what) < 0) {
        return bpt_err(BPT_EINVAL, "%s: expected a 48-byte SHA-384 digest in hex", what);
    }
    (*n)++;
    return 0;
}

int bpt_policy_set_sev_snp_rule(bpt_policy *p, const char *rule, bool value)
{
    struct {
        const char *name;
        bool *v, *has;
    } rules[] = {
        {"allow_smt", &p->sev_snp.allow_smt, NULL},
        {"allow_migration_agent", &p->sev_snp.allow_migration_agent, NULL},
        {"require_single_socket", &p->sev_snp.require_single_socket, NULL},
        {"require_author_key", &p->sev_snp.require_author_key, NULL},
        {"platform_smt_enabled", &p->sev_snp.platform_smt, &p->sev_snp.has_platform_smt},
        {"platform_tsme_enabled", &p->sev_snp.platform_tsme, &p->sev_snp.has_platform_tsme},
    };
    for (size_t i = 0; rule && i < sizeof(rules) / sizeof(rules[0]); i++) {
        if (strcmp(rule, rules[i].name) == 0) {
            *rules[i].v = value;
            if (rules[i].has) {
                *rules[i].has = true;
            }
            return 0;
        }
    }
    return bpt_err(BPT_EINVAL,
                   "policy: unknown SEV-SNP rule '%.32s' (expected allow_smt, "
                   "allow_migration_agent, require_single_socket, require_author_key, "
                   "platform_smt_enabled or platform_tsme_enabled)",
                   rule ? rule : "(null)");
}

/* "MAJOR.MINOR", each 0..255, nothing else. */
static int parse_major_minor(uint8_t *major, uint8_t *minor, const char *s, const char *what)
{
    unsigned long v[2];
    const char *q = s;
    for (int i = 0; i < 2; i++) {
        char *end = NULL;
        if (*q < '0' || *q > '9') {
            goto bad;
        }
        v[i] = strtoul(q, &end, 10);
        if (v[i] > 255 || end - q > 3 || *end != (i == 0 ? '.' : '\0')) {
            goto bad;
        }
        q = end + 1;
    }
    *major = (uint8_t)v[0];
    *minor = (uint8_t)v[1];
    return 0;
bad:
    return bpt_err(BPT_EINVAL, "%s '%.32s': expected MAJOR.MINOR, each 0..255", what, s);
}

int bpt_policy_set_sev_snp_min_version(bpt_policy *p, const char *field, const char *major_minor)
{
    bool *has;
    uint8_t *major, *minor;
    char what[64];

    if (field && strcmp(field, "min_abi") == 0) {
        has = &p->sev_snp.has_min_abi;
        major = &p->sev_snp.min_abi_major;
        minor = &p->sev_snp.min_abi_minor;
    } else if (field && strcmp(field, "min_firmware_version") == 0) {
        has = &p->sev_snp.has_min_firmware;
        major = &p->sev_snp.min_firmware_major;
        minor = &p->sev_snp.min_firmware_minor;
    } else {
        return bpt_err(BPT_EINVAL,
                       "policy: unknown SEV-SNP version '%.32s' (expected min_abi or "
                       "min_firmware_version)",
                       field ? field : "(null)");
    }
    if (!major_minor) {
        *has = false;
        return 0;
    }
    snprintf(what, sizeof(what), "policy: sev_snp %s", field);
    if (parse_major_minor(major, minor, major_minor, what) < 0) {
        *has = false;
        return BPT_EINVAL;
    }
    *has = true;
    return 0;
}

int bpt_policy_set_sev_snp_min_build(bpt_policy *p, int build)
{
    if (build < -1 || build > 255) {
        return bpt_err(BPT_EINVAL, "policy: sev_snp min_build %d out of range 0..255", build);
    }
    p->sev_snp.has_min_build = build >= 0;
    p->sev_snp.min_build = build >= 0 ? (uint8_t)build : 0;
    return 0;
}

int bpt_policy_set_sev_snp_min_tcb(bpt_policy *p, const char *field, const bpt_snp_tcb *min)
{
    bool *has;
    bpt_snp_tcb *dst;
    if (field && strcmp(field, "min_tcb") == 0) {
        has = &p->sev_snp.has_min_tcb;
        dst = &p->sev_snp.min_tcb;
    } else if (field && strcmp(field, "min_launch_tcb") == 0) {
        has = &p->sev_snp.has_min_launch_tcb;
        dst = &p->sev_snp.min_launch_tcb;
    } else {
        return bpt_err(BPT_EINVAL,
                       "policy: unknown SEV-SNP TCB '%.32s' (expected min_tcb or min_launch_tcb)",
                       field ? field : "(null)");
    }
    *has = min != NULL;
    if (min) {
        *dst = *min;
    }
    return 0;
}

int bpt_policy_set_jwks_url(bpt_policy *p, const char *url)
{
    if (url && !bpt_http_url_allowed(url)) {
        return bpt_err(BPT_EINVAL,
                       "policy: jwks_url '%.200s' refused (https, or http to a loopback address)",
                       url);
    }
    return set_str(&p->jwt.jwks_url, url, "jwks_url");
}

int bpt_policy_add_jwt_issuer(bpt_policy *p, const char *issuer)
{
    char **grown;
    if (!issuer || !*issuer || strlen(issuer) > BPT_LIMIT_TEXT_BYTES) {
        return bpt_err(BPT_EINVAL, "policy: a JWT issuer must be a non-empty string");
    }
    if (p->jwt.n_issuers >= BPT_LIMIT_LIST_ENTRIES) {
        return bpt_err(BPT_ELIMIT, "policy: more than %d JWT issuers", BPT_LIMIT_LIST_ENTRIES);
    }
    grown = realloc(p->jwt.issuers, (p->jwt.n_issuers + 1) * sizeof(char *));
    if (!grown) {
        return bpt_err_nomem("issuers");
    }
    p->jwt.issuers = grown;
    if (!(grown[p->jwt.n_issuers] = strdup(issuer))) {
        return bpt_err_nomem("issuer");
    }
    p->jwt.n_issuers++;
    return 0;
}

int bpt_policy_set_jwt_leeway(bpt_policy *p, uint64_t secs)
{
    if (secs > 300) {
        return bpt_err(BPT_EINVAL, "policy: JWT leeway of %llu s exceeds 300 s",
                       (unsigned long long)secs);
    }
    p->jwt.has_leeway = true;
    p->jwt.leeway_secs = secs;
    return 0;
}

int bpt_policy_set_jwks_file(bpt_policy *p, const char *path)
{
    return set_str(&p->jwt.jwks_file, path, "jwks_file");
}

int bpt_policy_fresh_nonce(char out[33])
{
    uint8_t b[16];
    if (RAND_bytes(b, sizeof(b)) != 1) {
        out[0] = '\0';
        return bpt_err_ossl(BPT_ERROR, "policy: random nonce");
    }
    bpt_hex_encode_to(out, b, sizeof(b));
    return 0;
}

int bpt_policy_from_custom_config(bpt_policy **out, const char *const *keys,
                                  const char *const *values, size_t n, const char *nonce)
{
    bpt_policy *p = NULL;
    int rc;

    *out = NULL;
    BPT_CHECK(bpt_policy_new(&p));
    BPT_CHECK(bpt_policy_set_expected_nonce(p, nonce));
    for (size_t i = 0; i < n; i++) {
        const char *k = keys[i], *v = values[i];
        if (!k || !v) {
            continue;
        }
        if (strcmp(k, "tee_expected_audience") == 0) {
            BPT_CHECK(bpt_policy_set_expected_audience(p, v));
        } else if (strcmp(k, "tee_expected_image_digest") == 0) {
            BPT_CHECK(bpt_policy_set_expected_image_digest(p, v));
        } else if (strcmp(k, "tee_expected_measurement") == 0) {
            BPT_CHECK(bpt_policy_set_expected_measurement(p, v));
        } else if (strcmp(k, "tee_allow_debug") == 0) {
            if (strcasecmp(v, "true") == 0) {
#ifdef BPT_TESTING
                p->allow_debug = true;
                BPT_LOG(BPT_LOG_WARN, "policy",
                        "tee_allow_debug=true honoured: debug-mode TEEs accepted (testing build)");
#else
                BPT_LOG(BPT_LOG_WARN, "policy",
                        "tee_allow_debug=true refused: debug-mode TEEs are accepted only in a "
                        "testing build");
#endif
            }
        } else if (strcmp(k, "tee_max_age_secs") == 0) {
            char *end = NULL;
            unsigned long long secs;
            if (*v >= '0' && *v <= '9') {
                secs = strtoull(v, &end, 10);
                if (end && *end == '\0') {
                    bpt_policy_set_max_age(p, secs);
                }
            }
        }
    }
    *out = p;
    p = NULL;
    rc = 0;
out:
    bpt_policy_free(p);
    return rc;
}

/* Why an expected measurement can never match evidence measured with @p alg in @p n bytes;
 * 0 when it can. */
static int measurement_fits(const bpt_policy *p, const char *alg, size_t n, const char *what)
{
    if (p->expected_measurement_alg[0] && strcmp(p->expected_measurement_alg, alg) != 0) {
        return bpt_err(BPT_EUNSATISFIABLE,
                       "%s: the policy expects a %s measurement, and these are %s (%zu bytes)",
                       what, p->expected_measurement_alg, alg, n);
    }
    if (p->expected_measurement_len != n) {
        return bpt_err(BPT_EUNSATISFIABLE,
                       "%s: the policy expects a measurement of %zu bytes, and these are %zu "
                       "bytes (%s)",
                       what, p->expected_measurement_len, n, alg);
    }
    return 0;
}

int bpt_policy_check_measurement(const bpt_policy *p, const uint8_t *m, size_t n, const char *what)
{
    char hex[2 * BPT_MEASUREMENT_MAX_BYTES + 1], want[2 * BPT_MEASUREMENT_MAX_BYTES + 1];
    const char *alg = alg_of_len(n);
    int rc;
    if (!p->has_expected_measurement) {
        return 0;
    }
    if (n > BPT_MEASUREMENT_MAX_BYTES) {
        return bpt_err(BPT_EUNSATISFIABLE, "%s: a measurement of %zu bytes cannot be compared",
                       what, n);
    }
    if ((rc = measurement_fits(p, alg ? alg : "an unknown algorithm", n, what)) < 0) {
        return rc;
    }
    if (!bpt_ct_equal(m, p->expected_measurement, n)) {
        bpt_hex_encode_to(hex, m, n);
        bpt_hex_encode_to(want, p->expected_measurement, n);
        return bpt_err(BPT_ECLAIM, "%s %s != expected %s", what, hex, want);
    }
    return 0;
}

/* What each built-in provider measures: the algorithm and size of its measurement. */
static bool provider_measurement(bpt_provider provider, const char **alg, size_t *n,
                                 const char **what)
{
    switch (provider) {
    case BPT_PROVIDER_AMD_SEV_SNP:
        *what = "amd_sev_snp: measurement";
        break;
    case BPT_PROVIDER_INTEL_TDX:
        *what = "intel_tdx: measurement (MRTD)";
        break;
    case BPT_PROVIDER_AWS_NITRO:
        *what = "aws_nitro: measurement (PCR0)";
        break;
    case BPT_PROVIDER_AZURE_SNP:
        *what = "azure_maa: measurement";
        break;
    case BPT_PROVIDER_GCP_CONFIDENTIAL:
        *what = "gcp_confidential: measurement (image digest)";
        *alg = "sha256";
        *n = 32;
        return true;
    default:
        return false;
    }
    *alg = "sha384";
    *n = 48;
    return true;
}

int bpt_policy_check_provider(const bpt_policy *p, bpt_provider provider)
{
    const char *alg = NULL, *what = NULL;
    size_t n = 0;
    if (!p) {
        return bpt_err(BPT_EINVAL, "policy: NULL policy");
    }
    if (!p->has_expected_measurement || !provider_measurement(provider, &alg, &n, &what)) {
        return 0;
    }
    return measurement_fits(p, alg, n, what);
}

int bpt_policy_check_report_data(const bpt_policy *p, const uint8_t rd[64], const char *what)
{
    uint8_t want[64] = {0};
    if (p->expected_report_data_len) {
        memcpy(want, p->expected_report_data, p->expected_report_data_len);
        if (!bpt_ct_equal(want, rd, 64)) {
            return bpt_err(BPT_ECLAIM, "%s differs from the expected %zu bytes (zero-padded to 64)",
                           what, p->expected_report_data_len);
        }
    }
    if (p->has_nonce_report_data && !bpt_ct_equal(p->nonce_report_data, rd, 64)) {
        return bpt_err(BPT_ECLAIM,
                       "%s is not SHA-512 of the expected nonce (the nonce is bound as report "
                       "data = SHA-512(nonce))",
                       what);
    }
    return 0;
}

int bpt_policy_for_provider(bpt_policy **owned, const bpt_policy *p, bpt_provider provider)
{
    bpt_nonce_binding where;
    uint8_t rd[64];
    bpt_policy *copy = NULL;
    int rc;

    *owned = NULL;
    if (!p->expected_nonce ||
        bpt_nonce_bind(&where, rd, provider, (const uint8_t *)p->expected_nonce,
                       strlen(p->expected_nonce)) < 0 ||
        where != BPT_NONCE_IN_REPORT_DATA) {
        return 0; /* no nonce, a nonce field of its own, or a plugin's provider: as it is */
    }
    BPT_CHECK(bpt_policy_clone(&copy, p));
    free(copy->expected_nonce);
    copy->expected_nonce = NULL;
    memcpy(copy->nonce_report_data, rd, 64);
    copy->has_nonce_report_data = true;
    *owned = copy;
    rc = 0;
out:
    return rc;
}
