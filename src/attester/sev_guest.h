/*
 * /dev/sev-guest (Linux uapi sev-guest.h): SNP_GET_REPORT and SNP_GET_EXT_REPORT. The device
 * layer is a small ops table so tests can stand in for the driver.
 */
#ifndef BPT_ATTESTER_SEV_GUEST_H
#define BPT_ATTESTER_SEV_GUEST_H

#include <blueprint-tee/buf.h>

#include "attester/dev.h"

#include <stdint.h>
#include <sys/ioctl.h>

/* The kernel ABI structs (native layout: they are ioctl arguments, not wire input). */
struct bpt_snp_report_req {
    uint8_t user_data[64];
    uint32_t vmpl;
    uint8_t rsvd[28];
};

struct bpt_snp_ext_report_req {
    struct bpt_snp_report_req data;
    uint64_t certs_address;
    uint32_t certs_len;
};

struct bpt_snp_guest_request_ioctl {
    uint8_t msg_version;
    uint64_t req_data;
    uint64_t resp_data;
    uint64_t exitinfo2; /* fw_error (low 32 bits), vmm_error (high 32 bits) */
};

#define BPT_SNP_RESP_SIZE 4000
#define BPT_SNP_GET_REPORT _IOWR('S', 0x0, struct bpt_snp_guest_request_ioctl)
#define BPT_SNP_GET_EXT_REPORT _IOWR('S', 0x2, struct bpt_snp_guest_request_ioctl)
#define BPT_SNP_VMM_ERR_INVALID_LEN 1u

/**
 * Ask the SEV-SNP firmware for a report binding @p report_data at @p vmpl (<0: 0), with the
 * host's certificate table when it has one (@p certs may be NULL to ask for the report only).
 * @p ops NULL uses the real device at @p root "/dev/sev-guest".
 * @return 0; BPT_ENOTSUP (no device); BPT_EIO (driver or firmware error, named);
 *         BPT_EMALFORMED (a response that does not parse).
 */
BPT_MUST_USE int bpt_sev_guest_report(bpt_buf *report, bpt_buf *certs, const char *root, int vmpl,
                                      const uint8_t report_data[64], const struct bpt_dev_ops *ops);

#endif
