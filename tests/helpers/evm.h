/*
 * A real EVM node for the chain tests: ganache (npm, installed by scripts/install-evm.sh into
 * $BPT_EVM_DIR) on 127.0.0.1, deterministic accounts, chain id 1337, every transaction mined at
 * once; the test contracts of tests/evm/contracts compiled by solc (npm) when the node starts.
 * One node per test program (start-up costs a few seconds). Without node or the modules,
 * bpt_test_evm_start() says why and the test skips (with CI=true and node present it fails:
 * CI's make check installs them).
 */
#ifndef BPT_TEST_EVM_H
#define BPT_TEST_EVM_H

#include <blueprint-tee/chain.h>

#include <stdbool.h>
#include <sys/types.h>

/** ganache's deterministic accounts 0..3 and their keys (hex, no 0x). */
extern const char *const BPT_TEST_EVM_KEYS[4];

struct bpt_test_evm {
    pid_t pid;
    uint16_t port;
    char url[64];
    bpt_chain *chain;
    bpt_eth_address accounts[4];
    void *contracts; /* json_t: name -> {abi, bin} */
};

/** Start the node and compile the contracts; false (with @p why) when they are not installed. */
bool bpt_test_evm_start(struct bpt_test_evm *e, char *why, size_t why_len);
/** Stop the node (SIGTERM, then wait); idempotent. */
void bpt_test_evm_stop(struct bpt_test_evm *e);

/** Deploy contract @p name with ABI-encoded constructor arguments from account 0. */
bpt_eth_address bpt_test_evm_deploy(struct bpt_test_evm *e, const char *name, const uint8_t *args,
                                    size_t len);
/**
 * Send @p data to @p to from unlocked account @p from_index (eth_sendTransaction) and wait for
 * the receipt: 0 when mined with status 1, -1 otherwise. *block gets its block (may be NULL).
 */
int bpt_test_evm_send(struct bpt_test_evm *e, unsigned from_index, const bpt_eth_address *to,
                      const uint8_t *data, size_t len, uint64_t *block);
/** Mine @p n empty blocks. */
void bpt_test_evm_mine(struct bpt_test_evm *e, unsigned n);
/** evm_snapshot: an id for bpt_test_evm_revert(). */
char *bpt_test_evm_snapshot(struct bpt_test_evm *e);
void bpt_test_evm_revert(struct bpt_test_evm *e, const char *id);

/** In a cmocka test: skip, printing @p why, when the node did not start. */
#define BPT_TEST_EVM_NEED(up, why)                                                                 \
    do {                                                                                           \
        if (!(up)) {                                                                               \
            print_message("%s\n", (why));                                                          \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

#endif
