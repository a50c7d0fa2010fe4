/*
 * TEE detection by filesystem probes under a root directory (see detect.h for the probe list
 * and the precedence). Device nodes count only as character devices; nothing is opened except
 * small sysfs/configfs text files, read-only.
 */
#include <blueprint-tee/detect.h>

#include "core/err.h"
#include "core/limits.h"
#include "core/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONFIGFS_TSM_REPORT "/sys/kernel/config/tsm/report"
#define GCP_TOKEN "/run/container_launcher/attestation_verifier_claims_token"
#define GCP_SOCKET "/run/container_launcher/teeserver.sock"
#define GCP_ENV "CONFIDENTIAL_SPACE_VERSION"

/* What a path must be for its probe to count. */
enum want { WANT_CHR, WANT_EXISTS, WANT_REG, WANT_SOCK };

struct ctx {
    char root[4096]; /* without a trailing '/'; "" for "/" */
    bpt_detection *d;
};

/* Keep text printable ASCII (it ends up in JSON and on terminals): anything else is '?'. */
static void printable(char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e) {
            *s = '?';
        }
    }
}

static void set_str(char *dst, size_t size, const char *s)
{
    if (snprintf(dst, size, "%s", s) < 0) {
        dst[0] = '\0';
    }
    printable(dst);
}

static bpt_detect_probe *add_probe(struct ctx *c, const char *name, bpt_provider p,
                                   const char *path)
{
    bpt_detect_probe *pr = &c->d->probes[c->d->n_probes++];
    pr->name = name;
    pr->provider = p;
    pr->status = BPT_DETECT_ABSENT;
    set_str(pr->path, sizeof(pr->path), path);
    pr->detail[0] = '\0';
    return pr;
}

/* root + rel into @p out (PATH_MAX-sized); false when it does not fit. */
static bool full_path(const struct ctx *c, const char *rel, char *out, size_t size)
{
    int n = snprintf(out, size, "%s%s", c->root, rel);
    return n >= 0 && (size_t)n < size;
}

static const char *type_name(mode_t m)
{
    if (S_ISREG(m)) {
        return "regular file";
    }
    if (S_ISDIR(m)) {
        return "directory";
    }
    if (S_ISCHR(m)) {
        return "character device";
    }
    if (S_ISBLK(m)) {
        return "block device";
    }
    if (S_ISSOCK(m)) {
        return "socket";
    }
    if (S_ISFIFO(m)) {
        return "fifo";
    }
    return "other file type";
}

static bool type_ok(mode_t m, enum want w)
{
    switch (w) {
    case WANT_CHR:
        return S_ISCHR(m);
    case WANT_REG:
        return S_ISREG(m);
    case WANT_SOCK:
        return S_ISSOCK(m);
    case WANT_EXISTS:
        return true;
    }
    return false;
}

static const char *want_name(enum want w)
{
    switch (w) {
    case WANT_CHR:
        return "character device";
    case WANT_REG:
        return "regular file";
    case WANT_SOCK:
        return "socket";
    case WANT_EXISTS:
        break;
    }
    return "anything";
}

/* stat() a path under the root and record what it is. Returns true when the probe counts. */
static bool probe_path(struct ctx *c, const char *name, bpt_provider p, const char *rel,
                       enum want w)
{
    bpt_detect_probe *pr = add_probe(c, name, p, rel);
    char full[4096];
    struct stat st;

    if (!full_path(c, rel, full, sizeof(full))) {
        pr->status = BPT_DETECT_ERROR;
        set_str(pr->detail, sizeof(pr->detail), "path too long");
        return false;
    }
    if (stat(full, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR) {
            pr->status = BPT_DETECT_ABSENT;
        } else {
            pr->status = BPT_DETECT_ERROR;
            set_str(pr->detail, sizeof(pr->detail), strerror(errno));
        }
        return false;
    }
    if (!type_ok(st.st_mode, w)) {
        pr->status = BPT_DETECT_WRONG_TYPE;
        if (snprintf(pr->detail, sizeof(pr->detail), "%s, not a %s", type_name(st.st_mode),
                     want_name(w)) < 0) {
            pr->detail[0] = '\0';
        }
        return false;
    }
    pr->status = BPT_DETECT_FOUND;
    set_str(pr->detail, sizeof(pr->detail), type_name(st.st_mode));
    return true;
}

/* Read a small text file whole (at most size - 1 bytes), trimmed of surrounding whitespace.
 * Returns 0, or an errno value. */
static int read_small(const char *path, char *buf, size_t size)
{
    size_t used = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        return errno;
    }
    while (used < size - 1) {
        ssize_t n = read(fd, buf + used, size - 1 - used);
        if (n < 0) {
            int e = errno;
            if (e == EINTR) {
                continue;
            }
            close(fd);
            return e;
        }
        if (n == 0) {
            break;
        }
        used += (size_t)n;
    }
    close(fd);
    buf[used] = '\0';
    while (used > 0 && (buf[used - 1] == '\n' || buf[used - 1] == ' ' || buf[used - 1] == '\t' ||
                        buf[used - 1] == '\r' || buf[used - 1] == '\0')) {
        buf[--used] = '\0';
    }
    size_t lead = strspn(buf, " \t\r\n");
    memmove(buf, buf + lead, used - lead + 1);
    printable(buf);
    return 0;
}

/* DMI vendor file: found when it names Microsoft (Azure, as the Rust crate checks). */
static bool probe_dmi(struct ctx *c, const char *name, const char *rel)
{
    bpt_detect_probe *pr = add_probe(c, name, BPT_PROVIDER_AZURE_SNP, rel);
    char full[4096], text[96];
    int e;

    if (!full_path(c, rel, full, sizeof(full))) {
        pr->status = BPT_DETECT_ERROR;
        set_str(pr->detail, sizeof(pr->detail), "path too long");
        return false;
    }
    e = read_small(full, text, sizeof(text));
    if (e == ENOENT || e == ENOTDIR) {
        return false;
    }
    if (e != 0) {
        pr->status = e == EISDIR ? BPT_DETECT_WRONG_TYPE : BPT_DETECT_ERROR;
        set_str(pr->detail, sizeof(pr->detail), strerror(e));
        return false;
    }
    if (snprintf(pr->detail, sizeof(pr->detail), "vendor=%s", text) < 0) {
        pr->detail[0] = '\0';
    }
    pr->status = strstr(text, "Microsoft") ? BPT_DETECT_FOUND : BPT_DETECT_NO_MATCH;
    return pr->status == BPT_DETECT_FOUND;
}

static bpt_provider tsm_provider(const char *value)
{
    if (strcmp(value, "tdx_guest") == 0) {
        return BPT_PROVIDER_INTEL_TDX;
    }
    if (strcmp(value, "sev_guest") == 0) {
        return BPT_PROVIDER_AMD_SEV_SNP;
    }
    return BPT_PROVIDER_UNKNOWN;
}

/*
 * configfs-tsm: the report directory's entries each have a "provider" file. The entry whose
 * name sorts first among those naming a known provider decides (readdir order is not stable).
 * Returns the provider found, BPT_PROVIDER_UNKNOWN otherwise.
 */
static bpt_provider probe_configfs_tsm(struct ctx *c)
{
    bpt_detect_probe *pr = add_probe(c, "configfs_tsm", BPT_PROVIDER_UNKNOWN, CONFIGFS_TSM_REPORT);
    char dir[4096], best_name[256] = "", best_value[64] = "", other[64] = "";
    bpt_provider best = BPT_PROVIDER_UNKNOWN;
    size_t entries = 0;
    struct dirent *e;
    DIR *d;

    if (!full_path(c, CONFIGFS_TSM_REPORT, dir, sizeof(dir))) {
        pr->status = BPT_DETECT_ERROR;
        set_str(pr->detail, sizeof(pr->detail), "path too long");
        return BPT_PROVIDER_UNKNOWN;
    }
    d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) {
            return BPT_PROVIDER_UNKNOWN;
        }
        pr->status = errno == ENOTDIR ? BPT_DETECT_WRONG_TYPE : BPT_DETECT_ERROR;
        set_str(pr->detail, sizeof(pr->detail), strerror(errno));
        return BPT_PROVIDER_UNKNOWN;
    }
    while ((e = readdir(d)) != NULL && entries < BPT_LIMIT_LIST_ENTRIES) {
        char file[4096], value[64];
        bpt_provider p;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        entries++;
        int n = snprintf(file, sizeof(file), "%s/%s/provider", dir, e->d_name);
        if (n < 0 || (size_t)n >= sizeof(file) || read_small(file, value, sizeof(value)) != 0) {
            continue;
        }
        p = tsm_provider(value);
        if (p == BPT_PROVIDER_UNKNOWN) {
            set_str(other, sizeof(other), value);
            continue;
        }
        if (best == BPT_PROVIDER_UNKNOWN || strcmp(e->d_name, best_name) < 0) {
            best = p;
            set_str(best_name, sizeof(best_name), e->d_name);
            set_str(best_value, sizeof(best_value), value);
        }
    }
    closedir(d);
    if (best != BPT_PROVIDER_UNKNOWN) {
        pr->status = BPT_DETECT_FOUND;
        pr->provider = best;
        if (snprintf(pr->path, sizeof(pr->path), "%s/%s/provider", CONFIGFS_TSM_REPORT, best_name) <
                0 ||
            snprintf(pr->detail, sizeof(pr->detail), "provider=%s", best_value) < 0) {
            pr->detail[0] = '\0';
        }
        printable(pr->path);
        return best;
    }
    pr->status = BPT_DETECT_NO_MATCH;
    if (other[0]) {
        if (snprintf(pr->detail, sizeof(pr->detail), "provider=%s (not a known TEE)", other) < 0) {
            pr->detail[0] = '\0';
        }
    } else {
        set_str(pr->detail, sizeof(pr->detail),
                entries ? "no readable provider file" : "no report entries");
    }
    return BPT_PROVIDER_UNKNOWN;
}

static const char *process_env(const char *name, void *userdata)
{
    (void)userdata;
    return getenv(name);
}

static bool probe_env(struct ctx *c, bpt_detect_env_fn env, void *ud)
{
    bpt_detect_probe *pr = add_probe(c, "gcp_env", BPT_PROVIDER_GCP_CONFIDENTIAL, "$" GCP_ENV);
    const char *v = env(GCP_ENV, ud);
    if (!v) {
        return false;
    }
    pr->status = BPT_DETECT_FOUND;
    if (snprintf(pr->detail, sizeof(pr->detail), "%.64s", v) < 0) {
        pr->detail[0] = '\0';
    }
    printable(pr->detail);
    return true;
}

static void choose(bpt_detection *d, bpt_provider p, bpt_detect_source s, const char *path)
{
    d->provider = p;
    d->source = s;
    set_str(d->evidence_path, sizeof(d->evidence_path), path ? path : "");
}

int bpt_detect(bpt_detection *out, const char *root, bpt_detect_env_fn env, void *env_userdata)
{
    struct ctx c;
    struct stat st;
    size_t rl;

    if (!out) {
        return bpt_err(BPT_EINVAL, "detect: no output");
    }
    /* The first version of bpt_detection is this one: it is filled in place. */
    if (bpt_sized_check(out, sizeof(*out), "bpt_detection") < 0) {
        return BPT_EINVAL;
    }
    memset(out, 0, sizeof(*out));
    out->size = sizeof(*out);
    if (!root || !*root) {
        root = "/";
    }
    rl = strlen(root);
    while (rl > 1 && root[rl - 1] == '/') {
        rl--;
    }
    if (rl >= sizeof(c.root) - 128) {
        return bpt_err(BPT_EINVAL, "detect: root path of %zu bytes is too long", rl);
    }
    if (stat(root, &st) != 0) {
        int e = errno;
        return bpt_err(e == ENOENT ? BPT_ENOTFOUND : BPT_EIO, "detect: root '%.200s': %s", root,
                       strerror(e));
    }
    if (!S_ISDIR(st.st_mode)) {
        return bpt_err(BPT_EINVAL, "detect: root '%.200s' is not a directory", root);
    }
    memcpy(c.root, root, rl);
    c.root[rl] = '\0';
    if (strcmp(c.root, "/") == 0) {
        c.root[0] = '\0';
    }
    c.d = out;
    if (!env) {
        env = process_env;
    }

    bool nitro = probe_path(&c, "nsm_device", BPT_PROVIDER_AWS_NITRO, "/dev/nsm", WANT_CHR);
    bool tdx_dev1 =
        probe_path(&c, "tdx_guest_device", BPT_PROVIDER_INTEL_TDX, "/dev/tdx_guest", WANT_CHR);
    bool tdx_dev2 =
        probe_path(&c, "tdx_guest_device_alt", BPT_PROVIDER_INTEL_TDX, "/dev/tdx-guest", WANT_CHR);
    bpt_provider tsm = probe_configfs_tsm(&c);
    bool ccel = probe_path(&c, "acpi_ccel", BPT_PROVIDER_INTEL_TDX,
                           "/sys/firmware/acpi/tables/CCEL", WANT_EXISTS);
    bool tdel = probe_path(&c, "acpi_tdel", BPT_PROVIDER_INTEL_TDX,
                           "/sys/firmware/acpi/tables/TDEL", WANT_EXISTS);
    bool sev_dev =
        probe_path(&c, "sev_guest_device", BPT_PROVIDER_AMD_SEV_SNP, "/dev/sev-guest", WANT_CHR);
    bool sev_sysfs =
        probe_path(&c, "sev_sysfs", BPT_PROVIDER_AZURE_SNP, "/sys/kernel/mm/sev", WANT_EXISTS);
    bool ms_sys = probe_dmi(&c, "dmi_sys_vendor", "/sys/class/dmi/id/sys_vendor");
    bool ms_board = probe_dmi(&c, "dmi_board_vendor", "/sys/class/dmi/id/board_vendor");
    bool gcp_token =
        probe_path(&c, "gcp_launcher_token", BPT_PROVIDER_GCP_CONFIDENTIAL, GCP_TOKEN, WANT_REG);
    bool gcp_sock =
        probe_path(&c, "gcp_launcher_socket", BPT_PROVIDER_GCP_CONFIDENTIAL, GCP_SOCKET, WANT_SOCK);
    bool gcp_env = probe_env(&c, env, env_userdata);

    bool tsm_tdx = tsm == BPT_PROVIDER_INTEL_TDX;
    bool tsm_sev = tsm == BPT_PROVIDER_AMD_SEV_SNP;
    const char *sev_path = sev_dev ? "/dev/sev-guest" : NULL;

    if (nitro) {
        choose(out, BPT_PROVIDER_AWS_NITRO, BPT_DETECT_SOURCE_DEVICE, "/dev/nsm");
    } else if (tdx_dev1 || tdx_dev2 || tsm_tdx || ccel || tdel) {
        if (tsm_tdx) {
            choose(out, BPT_PROVIDER_INTEL_TDX, BPT_DETECT_SOURCE_CONFIGFS_TSM,
                   CONFIGFS_TSM_REPORT);
        } else if (tdx_dev1 || tdx_dev2) {
            choose(out, BPT_PROVIDER_INTEL_TDX, BPT_DETECT_SOURCE_DEVICE,
                   tdx_dev1 ? "/dev/tdx_guest" : "/dev/tdx-guest");
        } else {
            choose(out, BPT_PROVIDER_INTEL_TDX, BPT_DETECT_SOURCE_NONE, NULL);
        }
    } else if ((ms_sys || ms_board) && (sev_dev || tsm_sev || sev_sysfs)) {
        if (tsm_sev) {
            choose(out, BPT_PROVIDER_AZURE_SNP, BPT_DETECT_SOURCE_CONFIGFS_TSM,
                   CONFIGFS_TSM_REPORT);
        } else if (sev_dev) {
            choose(out, BPT_PROVIDER_AZURE_SNP, BPT_DETECT_SOURCE_DEVICE, sev_path);
        } else {
            choose(out, BPT_PROVIDER_AZURE_SNP, BPT_DETECT_SOURCE_NONE, NULL);
        }
    } else if (sev_dev || tsm_sev) {
        if (tsm_sev) {
            choose(out, BPT_PROVIDER_AMD_SEV_SNP, BPT_DETECT_SOURCE_CONFIGFS_TSM,
                   CONFIGFS_TSM_REPORT);
        } else {
            choose(out, BPT_PROVIDER_AMD_SEV_SNP, BPT_DETECT_SOURCE_DEVICE, sev_path);
        }
    } else if (gcp_token || gcp_sock || gcp_env) {
        if (gcp_sock) {
            choose(out, BPT_PROVIDER_GCP_CONFIDENTIAL, BPT_DETECT_SOURCE_LAUNCHER, GCP_SOCKET);
        } else if (gcp_token) {
            choose(out, BPT_PROVIDER_GCP_CONFIDENTIAL, BPT_DETECT_SOURCE_LAUNCHER, GCP_TOKEN);
        } else {
            choose(out, BPT_PROVIDER_GCP_CONFIDENTIAL, BPT_DETECT_SOURCE_NONE, NULL);
        }
    }
    return 0;
}

const char *bpt_detect_provider_name(const bpt_detection *d)
{
    if (!d || d->provider == BPT_PROVIDER_UNKNOWN) {
        return "none";
    }
    return bpt_provider_name(d->provider);
}

const char *bpt_detect_source_name(bpt_detect_source s)
{
    static const char *const names[] = {"none", "device", "configfs_tsm", "launcher"};
    if ((int)s < 0 || (size_t)s >= sizeof(names) / sizeof(names[0])) {
        return "unknown";
    }
    return names[s];
}

const char *bpt_detect_status_name(bpt_detect_status s)
{
    static const char *const names[] = {"absent", "found", "wrong_type", "no_match", "error"};
    if ((int)s < 0 || (size_t)s >= sizeof(names) / sizeof(names[0])) {
        return "unknown";
    }
    return names[s];
}

/* json_object_set_new that reports failure (jansson frees the value either way). */
static int put(json_t *obj, const char *key, json_t *v)
{
    return v && json_object_set_new(obj, key, v) == 0 ? 0 : -1;
}

int bpt_detect_to_json(char **out, const bpt_detection *d)
{
    json_t *root = NULL, *probes = NULL;
    int rc = BPT_ENOMEM;
    int bad = 0;

    if (!out) {
        return bpt_err(BPT_EINVAL, "detect: no output");
    }
    *out = NULL;
    if (!d) {
        return bpt_err(BPT_EINVAL, "detect: no detection");
    }
    if (d->n_probes > BPT_DETECT_MAX_PROBES) {
        return bpt_err(BPT_EINVAL, "detect: %zu probes, at most %d", d->n_probes,
                       BPT_DETECT_MAX_PROBES);
    }
    root = json_object();
    probes = json_array();
    if (!root || !probes) {
        goto out;
    }
    bad |= put(root, "provider", json_string(bpt_detect_provider_name(d)));
    bad |= put(root, "evidence_source", json_string(bpt_detect_source_name(d->source)));
    bad |= put(root, "evidence_path",
               d->source != BPT_DETECT_SOURCE_NONE && d->evidence_path[0]
                   ? json_stringn(d->evidence_path, strnlen(d->evidence_path, BPT_DETECT_PATH_MAX))
                   : json_null());
    for (size_t i = 0; i < d->n_probes; i++) {
        const bpt_detect_probe *p = &d->probes[i];
        json_t *o = json_object();
        if (!o) {
            goto out;
        }
        bad |= put(o, "name", json_string(p->name ? p->name : ""));
        bad |= put(o, "path", json_stringn(p->path, strnlen(p->path, BPT_DETECT_PATH_MAX)));
        bad |= put(o, "provider", json_string(bpt_provider_name(p->provider)));
        bad |= put(o, "status", json_string(bpt_detect_status_name(p->status)));
        bad |= put(o, "detail", json_stringn(p->detail, strnlen(p->detail, BPT_DETECT_DETAIL_MAX)));
        if (json_array_append_new(probes, o) != 0) {
            goto out;
        }
    }
    if (bad || json_object_set(root, "probes", probes) != 0) {
        goto out;
    }
    *out = json_dumps(root, JSON_COMPACT);
    if (!*out) {
        goto out;
    }
    rc = 0;
out:
    json_decref(probes);
    json_decref(root);
    if (rc == BPT_ENOMEM) {
        return bpt_err_nomem("detect: JSON");
    }
    return rc;
}
