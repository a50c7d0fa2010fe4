/*
 * What the runtime's units share: the TEE device list, the spec's exact CPU figure, the built-in
 * backends' vtables, and small file-system helpers.
 */
#ifndef BPT_RUNTIME_INTERNAL_H
#define BPT_RUNTIME_INTERNAL_H

#include <blueprint-tee/sys/backend.h>

#include <stdint.h>

/** The TEE device paths a spec may name (NULL-terminated). */
const char *const *bpt_runtime_tee_devices(void);

/** resources.cpus in thousandths (exact, for the CPU quota). */
uint32_t bpt_runtime_spec_millicpus(const bpt_deploy_spec *s);

/** The direct backend (direct.c). */
const bpt_runtime_backend *bpt_runtime_direct_backend(void);

/** Remove the tree at @p path without following symbolic links; absent is fine. */
BPT_MUST_USE int bpt_runtime_rmtree(const char *path);

/** mkdir @p path with @p mode (an existing directory is fine; its mode is set). */
BPT_MUST_USE int bpt_runtime_mkdir(const char *path, unsigned mode);

/**
 * Wait until the unix socket @p path accepts a connection, at most @p timeout_ms.
 * @return 0; BPT_EFETCH (nobody accepted in time: what connect() said).
 */
BPT_MUST_USE int bpt_runtime_wait_socket(const char *path, long timeout_ms);

#endif
