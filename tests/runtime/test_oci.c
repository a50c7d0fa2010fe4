/*
 * The direct backend's config.json (src/runtime/oci.c): every hardening field is there whatever
 * the spec says (read-only root, empty capability sets, no_new_privs, the seccomp denials with
 * EPERM and clone3 with ENOSYS, namespaces, masked and read-only paths, cgroup limits, a
 * non-root user, tmpfs /tmp, /run/bpt), network host drops only the network namespace, TEE
 * devices come with their real numbers and one cgroup rule each, configfs-tsm is bind-mounted
 * when present; and which devices a spec gets on a (fake) host.
 */
#include "helpers/test.h"

#include <errno.h>
#include <jansson.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "runtime/oci.h"

static bpt_deploy_spec *spec(const char *json)
{
    bpt_deploy_spec *s = NULL;
    assert_ok(bpt_deploy_spec_load_json(&s, json, strlen(json)));
    return s;
}

static json_t *config(const bpt_deploy_spec *s, const struct bpt_oci_device *devs, size_t n,
                      const char *tsm, bool sysfs_config)
{
    const char *args[] = {"/usr/bin/bpt", "serve"};
    const char *image_env[] = {"LANG=C.UTF-8", "PATH=/evil", "BPT_KX_SOCKET=/evil"};
    struct bpt_oci_input in = {.spec = s,
                               .id = "0123456789abcdef",
                               .rootfs = "/images/svc",
                               .host_dir = "/state/deployments/0123456789abcdef/host",
                               .args = args,
                               .n_args = 2,
                               .image_env = image_env,
                               .n_image_env = 3,
                               .devices = devs,
                               .n_devices = n,
                               .tsm_dir = tsm,
                               .sysfs_has_configfs = sysfs_config};
    json_t *o = NULL;
    assert_ok(bpt_oci_config(&o, &in));
    return o;
}

static bool has_string(const json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0) {
            return true;
        }
    }
    return false;
}

static const json_t *mount_at(const json_t *cfg, const char *dst)
{
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(cfg, "mounts"), i, m)
    {
        if (strcmp(json_string_value(json_object_get(m, "destination")), dst) == 0) {
            return m;
        }
    }
    return NULL;
}

static bool has_namespace(const json_t *cfg, const char *type)
{
    size_t i;
    json_t *n;
    json_array_foreach(json_object_get(json_object_get(cfg, "linux"), "namespaces"), i, n)
    {
        if (strcmp(json_string_value(json_object_get(n, "type")), type) == 0) {
            return true;
        }
    }
    return false;
}

static void test_hardened_every_time(void **state)
{
    (void)state;
    bpt_deploy_spec *s = spec("{\"name\":\"svc\",\"image\":\"/images/svc\",\"env\":{\"MODE\":"
                              "\"prod\"},\"resources\":{\"cpus\":1.5,\"memory_mb\":64,"
                              "\"pids\":32}}");
    json_t *c = config(s, NULL, 0, NULL, true);
    json_t *p = json_object_get(c, "process"), *l = json_object_get(c, "linux");

    /* read-only root, no capabilities, no new privileges, non-root */
    assert_true(json_is_true(json_object_get(json_object_get(c, "root"), "readonly")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(c, "root"), "path")),
                        "/images/svc");
    const char *sets[] = {"bounding", "effective", "inheritable", "permitted", "ambient"};
    for (size_t i = 0; i < 5; i++) {
        json_t *set = json_object_get(json_object_get(p, "capabilities"), sets[i]);
        assert_true(json_is_array(set));
        assert_int_equal(json_array_size(set), 0);
    }
    assert_true(json_is_true(json_object_get(p, "noNewPrivileges")));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(p, "user"), "uid")), 65534);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(p, "user"), "gid")), 65534);
    /* the environment: ours, the image's (not its PATH nor BPT_*), the spec's */
    json_t *env = json_object_get(p, "env");
    assert_true(has_string(env, "BPT_KX_SOCKET=/run/bpt/kx.sock"));
    assert_true(has_string(env, "BPT_DEPLOYMENT_ID=0123456789abcdef"));
    assert_true(has_string(env, "LANG=C.UTF-8"));
    assert_true(has_string(env, "MODE=prod"));
    assert_false(has_string(env, "PATH=/evil"));
    assert_false(has_string(env, "BPT_KX_SOCKET=/evil"));

    /* seccomp: default allow, the denials with EPERM, clone3 ENOSYS, namespace clone flags */
    json_t *sc = json_object_get(l, "seccomp");
    assert_string_equal(json_string_value(json_object_get(sc, "defaultAction")), "SCMP_ACT_ALLOW");
    json_t *rules = json_object_get(sc, "syscalls"), *deny = json_array_get(rules, 0);
    assert_string_equal(json_string_value(json_object_get(deny, "action")), "SCMP_ACT_ERRNO");
    assert_int_equal(json_integer_value(json_object_get(deny, "errnoRet")), EPERM);
    const char *must[] = {"mount",
                          "umount2",
                          "ptrace",
                          "kexec_load",
                          "bpf",
                          "keyctl",
                          "add_key",
                          "request_key",
                          "unshare",
                          "setns",
                          "open_by_handle_at",
                          "init_module",
                          "finit_module",
                          "delete_module",
                          "swapon",
                          "reboot",
                          "perf_event_open",
                          "io_uring_setup"};
    for (size_t i = 0; i < sizeof(must) / sizeof(must[0]); i++) {
        if (!has_string(json_object_get(deny, "names"), must[i])) {
            fail_msg("seccomp does not deny %s", must[i]);
        }
    }
    json_t *c3 = json_array_get(rules, 1);
    assert_true(has_string(json_object_get(c3, "names"), "clone3"));
    assert_int_equal(json_integer_value(json_object_get(c3, "errnoRet")), ENOSYS);
    bool newuser = false;
    for (size_t i = 2; i < json_array_size(rules); i++) {
        json_t *a = json_array_get(json_object_get(json_array_get(rules, i), "args"), 0);
        newuser = newuser || json_integer_value(json_object_get(a, "value")) == 0x10000000;
    }
    assert_true(newuser);

    /* namespaces: all of them, network included */
    const char *ns[] = {"pid", "ipc", "uts", "mount", "cgroup", "network"};
    for (size_t i = 0; i < 6; i++) {
        assert_true(has_namespace(c, ns[i]));
    }
    /* masked and read-only paths */
    assert_true(has_string(json_object_get(l, "maskedPaths"), "/proc/kcore"));
    assert_true(has_string(json_object_get(l, "maskedPaths"), "/sys/firmware"));
    assert_true(has_string(json_object_get(l, "readonlyPaths"), "/proc/sys"));
    assert_true(has_string(json_object_get(l, "readonlyPaths"), "/proc/sysrq-trigger"));
    /* cgroup limits from resources; devices denied but for what runc allows itself */
    json_t *res = json_object_get(l, "resources");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(res, "memory"), "limit")),
                     64 * 1024 * 1024);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(res, "cpu"), "quota")),
                     150000);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(res, "pids"), "limit")),
                     32);
    json_t *rule0 = json_array_get(json_object_get(res, "devices"), 0);
    assert_true(json_is_false(json_object_get(rule0, "allow")));
    assert_string_equal(json_string_value(json_object_get(rule0, "access")), "rwm");
    /* mounts: tmpfs /tmp, read-only sysfs and cgroup, the host directory at /run/bpt */
    const json_t *tmp = mount_at(c, "/tmp"), *sys = mount_at(c, "/sys"),
                 *run = mount_at(c, "/run/bpt");
    assert_non_null(tmp);
    assert_string_equal(json_string_value(json_object_get(tmp, "type")), "tmpfs");
    assert_true(has_string(json_object_get(sys, "options"), "ro"));
    assert_true(has_string(json_object_get(mount_at(c, "/sys/fs/cgroup"), "options"), "ro"));
    assert_string_equal(json_string_value(json_object_get(run, "source")),
                        "/state/deployments/0123456789abcdef/host");
    assert_true(has_string(json_object_get(run, "options"), "nosuid"));
    assert_null(mount_at(c, BPT_OCI_TSM_REPORT));
    assert_int_equal(json_array_size(json_object_get(l, "devices")), 0);
    json_decref(c);
    bpt_deploy_spec_free(s);
}

static void test_network_host_and_user(void **state)
{
    (void)state;
    bpt_deploy_spec *s = spec("{\"name\":\"svc\",\"image\":\"/i\",\"network\":\"host\","
                              "\"user\":{\"uid\":1000,\"gid\":1000}}");
    json_t *c = config(s, NULL, 0, NULL, true);
    assert_false(has_namespace(c, "network"));
    assert_true(has_namespace(c, "pid")); /* everything else stays */
    json_t *u = json_object_get(json_object_get(c, "process"), "user");
    assert_int_equal(json_integer_value(json_object_get(u, "uid")), 1000);
    /* the hardening does not move */
    assert_true(json_is_true(json_object_get(json_object_get(c, "process"), "noNewPrivileges")));
    json_decref(c);
    bpt_deploy_spec_free(s);
}

static void test_devices_and_tsm_in_config(void **state)
{
    (void)state;
    bpt_deploy_spec *s = spec("{\"name\":\"svc\",\"image\":\"/i\"}");
    struct bpt_oci_device d = {"/dev/sev-guest", 10, 124};
    json_t *c = config(s, &d, 1, "/fake/sys/kernel/config/tsm/report", false);
    json_t *l = json_object_get(c, "linux");
    json_t *dev = json_array_get(json_object_get(l, "devices"), 0);
    assert_string_equal(json_string_value(json_object_get(dev, "path")), "/dev/sev-guest");
    assert_int_equal(json_integer_value(json_object_get(dev, "major")), 10);
    assert_int_equal(json_integer_value(json_object_get(dev, "minor")), 124);
    assert_int_equal(json_integer_value(json_object_get(dev, "uid")), 65534);
    json_t *rule = json_array_get(json_object_get(json_object_get(l, "resources"), "devices"), 1);
    assert_true(json_is_true(json_object_get(rule, "allow")));
    assert_int_equal(json_integer_value(json_object_get(rule, "major")), 10);
    assert_int_equal(json_integer_value(json_object_get(rule, "minor")), 124);
    assert_string_equal(json_string_value(json_object_get(rule, "access")), "rw");
    /* configfs-tsm: its report directory bound, on a small tmpfs (here /sys/kernel: this
     * kernel's sysfs is said to have no /sys/kernel/config), made read-only */
    const json_t *tsm = mount_at(c, BPT_OCI_TSM_REPORT);
    assert_non_null(tsm);
    assert_string_equal(json_string_value(json_object_get(tsm, "source")),
                        "/fake/sys/kernel/config/tsm/report");
    assert_non_null(mount_at(c, "/sys/kernel"));
    assert_true(has_string(json_object_get(l, "readonlyPaths"), "/sys/kernel"));
    json_decref(c);
    c = config(s, &d, 1, "/sys/kernel/config/tsm/report", true);
    assert_non_null(mount_at(c, "/sys/kernel/config"));
    assert_null(mount_at(c, "/sys/kernel"));
    json_decref(c);
    bpt_deploy_spec_free(s);
}

/* Which devices a spec gets on a fake host (character devices made with mknod: root only). */
static void test_devices_on_a_host(void **state)
{
    (void)state;
    char *root = bpt_test_tmpdir(), path[4200], tsm[4200];
    struct bpt_oci_device devs[BPT_DEPLOY_MAX_DEVICES];
    size_t n = 9;
    bpt_deploy_spec *auto_spec = spec("{\"name\":\"a\",\"image\":\"/i\"}");
    bpt_deploy_spec *listed = spec("{\"name\":\"a\",\"image\":\"/i\",\"devices\":[\"/dev/nsm\"]}");
    bpt_deploy_spec *none = spec("{\"name\":\"a\",\"image\":\"/i\",\"devices\":[]}");

    /* nothing there: auto passes nothing, a listed device is refused */
    assert_ok(bpt_oci_devices(devs, &n, BPT_DEPLOY_MAX_DEVICES, auto_spec, root));
    assert_int_equal(n, 0);
    assert_rc_msg(bpt_oci_devices(devs, &n, BPT_DEPLOY_MAX_DEVICES, listed, root), BPT_EINVAL,
                  "/dev/nsm is not on this host");
    bpt_oci_tsm_dir(tsm, sizeof(tsm), root);
    assert_string_equal(tsm, "");
    /* a regular file of a device's name: not a device (auto skips it, a list refuses it) */
    snprintf(path, sizeof(path), "%s/dev/nsm", root);
    bpt_test_write_file(path, "x", 1);
    assert_ok(bpt_oci_devices(devs, &n, BPT_DEPLOY_MAX_DEVICES, auto_spec, root));
    assert_int_equal(n, 0);
    assert_rc_msg(bpt_oci_devices(devs, &n, BPT_DEPLOY_MAX_DEVICES, listed, root), BPT_EINVAL,
                  "not a character device");
    /* configfs-tsm's report directory */
    snprintf(path, sizeof(path), "%s/sys/kernel/config/tsm/report/e/provider", root);
    bpt_test_write_file(path, "sev_guest\n", 10);
    bpt_oci_tsm_dir(tsm, sizeof(tsm), root);
    snprintf(path, sizeof(path), "%s/sys/kernel/config/tsm/report", root);
    assert_string_equal(tsm, path);
    /* real character devices, with their numbers */
    snprintf(path, sizeof(path), "%s/dev/sev-guest", root);
    if (mknod(path, S_IFCHR | 0600, makedev(10, 124)) != 0) {
        int e = errno;
        bpt_test_rmtree(root);
        free(root);
        bpt_deploy_spec_free(auto_spec);
        bpt_deploy_spec_free(listed);
        bpt_deploy_spec_free(none);
        if (e == EPERM) {
            skip(); /* not root: mknod needs CAP_MKNOD */
        }
        fail_msg("mknod: %s", strerror(e));
    }
    assert_ok(bpt_oci_devices(devs, &n, BPT_DEPLOY_MAX_DEVICES, auto_spec, root));
    assert_int_equal(n, 1);
    assert_string_equal(devs[0].path, "/dev/sev-guest");
    assert_int_equal(devs[0].major, 10);
    assert_int_equal(devs[0].minor, 124);
    assert_ok(bpt_oci_devices(devs, &n, BPT_DEPLOY_MAX_DEVICES, none, root));
    assert_int_equal(n, 0);
    bpt_test_rmtree(root);
    free(root);
    bpt_deploy_spec_free(auto_spec);
    bpt_deploy_spec_free(listed);
    bpt_deploy_spec_free(none);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hardened_every_time),
        cmocka_unit_test(test_network_host_and_user),
        cmocka_unit_test(test_devices_and_tsm_in_config),
        cmocka_unit_test(test_devices_on_a_host),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
