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

/** The AWS Nitro Enclaves on EC2 backend (remote/aws_nitro.c). */
const bpt_runtime_backend *bpt_runtime_aws_nitro_backend(void);

/** The Azure confidential VM backend (remote/azure_cvm.c). */
const bpt_runtime_backend *bpt_runtime_azure_cvm_backend(void);

/** The GCP Confidential Space on Compute Engine backend (remote/gcp_confidential_space.c). */
const bpt_runtime_backend *bpt_runtime_gcp_confidential_space_backend(void);

/**
 * bpt_runtime_attest_workload() for a plane at @p base_url ("http[s]://HOST:PORT", no trailing
 * slash, at most 256 bytes) or on the unix socket @p kx_socket (exactly one of them).
 */
BPT_MUST_USE int bpt_runtime_attest_plane(bpt_verified **out, const char *base_url,
                                          const char *kx_socket,
                                          const struct bpt_verifier *verifier, const uint8_t *nonce,
                                          size_t nonce_len);

/** Remove the tree at @p path without following symbolic links; absent is fine. */
BPT_MUST_USE int bpt_runtime_rmtree(const char *path);

/** mkdir @p path with @p mode (an existing directory is fine; its mode is set). */
BPT_MUST_USE int bpt_runtime_mkdir(const char *path, unsigned mode);

/** Room for "/proc/self/fd/N". */
#define BPT_RUNTIME_VIA_MAX 32

/**
 * The workload's socket @p path, safely: an O_PATH descriptor of it opened without following a
 * symbolic link, which must be a socket, and "/proc/self/fd/N" naming it into @p via. Connecting
 * through @p via reaches exactly that socket: a link the workload puts at kx.sock in its own
 * directory (to a socket of the host's, say) cannot redirect the host's connection.
 * @return 0 (close *fd_out when done); BPT_EFETCH (nothing there yet); BPT_EPROTOCOL (something
 *         that is no socket: a link, a file); BPT_EIO.
 */
BPT_MUST_USE int bpt_runtime_socket_open(int *fd_out, char via[BPT_RUNTIME_VIA_MAX],
                                         const char *path);

/**
 * Wait until the unix socket @p path (opened as bpt_runtime_socket_open() does) accepts a
 * connection, at most @p timeout_ms.
 * @return 0; BPT_EFETCH (nobody accepted in time: what connect() said); BPT_EPROTOCOL (no
 *         socket at the path, a link).
 */
BPT_MUST_USE int bpt_runtime_wait_socket(const char *path, long timeout_ms);

#endif
