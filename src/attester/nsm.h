/*
 * AWS Nitro Secure Module (/dev/nsm): the Attestation request of the NSM API, CBOR in and out
 * through the driver's single ioctl.
 */
#ifndef BPT_ATTESTER_NSM_H
#define BPT_ATTESTER_NSM_H

#include <blueprint-tee/buf.h>

#include <sys/ioctl.h>
#include <sys/uio.h>

#include "attester/dev.h"

struct bpt_nsm_message {
    struct iovec request;
    struct iovec response;
};

#define BPT_NSM_IOCTL_REQUEST _IOWR(0x0A, 0, struct bpt_nsm_message)
#define BPT_NSM_REQUEST_MAX 0x1000
#define BPT_NSM_RESPONSE_MAX 0x3000

/**
 * Ask the NSM for an attestation document carrying @p user_data, @p nonce and @p public_key
 * (each may be NULL; at most 512, 512 and 1024 bytes). @p ops NULL uses @p root "/dev/nsm".
 * @return 0; BPT_ENOTSUP (no device); BPT_EINVAL (a field too long); BPT_EIO (driver or NSM
 *         error, named); BPT_EMALFORMED (a response that does not parse).
 */
BPT_MUST_USE int bpt_nsm_attestation(bpt_buf *document, const char *root, const uint8_t *user_data,
                                     size_t user_data_len, const uint8_t *nonce, size_t nonce_len,
                                     const uint8_t *public_key, size_t public_key_len,
                                     const struct bpt_dev_ops *ops);

#endif
