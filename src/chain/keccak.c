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

static inline uint64_t rotl(uint64_t x, unsigned n)
{
    return (x << n) | (x >> (64 - n));
}

/* One permutation with the 25 lanes in locals (a<x><y>, lane x + 5y) so they stay in
 * registers: theta (c, d), rho and pi into b (b[y][2x+3y] = a[x][y] rotated by its offset),
 * chi back into a, iota. The offsets are the reference's r[x][y]. */
static void keccak_f(uint64_t s[25])
{
    uint64_t a00 = s[0], a10 = s[1], a20 = s[2], a30 = s[3], a40 = s[4], a01 = s[5], a11 = s[6],
             a21 = s[7], a31 = s[8], a41 = s[9], a02 = s[10], a12 = s[11], a22 = s[12], a32 = s[13],
             a42 = s[14], a03 = s[15], a13 = s[16], a23 = s[17], a33 = s[18], a43 = s[19],
             a04 = s[20], a14 = s[21], a24 = s[22], a34 = s[23], a44 = s[24];
    uint64_t b00, b10, b20, b30, b40, b01, b11, b21, b31, b41, b02, b12, b22, b32, b42, b03, b13,
        b23, b33, b43, b04, b14, b24, b34, b44;
    uint64_t c0, c1, c2, c3, c4, d0, d1, d2, d3, d4;
    for (unsigned round = 0; round < 24; round++) {
        c0 = a00 ^ a01 ^ a02 ^ a03 ^ a04;
        c1 = a10 ^ a11 ^ a12 ^ a13 ^ a14;
        c2 = a20 ^ a21 ^ a22 ^ a23 ^ a24;
        c3 = a30 ^ a31 ^ a32 ^ a33 ^ a34;
        c4 = a40 ^ a41 ^ a42 ^ a43 ^ a44;
        d0 = c4 ^ rotl(c1, 1);
        d1 = c0 ^ rotl(c2, 1);
        d2 = c1 ^ rotl(c3, 1);
        d3 = c2 ^ rotl(c4, 1);
        d4 = c3 ^ rotl(c0, 1);
        b00 = a00 ^ d0;
        b13 = rotl(a01 ^ d0, 36);
        b21 = rotl(a02 ^ d0, 3);
        b34 = rotl(a03 ^ d0, 41);
        b42 = rotl(a04 ^ d0, 18);
        b02 = rotl(a10 ^ d1, 1);
        b10 = rotl(a11 ^ d1, 44);
        b23 = rotl(a12 ^ d1, 10);
        b31 = rotl(a13 ^ d1, 45);
        b44 = rotl(a14 ^ d1, 2);
        b04 = rotl(a20 ^ d2, 62);
        b12 = rotl(a21 ^ d2, 6);
        b20 = rotl(a22 ^ d2, 43);
        b33 = rotl(a23 ^ d2, 15);
        b41 = rotl(a24 ^ d2, 61);
        b01 = rotl(a30 ^ d3, 28);
        b14 = rotl(a31 ^ d3, 55);
        b22 = rotl(a32 ^ d3, 25);
        b30 = rotl(a33 ^ d3, 21);
        b43 = rotl(a34 ^ d3, 56);
        b03 = rotl(a40 ^ d4, 27);
        b11 = rotl(a41 ^ d4, 20);
        b24 = rotl(a42 ^ d4, 39);
        b32 = rotl(a43 ^ d4, 8);
        b40 = rotl(a44 ^ d4, 14);
        a00 = b00 ^ (~b10 & b20);
        a10 = b10 ^ (~b20 & b30);
        a20 = b20 ^ (~b30 & b40);
        a30 = b30 ^ (~b40 & b00);
        a40 = b40 ^ (~b00 & b10);
        a01 = b01 ^ (~b11 & b21);
        a11 = b11 ^ (~b21 & b31);
        a21 = b21 ^ (~b31 & b41);
        a31 = b31 ^ (~b41 & b01);
        a41 = b41 ^ (~b01 & b11);
        a02 = b02 ^ (~b12 & b22);
        a12 = b12 ^ (~b22 & b32);
        a22 = b22 ^ (~b32 & b42);
        a32 = b32 ^ (~b42 & b02);
        a42 = b42 ^ (~b02 & b12);
        a03 = b03 ^ (~b13 & b23);
        a13 = b13 ^ (~b23 & b33);
        a23 = b23 ^ (~b33 & b43);
        a33 = b33 ^ (~b43 & b03);
        a43 = b43 ^ (~b03 & b13);
        a04 = b04 ^ (~b14 & b24);
        a14 = b14 ^ (~b24 & b34);
        a24 = b24 ^ (~b34 & b44);
        a34 = b34 ^ (~b44 & b04);
        a44 = b44 ^ (~b04 & b14);
        a00 ^= RC[round];
    }
    s[0] = a00;
    s[1] = a10;
    s[2] = a20;
    s[3] = a30;
    s[4] = a40;
    s[5] = a01;
    s[6] = a11;
    s[7] = a21;
    s[8] = a31;
    s[9] = a41;
    s[10] = a02;
    s[11] = a12;
    s[12] = a22;
    s[13] = a32;
    s[14] = a42;
    s[15] = a03;
    s[16] = a13;
    s[17] = a23;
    s[18] = a33;
    s[19] = a43;
    s[20] = a04;
    s[21] = a14;
    s[22] = a24;
    s[23] = a34;
    s[24] = a44;
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
