#include "attester/tsm.h"

#include "core/err.h"
#include "core/limits.h"
#include "core/logging.h"
#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TSM_DIR "sys/kernel/config/tsm/report"

void bpt_tsm_result_init(struct bpt_tsm_result *r)
{
    bpt_buf_init(&r->outblob, BPT_LIMIT_EVIDENCE_BYTES);
    bpt_buf_init(&r->auxblob, BPT_LIMIT_COLLATERAL_BYTES);
    r->provider[0] = '\0';
}

void bpt_tsm_result_dispose(struct bpt_tsm_result *r)
{
    bpt_buf_dispose(&r->outblob);
    bpt_buf_dispose(&r->auxblob);
}

/* configfs attributes are written in one write() call. */
static int write_attr(const char *dir, const char *name, const void *p, size_t n)
{
    char path[4096];
    int fd;
    ssize_t w;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fd = open(path, O_WRONLY | O_CLOEXEC | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        return bpt_err(BPT_EIO, "configfs-tsm: cannot open %s: %s", path, strerror(errno));
    }
    w = write(fd, p, n);
    if (w < 0 || (size_t)w != n) {
        int e = errno;
        close(fd);
        return bpt_err(BPT_EIO, "configfs-tsm: writing %s: %s", path,
                       w < 0 ? strerror(e) : "short write");
    }
    if (close(fd) != 0) {
        return bpt_err(BPT_EIO, "configfs-tsm: writing %s: %s", path, strerror(errno));
    }
    return 0;
}

static int read_attr(bpt_buf *out, const char *dir, const char *name, bool optional)
{
    char path[4096];
    int rc;
    int n = snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        return bpt_err(BPT_EINVAL, "configfs-tsm: path %.64s.../%s is longer than %zu bytes", dir,
                       name, sizeof(path) - 1);
    }
    rc = bpt_file_read(out, path);
    if (rc == BPT_ENOTFOUND && optional) {
        bpt_error_clear();
        return 0;
    }
    return rc < 0 ? bpt_err_prefix(rc, "configfs-tsm") : 0;
}

static int read_generation(unsigned long *gen, const char *dir)
{
    bpt_buf b = BPT_BUF_INIT(32);
    int rc = read_attr(&b, dir, "generation", false);
    char *end = NULL;
    if (rc == 0) {
        *gen = strtoul(b.len ? (const char *)b.data : "x", &end, 10);
        if (!end || (*end != '\0' && *end != '\n')) {
            rc = bpt_err(BPT_EMALFORMED, "configfs-tsm: generation is not a number");
        }
    }
    bpt_buf_dispose(&b);
    return rc;
}

int bpt_tsm_report(struct bpt_tsm_result *out, const char *root, const uint8_t report_data[64],
                   int privlevel, const struct bpt_tsm_hooks *hooks)
{
    static atomic_uint counter;
    char base[4096], entry[4200], lvl[16];
    unsigned long gen_before = 0, gen_after = 0;
    bpt_buf prov = BPT_BUF_INIT(sizeof(out->provider) - 1);
    struct stat st;
    int rc;

    snprintf(base, sizeof(base), "%s/%s", root && *root ? root : "", TSM_DIR);
    if (stat(base, &st) != 0 || !S_ISDIR(st.st_mode)) {
        return bpt_err(BPT_ENOTSUP,
                       "configfs-tsm: %s not present (kernel without TSM reports, "
                       "or configfs not mounted)",
                       base);
    }
    snprintf(entry, sizeof(entry), "%s/bpt-%ld-%u", base, (long)getpid(),
             atomic_fetch_add(&counter, 1));
    if (mkdir(entry, 0700) != 0) {
        return bpt_err(BPT_EIO, "configfs-tsm: cannot create %s: %s", entry, strerror(errno));
    }
    if (privlevel >= 0) {
        snprintf(lvl, sizeof(lvl), "%d", privlevel);
        BPT_CHECK(write_attr(entry, "privlevel", lvl, strlen(lvl)));
    }
    BPT_CHECK(write_attr(entry, "inblob", report_data, 64));
    if (hooks && hooks->after_inblob) {
        BPT_CHECK(hooks->after_inblob(entry, report_data, 64, hooks->ud));
    }
    BPT_CHECK(read_generation(&gen_before, entry));
    BPT_CHECK(read_attr(&out->outblob, entry, "outblob", false));
    BPT_CHECK(read_attr(&out->auxblob, entry, "auxblob", true));
    BPT_CHECK(read_attr(&prov, entry, "provider", false));
    BPT_CHECK(read_generation(&gen_after, entry));
    if (gen_after != gen_before) {
        rc = bpt_err(BPT_EBUSY,
                     "configfs-tsm: another writer changed the request (generation "
                     "%lu -> %lu); retry",
                     gen_before, gen_after);
        goto out;
    }
    if (out->outblob.len == 0) {
        rc = bpt_err(BPT_EMALFORMED, "configfs-tsm: empty outblob");
        goto out;
    }
    while (prov.len && (prov.data[prov.len - 1] == '\n' || prov.data[prov.len - 1] == ' ')) {
        prov.len--;
    }
    memcpy(out->provider, prov.data ? (const char *)prov.data : "", prov.len);
    out->provider[prov.len] = '\0';
    rc = 0;
out:
    bpt_buf_dispose(&prov);
    if (rmdir(entry) != 0) {
        BPT_LOG(BPT_LOG_DEBUG, "tsm", "entry not removed path=%s errno=%d", entry, errno);
    }
    return rc;
}
