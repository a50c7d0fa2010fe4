/*
 * The direct backend's tests, bench and CLI tests on the real runc: whether this machine can run
 * a container at all (root, runc, a probe container under runc's own default config), and the
 * workload image (scripts/build-test-image.sh: busybox and bpt with its libraries, the
 * simulator's directory at /etc/bpt/sim). No cmocka here: the bench links this file too.
 */
#ifndef BPT_TEST_RUNTIME_FIXTURE_H
#define BPT_TEST_RUNTIME_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>

struct bpt_runtime_fixture {
    char *dir;        /* a temporary directory holding what follows (malloc'd) */
    char image[4200]; /* the root file system image */
    char runc[4200];  /* the runc binary */
    char why[1024];   /* why containers cannot run here, when usable is false */
    bool usable;
};

/**
 * Find runc, check it runs a probe container (as root, with runc's default config), and build
 * the image with @p bpt (the binary to put in it) and the simulator directory @p sim_dir.
 * @return 0 (then f->usable says whether containers run here, f->why why not), or -1 after
 *         printing why the fixture itself failed (the image could not be built), or why
 *         containers cannot run when $BPT_REQUIRE_CONTAINERS is 1 (a runner that must run them).
 */
int bpt_runtime_fixture_init(struct bpt_runtime_fixture *f, const char *bpt, const char *sim_dir);

/** Force-delete every container in the runc root of the store at @p state_dir (what a failed
 * test left running); nothing when containers cannot run here. */
void bpt_runtime_fixture_remove_containers(const struct bpt_runtime_fixture *f,
                                           const char *state_dir);

/** Remove the directory; a zeroed fixture is fine. */
void bpt_runtime_fixture_dispose(struct bpt_runtime_fixture *f);

/** Run @p argv (argv[0] a path) to its end with stdout and stderr into @p out (NUL-terminated,
 * cut at @p len); returns the exit status (128 + signal), -1 when it could not start. */
int bpt_runtime_fixture_run(char *out, size_t len, const char *const *argv);

#endif
