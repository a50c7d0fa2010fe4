#include "attester/sev_guest.h"

#include "core/err.h"
#include "core/limits.h"
#include "core/reader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

static int real_open(const char *path, void *ud)
{
    (void)ud;
    return open(path, O_RDWR | O_CLOEXEC);
}

static int real_ioctl(int fd, unsigned long req, void *arg, void *ud)
{
    (void)ud;
    return ioctl(fd, req, arg);
}

static void real_close(int fd, void *ud)
{
    (void)ud;
    close(fd);
}

const struct bpt_dev_ops bpt_dev_real_ops = {real_open, real_ioctl, real_close, NULL};

/* MSG_REPORT_RSP: status u32, report_size u32, 24 reserved bytes, then the report. */
static int parse_response(bpt_buf *report, const uint8_t *resp)
{
    struct bpt_reader r;
    uint32_t status, size;
    const uint8_t *rep;
    int rc;

    bpt_reader_init(&r, resp, BPT_SNP_RESP_SIZE, "sev-guest response");
    BPT_CHECK(bpt_reader_u32le(&r, &status, "status"));
    BPT_CHECK(bpt_reader_u32le(&r, &size, "report_size"));
    BPT_CHECK(bpt_reader_skip(&r, 24, "reserved"));
    if (status != 0) {
        return bpt_err(BPT_EIO, "sev-guest: firmware status 0x%x", status);
    }
    BPT_CHECK(bpt_reader_view(&r, &rep, size, "report"));
    rc = bpt_buf_append(report, rep, size);
out:
    return rc;
}

int bpt_sev_guest_report(bpt_buf *report, bpt_buf *certs, const char *root, int vmpl,
                         const uint8_t report_data[64], const struct bpt_dev_ops *ops)
{
    char path[4096];
    struct stat st;
    struct bpt_snp_ext_report_req ext;
    struct bpt_snp_guest_request_ioctl io;
    uint8_t *resp = NULL, *table = NULL;
    uint32_t table_len = 4 * 4096;
    int fd = -1, rc;

    snprintf(path, sizeof(path), "%s/dev/sev-guest", root && *root ? root : "");
    if (!ops) {
        if (stat(path, &st) != 0 || !S_ISCHR(st.st_mode)) {
            return bpt_err(BPT_ENOTSUP, "sev-guest: %s is not a character device", path);
        }
        ops = &bpt_dev_real_ops;
    }
    fd = ops->open(path, ops->ud);
    if (fd < 0) {
        return bpt_err(BPT_EIO, "sev-guest: cannot open %s: %s", path, strerror(errno));
    }
    resp = calloc(1, BPT_SNP_RESP_SIZE);
    if (!resp) {
        rc = bpt_err_nomem("sev-guest response");
        goto out;
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        memset(&ext, 0, sizeof(ext));
        memset(&io, 0, sizeof(io));
        memcpy(ext.data.user_data, report_data, 64);
        ext.data.vmpl = vmpl < 0 ? 0 : (uint32_t)vmpl;
        io.msg_version = 1;
        io.req_data = (uint64_t)(uintptr_t)&ext;
        io.resp_data = (uint64_t)(uintptr_t)resp;
        if (certs) {
            free(table);
            if (table_len > BPT_LIMIT_COLLATERAL_BYTES ||
                !(table = aligned_alloc(4096, (table_len + 4095) / 4096 * 4096))) {
                rc = bpt_err(BPT_ELIMIT, "sev-guest: certificate table of %u bytes", table_len);
                goto out;
            }
            memset(table, 0, table_len);
            ext.certs_address = (uint64_t)(uintptr_t)table;
            ext.certs_len = table_len;
        }
        if (ops->ioctl(fd, certs ? BPT_SNP_GET_EXT_REPORT : BPT_SNP_GET_REPORT, &io, ops->ud) ==
            0) {
            break;
        }
        if (certs && attempt == 0 &&
            (uint32_t)(io.exitinfo2 >> 32) == BPT_SNP_VMM_ERR_INVALID_LEN &&
            ext.certs_len > table_len) {
            table_len = ext.certs_len; /* the host says how much room its table needs */
            continue;
        }
        rc = bpt_err(BPT_EIO, "sev-guest: %s failed: %s (firmware error 0x%x, vmm error 0x%x)",
                     certs ? "SNP_GET_EXT_REPORT" : "SNP_GET_REPORT", strerror(errno),
                     (unsigned)(io.exitinfo2 & 0xffffffffu), (unsigned)(io.exitinfo2 >> 32));
        goto out;
    }
    BPT_CHECK(parse_response(report, resp));
    if (certs && table) {
        BPT_CHECK(bpt_buf_append(certs, table, ext.certs_len <= table_len ? ext.certs_len : 0));
    }
    rc = 0;
out:
    if (resp) {
        OPENSSL_cleanse(resp, BPT_SNP_RESP_SIZE);
    }
    free(resp);
    free(table);
    ops->close(fd, ops->ud);
    return rc;
}
