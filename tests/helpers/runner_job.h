/*
 * One job through a started bpt_runner, waited for: what the runner tests (runner/routing,
 * runner/placement) submit and read back.
 */
#ifndef BPT_TEST_RUNNER_JOB_H
#define BPT_TEST_RUNNER_JOB_H

#include <blueprint-tee/runner.h>

/** A job's outcome, copied out of its result. */
struct bpt_test_job {
    char code[64];      /* "ok", or the error code */
    char message[1024]; /* the error message ("" when ok) */
    char body[256];     /* the body (cut), NUL-terminated */
    char digest[160];   /* tee.attestation.digest, "" when unstamped */
    char provider[64];  /* tee.provider, "" when unstamped */
};

/** Submit job @p index with @p body to @p run and wait for its result (asserts on failure). */
void bpt_test_runner_job(bpt_runner *run, uint8_t index, const char *body,
                         struct bpt_test_job *out);

#endif
