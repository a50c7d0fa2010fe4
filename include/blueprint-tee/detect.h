/**
 * @file detect.h
 * Which TEE this host has, from the filesystem alone: device nodes, configfs-tsm, ACPI
 * tables, DMI, the GCP Confidential Space launcher, and one environment variable. No network,
 * no subprocesses, nothing is opened for writing. "No TEE" is a valid answer, not an error.
 *
 * Every path is looked up under a root directory ("/" normally), so tests and tools can point
 * detection at a fake tree. A device probe counts only a character device: a regular file
 * named /dev/sev-guest is reported as `wrong_type` and ignored.
 *
 * Probes (name, path under the root, provider it points to):
 *   nsm_device          /dev/nsm                                     aws_nitro   (char device)
 *   tdx_guest_device    /dev/tdx_guest                               intel_tdx   (char device)
 *   tdx_guest_device_alt /dev/tdx-guest                              intel_tdx   (char device)
 *   configfs_tsm        /sys/kernel/config/tsm/report/<entry>/provider  "tdx_guest" -> intel_tdx,
 *                                                                    "sev_guest" -> amd_sev_snp
 *   acpi_ccel           /sys/firmware/acpi/tables/CCEL               intel_tdx   (exists)
 *   acpi_tdel           /sys/firmware/acpi/tables/TDEL               intel_tdx   (exists)
 *   sev_guest_device    /dev/sev-guest                               amd_sev_snp (char device)
 *   sev_sysfs           /sys/kernel/mm/sev                           azure_snp   (exists; counts
 *                                                                    only together with Microsoft
 * DMI) dmi_sys_vendor      /sys/class/dmi/id/sys_vendor                 azure_snp   (contains
 * "Microsoft") dmi_board_vendor    /sys/class/dmi/id/board_vendor               azure_snp (contains
 * "Microsoft") gcp_launcher_token  /run/container_launcher/attestation_verifier_claims_token
 *                                                                    gcp_confidential (regular
 * file) gcp_launcher_socket /run/container_launcher/teeserver.sock       gcp_confidential (socket)
 *   gcp_env             $CONFIDENTIAL_SPACE_VERSION                  gcp_confidential (set)
 *
 * Precedence when several are present (the Rust crate's order, with Azure refining SEV):
 *   1. aws_nitro         /dev/nsm
 *   2. intel_tdx         a TDX device, configfs-tsm "tdx_guest", or an ACPI CCEL/TDEL table
 *   3. azure_snp         Microsoft in DMI sys_vendor/board_vendor and any SEV signal
 *                        (/dev/sev-guest, configfs-tsm "sev_guest", /sys/kernel/mm/sev)
 *   4. amd_sev_snp       /dev/sev-guest or configfs-tsm "sev_guest"
 *   5. gcp_confidential  launcher token file, launcher socket, or CONFIDENTIAL_SPACE_VERSION
 * Evidence source: configfs_tsm when an entry's provider matches the detected TEE, else the
 * device node; for GCP the launcher socket, else the token file; none when the TEE was only
 * inferred (ACPI tables, Azure without a device, the GCP environment variable).
 *
 * Threads: reentrant; the callback runs on the calling thread during bpt_detect().
 */
#ifndef BPT_DETECT_H
#define BPT_DETECT_H

#include "common.h"
#include "provider.h"

BPT_BEGIN_DECLS

/** Where evidence for the detected TEE can be obtained. */
typedef enum bpt_detect_source {
    BPT_DETECT_SOURCE_NONE = 0,     /**< "none": no TEE, or no evidence interface found */
    BPT_DETECT_SOURCE_DEVICE,       /**< "device": a guest device node (evidence_path) */
    BPT_DETECT_SOURCE_CONFIGFS_TSM, /**< "configfs_tsm": /sys/kernel/config/tsm/report */
    BPT_DETECT_SOURCE_LAUNCHER      /**< "launcher": GCP Confidential Space launcher */
} bpt_detect_source;

/** The outcome of one probe. */
typedef enum bpt_detect_status {
    BPT_DETECT_ABSENT = 0, /**< "absent": the path does not exist (or the variable is unset) */
    BPT_DETECT_FOUND,      /**< "found": present and of the expected kind */
    BPT_DETECT_WRONG_TYPE, /**< "wrong_type": exists but e.g. a regular file, not a char device */
    BPT_DETECT_NO_MATCH,   /**< "no_match": readable, but its content names no known TEE */
    BPT_DETECT_ERROR       /**< "error": could not be examined (detail says why) */
} bpt_detect_status;

/** Room for every probe bpt_detect() runs. */
#define BPT_DETECT_MAX_PROBES 16
/** Size of the path and detail strings (NUL included; longer values are cut). */
#define BPT_DETECT_PATH_MAX 256
#define BPT_DETECT_DETAIL_MAX 128

/** One probe's result. */
typedef struct bpt_detect_probe {
    const char *name;                   /**< static probe name, e.g. "nsm_device" */
    bpt_provider provider;              /**< the provider this probe points to */
    bpt_detect_status status;           /**< what was found */
    char path[BPT_DETECT_PATH_MAX];     /**< path as seen under the root ("/dev/nsm") or "$VAR" */
    char detail[BPT_DETECT_DETAIL_MAX]; /**< e.g. "character device", "provider=sev_guest" */
} bpt_detect_probe;

/** The result of bpt_detect(): caller-owned, holds no allocations (nothing to free). */
typedef struct bpt_detection {
    uint32_t size;                           /**< sizeof(bpt_detection) as the caller was compiled
                                                  (BPT_DETECTION_INIT) */
    bpt_provider provider;                   /**< BPT_PROVIDER_UNKNOWN when no TEE was found */
    bpt_detect_source source;                /**< where evidence can be obtained */
    char evidence_path[BPT_DETECT_PATH_MAX]; /**< path under the root for source; "" for none */
    size_t n_probes;                         /**< entries used in probes[], in the order run */
    bpt_detect_probe probes[BPT_DETECT_MAX_PROBES];
} bpt_detection;

#define BPT_DETECTION_INIT                                                                         \
    {                                                                                              \
        .size = sizeof(bpt_detection)                                                              \
    }

/**
 * Looks up an environment variable: returns its value (borrowed until the next call) or NULL.
 */
typedef const char *(*bpt_detect_env_fn)(const char *name, void *userdata);

/**
 * Probe for a TEE under @p root.
 * @param[out] out  its size set by the caller (BPT_DETECTION_INIT); filled on success (provider
 *                  BPT_PROVIDER_UNKNOWN = none); zeroed on failure.
 * @param root      directory the probe paths are relative to; NULL or "" means "/".
 * @param env       environment lookup; NULL reads the process environment (getenv).
 * @param env_userdata passed to @p env.
 * @return 0 (also when no TEE is present); BPT_ENOTFOUND when @p root does not exist;
 *         BPT_EINVAL when @p root is not a directory or too long, or @p out is NULL or its
 *         size smaller than the first version.
 *         A probe that cannot be examined (permission denied) is recorded as
 *         BPT_DETECT_ERROR and does not fail the call.
 * Threads: reentrant.
 */
BPT_API BPT_MUST_USE int bpt_detect(bpt_detection *out, const char *root, bpt_detect_env_fn env,
                                    void *env_userdata);

/**
 * The detection as one JSON object:
 * {"provider":"none|intel_tdx|...","evidence_source":"none|device|configfs_tsm|launcher",
 *  "evidence_path":"/dev/sev-guest"|null,
 *  "probes":[{"name":..,"path":..,"provider":..,"status":..,"detail":..},..]}
 * @param[out] out NUL-terminated text; free with bpt_free(). NULL on failure.
 * @return 0; BPT_EINVAL (NULL @p d); BPT_ENOMEM.
 */
BPT_API BPT_MUST_USE int bpt_detect_to_json(char **out, const bpt_detection *d);

/** "none", or the provider's snake_case name ("amd_sev_snp") when one was detected. */
BPT_API const char *bpt_detect_provider_name(const bpt_detection *d);

/** "none", "device", "configfs_tsm", "launcher"; "unknown" for other values. */
BPT_API const char *bpt_detect_source_name(bpt_detect_source s);

/** "absent", "found", "wrong_type", "no_match", "error"; "unknown" for other values. */
BPT_API const char *bpt_detect_status_name(bpt_detect_status s);

BPT_END_DECLS

#endif
