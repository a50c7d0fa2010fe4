/* Simulated AWS Nitro Enclaves: a root -> intermediate -> leaf chain and signed documents. */
#ifndef BPT_ATTESTER_SIM_AWS_NITRO_H
#define BPT_ATTESTER_SIM_AWS_NITRO_H

#include <blueprint-tee/common.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Knobs for tests: each makes one thing about the document wrong (0/false = correct). */
struct bpt_sim_nitro_opts {
    const uint8_t *user_data; /* NULL: none */
    size_t user_data_len;
    const uint8_t *nonce;
    size_t nonce_len;
    const uint8_t *public_key; /* NULL: none */
    size_t public_key_len;
    uint64_t timestamp_ms;      /* 0: the simulator's fixed time (2025-06-15) */
    bool debug;                 /* PCR0..2 all zero */
    int alg;                    /* 0: ES384 (-35) */
    bool duplicate_key;         /* "digest" twice */
    size_t oversized_user_data; /* >0: a user_data of this many bytes */
    bool bundle_reversed;       /* cabundle [intermediate, root] */
    bool leaf_from_root;        /* the leaf signed by the root, not the intermediate */
    bool non_ca_intermediate;   /* sign the leaf with a non-CA certificate's key */
};

/** Create DIR/aws-nitro/ (root.pem, intermediate, leaf, non-CA cert and keys 0600). */
BPT_MUST_USE int bpt_sim_aws_nitro_init(const char *dir);

/** A signed COSE_Sign1 document (free *ev with bpt_free()). */
BPT_MUST_USE int bpt_sim_aws_nitro_build(uint8_t **ev, size_t *ev_len, const char *dir,
                                         const struct bpt_sim_nitro_opts *o);

/** The simulator's document timestamp in seconds (verify at this time or a little after). */
#define BPT_SIM_NITRO_TIME 1750000000

#endif
