/*
 * /dev/tdx_guest (Linux uapi tdx-guest.h): TDX_CMD_GET_REPORT0, the TDREPORT of this TD bound to
 * 64 bytes of report data. A TDREPORT is MAC'ed for this platform only: it proves nothing to a
 * remote verifier (that needs a quote, through configfs-tsm), but it gives the TD its own
 * measurements. The device layer is an ops table so tests can stand in for the driver.
 */
#ifndef BPT_ATTESTER_TDX_GUEST_H
#define BPT_ATTESTER_TDX_GUEST_H

#include "attester/dev.h"

#include <blueprint-tee/tdx.h>

#include <stdint.h>
#include <sys/ioctl.h>

/* The kernel ABI struct (native layout: an ioctl argument, not wire input). */
struct bpt_tdx_report_req {
    uint8_t reportdata[64];
    uint8_t tdreport[BPT_TDX_TDREPORT_SIZE];
};

#define BPT_TDX_CMD_GET_REPORT0 _IOWR('T', 1, struct bpt_tdx_report_req)

/**
 * The TDREPORT for @p report_data from @p root "/dev/tdx_guest" (@p ops NULL: the real device).
 * @return 0; BPT_ENOTSUP (no device); BPT_EIO (the driver refused, errno named).
 */
BPT_MUST_USE int bpt_tdx_guest_report(uint8_t out[BPT_TDX_TDREPORT_SIZE], const char *root,
                                      const uint8_t report_data[64], const struct bpt_dev_ops *ops);

#endif
