/*
 * A loopback Google Cloud for the gcp_confidential_space backend's tests: on 127.0.0.1 (port
 * 0), libmicrohttpd on its own thread, it is both
 *
 * - the OAuth2 token endpoint (POST /token, RFC 7523 JWT bearer grant): the assertion's RS256
 *   signature is verified with the service account's public key (a fixed RSA-2048 test key),
 *   and its header (alg RS256, typ JWT, kid = the key's id) and claims (iss = the account's
 *   e-mail, scope = cloud-platform, aud = the token URI, iat near now, exp - iat <= 3600)
 *   checked; refusals are Google's {"error":"invalid_grant","error_description":...}; and
 * - Compute Engine API v1 under /compute/v1/ (instances get/insert/start/stop/delete, zone
 *   operations get) in Compute's JSON shapes, every call's bearer token checked (401
 *   UNAUTHENTICATED otherwise), long-running work as Operations (PENDING/RUNNING/DONE), an
 *   insert's requestId remembered (the same request answers the same operation), a second
 *   insert of a taken name 409 alreadyExists. Instances' networkIP (and natIP) is 127.0.0.1.
 */
#ifndef BPT_TEST_GCE_SERVER_H
#define BPT_TEST_GCE_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#define BPT_GCE_PROJECT "bpt-test-project"
#define BPT_GCE_EMAIL "bpt-deployer@bpt-test-project.iam.gserviceaccount.com"

struct bpt_gce_server;

/** Knobs; change them between calls with bpt_gce_server_set(). */
struct bpt_gce_knobs {
    unsigned op_polls;       /* an operation is RUNNING for this many operations.get (or
                                instances.get of its instance: time passes) */
    unsigned staging_polls;  /* a started instance is STAGING for this many instances.get */
    unsigned hidden_gets;    /* a new instance is 404 for this many instances.get (or until
                                its insert is DONE), as Compute's listing lags */
    bool forget_request_ids; /* requestIds are not remembered (as after Compute's hour) */
    unsigned token_uses;     /* an access token answers this many calls, then expires (0: no
                                limit): 401 UNAUTHENTICATED */
    bool refuse_tokens;      /* every Compute call: 401 UNAUTHENTICATED */
    unsigned throttle_503;   /* the next N Compute calls: 503 UNAVAILABLE + Retry-After: 1 */
    unsigned throttle_429;   /* then N: 429 RESOURCE_EXHAUSTED + Retry-After: 0 */
    unsigned throttle_quota; /* then N: 403 rateLimitExceeded, no Retry-After */
    unsigned token_503;      /* the next N token requests: 503 */
    bool deny_insert;        /* instances.insert: 403 PERMISSION_DENIED */
    bool insert_fails;       /* the insert's operation ends with ZONE_RESOURCE_POOL_EXHAUSTED */
    unsigned odd;            /* answers out of shape (BPT_GCE_ODD_*), to be refused */
    bool deprovisioning;     /* a stopping instance is DEPROVISIONING (after STOPPING) */
    bool no_address;         /* instances carry no networkIP (nor natIP) */
};

/* bpt_gce_knobs.odd: one kind of answer no client may take for success. */
#define BPT_GCE_ODD_TOKEN 1     /* the token answer's token_type is "mac", not Bearer */
#define BPT_GCE_ODD_NOT_JSON 2  /* instances.get answers 200 with an HTML page */
#define BPT_GCE_ODD_OP_NAME 3   /* operations are named "operation-1/../../instances/x" */
#define BPT_GCE_ODD_OP_STATUS 4 /* an unfinished operation's status is "ABORTING" */
#define BPT_GCE_ODD_OP_ERROR 5  /* a DONE operation's error is {} (no errors[]) */
#define BPT_GCE_ODD_ESCAPES 6   /* the token endpoint refuses with control bytes in its error */

/** Start (the account's key is a fixed RSA-2048 test key; another one is made for
 *  other_key). @return 0, or -1 after printing why. */
int bpt_gce_server_start(struct bpt_gce_server **out, const struct bpt_gce_knobs *k);

void bpt_gce_server_set(struct bpt_gce_server *s, const struct bpt_gce_knobs *k);

uint16_t bpt_gce_server_port(const struct bpt_gce_server *s);

/**
 * Write a service account key file (Google's JSON shape) to @p path: the account's key, or with
 * @p other_key an RSA key the server does not know under the same key id; @p token_uri NULL
 * for this server's. @return 0, or -1.
 */
int bpt_gce_server_write_key(const struct bpt_gce_server *s, const char *path, bool other_key,
                             const char *token_uri);

struct bpt_gce_stats {
    unsigned requests;        /* every request */
    unsigned tokens;          /* access tokens issued */
    unsigned token_refused;   /* token requests refused (invalid_grant) */
    unsigned unauthenticated; /* Compute calls answered 401 */
    unsigned throttled;       /* answered 429/503/403 rateLimitExceeded */
    unsigned inserts, created, deduped, conflicts;
    unsigned gets, op_gets, starts, stops, deletes;
    unsigned live;               /* instances that exist */
    char last_status[24];        /* the newest instance's status */
    char last_request_id[64];    /* the newest insert's requestId */
    char last_name[64];          /* its instance name */
    char last_machine_type[128]; /* its machineType */
    char last_confidential[16];  /* its confidentialInstanceType */
    char last_image[256];        /* its tee-image-reference */
    char last_source_image[256]; /* its boot disk's sourceImage */
    char last_cmd[1024];         /* its tee-cmd */
    char last_restart[16];       /* its tee-restart-policy */
    char last_service_account[128];
    bool last_secure_boot; /* shieldedInstanceConfig.enableSecureBoot */
    bool last_terminate;   /* scheduling.onHostMaintenance TERMINATE */
    bool last_public;      /* an accessConfig was asked for */
    char last_token[128];  /* the newest access token (to look for it in logs) */
};

void bpt_gce_server_stats(struct bpt_gce_server *s, struct bpt_gce_stats *out);

/** Stop, free; NULL does nothing. */
void bpt_gce_server_stop(struct bpt_gce_server *s);

#endif
