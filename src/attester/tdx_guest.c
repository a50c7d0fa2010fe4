#include "attester/tdx_guest.h"

#include <blueprint-tee/attester.h>

#include "core/err.h"
#include "core/reader.h"
#include "core/util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

int bpt_tdx_guest_report(uint8_t out[BPT_TDX_TDREPORT_SIZE], const char *root,
                         const uint8_t report_data[64], const struct bpt_dev_ops *ops)
{
    char path[4096];
    struct stat st;
    struct bpt_tdx_report_req req;
    int fd, rc;

    snprintf(path, sizeof(path), "%s/dev/tdx_guest", root && *root ? root : "");
    if (!ops) {
        if (stat(path, &st) != 0 || !S_ISCHR(st.st_mode)) {
            return bpt_err(BPT_ENOTSUP, "tdx-guest: %s is not a character device", path);
        }
        ops = &bpt_dev_real_ops;
    }
    fd = ops->open(path, ops->ud);
    if (fd < 0) {
        return bpt_err(BPT_EIO, "tdx-guest: cannot open %s: %s", path, strerror(errno));
    }
    memset(&req, 0, sizeof(req));
    memcpy(req.reportdata, report_data, 64);
    if (ops->ioctl(fd, BPT_TDX_CMD_GET_REPORT0, &req, ops->ud) != 0) {
        rc = bpt_err(BPT_EIO, "tdx-guest: TDX_CMD_GET_REPORT0 failed: %s", strerror(errno));
    } else {
        memcpy(out, req.tdreport, BPT_TDX_TDREPORT_SIZE);
        rc = 0;
    }
    ops->close(fd, ops->ud);
    OPENSSL_cleanse(&req, sizeof(req));
    return rc;
}

/* The first version of bpt_tdx_tdreport: a caller's size may never be smaller. */
#define TDREPORT_V1_SIZE sizeof(bpt_tdx_tdreport)

static int tdreport_parse(bpt_tdx_tdreport *t, const uint8_t *p, size_t len);

int bpt_tdx_tdreport_parse(bpt_tdx_tdreport *out, const uint8_t *p, size_t len)
{
    bpt_tdx_tdreport full = BPT_TDX_TDREPORT_INIT;
    int rc = bpt_sized_check(out, TDREPORT_V1_SIZE, "bpt_tdx_tdreport");
    if (rc == 0) {
        rc = tdreport_parse(&full, p, len);
        bpt_sized_out(out, &full, sizeof(full));
    }
    return rc;
}

static int tdreport_parse(bpt_tdx_tdreport *t, const uint8_t *p, size_t len)
{
    struct bpt_reader r;
    uint8_t type = 0;
    int rc;

    if (!p || len != BPT_TDX_TDREPORT_SIZE) {
        return bpt_err(BPT_EMALFORMED, "tdx: a TDREPORT is %d bytes, not %zu",
                       BPT_TDX_TDREPORT_SIZE, len);
    }
    bpt_reader_init(&r, p, len, "tdx: TDREPORT");
    /* REPORTMACSTRUCT */
    BPT_CHECK(bpt_reader_u8(&r, &type, "report_type.type"));
    if (type != BPT_TDX_TEE_TYPE) {
        return bpt_err(BPT_EMALFORMED, "tdx: TDREPORT type 0x%x (expected 0x81, TDX)", type);
    }
    BPT_CHECK(bpt_reader_skip(&r, 3 + 12, "report_type, reserved"));
    BPT_CHECK(bpt_reader_copy(&r, t->cpu_svn, 16, "cpusvn"));
    BPT_CHECK(bpt_reader_copy(&r, t->tee_tcb_info_hash, 48, "tee_tcb_info_hash"));
    BPT_CHECK(bpt_reader_copy(&r, t->tee_info_hash, 48, "tee_info_hash"));
    BPT_CHECK(bpt_reader_copy(&r, t->td.report_data, 64, "reportdata"));
    BPT_CHECK(bpt_reader_skip(&r, 32, "reserved"));
    BPT_CHECK(bpt_reader_copy(&r, t->mac, 32, "mac"));
    /* TEE_TCB_INFO (239 bytes) and 17 reserved bytes */
    BPT_CHECK(bpt_reader_skip(&r, 8, "tee_tcb_info.valid"));
    BPT_CHECK(bpt_reader_copy(&r, t->td.tee_tcb_svn, 16, "tee_tcb_svn"));
    BPT_CHECK(bpt_reader_copy(&r, t->td.mr_seam, 48, "mrseam"));
    BPT_CHECK(bpt_reader_copy(&r, t->td.mr_signer_seam, 48, "mrsigner_seam"));
    BPT_CHECK(bpt_reader_u64le(&r, &t->td.seam_attributes, "attributes"));
    BPT_CHECK(bpt_reader_copy(&r, t->td.tee_tcb_svn2, 16, "tee_tcb_svn2"));
    BPT_CHECK(bpt_reader_skip(&r, 95 + 17, "reserved"));
    /* TDINFO */
    BPT_CHECK(bpt_reader_u64le(&r, &t->td.td_attributes, "td attributes"));
    BPT_CHECK(bpt_reader_u64le(&r, &t->td.xfam, "xfam"));
    BPT_CHECK(bpt_reader_copy(&r, t->td.mr_td, 48, "mrtd"));
    BPT_CHECK(bpt_reader_copy(&r, t->td.mr_config_id, 48, "mrconfigid"));
    BPT_CHECK(bpt_reader_copy(&r, t->td.mr_owner, 48, "mrowner"));
    BPT_CHECK(bpt_reader_copy(&r, t->td.mr_owner_config, 48, "mrownerconfig"));
    for (int i = 0; i < 4; i++) {
        BPT_CHECK(bpt_reader_copy(&r, t->td.rtmr[i], 48, "rtmr"));
    }
    BPT_CHECK(bpt_reader_copy(&r, t->td.mr_servicetd, 48, "servtd_hash"));
    BPT_CHECK(bpt_reader_skip(&r, 64, "reserved"));
    BPT_CHECK(bpt_reader_end(&r, "tdx: TDREPORT"));
out:
    return rc;
}

int bpt_attest_tdreport(uint8_t out[BPT_TDX_TDREPORT_SIZE], const uint8_t report_data[64],
                        const char *root)
{
    if (!out || !report_data) {
        return bpt_err(BPT_EINVAL, "attest: a TDREPORT buffer and report data are required");
    }
    return bpt_tdx_guest_report(out, root, report_data, NULL);
}
