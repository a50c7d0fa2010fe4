/*
 * The hardened OCI runtime config of the direct backend (oci.h). Every hardening field is
 * written from here alone, unconditionally; the spec chooses only what it may (process, env,
 * limits, devices among the TEE ones, network none or host, a non-root user).
 */
#include "runtime/oci.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <openssl/crypto.h>

#include "core/err.h"
#include "runtime/runtime_internal.h"

/* Denied with EPERM: what Docker's and Podman's default profiles deny (or allow only with a
 * capability the workload does not have), io_uring included. Names the kernel of one
 * architecture does not have are skipped by the OCI runtime. */
static const char *const DENY_EPERM[] = {
    "acct",
    "add_key",
    "bpf",
    "chroot",
    "clock_adjtime",
    "clock_settime",
    "create_module",
    "delete_module",
    "finit_module",
    "fsconfig",
    "fsmount",
    "fsopen",
    "fspick",
    "get_kernel_syms",
    "init_module",
    "io_uring_enter",
    "io_uring_register",
    "io_uring_setup",
    "ioperm",
    "iopl",
    "kcmp",
    "kexec_file_load",
    "kexec_load",
    "keyctl",
    "lookup_dcookie",
    "mount",
    "mount_setattr",
    "move_mount",
    "name_to_handle_at",
    "nfsservctl",
    "open_by_handle_at",
    "open_tree",
    "perf_event_open",
    "pivot_root",
    "process_vm_readv",
    "process_vm_writev",
    "ptrace",
    "query_module",
    "quotactl",
    "quotactl_fd",
    "reboot",
    "request_key",
    "setns",
    "settimeofday",
    "stime",
    "swapoff",
    "swapon",
    "_sysctl",
    "syslog",
    "umount",
    "umount2",
    "unshare",
    "uselib",
    "userfaultfd",
    "ustat",
    "vm86",
    "vm86old",
    NULL,
};

/* clone() with any of these flags (a new namespace) is denied as unshare() is. */
static const unsigned long CLONE_NS_FLAGS[] = {
    0x00020000UL, /* CLONE_NEWNS */
    0x02000000UL, /* CLONE_NEWCGROUP */
    0x04000000UL, /* CLONE_NEWUTS */
    0x08000000UL, /* CLONE_NEWIPC */
    0x10000000UL, /* CLONE_NEWUSER */
    0x20000000UL, /* CLONE_NEWPID */
    0x40000000UL, /* CLONE_NEWNET */
};

/* As runc's and Docker's defaults. */
static const char *const MASKED[] = {
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
    NULL,
};
static const char *const READONLY[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL,
};

#define EPERM_NO 1
#define ENOSYS_NO 38
#define CPU_PERIOD_US 100000

static json_t *strings(const char *const *list)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && list[i] != NULL; i++) {
        json_array_append_new(a, json_string(list[i]));
    }
    return a;
}

static json_t *seccomp(void)
{
#if defined(__aarch64__)
    static const char *const ARCHES[] = {"SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", NULL};
#else
    static const char *const ARCHES[] = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32",
                                         NULL};
#endif
    json_t *sc = json_array();
    json_t *o = json_pack("{s:s,s:o,s:o}", "defaultAction", "SCMP_ACT_ALLOW", "architectures",
                          strings(ARCHES), "syscalls", sc);
    if (o == NULL) {
        return NULL;
    }
    json_array_append_new(sc, json_pack("{s:o,s:s,s:i}", "names", strings(DENY_EPERM), "action",
                                        "SCMP_ACT_ERRNO", "errnoRet", EPERM_NO));
    json_array_append_new(sc, json_pack("{s:[s],s:s,s:i}", "names", "clone3", "action",
                                        "SCMP_ACT_ERRNO", "errnoRet", ENOSYS_NO));
    for (size_t i = 0; i < sizeof(CLONE_NS_FLAGS) / sizeof(CLONE_NS_FLAGS[0]); i++) {
        json_array_append_new(
            sc, json_pack("{s:[s],s:s,s:i,s:[{s:i,s:I,s:I,s:s}]}", "names", "clone", "action",
                          "SCMP_ACT_ERRNO", "errnoRet", EPERM_NO, "args", "index", 0, "value",
                          (json_int_t)CLONE_NS_FLAGS[i], "valueTwo", (json_int_t)CLONE_NS_FLAGS[i],
                          "op", "SCMP_CMP_MASKED_EQ"));
    }
    return o;
}

static json_t *mount_entry(const char *dst, const char *type, const char *src,
                           const char *const *opts)
{
    return json_pack("{s:s,s:s,s:s,s:o}", "destination", dst, "type", type, "source", src,
                     "options", strings(opts));
}

static json_t *mounts(const struct bpt_oci_input *in)
{
    static const char *const proc_o[] = {"nosuid", "noexec", "nodev", NULL};
    static const char *const dev_o[] = {"nosuid", "strictatime", "mode=755", "size=65536k", NULL};
    static const char *const pts_o[] = {"nosuid",        "noexec",    "newinstance",
                                        "ptmxmode=0666", "mode=0620", NULL};
    static const char *const shm_o[] = {"nosuid",    "noexec",      "nodev",
                                        "mode=1777", "size=65536k", NULL};
    static const char *const sys_o[] = {"nosuid", "noexec", "nodev", "ro", NULL};
    static const char *const cg_o[] = {"nosuid", "noexec", "nodev", "relatime", "ro", NULL};
    static const char *const tmp_o[] = {"nosuid",    "nodev",       "noexec",
                                        "mode=1777", "size=65536k", NULL};
    static const char *const bind_o[] = {"rbind", "nosuid", "nodev", "noexec", "rw", NULL};
    static const char *const small_o[] = {"nosuid",   "nodev",    "noexec",
                                          "mode=755", "size=16k", NULL};
    json_t *m = json_array();
    if (m == NULL) {
        return NULL;
    }
    json_array_append_new(m, mount_entry("/proc", "proc", "proc", proc_o));
    json_array_append_new(m, mount_entry("/dev", "tmpfs", "tmpfs", dev_o));
    json_array_append_new(m, mount_entry("/dev/pts", "devpts", "devpts", pts_o));
    json_array_append_new(m, mount_entry("/dev/shm", "tmpfs", "shm", shm_o));
    json_array_append_new(m, mount_entry("/dev/mqueue", "mqueue", "mqueue", proc_o));
    json_array_append_new(m, mount_entry("/sys", "sysfs", "sysfs", sys_o));
    json_array_append_new(m, mount_entry("/sys/fs/cgroup", "cgroup", "cgroup", cg_o));
    json_array_append_new(m, mount_entry("/tmp", "tmpfs", "tmpfs", tmp_o));
    json_array_append_new(m, mount_entry(BPT_OCI_HOST_MOUNT, "bind", in->host_dir, bind_o));
    if (in->tsm_dir != NULL) {
        /* configfs holds more than tsm: only report/ is passed, on a small tmpfs of its own
         * (over /sys/kernel when this kernel's sysfs has no /sys/kernel/config to mount on) */
        json_array_append_new(
            m, mount_entry(in->sysfs_has_configfs ? "/sys/kernel/config" : "/sys/kernel", "tmpfs",
                           "tmpfs", small_o));
        json_array_append_new(m, mount_entry(BPT_OCI_TSM_REPORT, "bind", in->tsm_dir, bind_o));
    }
    return m;
}

static json_t *process(const struct bpt_oci_input *in)
{
    const bpt_deploy_spec *s = in->spec;
    json_t *env = json_array(), *args = json_array();
    char kv[8192];
    if (env == NULL || args == NULL) {
        json_decref(env);
        json_decref(args);
        return NULL;
    }
    for (size_t i = 0; i < in->n_args; i++) {
        json_array_append_new(args, json_string(in->args[i]));
    }
    json_array_append_new(env, json_string("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:"
                                           "/usr/bin:/sbin:/bin"));
    for (size_t i = 0; i < in->n_image_env; i++) {
        if (strncmp(in->image_env[i], "PATH=", 5) != 0 && strncmp(in->image_env[i], "BPT_", 4)) {
            json_array_append_new(env, json_string(in->image_env[i]));
        }
    }
    json_array_append_new(env, json_string("HOME=/tmp"));
    json_array_append_new(env, json_string("BPT_KX_SOCKET=" BPT_OCI_KX_SOCKET));
    snprintf(kv, sizeof(kv), "BPT_DEPLOYMENT_ID=%s", in->id);
    json_array_append_new(env, json_string(kv));
    snprintf(kv, sizeof(kv), "BPT_DEPLOYMENT_NAME=%s", bpt_deploy_spec_name(s));
    json_array_append_new(env, json_string(kv));
    for (size_t i = 0; i < bpt_deploy_spec_env_count(s); i++) {
        snprintf(kv, sizeof(kv), "%s=%s", bpt_deploy_spec_env_name(s, i),
                 bpt_deploy_spec_env_value(s, i));
        json_array_append_new(env, json_string(kv));
    }
    /* secret values only reach here for a non-TEE deployment (env_or_sealed) */
    for (size_t i = 0; i < bpt_deploy_spec_secret_count(s); i++) {
        if (bpt_deploy_spec_secret_value(s, i) != NULL) {
            snprintf(kv, sizeof(kv), "%s=%s", bpt_deploy_spec_secret_name(s, i),
                     bpt_deploy_spec_secret_value(s, i));
            json_array_append_new(env, json_string(kv));
        }
    }
    OPENSSL_cleanse(kv, sizeof(kv));
    return json_pack("{s:b,s:{s:I,s:I,s:[]},s:o,s:o,s:s,s:{s:[],s:[],s:[],s:[],s:[]},"
                     "s:[{s:s,s:i,s:i},{s:s,s:i,s:i}],s:b}",
                     "terminal", 0, "user", "uid", (json_int_t)bpt_deploy_spec_uid(s), "gid",
                     (json_int_t)bpt_deploy_spec_gid(s), "additionalGids", "args", args, "env", env,
                     "cwd", "/", "capabilities", "bounding", "effective", "inheritable",
                     "permitted", "ambient", "rlimits", "type", "RLIMIT_NOFILE", "hard", 1024,
                     "soft", 1024, "type", "RLIMIT_CORE", "hard", 0, "soft", 0, "noNewPrivileges",
                     1);
}

static json_t *linux_section(const struct bpt_oci_input *in)
{
    const bpt_deploy_spec *s = in->spec;
    bpt_deploy_resources res;
    char cg[128];
    json_t *ns = json_array(), *devs = json_array(), *rules = json_array();
    json_t *masked = strings(MASKED), *ro = strings(READONLY);
    static const char *const NS[] = {"pid", "ipc", "uts", "mount", "cgroup", NULL};

    if (ns == NULL || devs == NULL || rules == NULL || masked == NULL || ro == NULL) {
        json_decref(ns);
        json_decref(devs);
        json_decref(rules);
        json_decref(masked);
        json_decref(ro);
        return NULL;
    }
    for (size_t i = 0; NS[i]; i++) {
        json_array_append_new(ns, json_pack("{s:s}", "type", NS[i]));
    }
    if (bpt_deploy_spec_network(s) == BPT_DEPLOY_NETWORK_NONE) {
        json_array_append_new(ns, json_pack("{s:s}", "type", "network"));
    }
    json_array_append_new(rules, json_pack("{s:b,s:s}", "allow", 0, "access", "rwm"));
    for (size_t i = 0; i < in->n_devices; i++) {
        const struct bpt_oci_device *d = &in->devices[i];
        json_array_append_new(devs, json_pack("{s:s,s:s,s:I,s:I,s:i,s:I,s:I}", "path", d->path,
                                              "type", "c", "major", (json_int_t)d->major, "minor",
                                              (json_int_t)d->minor, "fileMode", 0600, "uid",
                                              (json_int_t)bpt_deploy_spec_uid(s), "gid",
                                              (json_int_t)bpt_deploy_spec_gid(s)));
        json_array_append_new(rules, json_pack("{s:b,s:s,s:I,s:I,s:s}", "allow", 1, "type", "c",
                                               "major", (json_int_t)d->major, "minor",
                                               (json_int_t)d->minor, "access", "rw"));
    }
    if (in->tsm_dir != NULL) {
        json_array_append_new(
            ro, json_string(in->sysfs_has_configfs ? "/sys/kernel/config" : "/sys/kernel"));
    }
    bpt_deploy_spec_resources(s, &res);
    snprintf(cg, sizeof(cg), "/bpt/bpt-%s", in->id);
    return json_pack("{s:o,s:o,s:{s:o,s:{s:I},s:{s:I,s:I},s:{s:I}},s:s,s:o,s:o,s:o}", "namespaces",
                     ns, "devices", devs, "resources", "devices", rules, "memory", "limit",
                     (json_int_t)(res.memory_mb * 1024 * 1024), "cpu", "quota",
                     (json_int_t)((uint64_t)bpt_runtime_spec_millicpus(s) * CPU_PERIOD_US / 1000),
                     "period", (json_int_t)CPU_PERIOD_US, "pids", "limit", (json_int_t)res.pids,
                     "cgroupsPath", cg, "maskedPaths", masked, "readonlyPaths", ro, "seccomp",
                     seccomp());
}

int bpt_oci_config(json_t **out, const struct bpt_oci_input *in)
{
    *out = NULL;
    json_t *p = process(in), *m = mounts(in), *l = linux_section(in);
    if (p == NULL || m == NULL || l == NULL || json_object_get(l, "seccomp") == NULL) {
        json_decref(p);
        json_decref(m);
        json_decref(l);
        return bpt_err_nomem("oci config");
    }
    *out = json_pack("{s:s,s:o,s:{s:s,s:b},s:s,s:o,s:o,s:{s:s}}", "ociVersion", "1.0.2", "process",
                     p, "root", "path", in->rootfs, "readonly", 1, "hostname", "bpt", "mounts", m,
                     "linux", l, "annotations", "org.blueprint-tee.deployment", in->id);
    return *out != NULL ? 0 : bpt_err_nomem("oci config");
}

/* The character device @p path under @p root: 1 found (numbers in *d), 0 absent, <0 other. */
static int char_device(struct bpt_oci_device *d, const char *root, const char *path)
{
    char full[4096];
    struct stat st;
    int n = snprintf(full, sizeof(full), "%s%s", strcmp(root, "/") == 0 ? "" : root, path);
    if (n < 0 || (size_t)n >= sizeof(full)) {
        return bpt_err(BPT_EINVAL, "device path under %s too long", root);
    }
    if (lstat(full, &st) != 0) {
        return errno == ENOENT || errno == ENOTDIR
                   ? 0
                   : bpt_err(BPT_EIO, "%s: %s", full, strerror(errno));
    }
    if (!S_ISCHR(st.st_mode)) {
        return bpt_err(BPT_EINVAL, "%s is not a character device", full);
    }
    snprintf(d->path, sizeof(d->path), "%s", path);
    d->major = major(st.st_rdev);
    d->minor = minor(st.st_rdev);
    return 1;
}

int bpt_oci_devices(struct bpt_oci_device *out, size_t *n_out, size_t max,
                    const bpt_deploy_spec *spec, const char *host_root)
{
    const char *const *known = bpt_runtime_tee_devices();
    size_t n = 0;
    int rc;
    *n_out = 0;
    if (bpt_deploy_spec_devices_auto(spec)) {
        for (size_t i = 0; known[i] != NULL && n < max; i++) {
            rc = char_device(&out[n], host_root, known[i]);
            if (rc == 1) {
                n++;
            } else if (rc < 0 && rc != BPT_EINVAL) {
                return rc; /* "auto" skips what is no device, not what cannot be read */
            }
        }
    } else {
        for (size_t i = 0; i < bpt_deploy_spec_device_count(spec) && n < max; i++) {
            const char *p = bpt_deploy_spec_device(spec, i);
            rc = char_device(&out[n], host_root, p);
            if (rc == 0) {
                return bpt_err(BPT_EINVAL, "device %s is not on this host (under %s)", p,
                               host_root);
            }
            if (rc < 0) {
                return rc;
            }
            n++;
        }
    }
    *n_out = n;
    return 0;
}

void bpt_oci_tsm_dir(char *out, size_t len, const char *host_root)
{
    struct stat st;
    int n = snprintf(out, len, "%s%s", strcmp(host_root, "/") == 0 ? "" : host_root,
                     BPT_OCI_TSM_REPORT);
    if (n < 0 || (size_t)n >= len || lstat(out, &st) != 0 || !S_ISDIR(st.st_mode)) {
        out[0] = '\0';
    }
}
