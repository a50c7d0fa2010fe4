/*
 * A loopback Azure for the azure_cvm backend's tests: on 127.0.0.1 (port 0), on its own thread
 * (helpers/loop_http.h), it is both the Microsoft identity platform's token endpoint
 * (POST /{tenant}/oauth2/v2.0/token, client credentials) and Azure Resource Manager for the
 * calls the backend makes (virtual machines 2024-07-01: PUT, GET with instanceView, POST start
 * and deallocate, DELETE, their async operations; network interfaces and public IP addresses
 * 2024-05-01: GET), in those services' JSON shapes and headers (Azure-AsyncOperation,
 * Location, Retry-After).
 *
 * Authentication is really checked: the client secret compared; a client assertion's RS256
 * signature verified with the registered certificate's key, then its x5t and x5t#S256 and its
 * claims (aud the token endpoint, iss = sub the client id, jti, nbf/exp around now); every ARM
 * request's bearer token must be one this server issued (else 401 InvalidAuthenticationToken), and
 * not one it expired (401 ExpiredAuthenticationToken). Refusals carry the identity platform's
 * AADSTS codes and ARM's error codes as the real services do. NICs have privateIPAddress
 * 127.0.0.1, their public IP address resource ipAddress 127.0.0.1.
 */
#ifndef BPT_TEST_ARM_SERVER_H
#define BPT_TEST_ARM_SERVER_H

#include <stdbool.h>
#include <stdint.h>

struct bpt_arm_server;

/** Knobs; change them with bpt_arm_server_set() (strings copied). */
struct bpt_arm_knobs {
    const char *tenant, *client_id;
    const char *secret;     /* the client secret; NULL: none accepted */
    const char *cert_pem;   /* the registered certificate (PEM); NULL: none */
    bool secret_expired;    /* the secret is refused with AADSTS7000222 */
    bool tokens_expire;     /* every token is issued already expired */
    unsigned expire_now;    /* set: the tokens issued so far expire (a cached token's end) */
    unsigned pending_polls; /* an operation stays InProgress this many polls */
    bool fail_create;       /* a create operation ends Failed (OSProvisioningTimedOut) */
    unsigned throttle_429;  /* the next N ARM requests: 429 + Retry-After: 0 */
    unsigned throttle_503;  /* then N: 503 + Retry-After: 1 */
    bool throttle_forever;  /* every ARM request: 429 + Retry-After: 0 */
    bool location_only;     /* operations name a Location, no Azure-AsyncOperation */
    bool foreign_async;     /* Azure-AsyncOperation on another host (127.0.0.2) */
    bool mac_token;         /* the token answer says token_type "mac" */
    bool foreign_tag;       /* VMs answer with another deployment's tag */
    bool trusted_launch;    /* VMs answer with securityType TrustedLaunch (no confidential VM) */
    bool garbled_ops;       /* Azure-AsyncOperation polls: 200 with a body that is no JSON */
    bool no_group;          /* VM requests: 404 ResourceGroupNotFound */
};

int bpt_arm_server_start(struct bpt_arm_server **out, const struct bpt_arm_knobs *k);
void bpt_arm_server_set(struct bpt_arm_server *s, const struct bpt_arm_knobs *k);
uint16_t bpt_arm_server_port(const struct bpt_arm_server *s);

struct bpt_arm_stats {
    unsigned logins, logins_refused, assertions; /* assertions: logins by certificate */
    unsigned requests, refused, throttled;       /* ARM requests; refused: 401s */
    unsigned created, puts, starts, deallocates, deletes, op_polls;
    unsigned live;               /* VMs that exist */
    char last_power[24];         /* the newest VM's power state */
    char last_custom_data[2048]; /* the newest PUT's customData, decoded */
    char last_encryption[32];    /* its securityEncryptionType */
    bool last_confidential;      /* ConfidentialVM with secure boot and vTPM */
};

void bpt_arm_server_stats(const struct bpt_arm_server *s, struct bpt_arm_stats *out);

/** Stop, join, free; NULL does nothing. */
void bpt_arm_server_stop(struct bpt_arm_server *s);

#endif
