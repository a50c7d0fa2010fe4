/*
 * A workload's key-exchange plane seen from the host: waiting for its unix socket to accept,
 * and attesting it (sys/backend.h, bpt_runtime_attest_workload()): GET /v1/attestation?nonce=HEX,
 * the report verified with the runtime's verifier under a copy of its policy that expects
 * exactly the report_data the plane binds for that nonce (bpt_kx_attestation_report_data()).
 */
#include "runtime/runtime_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <blueprint-tee/policy.h>
#include <blueprint-tee/verify.h>

#include "core/codec.h"
#include "core/err.h"
#include "core/http.h"
#include "core/json.h"
#include "core/limits.h"
#include "core/util.h"

#define PLANE_TIMEOUT_MS 30000L
/** An answer carries the report (evidence and collateral). */
#define PLANE_ANSWER_MAX (BPT_LIMIT_HTTP_BODY_BYTES * 16)

int bpt_runtime_socket_open(int *fd_out, char via[BPT_RUNTIME_VIA_MAX], const char *path)
{
    struct stat st;
    int fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    *fd_out = -1;
    if (fd < 0) {
        return errno == ENOENT ? bpt_err(BPT_EFETCH, "no socket at %s yet", path)
                               : bpt_err(BPT_EIO, "%s: %s", path, strerror(errno));
    }
    if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) {
        close(fd);
        return bpt_err(BPT_EPROTOCOL,
                       "%s is not a socket (a link or a file the workload put there): not "
                       "connecting",
                       path);
    }
    snprintf(via, BPT_RUNTIME_VIA_MAX, "/proc/self/fd/%d", fd);
    *fd_out = fd;
    return 0;
}

int bpt_runtime_wait_socket(const char *path, long timeout_ms)
{
    struct sockaddr_un su;
    char via[BPT_RUNTIME_VIA_MAX];
    int err = ENOENT, rc = BPT_EFETCH;
    for (long waited = 0;; waited += 10) {
        int pfd = -1, fd = -1;
        rc = bpt_runtime_socket_open(&pfd, via, path);
        if (rc == BPT_EPROTOCOL || rc == BPT_EIO) {
            return rc;
        }
        if (rc == 0) {
            memset(&su, 0, sizeof(su));
            su.sun_family = AF_UNIX;
            memcpy(su.sun_path, via, strlen(via) + 1);
            fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            int r = fd >= 0 ? connect(fd, (struct sockaddr *)&su, sizeof(su)) : -1;
            err = errno;
            if (fd >= 0) {
                close(fd);
            }
            close(pfd);
            if (r == 0) {
                return 0;
            }
        }
        if (waited >= timeout_ms) {
            break;
        }
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return bpt_err(BPT_EFETCH, "the workload's key-exchange plane unix:%s does not accept (%s)",
                   path, strerror(err));
}

/* The error an answer that is not 200 means: its code and message, escaped. */
static int answer_error(long status, const bpt_buf *body)
{
    json_t *j = json_loadb((const char *)body->data, body->len, 0, NULL);
    json_t *e = json_object_get(j, "error");
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    char c_esc[64], m_esc[256];
    bool unavailable = status >= 500 || status == 429;
    int rc =
        bpt_err(unavailable ? BPT_EFETCH : BPT_EPROTOCOL, "workload attestation: HTTP %ld %s: %s",
                status, bpt_escape_text(c_esc, sizeof(c_esc), code ? code : "?"),
                bpt_escape_text(m_esc, sizeof(m_esc), msg ? msg : ""));
    json_decref(j);
    return rc;
}

int bpt_runtime_attest_workload(bpt_verified **out, const char *kx_socket,
                                const bpt_verifier *verifier, const uint8_t *nonce,
                                size_t nonce_len)
{
    if (out == NULL || kx_socket == NULL) {
        return bpt_err(BPT_EINVAL, "attest workload: NULL argument");
    }
    return bpt_runtime_attest_plane(out, NULL, kx_socket, verifier, nonce, nonce_len);
}

int bpt_runtime_attest_plane(bpt_verified **out, const char *base_url, const char *kx_socket,
                             const bpt_verifier *verifier, const uint8_t *nonce, size_t nonce_len)
{
    uint8_t fresh[32], rd[64];
    char url[320 + 2 * BPT_KX_NONCE_MAX], rd_hex[129], via[BPT_RUNTIME_VIA_MAX];
    int sock_fd = -1;
    bpt_buf body = BPT_BUF_INIT(PLANE_ANSWER_MAX);
    json_t *j = NULL;
    char *att = NULL;
    bpt_report *rep = NULL;
    bpt_policy *policy = NULL;
    int rc = BPT_ERROR;

    if (out == NULL || (kx_socket == NULL) == (base_url == NULL) ||
        (base_url != NULL && strlen(base_url) > 256)) {
        return bpt_err(BPT_EINVAL, "attest workload: NULL argument, or a URL over 256 bytes");
    }
    *out = NULL;
    if (verifier == NULL) {
        return bpt_err(BPT_EINVAL, "attest workload: the runtime has no verifier");
    }
    if (nonce == NULL) {
        if (RAND_bytes(fresh, sizeof(fresh)) != 1) {
            return bpt_err_ossl(BPT_ERROR, "attest workload: nonce randomness");
        }
        nonce = fresh;
        nonce_len = sizeof(fresh);
    }
    /* the report_data the plane binds for this nonce: checked before anything is sent */
    BPT_CHECK(bpt_kx_attestation_report_data(rd, nonce, nonce_len));
    int n = snprintf(url, sizeof(url),
                     "%s/v1/attestation?nonce=", base_url != NULL ? base_url : "http://localhost");
    bpt_hex_encode_to(url + n, nonce, nonce_len);
    if (kx_socket != NULL) {
        BPT_CHECK(bpt_runtime_socket_open(&sock_fd, via, kx_socket));
    }
    struct bpt_http_request req = {.method = BPT_HTTP_GET,
                                   .url = url,
                                   .unix_socket = kx_socket != NULL ? via : NULL,
                                   .timeout_ms = PLANE_TIMEOUT_MS};
    struct bpt_http_response resp = {.body = &body};
    rc = bpt_http_send(&resp, &req);
    if (rc < 0) {
        bpt_err_prefix(rc, "workload attestation");
        goto out;
    }
    if (resp.status != 200) {
        rc = answer_error(resp.status, &body);
        goto out;
    }
    rc = bpt_json_parse(&j, (const char *)body.data, body.len, "workload attestation");
    if (rc == 0 && !json_is_object(json_object_get(j, "attestation"))) {
        rc = bpt_err(BPT_EPROTOCOL, "workload attestation: the answer has no attestation");
    }
    if (rc == 0 && (att = json_dumps(json_object_get(j, "attestation"), JSON_COMPACT)) == NULL) {
        rc = bpt_err_nomem("workload attestation");
    }
    if (rc == 0) {
        rc = bpt_report_from_json(&rep, att, strlen(att));
    }
    if (rc == BPT_EINVAL || rc == BPT_EMALFORMED) {
        rc = bpt_err_prefix(BPT_EPROTOCOL, "workload attestation");
    }
    BPT_CHECK(rc);
    /* the verifier's policy, expecting exactly this report_data */
    bpt_hex_encode_to(rd_hex, rd, sizeof(rd));
    BPT_CHECK(bpt_policy_clone(&policy, bpt_verifier_policy(verifier)));
    BPT_CHECK(bpt_policy_set_expected_report_data(policy, rd_hex));
    rc = bpt_verify_report(out, bpt_verifier_ctx(verifier), policy, rep);
    if (rc < 0) {
        bpt_err_prefix(rc, "workload attestation");
        goto out;
    }
    size_t got_len = 0;
    const uint8_t *got = bpt_verified_report_data(*out, &got_len);
    if (got == NULL || got_len < 64 || CRYPTO_memcmp(got, rd, 64) != 0) {
        bpt_verified_free(*out);
        *out = NULL;
        rc = bpt_err(BPT_ECLAIM, "workload attestation: report_data does not bind the nonce");
        goto out;
    }
    rc = 0;
out:
    if (sock_fd >= 0) {
        close(sock_fd);
    }
    bpt_policy_free(policy);
    bpt_report_free(rep);
    free(att);
    json_decref(j);
    bpt_buf_dispose(&body);
    return rc;
}
