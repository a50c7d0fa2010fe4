/*
 * TeeAuthService: the set of live key exchange sessions, one mutex around it. Key generation
 * and the attester callback run outside the lock; a slot is reserved first so that concurrent
 * creators never exceed max_sessions. Consume removes the session under the lock, so of two
 * threads consuming one id exactly one gets it. A background thread sweeps expired sessions,
 * waiting on a condition variable so that shutdown wakes it at once.
 */
#include "exchange/exchange_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <time.h>

#include <openssl/crypto.h>

#include "core/codec.h"
#include "core/err.h"
#include "core/util.h"
#include "core/logging.h"

struct bpt_kx_service {
    bpt_kx_service_options opts;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bpt_kx_session **sessions; /* max_sessions slots, dense in [0, count) */
    size_t count;
    size_t pending; /* slots reserved by creators outside the lock */
    bpt_kx_service_stats stats;
    pthread_t cleaner;
    bool cleaner_running;
    bool stopping;
    /* BPT_KX_BINDING_SERVICE_KEY: the Ed25519 key and its evidence, made once. */
    EVP_PKEY *svc_key;
    uint8_t svc_pub[32];
    bpt_report *svc_report;
    char svc_digest[65];
};

int bpt_kx_service_key_report_data(uint8_t out[64], const uint8_t service_public_key[32])
{
    uint8_t buf[sizeof(BPT_KX_SERVICE_KEY_CONTEXT) - 1 + 32];
    memcpy(buf, BPT_KX_SERVICE_KEY_CONTEXT, sizeof(BPT_KX_SERVICE_KEY_CONTEXT) - 1);
    memcpy(buf + sizeof(BPT_KX_SERVICE_KEY_CONTEXT) - 1, service_public_key, 32);
    memset(out + 32, 0, 32);
    return bpt_sha256(out, buf, sizeof(buf));
}

static int session_message(uint8_t msg[sizeof(BPT_KX_SESSION_KEY_CONTEXT) - 1 + 64],
                           const uint8_t session_rd[64])
{
    memcpy(msg, BPT_KX_SESSION_KEY_CONTEXT, sizeof(BPT_KX_SESSION_KEY_CONTEXT) - 1);
    memcpy(msg + sizeof(BPT_KX_SESSION_KEY_CONTEXT) - 1, session_rd, 64);
    return (int)(sizeof(BPT_KX_SESSION_KEY_CONTEXT) - 1 + 64);
}

int bpt_kx_check_session_signature(const uint8_t service_public_key[32],
                                   const uint8_t signature[64], const uint8_t session_rd[64])
{
    uint8_t msg[sizeof(BPT_KX_SESSION_KEY_CONTEXT) - 1 + 64];
    int n = session_message(msg, session_rd), rc;
    EVP_PKEY *pub = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, service_public_key, 32);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!pub || !md || EVP_DigestVerifyInit(md, NULL, NULL, NULL, pub) != 1) {
        rc = bpt_err_ossl(BPT_ERROR, "kx: Ed25519 setup");
    } else if (EVP_DigestVerify(md, signature, 64, msg, (size_t)n) != 1) {
        rc = bpt_err_ossl(BPT_ECLAIM, "kx: the service key's signature does not bind this "
                                      "session key, id and nonce");
    } else {
        rc = 0;
    }
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pub);
    return rc;
}

/* Make the Ed25519 service key and attest it once (BPT_KX_BINDING_SERVICE_KEY). */
static int service_key_init(bpt_kx_service *svc)
{
    uint8_t rd[64];
    char rd_hex[129];
    size_t pl = 32;
    int rc;

    svc->svc_key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (!svc->svc_key || EVP_PKEY_get_raw_public_key(svc->svc_key, svc->svc_pub, &pl) != 1) {
        return bpt_err_ossl(BPT_ERROR, "kx: Ed25519 service key");
    }
    if (!svc->opts.attest) {
        return 0;
    }
    BPT_CHECK(bpt_kx_service_key_report_data(rd, svc->svc_pub));
    rc = svc->opts.attest(&svc->svc_report, rd, svc->opts.attest_userdata);
    if (rc < 0 || !svc->svc_report) {
        return bpt_err_prefix(rc < 0 ? rc : BPT_ERROR, "kx: attesting the service key");
    }
    for (int i = 0; i < 64; i++) {
        snprintf(rd_hex + 2 * i, 3, "%02x", rd[i]);
    }
    BPT_CHECK(bpt_report_set_key_binding(svc->svc_report, svc->svc_pub, 32, "ed25519", rd_hex));
    bpt_report_evidence_digest(svc->svc_digest, svc->svc_report);
out:
    return rc;
}

static int sign_session(uint8_t sig[64], const bpt_kx_service *svc, const uint8_t rd[64])
{
    uint8_t msg[sizeof(BPT_KX_SESSION_KEY_CONTEXT) - 1 + 64];
    int n = session_message(msg, rd);
    size_t sl = 64;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md && EVP_DigestSignInit(md, NULL, NULL, NULL, svc->svc_key) == 1 &&
             EVP_DigestSign(md, sig, &sl, msg, (size_t)n) == 1 && sl == 64;
    EVP_MD_CTX_free(md);
    return ok ? 0 : bpt_err_ossl(BPT_ERROR, "kx: signing the session key");
}

int bpt_kx_service_new(bpt_kx_service **out, const bpt_kx_service_options *opts)
{
    bpt_kx_service *svc = NULL;
    bpt_kx_service_options defaults = BPT_KX_SERVICE_OPTIONS_INIT;
    pthread_condattr_t ca;

    if (out == NULL) {
        return bpt_err(BPT_EINVAL, "kx: service_new: NULL out");
    }
    *out = NULL;
    if (opts == NULL) {
        opts = &defaults;
    }
    if (opts->version != BPT_KX_SERVICE_OPTIONS_VERSION) {
        return bpt_err(BPT_EINVAL, "kx: service options version %u, want %u", opts->version,
                       BPT_KX_SERVICE_OPTIONS_VERSION);
    }
    if (opts->max_sessions == 0 || opts->max_sessions > 1000000) {
        return bpt_err(BPT_EINVAL, "kx: max_sessions %zu outside 1..1000000", opts->max_sessions);
    }
    svc = calloc(1, sizeof(*svc));
    if (svc == NULL) {
        return bpt_err_nomem("kx: service");
    }
    svc->opts = *opts;
    if (svc->opts.ttl_secs == 0) {
        svc->opts.ttl_secs = BPT_KX_DEFAULT_TTL_SECS;
    }
    if (svc->opts.cleanup_interval_secs == 0) {
        svc->opts.cleanup_interval_secs = svc->opts.ttl_secs > 30 ? svc->opts.ttl_secs : 30;
    }
    svc->sessions = calloc(opts->max_sessions, sizeof(*svc->sessions));
    if (svc->sessions == NULL) {
        free(svc);
        return bpt_err_nomem("kx: session table");
    }
    pthread_mutex_init(&svc->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&svc->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (svc->opts.binding == BPT_KX_BINDING_SERVICE_KEY) {
        int krc = service_key_init(svc);
        if (krc < 0) {
            bpt_kx_service_free(svc);
            return krc;
        }
    } else if (svc->opts.binding != BPT_KX_BINDING_SESSION) {
        bpt_kx_service_free(svc);
        return bpt_err(BPT_EINVAL, "kx: binding %d unknown", (int)opts->binding);
    }
    *out = svc;
    return 0;
}

void bpt_kx_service_free(bpt_kx_service *svc)
{
    if (svc == NULL) {
        return;
    }
    bpt_kx_service_stop_cleanup(svc);
    for (size_t i = 0; i < svc->count; i++) {
        bpt_kx_session_free(svc->sessions[i]);
    }
    free(svc->sessions);
    EVP_PKEY_free(svc->svc_key);
    bpt_report_free(svc->svc_report);
    pthread_cond_destroy(&svc->cond);
    pthread_mutex_destroy(&svc->mu);
    free(svc);
}

/* Remove slot i (lock held); the caller owns the returned session. */
static bpt_kx_session *take_locked(bpt_kx_service *svc, size_t i)
{
    bpt_kx_session *s = svc->sessions[i];
    svc->sessions[i] = svc->sessions[svc->count - 1];
    svc->sessions[svc->count - 1] = NULL;
    svc->count--;
    return s;
}

static size_t sweep_locked(bpt_kx_service *svc)
{
    size_t n = 0;
    for (size_t i = 0; i < svc->count;) {
        if (bpt_kx_session_is_expired(svc->sessions[i])) {
            bpt_kx_session_free(take_locked(svc, i));
            n++;
        } else {
            i++;
        }
    }
    svc->stats.expired += n;
    return n;
}

size_t bpt_kx_service_cleanup(bpt_kx_service *svc)
{
    pthread_mutex_lock(&svc->mu);
    size_t n = sweep_locked(svc);
    pthread_mutex_unlock(&svc->mu);
    if (n > 0) {
        BPT_LOG(BPT_LOG_INFO, "kx", "sessions expired count=%zu", n);
    }
    return n;
}

static void *cleaner_main(void *arg)
{
    bpt_kx_service *svc = arg;
    pthread_mutex_lock(&svc->mu);
    while (!svc->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t iv = svc->opts.cleanup_interval_secs;
        ts.tv_sec += iv > 86400 ? 86400 : (time_t)iv;
        int w = 0;
        while (!svc->stopping && w != ETIMEDOUT) {
            w = pthread_cond_timedwait(&svc->cond, &svc->mu, &ts);
        }
        if (svc->stopping) {
            break;
        }
        size_t n = sweep_locked(svc);
        if (n > 0) {
            pthread_mutex_unlock(&svc->mu);
            BPT_LOG(BPT_LOG_INFO, "kx", "sessions expired count=%zu", n);
            pthread_mutex_lock(&svc->mu);
        }
    }
    pthread_mutex_unlock(&svc->mu);
    return NULL;
}

int bpt_kx_service_start_cleanup(bpt_kx_service *svc)
{
    int rc = 0;
    pthread_mutex_lock(&svc->mu);
    if (svc->cleaner_running) {
        rc = bpt_err(BPT_EBUSY, "kx: cleanup thread already running");
    } else {
        svc->stopping = false;
        if (pthread_create(&svc->cleaner, NULL, cleaner_main, svc) != 0) {
            rc = bpt_err(BPT_ERROR, "kx: cannot start the cleanup thread");
        } else {
            svc->cleaner_running = true;
        }
    }
    pthread_mutex_unlock(&svc->mu);
    return rc;
}

void bpt_kx_service_stop_cleanup(bpt_kx_service *svc)
{
    pthread_mutex_lock(&svc->mu);
    bool running = svc->cleaner_running;
    svc->stopping = true;
    pthread_cond_broadcast(&svc->cond);
    pthread_mutex_unlock(&svc->mu);
    if (running) {
        pthread_join(svc->cleaner, NULL);
        pthread_mutex_lock(&svc->mu);
        svc->cleaner_running = false;
        pthread_mutex_unlock(&svc->mu);
    }
}

int bpt_kx_service_create(bpt_kx_session_info *info, bpt_report **report_out, bpt_kx_service *svc,
                          const uint8_t *nonce, size_t nonce_len)
{
    int rc = BPT_ERROR;
    bpt_kx_session *s = NULL;
    bpt_report *report = NULL;
    bool reserved = false;
    uint8_t rd[64];
    char *rd_hex = NULL;

    if (report_out != NULL) {
        *report_out = NULL;
    }
    if (info == NULL || svc == NULL || (nonce == NULL && nonce_len != 0)) {
        return bpt_err(BPT_EINVAL, "kx: create: NULL argument");
    }
    /* The first version of bpt_kx_session_info is this one: it is filled in place. */
    if ((rc = bpt_sized_check(info, sizeof(*info), "bpt_kx_session_info")) < 0) {
        return rc;
    }
    if (nonce_len != 0 && (nonce_len < BPT_KX_NONCE_MIN || nonce_len > BPT_KX_NONCE_MAX)) {
        return bpt_err(BPT_EINVAL, "kx: nonce is %zu bytes, want %d..%d", nonce_len,
                       BPT_KX_NONCE_MIN, BPT_KX_NONCE_MAX);
    }
    pthread_mutex_lock(&svc->mu);
    sweep_locked(svc);
    if (svc->count + svc->pending >= svc->opts.max_sessions) {
        svc->stats.refused++;
        pthread_mutex_unlock(&svc->mu);
        return bpt_err(BPT_EBUSY, "kx: at capacity (%zu sessions)", svc->opts.max_sessions);
    }
    svc->pending++;
    reserved = true;
    pthread_mutex_unlock(&svc->mu);

    BPT_CHECK(bpt_kx_session_new(&s, svc->opts.ttl_secs, &svc->opts.clock));
    BPT_CHECK(bpt_kx_report_data(rd, bpt_kx_session_public_key(s), bpt_kx_session_id(s), nonce,
                                 nonce_len));
    info->service_key = false;
    if (svc->opts.binding == BPT_KX_BINDING_SERVICE_KEY) {
        BPT_CHECK(sign_session(info->signature, svc, rd));
        memcpy(info->service_public_key, svc->svc_pub, 32);
        info->service_key = true;
        if (svc->svc_report) {
            BPT_CHECK(bpt_report_clone(&report, svc->svc_report));
            bpt_kx_session_set_attestation_digest(s, svc->svc_digest);
        }
    } else if (svc->opts.attest != NULL) {
        rc = svc->opts.attest(&report, rd, svc->opts.attest_userdata);
        if (rc < 0 || report == NULL) {
            if (rc >= 0) {
                rc = bpt_err(BPT_ERROR, "kx: attester returned no report");
            }
            bpt_err_prefix(rc, "kx: attestation");
            goto out;
        }
        BPT_CHECK(bpt_hex_encode(&rd_hex, rd, sizeof(rd)));
        BPT_CHECK(bpt_report_set_key_binding(report, bpt_kx_session_public_key(s),
                                             BPT_KX_PUBLIC_KEY_LEN, "x25519", rd_hex));
        char digest[65];
        bpt_report_evidence_digest(digest, report);
        bpt_kx_session_set_attestation_digest(s, digest);
    }
    memcpy(info->id, bpt_kx_session_id(s), BPT_KX_SESSION_ID_LEN);
    memcpy(info->id_hex, bpt_kx_session_id_hex(s), sizeof(info->id_hex));
    memcpy(info->public_key, bpt_kx_session_public_key(s), BPT_KX_PUBLIC_KEY_LEN);
    memcpy(info->report_data, rd, sizeof(rd));
    info->created_at = bpt_kx_session_created_at(s);
    info->expires_at = bpt_kx_session_expires_at(s);

    pthread_mutex_lock(&svc->mu);
    svc->pending--;
    reserved = false;
    svc->sessions[svc->count++] = s;
    svc->stats.created++;
    pthread_mutex_unlock(&svc->mu);
    s = NULL;
    BPT_LOG(BPT_LOG_DEBUG, "kx", "session created id=%s", info->id_hex);
    if (report_out != NULL) {
        *report_out = report;
        report = NULL;
    }
    rc = 0;
out:
    if (reserved) {
        pthread_mutex_lock(&svc->mu);
        svc->pending--;
        pthread_mutex_unlock(&svc->mu);
    }
    bpt_free(rd_hex);
    bpt_report_free(report);
    bpt_kx_session_free(s);
    return rc;
}

/* Find @p id (lock held); SIZE_MAX when absent. */
static size_t find_locked(const bpt_kx_service *svc, const uint8_t id[BPT_KX_SESSION_ID_LEN])
{
    for (size_t i = 0; i < svc->count; i++) {
        if (memcmp(bpt_kx_session_id(svc->sessions[i]), id, BPT_KX_SESSION_ID_LEN) == 0) {
            return i;
        }
    }
    return SIZE_MAX;
}

int bpt_kx_service_consume(bpt_kx_session **out, bpt_kx_service *svc, const char *id_hex)
{
    int rc = BPT_ERROR;
    uint8_t id[BPT_KX_SESSION_ID_LEN];
    bpt_kx_session *s = NULL;

    if (out == NULL || svc == NULL) {
        return bpt_err(BPT_EINVAL, "kx: consume: NULL argument");
    }
    *out = NULL;
    BPT_CHECK(bpt_kx_id_parse(id, id_hex));
    pthread_mutex_lock(&svc->mu);
    size_t i = find_locked(svc, id);
    if (i != SIZE_MAX) {
        s = take_locked(svc, i);
        if (bpt_kx_session_is_expired(s)) {
            svc->stats.expired++;
        } else {
            svc->stats.consumed++;
        }
    }
    pthread_mutex_unlock(&svc->mu);
    if (s == NULL) {
        rc = bpt_err(BPT_ENOTFOUND, "kx: session %s not found", id_hex);
        goto out;
    }
    if (bpt_kx_session_is_expired(s)) {
        rc = bpt_err(BPT_EEXPIRED, "kx: session %s expired at %lld", id_hex,
                     (long long)bpt_kx_session_expires_at(s));
        bpt_kx_session_free(s);
        goto out;
    }
    *out = s;
    rc = 0;
out:
    return rc;
}

int bpt_kx_service_public_key(uint8_t out[BPT_KX_PUBLIC_KEY_LEN], bpt_kx_service *svc,
                              const char *id_hex)
{
    int rc = BPT_ERROR;
    uint8_t id[BPT_KX_SESSION_ID_LEN];

    if (out == NULL || svc == NULL) {
        return bpt_err(BPT_EINVAL, "kx: public_key: NULL argument");
    }
    BPT_CHECK(bpt_kx_id_parse(id, id_hex));
    pthread_mutex_lock(&svc->mu);
    size_t i = find_locked(svc, id);
    if (i == SIZE_MAX) {
        rc = bpt_err(BPT_ENOTFOUND, "kx: session %s not found", id_hex);
    } else if (bpt_kx_session_is_expired(svc->sessions[i])) {
        rc = bpt_err(BPT_EEXPIRED, "kx: session %s expired", id_hex);
    } else {
        memcpy(out, bpt_kx_session_public_key(svc->sessions[i]), BPT_KX_PUBLIC_KEY_LEN);
        rc = 0;
    }
    pthread_mutex_unlock(&svc->mu);
out:
    return rc;
}

size_t bpt_kx_service_active_count(bpt_kx_service *svc)
{
    size_t n = 0;
    pthread_mutex_lock(&svc->mu);
    for (size_t i = 0; i < svc->count; i++) {
        n += !bpt_kx_session_is_expired(svc->sessions[i]);
    }
    pthread_mutex_unlock(&svc->mu);
    return n;
}

void bpt_kx_service_get_stats(bpt_kx_service_stats *out, bpt_kx_service *svc)
{
    bpt_kx_service_stats full;
    if (!out || !svc || out->size < sizeof(full)) { /* the first version's size */
        return;
    }
    pthread_mutex_lock(&svc->mu);
    full = svc->stats;
    full.active = svc->count;
    pthread_mutex_unlock(&svc->mu);
    full.size = sizeof(full);
    bpt_sized_out(out, &full, sizeof(full));
}

int bpt_kx_service_attest(bpt_report **out, bpt_kx_service *svc, const uint8_t report_data[64])
{
    *out = NULL;
    if (svc->opts.attest == NULL) {
        return bpt_err(BPT_ENOTSUP, "kx: the service has no attester");
    }
    int rc = svc->opts.attest(out, report_data, svc->opts.attest_userdata);
    if (rc >= 0 && *out == NULL) {
        rc = bpt_err(BPT_ERROR, "kx: attester returned no report");
    }
    return rc;
}
