/*
 * /dev/tdx_guest through a fake device layer: TDX_CMD_GET_REPORT0 carries the report data in
 * and the TDREPORT out; driver errors, a missing device, and the TDREPORT parser.
 */
#include "helpers/test.h"

#include "attester/tdx_guest.h"

#include <errno.h>

struct fake_dev {
    int calls;
    int fail_errno; /* non-zero: the ioctl fails with it */
    int open_errno; /* non-zero: open fails with it */
};

static int fake_open(const char *path, void *ud)
{
    struct fake_dev *d = ud;
    assert_non_null(strstr(path, "/dev/tdx_guest"));
    if (d->open_errno) {
        errno = d->open_errno;
        return -1;
    }
    return 7;
}

static void fake_close(int fd, void *ud)
{
    (void)ud;
    assert_int_equal(fd, 7);
}

/* A TDREPORT in the TDX module's layout: type TDX, MRTD 0x11.., RTMR2 0x22.., the data echoed. */
static int fake_ioctl(int fd, unsigned long req, void *arg, void *ud)
{
    struct fake_dev *d = ud;
    struct bpt_tdx_report_req *r = arg;
    assert_int_equal(fd, 7);
    assert_int_equal(req, BPT_TDX_CMD_GET_REPORT0);
    d->calls++;
    if (d->fail_errno) {
        errno = d->fail_errno;
        return -1;
    }
    memset(r->tdreport, 0, sizeof(r->tdreport));
    r->tdreport[0] = 0x81;
    memcpy(r->tdreport + 128, r->reportdata, 64);
    r->tdreport[256 + 8] = 6; /* tee_tcb_svn[0] */
    r->tdreport[512] = 0x01;  /* td attributes: DEBUG */
    memset(r->tdreport + 528, 0x11, 48);
    memset(r->tdreport + 720 + 2 * 48, 0x22, 48);
    return 0;
}

static void test_report_round_trip(void **state)
{
    struct fake_dev d = {0};
    struct bpt_dev_ops ops = {fake_open, fake_ioctl, fake_close, &d};
    uint8_t rd[64], out[BPT_TDX_TDREPORT_SIZE];
    bpt_tdx_tdreport t = BPT_TDX_TDREPORT_INIT;
    (void)state;
    for (int i = 0; i < 64; i++) {
        rd[i] = (uint8_t)(i + 1);
    }
    assert_ok(bpt_tdx_guest_report(out, "/nonexistent", rd, &ops));
    assert_int_equal(d.calls, 1);
    assert_ok(bpt_tdx_tdreport_parse(&t, out, sizeof(out)));
    assert_memory_equal(t.td.report_data, rd, 64);
    assert_int_equal(t.td.tee_tcb_svn[0], 6);
    assert_int_equal(t.td.td_attributes & BPT_TDX_ATTR_DEBUG, 1);
    assert_int_equal(t.td.mr_td[47], 0x11);
    assert_int_equal(t.td.rtmr[2][0], 0x22);
    assert_int_equal(t.td.rtmr[1][0], 0);
}

static void test_driver_errors(void **state)
{
    struct fake_dev d = {.fail_errno = EINVAL};
    struct bpt_dev_ops ops = {fake_open, fake_ioctl, fake_close, &d};
    uint8_t rd[64] = {0}, out[BPT_TDX_TDREPORT_SIZE];
    (void)state;
    assert_rc_msg(bpt_tdx_guest_report(out, "/x", rd, &ops), BPT_EIO,
                  "TDX_CMD_GET_REPORT0 failed: Invalid argument");
    d.fail_errno = 0;
    d.open_errno = EACCES;
    assert_rc_msg(bpt_tdx_guest_report(out, "/x", rd, &ops), BPT_EIO,
                  "cannot open /x/dev/tdx_guest: Permission denied");
}

static void test_no_device(void **state)
{
    char *dir = bpt_test_tmpdir(), path[4096];
    uint8_t rd[64] = {0}, out[BPT_TDX_TDREPORT_SIZE];
    (void)state;
    assert_rc_msg(bpt_attest_tdreport(out, rd, dir), BPT_ENOTSUP, "is not a character device");
    snprintf(path, sizeof(path), "%s/dev/tdx_guest", dir);
    bpt_test_write_file(path, "x", 1); /* a regular file named like the device */
    assert_rc_msg(bpt_attest_tdreport(out, rd, dir), BPT_ENOTSUP, "is not a character device");
    bpt_test_rmtree(dir);
    free(dir);
}

static void test_parse_refusals(void **state)
{
    uint8_t buf[BPT_TDX_TDREPORT_SIZE] = {0};
    bpt_tdx_tdreport t = BPT_TDX_TDREPORT_INIT;
    (void)state;
    assert_rc_msg(bpt_tdx_tdreport_parse(&t, buf, 1000), BPT_EMALFORMED, "is 1024 bytes, not 1000");
    assert_rc_msg(bpt_tdx_tdreport_parse(&t, buf, sizeof(buf)), BPT_EMALFORMED,
                  "TDREPORT type 0x0");
    buf[0] = 0x81;
    assert_ok(bpt_tdx_tdreport_parse(&t, buf, sizeof(buf)));
}

/* The TDREPORT struct is size-prefixed: a caller that did not set the size is refused. */
static void test_parse_needs_the_struct_size(void **state)
{
    uint8_t buf[BPT_TDX_TDREPORT_SIZE] = {0x81};
    bpt_tdx_tdreport zero = {0};
    bpt_tdx_tdreport t = BPT_TDX_TDREPORT_INIT;
    (void)state;
    memset(buf + 528, 0x11, 48); /* MRTD */
    assert_int_equal(t.size, sizeof(bpt_tdx_tdreport));
    assert_rc_msg(bpt_tdx_tdreport_parse(&zero, buf, sizeof(buf)), BPT_EINVAL,
                  "bpt_tdx_tdreport: the struct's size is smaller than its first version");
    assert_int_equal(zero.size, 0);
    assert_int_equal(zero.td.mr_td[0], 0);
    assert_rc_msg(bpt_tdx_tdreport_parse(NULL, buf, sizeof(buf)), BPT_EINVAL,
                  "bpt_tdx_tdreport: NULL");
    assert_ok(bpt_tdx_tdreport_parse(&t, buf, sizeof(buf)));
    assert_int_equal(t.size, sizeof(bpt_tdx_tdreport));
    assert_int_equal(t.td.mr_td[0], 0x11);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report_round_trip),
        cmocka_unit_test(test_driver_errors),
        cmocka_unit_test(test_no_device),
        cmocka_unit_test(test_parse_refusals),
        cmocka_unit_test(test_parse_needs_the_struct_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
