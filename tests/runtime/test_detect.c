/*
 * TEE detection over fake trees: one provider at a time, devices that are regular files (never
 * count), configfs-tsm providers, ACPI, Azure DMI, GCP launcher, the environment through the
 * callback, precedence, JSON, and the `bpt detect` CLI.
 */
#include "helpers/test.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

struct fake_env {
    const char *name, *value;
    int calls;
};

static const char *fake_getenv(const char *name, void *userdata)
{
    struct fake_env *e = userdata;
    e->calls++;
    return e->name && strcmp(name, e->name) == 0 ? e->value : NULL;
}

static char *tree(void)
{
    return bpt_test_tmpdir();
}

static void put_file(const char *root, const char *rel, const char *content)
{
    char p[4096];
    snprintf(p, sizeof(p), "%s%s", root, rel);
    bpt_test_write_file(p, content, strlen(content));
}

static void put_dir(const char *root, const char *rel)
{
    char p[4096];
    /* Make the parents through a placeholder file, then the directory itself. */
    snprintf(p, sizeof(p), "%s%s/.keep", root, rel);
    bpt_test_write_file(p, "", 0);
}

/* A character device (1,3 like /dev/null) under the tree; false when mknod is not permitted. */
static bool put_chr(const char *root, const char *rel)
{
    char p[4096];
    snprintf(p, sizeof(p), "%s%s.parent", root, rel);
    bpt_test_write_file(p, "", 0);
    unlink(p);
    snprintf(p, sizeof(p), "%s%s", root, rel);
    return mknod(p, S_IFCHR | 0600, makedev(1, 3)) == 0;
}

#define NEED_CHR(root, rel)                                                                        \
    do {                                                                                           \
        if (!put_chr((root), (rel))) {                                                             \
            bpt_test_rmtree(root);                                                                 \
            free(root);                                                                            \
            skip(); /* mknod needs CAP_MKNOD (root); not an error elsewhere */                     \
        }                                                                                          \
    } while (0)

static const bpt_detect_probe *probe(const bpt_detection *d, const char *name)
{
    for (size_t i = 0; i < d->n_probes; i++) {
        if (strcmp(d->probes[i].name, name) == 0) {
            return &d->probes[i];
        }
    }
    fail_msg("no probe named %s", name);
    return NULL;
}

static void detect(bpt_detection *d, const char *root, struct fake_env *env)
{
    struct fake_env none = {NULL, NULL, 0};
    assert_ok(bpt_detect(d, root, fake_getenv, env ? env : &none));
}

static void expect(const bpt_detection *d, bpt_provider p, bpt_detect_source s, const char *path)
{
    if (d->provider != p || d->source != s || strcmp(d->evidence_path, path) != 0) {
        fail_msg("got %s/%s/'%s', want %s/%s/'%s'", bpt_detect_provider_name(d),
                 bpt_detect_source_name(d->source), d->evidence_path, bpt_provider_name(p),
                 bpt_detect_source_name(s), path);
    }
}

static void test_empty_tree_is_none(void **state)
{
    char *root = tree();
    struct fake_env env = {NULL, NULL, 0};
    bpt_detection d = BPT_DETECTION_INIT;
    (void)state;
    detect(&d, root, &env);
    expect(&d, BPT_PROVIDER_UNKNOWN, BPT_DETECT_SOURCE_NONE, "");
    assert_string_equal(bpt_detect_provider_name(&d), "none");
    assert_int_equal(d.n_probes, 13);
    for (size_t i = 0; i < d.n_probes; i++) {
        assert_int_equal(d.probes[i].status, BPT_DETECT_ABSENT);
        assert_non_null(d.probes[i].name);
        assert_true(d.probes[i].path[0] == '/' || d.probes[i].path[0] == '$');
    }
    /* The environment was asked through the callback, for the GCP variable only. */
    assert_int_equal(env.calls, 1);
    /* Trailing slashes on the root make no difference. */
    char slashed[4200];
    snprintf(slashed, sizeof(slashed), "%s//", root);
    detect(&d, slashed, NULL);
    assert_int_equal(d.provider, BPT_PROVIDER_UNKNOWN);
    bpt_test_rmtree(root);
    free(root);
}

/* Size-prefixed: a bpt_detection whose size was not set is refused, not overrun. */
static void test_detection_needs_the_size(void **state)
{
    bpt_detection d;
    (void)state;
    memset(&d, 0, sizeof(d));
    assert_rc_msg(bpt_detect(&d, "/", NULL, NULL), BPT_EINVAL,
                  "bpt_detection: the struct's size is smaller than its first version");
    d.size = sizeof(d);
    assert_ok(bpt_detect(&d, "/", NULL, NULL));
    assert_int_equal(d.size, sizeof(d));
}

static void test_bad_root(void **state)
{
    bpt_detection d = BPT_DETECTION_INIT;
    char *root = tree();
    char file[4200];
    (void)state;
    snprintf(file, sizeof(file), "%s/plain", root);
    bpt_test_write_file(file, "x", 1);
    assert_rc_msg(bpt_detect(&d, "/nonexistent/bpt-detect-root", fake_getenv, NULL), BPT_ENOTFOUND,
                  "detect: root '/nonexistent/bpt-detect-root'");
    assert_int_equal(d.n_probes, 0);
    assert_rc_msg(bpt_detect(&d, file, fake_getenv, NULL), BPT_EINVAL, "is not a directory");
    assert_rc_msg(bpt_detect(NULL, root, fake_getenv, NULL), BPT_EINVAL, "no output");
    char *longroot = malloc(5000);
    memset(longroot, 'a', 4999);
    longroot[4999] = '\0';
    assert_rc_msg(bpt_detect(&d, longroot, fake_getenv, NULL), BPT_EINVAL, "too long");
    free(longroot);
    bpt_test_rmtree(root);
    free(root);
}

/* Regular files named like devices never count, and say why. */
static void test_regular_files_named_like_devices(void **state)
{
    char *root = tree();
    bpt_detection d = BPT_DETECTION_INIT;
    (void)state;
    put_file(root, "/dev/sev-guest", "");
    put_file(root, "/dev/nsm", "");
    put_file(root, "/dev/tdx_guest", "");
    put_file(root, "/dev/tdx-guest", "");
    put_dir(root, "/run/container_launcher/teeserver.sock");
    detect(&d, root, NULL);
    expect(&d, BPT_PROVIDER_UNKNOWN, BPT_DETECT_SOURCE_NONE, "");
    const bpt_detect_probe *p = probe(&d, "sev_guest_device");
    assert_int_equal(p->status, BPT_DETECT_WRONG_TYPE);
    assert_string_equal(p->detail, "regular file, not a character device");
    assert_string_equal(p->path, "/dev/sev-guest");
    assert_int_equal(probe(&d, "nsm_device")->status, BPT_DETECT_WRONG_TYPE);
    assert_int_equal(probe(&d, "tdx_guest_device")->status, BPT_DETECT_WRONG_TYPE);
    assert_int_equal(probe(&d, "tdx_guest_device_alt")->status, BPT_DETECT_WRONG_TYPE);
    assert_string_equal(probe(&d, "gcp_launcher_socket")->detail, "directory, not a socket");
    /* Not even together with Microsoft DMI. */
    put_file(root, "/sys/class/dmi/id/sys_vendor", "Microsoft Corporation\n");
    detect(&d, root, NULL);
    assert_int_equal(d.provider, BPT_PROVIDER_UNKNOWN);
    bpt_test_rmtree(root);
    free(root);
}

static void test_char_devices(void **state)
{
    static const struct {
        const char *dev;
        bpt_provider p;
    } cases[] = {
        {"/dev/nsm", BPT_PROVIDER_AWS_NITRO},
        {"/dev/tdx_guest", BPT_PROVIDER_INTEL_TDX},
        {"/dev/tdx-guest", BPT_PROVIDER_INTEL_TDX},
        {"/dev/sev-guest", BPT_PROVIDER_AMD_SEV_SNP},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *root = tree();
        bpt_detection d = BPT_DETECTION_INIT;
        NEED_CHR(root, cases[i].dev);
        detect(&d, root, NULL);
        expect(&d, cases[i].p, BPT_DETECT_SOURCE_DEVICE, cases[i].dev);
        bpt_test_rmtree(root);
        free(root);
    }
}

static void test_configfs_tsm(void **state)
{
    char *root = tree();
    bpt_detection d = BPT_DETECTION_INIT;
    (void)state;
    /* The report directory without entries: seen, but names no provider. */
    put_dir(root, "/sys/kernel/config/tsm/report");
    detect(&d, root, NULL);
    expect(&d, BPT_PROVIDER_UNKNOWN, BPT_DETECT_SOURCE_NONE, "");
    assert_int_equal(probe(&d, "configfs_tsm")->status, BPT_DETECT_NO_MATCH);
    /* (".keep" is an entry without a provider file.) */
    assert_string_equal(probe(&d, "configfs_tsm")->detail, "no readable provider file");

    put_file(root, "/sys/kernel/config/tsm/report/r0/provider", "arm_cca_guest\n");
    detect(&d, root, NULL);
    expect(&d, BPT_PROVIDER_UNKNOWN, BPT_DETECT_SOURCE_NONE, "");
    assert_string_equal(probe(&d, "configfs_tsm")->detail,
                        "provider=arm_cca_guest (not a known TEE)");

    put_file(root, "/sys/kernel/config/tsm/report/r1/provider", "sev_guest\n");
    detect(&d, root, NULL);
    expect(&d, BPT_PROVIDER_AMD_SEV_SNP, BPT_DETECT_SOURCE_CONFIGFS_TSM,
           "/sys/kernel/config/tsm/report");
    const bpt_detect_probe *p = probe(&d, "configfs_tsm");
    assert_int_equal(p->status, BPT_DETECT_FOUND);
    assert_int_equal(p->provider, BPT_PROVIDER_AMD_SEV_SNP);
    assert_string_equal(p->path, "/sys/kernel/config/tsm/report/r1/provider");
    assert_string_equal(p->detail, "provider=sev_guest");
    bpt_test_rmtree(root);
    free(root);

    root = tree();
    put_file(root, "/sys/kernel/config/tsm/report/q/provider", "tdx_guest");
    detect(&d, root, NULL);
    expect(&d, BPT_PROVIDER_INTEL_TDX, BPT_DETECT_SOURCE_CONFIGFS_TSM,
           "/sys/kernel/config/tsm/report");
    /* The report path being a file is reported, not fatal. */
    bpt_test_rmtree(root);
    put_file(root, "/sys/kernel/config/tsm/report", "");
    detect(&d, root, NULL);
    assert_int_equal(probe(&d, "configfs_tsm")->status, BPT_DETECT_WRONG_TYPE);
    assert_int_equal(d.provider, BPT_PROVIDER_UNKNOWN);
    bpt_test_rmtree(root);
    free(root);
}

static void test_acpi_tables(void **state)
{
    static const char *const tables[] = {"/sys/firmware/acpi/tables/CCEL",
                                         "/sys/firmware/acpi/tables/TDEL"};
    (void)state;
    for (size_t i = 0; i < 2; i++) {
        char *root = tree();
        bpt_detection d = BPT_DETECTION_INIT;
        put_file(root, tables[i], "\x01\x02");
        detect(&d, root, NULL);
        /* TDX inferred from firmware, but no evidence interface was found. */
        expect(&d, BPT_PROVIDER_INTEL_TDX, BPT_DETECT_SOURCE_NONE, "");
        bpt_test_rmtree(root);
        free(root);
    }
}

static void test_azure(void **state)
{
    char *root = tree();
    bpt_detection d = BPT_DETECTION_INIT;
    (void)state;
    /* Microsoft DMI alone (any Hyper-V guest) is not a TEE. */
    put_file(root, "/sys/class/dmi/id/sys_vendor", "Microsoft Corporation\n");
    detect(&d, root, NULL);
    expect(&d, BPT_PROVIDER_UNKNOWN, BPT_DETECT_SOURCE_NONE, "");
    assert_int_equal(probe(&d, "dmi_sys_vendor")->status, BPT_DETECT_FOUND);
    assert_string_equal(probe(&d, "dmi_sys_vendor")->detail, "vendor=Microsoft Corporation");
    /* With the SEV sysfs node: azure_snp. */
    put_dir(root, "/sys/kernel/mm/sev");
    detect(&d, root, NULL);
    expect(&d, BPT_PROVIDER_AZURE_SNP, BPT_DETECT_SOURCE_NONE, "");
    bpt_test_rmtree(root);
    free(root);

    /* board_vendor (what the Rust crate reads) works too, with configfs-tsm as the source. */
    root = tree();
    put_file(root, "/sys/class/dmi/id/board_vendor", "  Microsoft Corporation  \n");
    put_file(root, "/sys/kernel/config/tsm/report/a/provider", "sev_guest\n");
    detect(&d, root, NULL);
    expect(&d, BPT_PROVIDER_AZURE_SNP, BPT_DETECT_SOURCE_CONFIGFS_TSM,
           "/sys/kernel/config/tsm/report");
    bpt_test_rmtree(root);
    free(root);

    /* SEV signal with another vendor: not Azure. */
    root = tree();
    put_file(root, "/sys/class/dmi/id/sys_vendor", "Google\n");
    put_dir(root, "/sys/kernel/mm/sev");
    detect(&d, root, NULL);
    expect(&d, BPT_PROVIDER_UNKNOWN, BPT_DETECT_SOURCE_NONE, "");
    assert_int_equal(probe(&d, "dmi_sys_vendor")->status, BPT_DETECT_NO_MATCH);
    assert_string_equal(probe(&d, "dmi_sys_vendor")->detail, "vendor=Google");
    /* A real SEV device on a Microsoft host: azure_snp with the device as source. */
    put_file(root, "/sys/class/dmi/id/sys_vendor", "Microsoft Corporation");
    NEED_CHR(root, "/dev/sev-guest");
    detect(&d, root, NULL);
    expect(&d, BPT_PROVIDER_AZURE_SNP, BPT_DETECT_SOURCE_DEVICE, "/dev/sev-guest");
    bpt_test_rmtree(root);
    free(root);
}

static void test_gcp(void **state)
{
    char *root = tree();
    bpt_detection d = BPT_DETECTION_INIT;
    struct fake_env env = {"CONFIDENTIAL_SPACE_VERSION", "230600", 0};
    (void)state;
    /* Environment variable only (through the callback, never the real environment). */
    detect(&d, root, &env);
    expect(&d, BPT_PROVIDER_GCP_CONFIDENTIAL, BPT_DETECT_SOURCE_NONE, "");
    assert_string_equal(probe(&d, "gcp_env")->detail, "230600");
    assert_int_equal(env.calls, 1);
    /* The launcher token file. */
    put_file(root, "/run/container_launcher/attestation_verifier_claims_token", "eyJ");
    detect(&d, root, NULL);
    expect(&d, BPT_PROVIDER_GCP_CONFIDENTIAL, BPT_DETECT_SOURCE_LAUNCHER,
           "/run/container_launcher/attestation_verifier_claims_token");
    /* The launcher socket is preferred as the evidence source. */
    char sock_path[4200];
    snprintf(sock_path, sizeof(sock_path), "%s/run/container_launcher/teeserver.sock", root);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(sock_path) < sizeof(sa.sun_path)) {
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        assert_true(fd >= 0);
        memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
        assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        detect(&d, root, NULL);
        expect(&d, BPT_PROVIDER_GCP_CONFIDENTIAL, BPT_DETECT_SOURCE_LAUNCHER,
               "/run/container_launcher/teeserver.sock");
        close(fd);
    }
    bpt_test_rmtree(root);
    free(root);
}

/* Precedence: nitro > tdx > azure > sev-snp > gcp. */
static void test_precedence(void **state)
{
    char *root = tree();
    bpt_detection d = BPT_DETECTION_INIT;
    struct fake_env env = {"CONFIDENTIAL_SPACE_VERSION", "1", 0};
    (void)state;
    put_file(root, "/run/container_launcher/attestation_verifier_claims_token", "t");
    put_file(root, "/sys/kernel/config/tsm/report/a/provider", "sev_guest");
    detect(&d, root, &env);
    assert_int_equal(d.provider, BPT_PROVIDER_AMD_SEV_SNP); /* sev-snp over gcp */
    put_file(root, "/sys/class/dmi/id/sys_vendor", "Microsoft Corporation");
    detect(&d, root, &env);
    assert_int_equal(d.provider, BPT_PROVIDER_AZURE_SNP); /* azure over sev-snp */
    put_file(root, "/sys/firmware/acpi/tables/CCEL", "x");
    detect(&d, root, &env);
    expect(&d, BPT_PROVIDER_INTEL_TDX, BPT_DETECT_SOURCE_NONE, ""); /* tdx over azure */
    /* Two configfs-tsm entries: the first name in sorted order decides. */
    put_file(root, "/sys/kernel/config/tsm/report/b/provider", "tdx_guest");
    detect(&d, root, &env);
    assert_string_equal(probe(&d, "configfs_tsm")->path,
                        "/sys/kernel/config/tsm/report/a/provider");
    NEED_CHR(root, "/dev/tdx_guest");
    detect(&d, root, &env);
    expect(&d, BPT_PROVIDER_INTEL_TDX, BPT_DETECT_SOURCE_DEVICE, "/dev/tdx_guest");
    NEED_CHR(root, "/dev/nsm");
    detect(&d, root, &env);
    expect(&d, BPT_PROVIDER_AWS_NITRO, BPT_DETECT_SOURCE_DEVICE, "/dev/nsm"); /* nitro first */
    bpt_test_rmtree(root);
    free(root);
}

static void test_unreadable_probe_is_not_fatal(void **state)
{
    char *root = tree();
    char p[4200];
    bpt_detection d = BPT_DETECTION_INIT;
    (void)state;
    /* A vendor file that is a directory cannot be read: recorded, not fatal. */
    put_dir(root, "/sys/class/dmi/id/sys_vendor");
    /* A component of a probe path that is a file (ENOTDIR) counts as absent. */
    put_file(root, "/dev", "not a dir");
    detect(&d, root, NULL);
    assert_int_equal(d.provider, BPT_PROVIDER_UNKNOWN);
    assert_int_equal(probe(&d, "dmi_sys_vendor")->status, BPT_DETECT_WRONG_TYPE);
    assert_int_equal(probe(&d, "nsm_device")->status, BPT_DETECT_ABSENT);
    /* Non-printable content is masked in the detail. */
    snprintf(p, sizeof(p), "%s/sys/class/dmi/id/board_vendor", root);
    bpt_test_write_file(p,
                        "Ven\x01\xff"
                        "dor\n",
                        9);
    detect(&d, root, NULL);
    assert_string_equal(probe(&d, "dmi_board_vendor")->detail, "vendor=Ven??dor");
    bpt_test_rmtree(root);
    free(root);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(bpt_detect_source_name(BPT_DETECT_SOURCE_NONE), "none");
    assert_string_equal(bpt_detect_source_name(BPT_DETECT_SOURCE_DEVICE), "device");
    assert_string_equal(bpt_detect_source_name(BPT_DETECT_SOURCE_CONFIGFS_TSM), "configfs_tsm");
    assert_string_equal(bpt_detect_source_name(BPT_DETECT_SOURCE_LAUNCHER), "launcher");
    assert_string_equal(bpt_detect_source_name((bpt_detect_source)9), "unknown");
    assert_string_equal(bpt_detect_status_name(BPT_DETECT_ABSENT), "absent");
    assert_string_equal(bpt_detect_status_name(BPT_DETECT_FOUND), "found");
    assert_string_equal(bpt_detect_status_name(BPT_DETECT_WRONG_TYPE), "wrong_type");
    assert_string_equal(bpt_detect_status_name(BPT_DETECT_NO_MATCH), "no_match");
    assert_string_equal(bpt_detect_status_name(BPT_DETECT_ERROR), "error");
    assert_string_equal(bpt_detect_status_name((bpt_detect_status)-1), "unknown");
    assert_string_equal(bpt_detect_provider_name(NULL), "none");
}

static void test_json(void **state)
{
    char *root = tree();
    bpt_detection d = BPT_DETECTION_INIT;
    char *text = NULL;
    json_error_t jerr;
    (void)state;
    detect(&d, root, NULL);
    assert_ok(bpt_detect_to_json(&text, &d));
    assert_memory_equal(text, "{\"provider\":\"none\",", 19);
    json_t *j = json_loads(text, 0, &jerr);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "evidence_source")), "none");
    assert_true(json_is_null(json_object_get(j, "evidence_path")));
    json_t *probes = json_object_get(j, "probes");
    assert_int_equal(json_array_size(probes), d.n_probes);
    json_t *p0 = json_array_get(probes, 0);
    assert_string_equal(json_string_value(json_object_get(p0, "name")), "nsm_device");
    assert_string_equal(json_string_value(json_object_get(p0, "path")), "/dev/nsm");
    assert_string_equal(json_string_value(json_object_get(p0, "provider")), "aws_nitro");
    assert_string_equal(json_string_value(json_object_get(p0, "status")), "absent");
    json_decref(j);
    bpt_free(text);

    put_file(root, "/sys/kernel/config/tsm/report/x/provider", "sev_guest");
    detect(&d, root, NULL);
    assert_ok(bpt_detect_to_json(&text, &d));
    j = json_loads(text, 0, &jerr);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "provider")), "amd_sev_snp");
    assert_string_equal(json_string_value(json_object_get(j, "evidence_source")), "configfs_tsm");
    assert_string_equal(json_string_value(json_object_get(j, "evidence_path")),
                        "/sys/kernel/config/tsm/report");
    json_decref(j);
    bpt_free(text);

    assert_rc_msg(bpt_detect_to_json(&text, NULL), BPT_EINVAL, "no detection");
    assert_null(text);
    d.n_probes = BPT_DETECT_MAX_PROBES + 1;
    assert_rc_msg(bpt_detect_to_json(&text, &d), BPT_EINVAL, "probes");
    bpt_test_rmtree(root);
    free(root);
}

static void test_cli(void **state)
{
    char *root = tree();
    char *out = NULL;
    json_error_t jerr;
    (void)state;
    {
        const char *argv[] = {"detect", "--json", "--root", root, NULL};
        assert_int_equal(bpt_test_run_cli(&out, argv), 0);
        assert_memory_equal(out, "{\"provider\":\"none\",", 19);
        json_t *j = json_loads(out, 0, &jerr);
        assert_non_null(j);
        assert_true(json_is_array(json_object_get(j, "probes")));
        json_decref(j);
        free(out);
    }
    put_file(root, "/sys/kernel/config/tsm/report/r/provider", "tdx_guest\n");
    {
        const char *argv[] = {"detect", "--root", root, NULL};
        assert_int_equal(bpt_test_run_cli(&out, argv), 0);
        assert_non_null(strstr(out, "provider: intel_tdx\n"));
        assert_non_null(strstr(out, "evidence: configfs_tsm /sys/kernel/config/tsm/report\n"));
        assert_non_null(strstr(out, "configfs_tsm"));
        free(out);
    }
    {
        const char *argv[] = {"detect", "--help", NULL};
        assert_int_equal(bpt_test_run_cli(&out, argv), 0);
        assert_non_null(strstr(out, "usage: bpt detect"));
        free(out);
    }
    {
        const char *argv[] = {"detect", "--bogus", NULL};
        assert_int_equal(bpt_test_run_cli(NULL, argv), 2);
    }
    {
        const char *argv[] = {"detect", "--root", NULL};
        assert_int_equal(bpt_test_run_cli(NULL, argv), 2);
    }
    {
        /* A root that is not there is local input (exit 3, was 2). */
        const char *argv[] = {"detect", "--root", "/nonexistent/bpt-detect", NULL};
        assert_int_equal(bpt_test_run_cli(NULL, argv), 3);
    }
    bpt_test_rmtree(root);
    free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_tree_is_none),
        cmocka_unit_test(test_bad_root),
        cmocka_unit_test(test_detection_needs_the_size),
        cmocka_unit_test(test_regular_files_named_like_devices),
        cmocka_unit_test(test_char_devices),
        cmocka_unit_test(test_configfs_tsm),
        cmocka_unit_test(test_acpi_tables),
        cmocka_unit_test(test_azure),
        cmocka_unit_test(test_gcp),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_unreadable_probe_is_not_fatal),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
