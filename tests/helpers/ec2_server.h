/*
 * A loopback EC2 for the aws_nitro backend's tests: on 127.0.0.1 (port 0), on its own thread, it
 * answers the Query API actions the backend uses (RunInstances, DescribeInstances,
 * Start/Stop/TerminateInstances) in EC2's XML shapes (API version 2016-11-15). Every request's
 * SigV4 signature is recomputed here, independently of libcurl (the canonical request, the
 * string to sign and the derived key per AWS's SigV4 reference, with OpenSSL's HMAC-SHA256):
 * an unknown key is refused with AuthFailure, a wrong signature with SignatureDoesNotMatch, a
 * session token other than the configured one with AuthFailure, and an expired one with
 * ExpiredToken, each in EC2's error XML. Instances' privateIpAddress is 127.0.0.1.
 */
#ifndef BPT_TEST_EC2_SERVER_H
#define BPT_TEST_EC2_SERVER_H

#include <stdbool.h>
#include <stdint.h>

struct bpt_ec2_server;

/** Knobs; change them between calls with bpt_ec2_server_set() (under the server's lock). */
struct bpt_ec2_knobs {
    const char *key_id, *secret; /* the one key the server knows */
    const char *token;           /* NULL: no session token expected */
    bool token_expired;          /* the token is refused with ExpiredToken */
    const char *region;          /* the credential scope's region */
    unsigned pending_polls;      /* DescribeInstances answers "pending" this often per start */
    unsigned unlisted_polls;     /* a new instance is missing from this many DescribeInstances
                                    answers (EC2's eventual consistency) */
    unsigned throttle_503;       /* the next N requests: 503 + Retry-After: 1, Unavailable */
    unsigned throttle_429;       /* then N: 429 + Retry-After: 0, Throttling */
    unsigned throttle_limit;     /* then N: 503 RequestLimitExceeded, no Retry-After */
};

/** Start. @return 0, or -1 after printing why. */
int bpt_ec2_server_start(struct bpt_ec2_server **out, const struct bpt_ec2_knobs *k);

/** Replace the knobs (strings copied). */
void bpt_ec2_server_set(struct bpt_ec2_server *s, const struct bpt_ec2_knobs *k);

uint16_t bpt_ec2_server_port(const struct bpt_ec2_server *s);

/** Counters. */
struct bpt_ec2_stats {
    unsigned requests;  /* every request */
    unsigned refused;   /* answered with an authentication error */
    unsigned throttled; /* answered with a throttling error */
    unsigned created;   /* instances RunInstances made (not those a repeated token returned) */
    unsigned runs, describes, starts, stops, terminates;
    unsigned live;             /* instances not terminated */
    char last_state[24];       /* the newest instance's state */
    char last_user_data[2048]; /* the newest RunInstances' UserData, decoded */
    bool last_enclave;         /* it asked EnclaveOptions.Enabled=true */
};

void bpt_ec2_server_stats(const struct bpt_ec2_server *s, struct bpt_ec2_stats *out);

/** Stop, join, free; NULL does nothing. */
void bpt_ec2_server_stop(struct bpt_ec2_server *s);

#endif
