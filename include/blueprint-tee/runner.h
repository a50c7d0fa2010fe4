/**
 * @file runner.h
 * The runner's parts that host job handlers (DESIGN.md §10). This header has, so far, handlers
 * that are external programs (what `bpt run --job INDEX=COMMAND` uses); the runner itself (job
 * sources, sinks, the worker pool, the key-exchange plane) is not built yet.
 *
 * An external handler gets the call's body on stdin and answers with the result's body on
 * stdout; a non-zero exit is an error result carrying the last line the program wrote to stderr;
 * a program still running at its time limit is killed (its whole process group) and the result
 * is the error "job_timeout". The program runs with a clean environment (PATH, LANG=C,
 * BPT_JOB_INDEX, BPT_CALL_ID, BPT_SERVICE_ID, and BPT_SECRETS_DIR when it gets secrets), no
 * inherited file descriptors but 0, 1 and 2, and in its own process group.
 *
 * Secrets never travel in argv or the environment: the secrets a handler is given (by name) are
 * written, for the length of one call, as files of mode 0400 in a fresh directory of mode 0700
 * on a memory file system (tmpfs; /dev/shm by default — a directory on any other file system is
 * refused, so a secret never reaches a disk), named by the secret, and removed when the program
 * has exited. BPT_SECRETS_DIR names the directory.
 *
 * Threads: a handler object is immutable once made; bpt_exec_handler_run() may run on many
 * threads at once (each call its own process and directory).
 */
#ifndef BPT_RUNNER_H
#define BPT_RUNNER_H

#include "common.h"
#include "middleware.h"

BPT_BEGIN_DECLS

/** Options for bpt_exec_handler_new(). Initialise with BPT_EXEC_HANDLER_OPTS_INIT. */
typedef struct bpt_exec_handler_opts {
    unsigned version;             /**< BPT_EXEC_HANDLER_OPTS_VERSION */
    const char *command;          /**< the program (a path: no PATH search) and its arguments,
                                       split on spaces (no shell) */
    long timeout_ms;              /**< per call, 1..3600000; 0: 30000 */
    size_t max_output;            /**< stdout bytes kept, 1..BPT_JOB_BODY_MAX; 0: 1 MiB */
    const char *const *secrets;   /**< names of the sealed secrets this program gets */
    size_t n_secrets;             /**< 0..64 */
    const char *secrets_base_dir; /**< a tmpfs directory; NULL: /dev/shm */
} bpt_exec_handler_opts;

#define BPT_EXEC_HANDLER_OPTS_VERSION 1
#define BPT_EXEC_HANDLER_OPTS_INIT                                                                 \
    {                                                                                              \
        BPT_EXEC_HANDLER_OPTS_VERSION, NULL, 0, 0, NULL, 0, NULL                                   \
    }

typedef struct bpt_exec_handler bpt_exec_handler;

/**
 * A handler that runs @p o->command for every call (options copied).
 * @return 0; BPT_EINVAL (no command, an empty one, values out of range, a secret name that is
 *         not a key of middleware.h's rules); BPT_ENOMEM.
 */
BPT_API BPT_MUST_USE int bpt_exec_handler_new(bpt_exec_handler **out,
                                              const bpt_exec_handler_opts *o);
/** Free; NULL does nothing. */
BPT_API void bpt_exec_handler_free(bpt_exec_handler *h);

/**
 * The bpt_job_handler: route it with the handler object as userdata,
 * `bpt_router_route(r, index, bpt_exec_handler_run, h)`. Failures to run the program (it cannot be
 * started, the secrets directory is not on tmpfs, a secret is missing) are error results, like
 * the program's own failures.
 */
BPT_API int bpt_exec_handler_run(const bpt_job_call *call, bpt_job_result *result,
                                 const bpt_tee_context *tee, void *handler);

BPT_END_DECLS

#endif
