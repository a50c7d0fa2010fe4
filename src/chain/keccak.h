/*
 * Keccak-256 as Ethereum uses it (the original Keccak padding 0x01, not SHA3's 0x06): OpenSSL
 * 3.0 has no such digest, so here is one. Incremental form for callers hashing in pieces; the
 * one-shot bpt_keccak256() is public (chain.h).
 */
#ifndef BPT_CHAIN_KECCAK_H
#define BPT_CHAIN_KECCAK_H

#include <stddef.h>
#include <stdint.h>

#define BPT_KECCAK_RATE 136 /* bytes: 1600 - 2*256 bits */

struct bpt_keccak {
    uint64_t s[25];
    uint8_t buf[BPT_KECCAK_RATE];
    size_t pos;
};

void bpt_keccak_init(struct bpt_keccak *k);
void bpt_keccak_update(struct bpt_keccak *k, const void *p, size_t n);
/** Finish into @p out and wipe the state. */
void bpt_keccak_final(struct bpt_keccak *k, uint8_t out[32]);

#endif
