/*
 * Keccak-f[1600] and the Keccak-256 sponge (rate 136 bytes, capacity 512 bits, domain padding
 * 0x01 ... 0x80). Written from the Keccak reference (FIPS 202 §3 without SHA3's suffix bits);
 * tested against the published empty-string and "abc" vectors, the Python reference beside
 * ../shared/reference and OpenSSL's SHA3-256 (the same permutation with another padding).
 */
#include <blueprint-tee/chain.h>

#include "chain/keccak.h"

#include <string.h>

#include <openssl/crypto.h>

static const uint64_t RC[24] = {
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL, 0x8000000080008000ULL,
    0x000000000000808bULL, 0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL,
    0x000000000000008aULL, 0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
    0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL, 0x8000000000008003ULL,
    0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800aULL, 0x800000008000000aULL,
    0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL,
};

/* Rotation offsets and the pi lane order, walked as in the reference's compact form. */
static const unsigned ROT[24] = {1,  3,  6,  10, 15, 21, 28, 36, 45, 55, 2,  14,
                                 27, 41, 56, 8,  25, 43, 62, 18, 39, 61, 20, 44};
static const unsigned PI[24] = {10, 7,  11, 17, 18, 3, 5,  16, 8,  21, 24, 4,
                                15, 23, 19, 13, 12, 2, 20, 14, 22, 9,  6,  1};

static inline uint64_t rotl(uint64_t x, unsigned n)
{
    return (x << n) | (x >> (64 - n));
}

static void keccak_f(uint64_t s[25])
{
    uint64_t c[5], t;
    for (unsigned round = 0; round < 24; round++) {
        for (unsigned x = 0; x < 5; x++) { /* theta */
            c[x] = s[x] ^ s[x + 5] ^ s[x + 10] ^ s[x + 15] ^ s[x + 20];
        }
        for (unsigned x = 0; x < 5; x++) {
            t = c[(x + 4) % 5] ^ rotl(c[(x + 1) % 5], 1);
            for (unsigned y = 0; y < 25; y += 5) {
                s[y + x] ^= t;
            }
        }
        t = s[1]; /* rho and pi */
        for (unsigned i = 0; i < 24; i++) {
            uint64_t next = s[PI[i]];
            s[PI[i]] = rotl(t, ROT[i]);
            t = next;
        }
        for (unsigned y = 0; y < 25; y += 5) { /* chi */
            for (unsigned x = 0; x < 5; x++) {
                c[x] = s[y + x];
            }
            for (unsigned x = 0; x < 5; x++) {
                s[y + x] = c[x] ^ (~c[(x + 1) % 5] & c[(x + 2) % 5]);
            }
        }
        s[0] ^= RC[round]; /* iota */
    }
}

static uint64_t load64le(const uint8_t *p)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < 8; i++) {
        v |= (uint64_t)p[i] << (8 * i);
    }
    return v;
}

static void absorb_block(uint64_t s[25], const uint8_t *block)
{
    for (unsigned i = 0; i < BPT_KECCAK_RATE / 8; i++) {
        s[i] ^= load64le(block + 8 * i);
    }
    keccak_f(s);
}

void bpt_keccak_init(struct bpt_keccak *k)
{
    memset(k, 0, sizeof(*k));
}

void bpt_keccak_update(struct bpt_keccak *k, const void *data, size_t n)
{
    const uint8_t *p = data;
    if (k->pos) {
        size_t take = BPT_KECCAK_RATE - k->pos < n ? BPT_KECCAK_RATE - k->pos : n;
        memcpy(k->buf + k->pos, p, take);
        k->pos += take;
        p += take;
        n -= take;
        if (k->pos < BPT_KECCAK_RATE) {
            return;
        }
        absorb_block(k->s, k->buf);
        k->pos = 0;
    }
    while (n >= BPT_KECCAK_RATE) {
        absorb_block(k->s, p);
        p += BPT_KECCAK_RATE;
        n -= BPT_KECCAK_RATE;
    }
    if (n) {
        memcpy(k->buf, p, n);
        k->pos = n;
    }
}

void bpt_keccak_final(struct bpt_keccak *k, uint8_t out[32])
{
    memset(k->buf + k->pos, 0, BPT_KECCAK_RATE - k->pos);
    k->buf[k->pos] ^= 0x01;
    k->buf[BPT_KECCAK_RATE - 1] ^= 0x80;
    absorb_block(k->s, k->buf);
    for (unsigned i = 0; i < 4; i++) {
        for (unsigned b = 0; b < 8; b++) {
            out[8 * i + b] = (uint8_t)(k->s[i] >> (8 * b));
        }
    }
    OPENSSL_cleanse(k, sizeof(*k));
}

void bpt_keccak256(uint8_t out[32], const void *p, size_t n)
{
    struct bpt_keccak k;
    bpt_keccak_init(&k);
    bpt_keccak_update(&k, p, n);
    bpt_keccak_final(&k, out);
}
