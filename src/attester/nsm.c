#include "attester/nsm.h"

#include "core/cbor_check.h"
#include "core/err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cbor.h>

static cbor_item_t *bytes_or_null(const uint8_t *p, size_t n)
{
    return p ? cbor_build_bytestring(p, n) : cbor_new_null();
}

static bool key_is(const cbor_item_t *k, const char *s)
{
    size_t n = strlen(s);
    return cbor_isa_string(k) && cbor_string_is_definite(k) && cbor_string_length(k) == n &&
           memcmp(cbor_string_handle(k), s, n) == 0;
}

/* {"Attestation": {"document": bstr}} or {"Error": "Code"} */
static int parse_response(bpt_buf *document, const uint8_t *p, size_t n)
{
    struct cbor_load_result res;
    cbor_item_t *r = NULL;
    struct cbor_pair top;
    int rc = bpt_cbor_precheck(p, n, 8, "nsm: response");

    if (rc < 0) {
        return rc;
    }
    r = cbor_load(p, n, &res);

    if (!r || res.error.code != CBOR_ERR_NONE || res.read != n || !cbor_isa_map(r) ||
        !cbor_map_is_definite(r) || cbor_map_size(r) != 1) {
        rc = bpt_err(BPT_EMALFORMED, "nsm: response is not a one-entry CBOR map");
        goto out;
    }
    top = cbor_map_handle(r)[0];
    if (key_is(top.key, "Error")) {
        char code[64] = "?";
        if (cbor_isa_string(top.value) && cbor_string_is_definite(top.value) &&
            cbor_string_length(top.value) < sizeof(code)) {
            memcpy(code, cbor_string_handle(top.value), cbor_string_length(top.value));
            code[cbor_string_length(top.value)] = '\0';
        }
        rc = bpt_err(BPT_EIO, "nsm: the NSM answered error %s", code);
        goto out;
    }
    if (!key_is(top.key, "Attestation") || !cbor_isa_map(top.value) ||
        !cbor_map_is_definite(top.value)) {
        rc = bpt_err(BPT_EMALFORMED, "nsm: response is neither Attestation nor Error");
        goto out;
    }
    for (size_t i = 0; i < cbor_map_size(top.value); i++) {
        struct cbor_pair kv = cbor_map_handle(top.value)[i];
        if (key_is(kv.key, "document") && cbor_isa_bytestring(kv.value) &&
            cbor_bytestring_is_definite(kv.value) && cbor_bytestring_length(kv.value) > 0) {
            rc = bpt_buf_append(document, cbor_bytestring_handle(kv.value),
                                cbor_bytestring_length(kv.value));
            goto out;
        }
    }
    rc = bpt_err(BPT_EMALFORMED, "nsm: Attestation response has no document");
out:
    if (r) {
        cbor_decref(&r);
    }
    return rc;
}

int bpt_nsm_attestation(bpt_buf *document, const char *root, const uint8_t *user_data,
                        size_t user_data_len, const uint8_t *nonce, size_t nonce_len,
                        const uint8_t *public_key, size_t public_key_len,
                        const struct bpt_dev_ops *ops)
{
    char path[4096];
    struct stat st;
    cbor_item_t *req = NULL, *inner = NULL;
    unsigned char *req_bytes = NULL;
    size_t req_len, alloc = 0;
    uint8_t *resp = NULL;
    struct bpt_nsm_message msg;
    int fd = -1, rc;

    if (user_data_len > 512 || nonce_len > 512 || public_key_len > 1024) {
        return bpt_err(BPT_EINVAL, "nsm: user_data/nonce must be at most 512 bytes and "
                                   "public_key 1024");
    }
    snprintf(path, sizeof(path), "%s/dev/nsm", root && *root ? root : "");
    if (!ops) {
        if (stat(path, &st) != 0 || !S_ISCHR(st.st_mode)) {
            return bpt_err(BPT_ENOTSUP, "nsm: %s is not a character device", path);
        }
        ops = &bpt_dev_real_ops;
    }
    inner = cbor_new_definite_map(3);
    req = cbor_new_definite_map(1);
    if (!inner || !req ||
        !cbor_map_add(inner,
                      (struct cbor_pair){cbor_move(cbor_build_string("user_data")),
                                         cbor_move(bytes_or_null(user_data, user_data_len))}) ||
        !cbor_map_add(inner, (struct cbor_pair){cbor_move(cbor_build_string("nonce")),
                                                cbor_move(bytes_or_null(nonce, nonce_len))}) ||
        !cbor_map_add(inner,
                      (struct cbor_pair){cbor_move(cbor_build_string("public_key")),
                                         cbor_move(bytes_or_null(public_key, public_key_len))}) ||
        !cbor_map_add(req, (struct cbor_pair){cbor_move(cbor_build_string("Attestation")),
                                              inner}) || /* map_add takes its own reference */
        !(req_len = cbor_serialize_alloc(req, &req_bytes, &alloc))) {
        rc = bpt_err_nomem("nsm request");
        goto out;
    }
    resp = calloc(1, BPT_NSM_RESPONSE_MAX);
    if (!resp) {
        rc = bpt_err_nomem("nsm response");
        goto out;
    }
    fd = ops->open(path, ops->ud);
    if (fd < 0) {
        rc = bpt_err(BPT_EIO, "nsm: cannot open %s: %s", path, strerror(errno));
        goto out;
    }
    msg.request.iov_base = req_bytes;
    msg.request.iov_len = req_len;
    msg.response.iov_base = resp;
    msg.response.iov_len = BPT_NSM_RESPONSE_MAX;
    if (ops->ioctl(fd, BPT_NSM_IOCTL_REQUEST, &msg, ops->ud) != 0) {
        rc = bpt_err(BPT_EIO, "nsm: request failed: %s", strerror(errno));
        goto out;
    }
    if (msg.response.iov_len == 0 || msg.response.iov_len > BPT_NSM_RESPONSE_MAX) {
        rc = bpt_err(BPT_EMALFORMED, "nsm: response length %zu (expected 1..%d)",
                     msg.response.iov_len, BPT_NSM_RESPONSE_MAX);
        goto out;
    }
    rc = parse_response(document, resp, msg.response.iov_len);
out:
    if (fd >= 0) {
        ops->close(fd, ops->ud);
    }
    free(resp);
    free(req_bytes);
    if (inner) {
        cbor_decref(&inner);
    }
    if (req) {
        cbor_decref(&req);
    }
    return rc;
}
