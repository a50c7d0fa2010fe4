/*
 * The chain's hashing and decoding: Keccak-256 over 64 KiB (MB/s) beside OpenSSL's SHA3-256
 * (the same Keccak-f[1600] sponge and rate, another padding) on the same bytes, and decodes/s of
 * a JobSubmitted event's data (uint8, address, 256-byte bytes) beside SHA3-256 of those bytes.
 * Jobs/s end to end on ganache: bench_chain_jobs.
 * Run: bench_chain --seconds N.
 */
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include <blueprint-tee/chain.h>

#include "chain/abi.h"

#define BIG (64 * 1024)

static uint8_t big[BIG], event[32 * 4 + 256];

static bool keccak_op(void *ctx)
{
    uint8_t h[32];
    (void)ctx;
    bpt_keccak256(h, big, sizeof(big));
    return true;
}

static bool sha3_big(void *ctx)
{
    uint8_t h[32];
    unsigned n = 0;
    (void)ctx;
    return EVP_Digest(big, sizeof(big), h, &n, EVP_sha3_256(), NULL) == 1;
}

static bool decode_op(void *ctx)
{
    struct bpt_abi_value *v = NULL;
    bool ok = bpt_abi_decode(&v, ctx, event, sizeof(event)) == 0;
    bpt_abi_value_free(v);
    return ok;
}

static bool sha3_event(void *ctx)
{
    uint8_t h[32];
    unsigned n = 0;
    (void)ctx;
    return EVP_Digest(event, sizeof(event), h, &n, EVP_sha3_256(), NULL) == 1;
}

int main(int argc, char **argv)
{
    double secs = bench_seconds(argc, argv), k, s;
    struct bpt_abi_type *t = NULL;
    memset(big, 0x5a, sizeof(big));
    event[31] = 7;
    memset(event + 44, 0xab, 20);
    event[95] = 0x60;
    event[126] = 1; /* 256 bytes */
    if (bpt_abi_type_parse(&t, "(uint8,address,bytes)") != 0) {
        return 1;
    }
    k = bench_rate(keccak_op, NULL, secs);
    s = bench_rate(sha3_big, NULL, secs);
    bench_report("keccak256_64k", k, "openssl_sha3_256_64k", s);
    printf("keccak256: %.0f MB/s, OpenSSL SHA3-256: %.0f MB/s\n", k * BIG / 1e6, s * BIG / 1e6);
    bench_report("abi_decode_job_submitted", bench_rate(decode_op, t, secs),
                 "openssl_sha3_256_same_bytes", bench_rate(sha3_event, NULL, secs));
    bpt_abi_type_free(t);
    return 0;
}
