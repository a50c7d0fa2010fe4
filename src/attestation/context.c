/*
 * The verification context (context.h): how verifications run. It owns the caches, the parsed
 * trust roots and JWK set, and the verifier table. Setters work until the context is frozen by
 * its first verification or verifier; after that every field is read without a lock by any
 * number of threads, and only the caches (each with its own lock) and the reference count
 * change.
 */
#include "attestation/context_internal.h"
#include "attestation/evidence_internal.h"

#include "attestation/collateral/collateral_cache.h"
#include "attestation/collateral/jwks.h"
#include "attestation/collateral/tdx_collateral.h"
#include "attestation/pki/cert_cache.h"
#include "attestation/pki/chain_cache.h"
#include "attestation/pki/pki.h"

#include "core/err.h"
#include "core/http.h"
#include "core/json.h"
#include "core/limits.h"
#include "core/lru.h"
#include "core/reader.h"

#include <stdlib.h>
#include <string.h>

static int check_opts(const bpt_verify_ctx_opts *o)
{
    if (o->version != BPT_VERIFY_CTX_OPTS_VERSION) {
        return bpt_err(BPT_EINVAL,
                       "verify context: options version %u (initialise them with "
                       "BPT_VERIFY_CTX_OPTS_INIT, version %d)",
                       o->version, BPT_VERIFY_CTX_OPTS_VERSION);
    }
    if (o->jwks_timeout_ms < 0 || o->jwks_timeout_ms > 600000 || o->jwks_default_ttl_secs > 86400 ||
        o->jwks_refetch_secs > 86400) {
        return bpt_err(BPT_EINVAL,
                       "verify context: jwks_timeout_ms %ld (0..600000), jwks_default_ttl_secs "
                       "and jwks_refetch_secs (0..86400)",
                       o->jwks_timeout_ms);
    }
    if (o->chain_cache_entries > BPT_LRU_MAX_CAPACITY ||
        o->collateral_cache_entries > BPT_LRU_MAX_CAPACITY) {
        return bpt_err(BPT_EINVAL,
                       "verify context: cache of %zu chains / %zu collateral sets (0..%u each)",
                       o->chain_cache_entries, o->collateral_cache_entries, BPT_LRU_MAX_CAPACITY);
    }
    return 0;
}

static void release_key(void *k)
{
    EVP_PKEY_free(k);
}

int bpt_verify_ctx_alloc(bpt_verify_ctx **out, const bpt_verify_ctx_opts *opts)
{
    static const bpt_verify_ctx_opts defaults = BPT_VERIFY_CTX_OPTS_INIT;
    bpt_verify_ctx *c = NULL;
    int rc;

    if (!out) {
        return bpt_err(BPT_EINVAL, "verify context: no out pointer");
    }
    *out = NULL;
    if (!opts) {
        opts = &defaults;
    }
    BPT_CHECK(check_opts(opts));
    if (!(c = calloc(1, sizeof(*c)))) {
        return bpt_err_nomem("verify context");
    }
    atomic_init(&c->refs, 1);
    atomic_init(&c->frozen, false);
    bpt_buf_init(&c->trust_roots_pem, BPT_LIMIT_CERT_CHAIN_BYTES);
    bpt_buf_init(&c->certs, BPT_LIMIT_CERT_CHAIN_BYTES);
    c->log.min_level = BPT_LOG_OFF;
    BPT_CHECK(bpt_cert_cache_new(&c->cert_cache, BPT_CERT_CACHE_ENTRIES));
    if (opts->chain_cache_entries) {
        BPT_CHECK(bpt_chain_cache_new(&c->chain_cache, opts->chain_cache_entries));
        BPT_CHECK(bpt_lru_new(&c->ec_keys, opts->chain_cache_entries, release_key));
    }
    if (opts->collateral_cache_entries) {
        BPT_CHECK(bpt_collateral_cache_new(&c->collateral_cache, opts->collateral_cache_entries));
    }
    if (opts->jwks_cache) {
        struct bpt_jwks_cache_opts jo = {.clock = opts->jwks_clock,
                                         .timeout_ms = opts->jwks_timeout_ms,
                                         .default_ttl_secs = opts->jwks_default_ttl_secs,
                                         .refetch_secs = opts->jwks_refetch_secs};
        BPT_CHECK(bpt_jwks_cache_new(&c->jwks_cache, &jo));
        BPT_CHECK(bpt_lru_new(&c->jwt_tokens, BPT_CTX_JWT_TOKENS, bpt_lru_release_self));
    }
    *out = c;
    c = NULL;
    rc = 0;
out:
    bpt_verify_ctx_free(c);
    return rc;
}

bpt_verify_ctx *bpt_verify_ctx_ref(bpt_verify_ctx *c)
{
    if (c) {
        atomic_fetch_add(&c->refs, 1);
    }
    return c;
}

void bpt_verify_ctx_free(bpt_verify_ctx *c)
{
    if (!c || atomic_fetch_sub(&c->refs, 1) != 1) {
        return;
    }
    sk_X509_pop_free(c->trust_roots, X509_free);
    for (int i = 0; i < BPT_ROOT_COUNT; i++) {
        X509_free(atomic_load(&c->pinned[i]));
    }
    bpt_buf_dispose(&c->trust_roots_pem);
    bpt_buf_dispose(&c->certs);
    free(c->collateral_json);
    bpt_tdx_collateral_prepared_free(c->collateral_prepared);
    bpt_jwks_free(c->jwks);
    free(c->jwks_url);
    free(c->kds_url);
    free(c->pccs_url);
    free(c->cache_dir);
    bpt_cert_cache_free(c->cert_cache);
    bpt_chain_cache_free(c->chain_cache);
    bpt_lru_free(c->ec_keys);
    bpt_lru_free(c->jwt_tokens);
    bpt_collateral_cache_free(c->collateral_cache);
    bpt_jwks_cache_free(c->jwks_cache);
    free(c);
}

void bpt_verify_ctx_freeze(const bpt_verify_ctx *c)
{
    /* The flag is the one field a const context may change: it only ever goes to true. */
    atomic_store(&((bpt_verify_ctx *)c)->frozen, true);
}

bool bpt_verify_ctx_is_frozen(const bpt_verify_ctx *c)
{
    return c && atomic_load(&((bpt_verify_ctx *)c)->frozen);
}

/* Every setter starts here. */
static int settable(const bpt_verify_ctx *c, const char *what)
{
    if (!c) {
        return bpt_err(BPT_EINVAL, "verify context: NULL context setting %s", what);
    }
    if (bpt_verify_ctx_is_frozen(c)) {
        return bpt_err(BPT_EBUSY,
                       "verify context: cannot set %s: the context is in use (configure it "
                       "before its first verification or verifier)",
                       what);
    }
    return 0;
}

static int set_text(char **slot, const char *v, const char *what)
{
    char *copy = NULL;
    if (v) {
        if (strlen(v) > BPT_LIMIT_TEXT_BYTES) {
            return bpt_err(BPT_EINVAL, "verify context: %s longer than %u bytes", what,
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

static int set_url(char **slot, const char *url, const char *what)
{
    if (url && !bpt_http_url_allowed(url)) {
        return bpt_err(BPT_EINVAL,
                       "verify context: %s '%.200s' refused (https only, or http to a loopback "
                       "address)",
                       what, url);
    }
    return set_text(slot, url, what);
}

int bpt_verify_ctx_set_at(bpt_verify_ctx *c, int64_t unix_secs)
{
    int rc = settable(c, "the time");
    if (rc == 0) {
        c->has_at = true;
        c->at = unix_secs;
        c->clock = (bpt_clock){0};
    }
    return rc;
}

int bpt_verify_ctx_set_clock(bpt_verify_ctx *c, const bpt_clock *clock)
{
    int rc = settable(c, "the clock");
    if (rc == 0) {
        c->has_at = false;
        c->clock = clock ? *clock : (bpt_clock){0};
    }
    return rc;
}

int64_t bpt_verify_ctx_at(const bpt_verify_ctx *c)
{
    if (!c) {
        return bpt_time_now();
    }
    return c->has_at ? c->at : bpt_clock_now(&c->clock);
}

int bpt_verify_ctx_add_trust_root_pem(bpt_verify_ctx *c, const char *pem, size_t len)
{
    return bpt_verify_ctx_add_trust_roots(c, (const uint8_t *)pem, len);
}

int bpt_verify_ctx_add_trust_roots(bpt_verify_ctx *c, const uint8_t *der_or_pem, size_t len)
{
    STACK_OF(X509) *parsed = NULL;
    size_t before;
    int rc;

    BPT_CHECK(settable(c, "trust roots"));
    if (!der_or_pem || len == 0) {
        return bpt_err(BPT_EINVAL,
                       "verify context: trust root is not a PEM or DER certificate (none given)");
    }
    /* Parsed now, once: a bad root is refused here, and verifications share the result. */
    if ((rc = bpt_pki_parse_certs(&parsed, der_or_pem, len, "trust roots")) < 0) {
        rc = bpt_err_prefix(rc == BPT_EMALFORMED ? BPT_EINVAL : rc,
                            "verify context: trust root is not a PEM or DER certificate");
        goto out;
    }
    before = c->trust_roots_pem.len;
    rc = bpt_buf_append(&c->trust_roots_pem, der_or_pem, len); /* the bytes, for cache keys */
    if (rc == 0) {
        rc = bpt_buf_append(&c->trust_roots_pem, "\n", 1);
    }
    if (rc < 0) {
        c->trust_roots_pem.len = before;
        rc = bpt_err_prefix(rc, "verify context: trust roots");
        goto out;
    }
    if (!c->trust_roots) {
        c->trust_roots = parsed;
        parsed = NULL;
    }
    while (parsed && sk_X509_num(parsed) > 0) {
        X509 *x = sk_X509_shift(parsed);
        if (!sk_X509_push(c->trust_roots, x)) {
            X509_free(x);
            rc = bpt_err_nomem("trust roots");
            goto out;
        }
    }
    if (EVP_Digest(c->trust_roots_pem.data, c->trust_roots_pem.len, c->trust_roots_digest, NULL,
                   EVP_sha256(), NULL) != 1) {
        rc = bpt_err_ossl(BPT_ERROR, "verify context: trust roots digest");
        goto out;
    }
    c->has_trust_roots = true;
    rc = 0;
out:
    sk_X509_pop_free(parsed, X509_free);
    return rc;
}

bool bpt_verify_ctx_has_trust_roots(const bpt_verify_ctx *c)
{
    return c && c->has_trust_roots;
}

int bpt_verify_ctx_add_certs(bpt_verify_ctx *c, const uint8_t *der_or_pem, size_t len)
{
    STACK_OF(X509) *parsed = NULL;
    int rc = settable(c, "certificates");
    /* Parsed now, so bytes that are no certificate are refused here, where the caller still
     * knows which file they came from, not later as a verification that lacks keys. Parsed as
     * the verification reads them (bpt_verify_ctx_given): CRLs among the certificates are
     * accepted (and checked) too. */
    if (rc == 0 && der_or_pem && len > 0) {
        rc = bpt_pki_parse_bundle(&parsed, NULL, der_or_pem, len, "verify context: certificates");
        sk_X509_pop_free(parsed, X509_free);
    }
    if (rc == 0 && (rc = bpt_cert_blobs_append(&c->certs, der_or_pem, len)) < 0) {
        rc = bpt_err_prefix(rc, "verify context");
    }
    return rc;
}

int bpt_verify_ctx_add_crl(bpt_verify_ctx *c, const uint8_t *der_or_pem, size_t len)
{
    STACK_OF(X509) *certs = NULL;
    STACK_OF(X509_CRL) *crls = NULL;
    int rc;

    BPT_CHECK(settable(c, "CRLs"));
    /* Parsed now so that a file that is not a CRL is refused here, not at verification. */
    if (!der_or_pem || len == 0 ||
        bpt_pki_parse_bundle(&certs, &crls, der_or_pem, len, "CRL") < 0 || sk_X509_num(certs) > 0 ||
        sk_X509_CRL_num(crls) <= 0) {
        rc = bpt_err(BPT_EINVAL, "verify context: not a CRL (DER, or PEM of CRLs only)%s",
                     sk_X509_num(certs) > 0
                         ? ": it holds certificates (give those with the certificates)"
                         : "");
        goto out;
    }
    if ((rc = bpt_cert_blobs_append(&c->certs, der_or_pem, len)) < 0) {
        rc = bpt_err_prefix(rc, "verify context");
    }
out:
    sk_X509_pop_free(certs, X509_free);
    sk_X509_CRL_pop_free(crls, X509_CRL_free);
    return rc;
}

int bpt_verify_ctx_set_revocation_check(bpt_verify_ctx *c, bool check)
{
    int rc = settable(c, "revocation checking");
    if (rc == 0) {
        c->no_revocation = !check;
    }
    return rc;
}

bool bpt_verify_ctx_revocation_check(const bpt_verify_ctx *c)
{
    return !c || !c->no_revocation;
}

static int set_json_text(char **slot, const char *json, size_t len, size_t max, const char *what)
{
    json_t *v = NULL;
    char *copy;
    int rc;
    if (!json) {
        free(*slot);
        *slot = NULL;
        return 0;
    }
    if (len > max) {
        return bpt_err(BPT_ELIMIT, "verify context: %s of %zu bytes exceeds the limit of %zu", what,
                       len, max);
    }
    rc = bpt_json_parse(&v, json, len, what);
    json_decref(v);
    if (rc < 0) {
        return rc;
    }
    if (!(copy = malloc(len + 1))) {
        return bpt_err_nomem(what);
    }
    memcpy(copy, json, len);
    copy[len] = '\0';
    free(*slot);
    *slot = copy;
    return 0;
}

int bpt_verify_ctx_set_collateral_json(bpt_verify_ctx *c, const char *json, size_t len)
{
    int rc = settable(c, "collateral");
    if (rc == 0) {
        rc =
            set_json_text(&c->collateral_json, json, len, BPT_LIMIT_COLLATERAL_BYTES, "collateral");
    }
    if (rc == 0 && c->collateral_json &&
        EVP_Digest(c->collateral_json, len, c->collateral_digest, NULL, EVP_sha256(), NULL) != 1) {
        rc = bpt_err_ossl(BPT_ERROR, "verify context: collateral digest");
    }
    if (rc == 0) {
        /* Parsed once here when it parses (verifications then check it without parsing it);
         * otherwise each verification parses the text and says what is wrong with it. */
        bpt_tdx_collateral_prepared_free(c->collateral_prepared);
        c->collateral_prepared = NULL;
        if (c->collateral_json &&
            bpt_tdx_collateral_prepare(&c->collateral_prepared, c->collateral_json, len) < 0) {
            bpt_error_clear(); /* not this call's failure: the setter succeeded */
        }
    }
    return rc;
}

int bpt_verify_ctx_set_jwks_json(bpt_verify_ctx *c, const char *json, size_t len)
{
    struct bpt_jwks *set = NULL;
    int rc;
    BPT_CHECK(settable(c, "a JWKS"));
    /* Parsed once here: verifications share the keys (and a bad JWKS is refused now). */
    if (json) {
        BPT_CHECK(bpt_jwks_parse(&set, json, len, "verify context: jwks"));
    }
    bpt_jwks_free(c->jwks);
    c->jwks = set;
    rc = 0;
out:
    return rc;
}

int bpt_verify_ctx_set_jwks_url(bpt_verify_ctx *c, const char *url)
{
    int rc = settable(c, "a JWKS URL");
    return rc < 0 ? rc : set_url(&c->jwks_url, url, "jwks_url");
}

int bpt_verify_ctx_set_offline(bpt_verify_ctx *c, bool offline)
{
    int rc = settable(c, "offline");
    if (rc == 0) {
        c->offline = offline;
    }
    return rc;
}

bool bpt_verify_ctx_offline(const bpt_verify_ctx *c)
{
    return c && c->offline;
}

int bpt_verify_ctx_set_kds_url(bpt_verify_ctx *c, const char *url)
{
    int rc = settable(c, "the KDS URL");
    return rc < 0 ? rc : set_url(&c->kds_url, url, "kds_url");
}

int bpt_verify_ctx_set_pccs_url(bpt_verify_ctx *c, const char *url)
{
    int rc = settable(c, "the PCCS URL");
    return rc < 0 ? rc : set_url(&c->pccs_url, url, "pccs_url");
}

int bpt_verify_ctx_set_cache_dir(bpt_verify_ctx *c, const char *dir)
{
    int rc = settable(c, "the cache directory");
    return rc < 0 ? rc : set_text(&c->cache_dir, dir, "cache_dir");
}

int bpt_verify_ctx_set_log_sink(bpt_verify_ctx *c, bpt_log_fn fn, void *userdata,
                                bpt_log_level min_level)
{
    int rc = settable(c, "the log sink");
    if (rc == 0) {
        c->log.fn = fn;
        c->log.userdata = userdata;
        c->log.min_level = fn ? min_level : BPT_LOG_OFF;
    }
    return rc;
}

void bpt_verify_ctx_cache_stats(const bpt_verify_ctx *c, bpt_verify_cache which, uint64_t *hits,
                                uint64_t *misses)
{
    uint64_t h = 0, n = 0;
    if (c && which == BPT_CACHE_CHAIN && c->chain_cache) {
        bpt_chain_cache_stats(c->chain_cache, &h, &n);
        n -= h;
    } else if (c && which == BPT_CACHE_COLLATERAL && c->collateral_cache) {
        bpt_collateral_cache_stats(c->collateral_cache, &h, &n);
        n -= h;
    } else if (c && which == BPT_CACHE_JWKS && c->jwks_cache) {
        bpt_jwks_cache_stats(c->jwks_cache, &n, &h);
    }
    if (hits) {
        *hits = h;
    }
    if (misses) {
        *misses = n;
    }
}

/* ---- verifiers ------------------------------------------------------------------------------ */

int bpt_verify_ctx_register(bpt_verify_ctx *c, const bpt_verifier_vtable *vt, bool builtin)
{
    int rc;
    BPT_CHECK(settable(c, "a verifier"));
    if (!vt) {
        return bpt_err(BPT_EINVAL, "verify context: no verifier vtable");
    }
    if (vt->api_version > BPT_VERIFIER_API_VERSION || vt->api_version == 0) {
        return bpt_err(BPT_ENOTSUP,
                       "verify context: verifier '%.64s' wants interface version %u, this "
                       "library implements 1..%d",
                       vt->name ? vt->name : "?", vt->api_version, BPT_VERIFIER_API_VERSION);
    }
    if (vt->api_version < BPT_VERIFIER_API_VERSION) {
        return bpt_err(BPT_ENOTSUP,
                       "verify context: verifier '%.64s' was built for interface version %u; "
                       "version %d changed verify() (it takes a context and fills a result): "
                       "rebuild it",
                       vt->name ? vt->name : "?", vt->api_version, BPT_VERIFIER_API_VERSION);
    }
    if (!vt->name || !*vt->name || !vt->verify ||
        (vt->kind == BPT_EVIDENCE_UNKNOWN && !vt->accepts)) {
        return bpt_err(BPT_EINVAL, "verify context: a verifier needs a name, verify(), and "
                                   "accepts() when it takes a format of its own");
    }
    if (vt->provider == BPT_PROVIDER_CUSTOM) {
        if (!bpt_custom_name_is_valid(vt->provider_name)) {
            return bpt_err(BPT_EINVAL,
                           "verify context: verifier '%.64s' adds provider '%.64s': a plugin's "
                           "provider is named <vendor>.<name>",
                           vt->name, vt->provider_name ? vt->provider_name : "(null)");
        }
    } else if ((int)vt->provider <= 0 || (int)vt->provider >= BPT_PROVIDER_COUNT) {
        return bpt_err(BPT_EINVAL, "verify context: verifier '%.64s' names no known provider",
                       vt->name);
    }
    if ((int)vt->kind < 0 || vt->kind > BPT_EVIDENCE_REPORT_JSON ||
        vt->kind == BPT_EVIDENCE_REPORT_JSON) {
        return bpt_err(BPT_EINVAL, "verify context: verifier '%.64s' takes evidence kind %d",
                       vt->name, (int)vt->kind);
    }
    for (size_t i = 0; i < c->n_verifiers; i++) {
        if (strcmp(c->verifiers[i].vt.name, vt->name) == 0) {
            return bpt_err(BPT_EINVAL, "verify context: '%.64s' is already registered", vt->name);
        }
    }
    if (c->n_verifiers == BPT_CTX_MAX_VERIFIERS ||
        (!builtin && c->n_plugins == BPT_CTX_MAX_PLUGINS)) {
        return bpt_err(BPT_ELIMIT, "verify context: at most %d plugins", BPT_CTX_MAX_PLUGINS);
    }
    c->verifiers[c->n_verifiers].vt = *vt;
    c->verifiers[c->n_verifiers].builtin = builtin;
    c->n_verifiers++;
    c->n_plugins += builtin ? 0 : 1;
    rc = 0;
out:
    return rc;
}

int bpt_verify_ctx_add_verifier(bpt_verify_ctx *c, const bpt_verifier_vtable *vt)
{
    return bpt_verify_ctx_register(c, vt, false);
}

/* ---- what providers read ---------------------------------------------------------------- */

/* The pinned certificate @p id of the context, parsed on first use (borrowed). Two threads
 * may both parse it; one copy is kept, the other freed. */
static int pinned_one(X509 **out, const bpt_verify_ctx *c, enum bpt_pinned_root id)
{
    _Atomic(X509 *) *slot = &((bpt_verify_ctx *)c)->pinned[id];
    X509 *x = atomic_load(slot), *none = NULL;
    int rc;
    if (!x) {
        if ((rc = bpt_pki_pinned_load(&x, id)) < 0) {
            return rc;
        }
        if (!atomic_compare_exchange_strong(slot, &none, x)) {
            X509_free(x);
            x = none; /* another thread's copy */
        }
    }
    *out = x;
    return 0;
}

int bpt_verify_ctx_pinned(STACK_OF(X509) * *out, const bpt_verify_ctx *c,
                          const enum bpt_pinned_root *ids, size_t n_ids)
{
    STACK_OF(X509) *st = NULL;
    X509 *x = NULL;
    int rc;

    *out = NULL;
    if (!c) {
        return bpt_pki_pinned_roots(out, ids, n_ids);
    }
    if (!(st = sk_X509_new_reserve(NULL, (int)n_ids))) {
        return bpt_err_nomem("pinned roots");
    }
    for (size_t i = 0; i < n_ids; i++) {
        if ((unsigned)ids[i] >= BPT_ROOT_COUNT) {
            rc = bpt_err(BPT_EINVAL, "pki: no pinned root %d", (int)ids[i]);
            goto out;
        }
        BPT_CHECK(pinned_one(&x, c, ids[i]));
        if (X509_up_ref(x) != 1) {
            rc = bpt_err_nomem("pinned roots");
            goto out;
        }
        if (!sk_X509_push(st, x)) {
            X509_free(x);
            rc = bpt_err_nomem("pinned roots");
            goto out;
        }
    }
    *out = st;
    st = NULL;
    rc = 0;
out:
    sk_X509_pop_free(st, X509_free);
    return rc;
}

int bpt_verify_ctx_roots(STACK_OF(X509) * *out, const bpt_verify_ctx *c,
                         const enum bpt_pinned_root *ids, size_t n_ids)
{
    *out = NULL;
    if (c && c->has_trust_roots) {
        if (!(*out = X509_chain_up_ref(c->trust_roots))) {
            return bpt_err_nomem("trust roots");
        }
        return 0;
    }
    return bpt_verify_ctx_pinned(out, c, ids, n_ids);
}

int bpt_verify_ctx_digest_roots(EVP_MD_CTX *md, const bpt_verify_ctx *c)
{
    bool own = c && c->has_trust_roots;
    if (EVP_DigestUpdate(md, own ? "roots:" : "pinned", 6) != 1 ||
        (own && EVP_DigestUpdate(md, c->trust_roots_digest, 32) != 1)) {
        return bpt_err_ossl(BPT_ERROR, "cache key");
    }
    return 0;
}

/* The certificates (and, when @p crls is not NULL, the CRLs) of a list of blobs. */
static int parse_blobs(STACK_OF(X509) * *all, STACK_OF(X509_CRL) * *crls, const bpt_buf *blobs,
                       struct bpt_cert_cache *cache, const char *what)
{
    STACK_OF(X509) *dropped = NULL;
    struct bpt_reader r;
    int rc = 0;
    bpt_reader_init(&r, blobs->data, blobs->len, "certificates");
    while (bpt_reader_remaining(&r) > 0) {
        uint32_t n;
        const uint8_t *blob;
        BPT_CHECK(bpt_reader_u32le(&r, &n, "length"));
        BPT_CHECK(bpt_reader_view(&r, &blob, n, "certificate"));
        BPT_CHECK(bpt_pki_parse_bundle_cached(all ? all : &dropped, crls, cache, blob, n, what));
    }
    if (all && !*all && !(*all = sk_X509_new_null())) {
        rc = bpt_err_nomem("certificates");
    }
out:
    sk_X509_pop_free(dropped, X509_free);
    return rc;
}

int bpt_verify_ctx_given(STACK_OF(X509) * *certs, STACK_OF(X509_CRL) * *crls,
                         const bpt_verify_ctx *c, const struct bpt_evidence *ev, const char *what)
{
    int rc = 0;
    if (c) {
        BPT_CHECK(parse_blobs(certs, crls, &c->certs, c->cert_cache, what));
    }
    if (ev) {
        BPT_CHECK(parse_blobs(certs, crls, &ev->certs, c ? c->cert_cache : NULL, what));
    }
out:
    return rc;
}

int bpt_verify_ctx_certs(STACK_OF(X509) * *all, const bpt_verify_ctx *c,
                         const struct bpt_evidence *ev, const char *what)
{
    return bpt_verify_ctx_given(all, NULL, c, ev, what);
}

int bpt_verify_ctx_digest_certs(EVP_MD_CTX *md, const bpt_verify_ctx *c,
                                const struct bpt_evidence *ev)
{
    size_t n = c ? c->certs.len : 0;
    if (EVP_DigestUpdate(md, &n, sizeof(n)) != 1 ||
        (n && EVP_DigestUpdate(md, c->certs.data, n) != 1) ||
        (ev && ev->certs.len && EVP_DigestUpdate(md, ev->certs.data, ev->certs.len) != 1)) {
        return bpt_err_ossl(BPT_ERROR, "cache key");
    }
    return 0;
}

const char *bpt_verify_ctx_collateral(const bpt_verify_ctx *c, const struct bpt_evidence *ev)
{
    if (c && c->collateral_json) {
        return c->collateral_json;
    }
    return ev ? ev->collateral_text : NULL;
}

const struct bpt_tdx_collateral_prepared *
bpt_verify_ctx_collateral_prepared(const bpt_verify_ctx *c, const char *json)
{
    return c && json && json == c->collateral_json ? c->collateral_prepared : NULL;
}

int bpt_verify_ctx_collateral_digest(uint8_t out[32], const bpt_verify_ctx *c, const char *json)
{
    if (c && json && json == c->collateral_json) {
        memcpy(out, c->collateral_digest, 32);
        return 0;
    }
    if (!json || EVP_Digest(json, strlen(json), out, NULL, EVP_sha256(), NULL) != 1) {
        return bpt_err_ossl(BPT_ERROR, "collateral digest");
    }
    return 0;
}

static bool take_key(void *v, void *arg)
{
    if (EVP_PKEY_up_ref(v) != 1) {
        return false;
    }
    *(EVP_PKEY **)arg = v;
    return true;
}

int bpt_verify_ctx_ec_key(EVP_PKEY **out, const bpt_verify_ctx *c, int bits, const uint8_t *xy,
                          const char *what)
{
    uint8_t key[32], tag = (uint8_t)(bits / 8);
    EVP_MD_CTX *md = NULL;
    EVP_PKEY *k = NULL;
    int rc;

    *out = NULL;
    if (!c || !c->ec_keys) {
        return bpt_pki_ec_pub_from_xy(out, bits, xy, what);
    }
    md = EVP_MD_CTX_new();
    if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
        EVP_DigestUpdate(md, &tag, 1) != 1 || EVP_DigestUpdate(md, xy, 2 * (size_t)tag) != 1 ||
        EVP_DigestFinal_ex(md, key, NULL) != 1) {
        EVP_MD_CTX_free(md);
        return bpt_err_ossl(BPT_ERROR, "%s: key digest", what);
    }
    EVP_MD_CTX_free(md);
    if (bpt_lru_get(c->ec_keys, key, take_key, &k)) {
        *out = k;
        return 0;
    }
    BPT_CHECK(bpt_pki_ec_pub_from_xy(&k, bits, xy, what));
    if (EVP_PKEY_up_ref(k) == 1) {
        bpt_lru_put(c->ec_keys, key, k);
    }
    *out = k;
    rc = 0;
out:
    return rc;
}
