/*
 * The direct backend's OCI runtime config (config.json) and what it passes through from the
 * host. The config is hardened every time, whatever the spec says (docs/runtime.md):
 * read-only root file system; every capability set empty; noNewPrivileges; a seccomp filter
 * (default allow, the container runtimes' denials answered EPERM; clone3 ENOSYS so that libc
 * falls back to clone, whose namespace flags are denied); new pid, ipc, uts, mount, cgroup and
 * (unless the spec says host) network namespaces; /proc and /sys paths masked and read-only as
 * runc's and Docker's defaults; cgroup limits for memory, CPU and pids; a non-root user; tmpfs
 * /tmp; the host directory at /run/bpt; only TEE devices, with their real numbers and a cgroup
 * rule each; configfs-tsm bind-mounted when the host has it.
 */
#ifndef BPT_RUNTIME_OCI_H
#define BPT_RUNTIME_OCI_H

#include <blueprint-tee/runtime.h>

#include <jansson.h>
#include <stdint.h>

/** Where the workload's key-exchange plane is mounted and its socket. */
#define BPT_OCI_HOST_MOUNT "/run/bpt"
#define BPT_OCI_KX_SOCKET "/run/bpt/kx.sock"
/** configfs-tsm's report directory, on the host (under the host root) and in the container. */
#define BPT_OCI_TSM_REPORT "/sys/kernel/config/tsm/report"

/** A device node passed through: its path (host and container), numbers. */
struct bpt_oci_device {
    char path[64];
    uint32_t major, minor;
};

/** What one config is made of (borrowed). */
struct bpt_oci_input {
    const bpt_deploy_spec *spec;
    const char *id;          /* the deployment id */
    const char *rootfs;      /* absolute */
    const char *host_dir;    /* mounted at /run/bpt */
    const char *const *args; /* the process (the spec's args, else the image's) */
    size_t n_args;
    const char *const *image_env; /* "K=V" from an OCI image's config, before the spec's */
    size_t n_image_env;
    const struct bpt_oci_device *devices;
    size_t n_devices;
    const char *tsm_dir;     /* host path of configfs-tsm's report directory, or NULL */
    bool sysfs_has_configfs; /* the kernel's sysfs has /sys/kernel/config */
};

/** The config.json object (owned by the caller). */
BPT_MUST_USE int bpt_oci_config(json_t **out, const struct bpt_oci_input *in);

/**
 * The TEE devices of @p spec on the host, looked up under @p host_root: with "auto", every
 * known TEE device that exists there as a character device; with a list, each of them, which
 * must exist as one (BPT_EINVAL naming it otherwise).
 */
BPT_MUST_USE int bpt_oci_devices(struct bpt_oci_device *out, size_t *n_out, size_t max,
                                 const bpt_deploy_spec *spec, const char *host_root);

/** host_root + configfs-tsm's report directory into @p out when it is a directory; else "". */
void bpt_oci_tsm_dir(char *out, size_t len, const char *host_root);

#endif
