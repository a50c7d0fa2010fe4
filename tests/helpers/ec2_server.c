/* The loopback EC2 (ec2_server.h): HTTP/1.1, one request per connection, SigV4 recomputed. */
#include "helpers/ec2_server.h"

#include "helpers/loop_http.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#define MAX_INST 16
#define XMLNS "http://ec2.amazonaws.com/doc/2016-11-15/"

struct inst {
    char id[24];
    char token[72];
    char state[24];
    unsigned pending_left;
    unsigned unlisted_left;
};

struct bpt_ec2_server {
    struct bpt_loop_server *loop;
    pthread_mutex_t mu;
    char key_id[128], secret[128], token[4096], region[32];
    bool has_token, token_expired;
    struct bpt_ec2_knobs k; /* the counters' knobs (strings above) */
    struct inst inst[MAX_INST];
    size_t n_inst;
    struct bpt_ec2_stats st;
    unsigned req_seq;
};

/* ---- small helpers ------------------------------------------------------------------------ */

static void hex(char *out, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        sprintf(out + 2 * i, "%02x", p[i]);
    }
}

static void hmac(unsigned char out[32], const void *key, size_t klen, const char *msg)
{
    unsigned int len = 32;
    HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg), out, &len);
}

static void answer(int c, int status, const char *reason, const char *extra, const char *xml)
{
    (void)reason;
    bpt_loop_answer(c, status, "text/xml;charset=UTF-8", extra, xml);
}

static void error_xml(struct bpt_ec2_server *s, int c, int status, const char *reason,
                      const char *extra, const char *code, const char *msg)
{
    char xml[1024];
    snprintf(xml, sizeof(xml),
             "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>%s</Code>"
             "<Message>%s</Message></Error></Errors><RequestID>req-%08u</RequestID></Response>",
             code, msg, ++s->req_seq);
    answer(c, status, reason, extra, xml);
}

/* ---- SigV4, recomputed ---------------------------------------------------------------------- */

/* 0: authentic; else an error was answered. */
static int check_sigv4(struct bpt_ec2_server *s, int c, const struct bpt_loop_req *r)
{
    const char *auth = bpt_loop_header(r, "authorization"),
               *date = bpt_loop_header(r, "x-amz-date");
    char key_id[128], day[16], region[32], service[16], signed_hdrs[512], sig[80];
    if (auth == NULL || date == NULL ||
        sscanf(auth,
               "AWS4-HMAC-SHA256 Credential=%127[^/]/%15[^/]/%31[^/]/%15[^/]/aws4_request, "
               "SignedHeaders=%511[^,], Signature=%79s",
               key_id, day, region, service, signed_hdrs, sig) != 6) {
        error_xml(s, c, 401, "Unauthorized", NULL, "AuthFailure",
                  "AWS was not able to validate the provided access credentials");
        return -1;
    }
    if (strcmp(key_id, s->key_id) != 0 || strcmp(region, s->region) != 0 ||
        strcmp(service, "ec2") != 0 || strncmp(date, day, 8) != 0 || strlen(date) != 16) {
        error_xml(s, c, 401, "Unauthorized", NULL, "AuthFailure",
                  "AWS was not able to validate the provided access credentials");
        return -1;
    }
    /* the request's time within 15 minutes of ours */
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    if (strptime(date, "%Y%m%dT%H%M%SZ", &tm) == NULL ||
        labs((long)(timegm(&tm) - time(NULL))) > 900) {
        error_xml(s, c, 400, "Bad Request", NULL, "RequestExpired", "Request has expired.");
        return -1;
    }
    /* canonical request: method, URI, query, headers, signed headers, payload hash */
    char *canon = malloc(64 * 1024);
    if (canon == NULL) {
        return -1;
    }
    char path[1024], query[1024] = "";
    snprintf(path, sizeof(path), "%s", r->target);
    char *q = strchr(path, '?');
    if (q != NULL) {
        snprintf(query, sizeof(query), "%s", q + 1);
        *q = '\0';
    }
    size_t n = (size_t)snprintf(canon, 64 * 1024, "%s\n%s\n%s\n", r->method, path, query);
    char list[512];
    snprintf(list, sizeof(list), "%s", signed_hdrs);
    bool has_host = false, has_date = false, has_token = false;
    char *save = NULL;
    for (char *h = strtok_r(list, ";", &save); h != NULL; h = strtok_r(NULL, ";", &save)) {
        const char *v = bpt_loop_header(r, h);
        if (v == NULL) {
            free(canon);
            error_xml(s, c, 403, "Forbidden", NULL, "SignatureDoesNotMatch",
                      "A signed header is missing from the request.");
            return -1;
        }
        has_host |= strcmp(h, "host") == 0;
        has_date |= strcmp(h, "x-amz-date") == 0;
        has_token |= strcmp(h, "x-amz-security-token") == 0;
        n += (size_t)snprintf(canon + n, 64 * 1024 - n, "%s:%s\n", h, v);
    }
    unsigned char md[32];
    char body_hash[65];
    SHA256((const unsigned char *)r->body, r->body_len, md);
    hex(body_hash, md, 32);
    snprintf(canon + n, 64 * 1024 - n, "\n%s\n%s", signed_hdrs, body_hash);
    SHA256((const unsigned char *)canon, strlen(canon), md);
    free(canon);
    char canon_hash[65], sts[512], want[65];
    hex(canon_hash, md, 32);
    snprintf(sts, sizeof(sts), "AWS4-HMAC-SHA256\n%s\n%s/%s/ec2/aws4_request\n%s", date, day,
             region, canon_hash);
    char k0[200];
    unsigned char k1[32], k2[32], k3[32], k4[32], out[32];
    snprintf(k0, sizeof(k0), "AWS4%s", s->secret);
    hmac(k1, k0, strlen(k0), day);
    hmac(k2, k1, 32, region);
    hmac(k3, k2, 32, "ec2");
    hmac(k4, k3, 32, "aws4_request");
    hmac(out, k4, 32, sts);
    hex(want, out, 32);
    if (!has_host || !has_date || strcmp(want, sig) != 0) {
        error_xml(s, c, 403, "Forbidden", NULL, "SignatureDoesNotMatch",
                  "The request signature we calculated does not match the signature you "
                  "provided. Check your AWS Secret Access Key and signing method.");
        return -1;
    }
    const char *tok = bpt_loop_header(r, "x-amz-security-token");
    if (s->has_token && (tok == NULL || !has_token || strcmp(tok, s->token) != 0)) {
        error_xml(s, c, 401, "Unauthorized", NULL, "AuthFailure",
                  "AWS was not able to validate the provided access credentials");
        return -1;
    }
    if (s->has_token && s->token_expired) {
        error_xml(s, c, 400, "Bad Request", NULL, "ExpiredToken",
                  "The security token included in the request is expired");
        return -1;
    }
    return 0;
}

/* ---- the actions -------------------------------------------------------------------------- */

static const char *state_code(const char *state)
{
    return strcmp(state, "pending") == 0         ? "0"
           : strcmp(state, "running") == 0       ? "16"
           : strcmp(state, "shutting-down") == 0 ? "32"
           : strcmp(state, "terminated") == 0    ? "48"
           : strcmp(state, "stopping") == 0      ? "64"
                                                 : "80";
}

static size_t instance_xml(char *out, size_t cap, const struct inst *in)
{
    return (size_t)snprintf(
        out, cap,
        "<item><instanceId>%s</instanceId><imageId>ami-0abcdef1234567890</imageId>"
        "<instanceState><code>%s</code><name>%s</name></instanceState>"
        "<privateDnsName>ip-127-0-0-1.ec2.internal</privateDnsName><dnsName/>"
        "<reason/><amiLaunchIndex>0</amiLaunchIndex><productCodes/>"
        "<instanceType>m5.xlarge</instanceType><launchTime>2026-12-04T12:00:00.000Z</launchTime>"
        "<placement><availabilityZone>us-east-1a</availabilityZone><groupName/>"
        "<tenancy>default</tenancy></placement><monitoring><state>disabled</state></monitoring>"
        "%s<groupSet><item><groupId>sg-1a2b3c4d</groupId><groupName>default</groupName></item>"
        "</groupSet><architecture>x86_64</architecture><rootDeviceType>ebs</rootDeviceType>"
        "<clientToken>%s</clientToken><tagSet><item><key>bpt:deployment</key><value>x</value>"
        "</item></tagSet><enclaveOptions><enabled>true</enabled></enclaveOptions></item>",
        in->id, state_code(in->state), in->state,
        strcmp(in->state, "running") == 0 ? "<privateIpAddress>127.0.0.1</privateIpAddress>" : "",
        in->token);
}

static struct inst *by_token(struct bpt_ec2_server *s, const char *tok)
{
    for (size_t i = 0; i < s->n_inst; i++) {
        if (strcmp(s->inst[i].token, tok) == 0) {
            return &s->inst[i];
        }
    }
    return NULL;
}

static struct inst *by_id(struct bpt_ec2_server *s, const char *id)
{
    for (size_t i = 0; i < s->n_inst; i++) {
        if (strcmp(s->inst[i].id, id) == 0) {
            return &s->inst[i];
        }
    }
    return NULL;
}

/* one transition per DescribeInstances, as EC2's eventual states go */
static void advance(struct inst *in)
{
    if (strcmp(in->state, "pending") == 0) {
        if (in->pending_left > 0) {
            in->pending_left--;
        } else {
            snprintf(in->state, sizeof(in->state), "running");
        }
    } else if (strcmp(in->state, "stopping") == 0) {
        snprintf(in->state, sizeof(in->state), "stopped");
    } else if (strcmp(in->state, "shutting-down") == 0) {
        snprintf(in->state, sizeof(in->state), "terminated");
    }
}

static void handle(struct bpt_ec2_server *s, int c, const struct bpt_loop_req *r)
{
    char action[64], xml[16384], v[4096];
    size_t n = 0;

    s->st.requests++;
    if (strcmp(r->method, "POST") != 0 ||
        !bpt_loop_form(r->body, "Action", action, sizeof(action)) ||
        !bpt_loop_form(r->body, "Version", v, sizeof(v)) || strcmp(v, "2016-11-15") != 0) {
        error_xml(s, c, 400, "Bad Request", NULL, "InvalidAction",
                  "The action or version is not valid for this web service.");
        return;
    }
    if (check_sigv4(s, c, r) != 0) {
        s->st.refused++;
        return;
    }
    if (s->k.throttle_503 > 0) {
        s->k.throttle_503--;
        s->st.throttled++;
        error_xml(s, c, 503, "Service Unavailable", "Retry-After: 1\r\n", "Unavailable",
                  "The server is overloaded and can't handle the request.");
        return;
    }
    if (s->k.throttle_429 > 0) {
        s->k.throttle_429--;
        s->st.throttled++;
        error_xml(s, c, 429, "Too Many Requests", "Retry-After: 0\r\n", "Throttling",
                  "Rate exceeded");
        return;
    }
    if (s->k.throttle_limit > 0) {
        s->k.throttle_limit--;
        s->st.throttled++;
        error_xml(s, c, 503, "Service Unavailable", NULL, "RequestLimitExceeded",
                  "Request limit exceeded.");
        return;
    }
    if (strcmp(action, "RunInstances") == 0) {
        char tok[72] = "", img[64], type[64], ud[4096];
        s->st.runs++;
        if (!bpt_loop_form(r->body, "ImageId", img, sizeof(img)) ||
            !bpt_loop_form(r->body, "InstanceType", type, sizeof(type)) ||
            !bpt_loop_form(r->body, "MinCount", v, sizeof(v)) || strcmp(v, "1") != 0 ||
            !bpt_loop_form(r->body, "MaxCount", v, sizeof(v)) || strcmp(v, "1") != 0 ||
            !bpt_loop_form(r->body, "UserData", ud, sizeof(ud))) {
            error_xml(s, c, 400, "Bad Request", NULL, "MissingParameter",
                      "The request must contain the parameter ImageId, InstanceType, MinCount, "
                      "MaxCount or UserData");
            return;
        }
        (void)bpt_loop_form(r->body, "ClientToken", tok, sizeof(tok));
        s->st.last_enclave = bpt_loop_form(r->body, "EnclaveOptions.Enabled", v, sizeof(v)) &&
                             strcmp(v, "true") == 0;
        int dl = EVP_DecodeBlock((unsigned char *)s->st.last_user_data, (const unsigned char *)ud,
                                 (int)strlen(ud));
        if (dl < 0 || (size_t)dl >= sizeof(s->st.last_user_data)) {
            error_xml(s, c, 400, "Bad Request", NULL, "InvalidParameterValue",
                      "Invalid BASE64 encoding of user data.");
            return;
        }
        s->st.last_user_data[dl] = '\0';
        struct inst *in = tok[0] ? by_token(s, tok) : NULL;
        if (in == NULL) {
            if (s->n_inst == MAX_INST) {
                error_xml(s, c, 400, "Bad Request", NULL, "InstanceLimitExceeded",
                          "You have requested more instances than your current instance limit "
                          "allows.");
                return;
            }
            in = &s->inst[s->n_inst++];
            snprintf(in->id, sizeof(in->id), "i-%017x", 0xabc00u + (unsigned)s->n_inst);
            snprintf(in->token, sizeof(in->token), "%s", tok);
            snprintf(in->state, sizeof(in->state), "pending");
            in->pending_left = s->k.pending_polls;
            in->unlisted_left = s->k.unlisted_polls;
            s->st.created++;
        }
        n = (size_t)snprintf(xml, sizeof(xml),
                             "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<RunInstancesResponse "
                             "xmlns=\"" XMLNS "\"><requestId>req-%08u</requestId><reservationId>"
                             "r-1234567890abcdef0</reservationId><ownerId>123456789012</ownerId>"
                             "<groupSet/><instancesSet>",
                             ++s->req_seq);
        n += instance_xml(xml + n, sizeof(xml) - n, in);
        snprintf(xml + n, sizeof(xml) - n, "</instancesSet></RunInstancesResponse>");
        answer(c, 200, "OK", NULL, xml);
        return;
    }
    if (strcmp(action, "DescribeInstances") == 0) {
        char name[64] = "", tok[72] = "";
        s->st.describes++;
        if (!bpt_loop_form(r->body, "Filter.1.Name", name, sizeof(name)) ||
            strcmp(name, "client-token") != 0 ||
            !bpt_loop_form(r->body, "Filter.1.Value.1", tok, sizeof(tok))) {
            error_xml(s, c, 400, "Bad Request", NULL, "InvalidParameterValue",
                      "This loopback EC2 answers DescribeInstances by client-token only");
            return;
        }
        n = (size_t)snprintf(
            xml, sizeof(xml),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DescribeInstancesResponse"
            " xmlns=\"" XMLNS "\">\n  <requestId>req-%08u</requestId>\n"
            "  <reservationSet>",
            ++s->req_seq);
        for (size_t i = 0; i < s->n_inst; i++) {
            if (strcmp(s->inst[i].token, tok) != 0) {
                continue;
            }
            if (s->inst[i].unlisted_left > 0) {
                s->inst[i].unlisted_left--;
                continue;
            }
            advance(&s->inst[i]);
            n += (size_t)snprintf(xml + n, sizeof(xml) - n,
                                  "<item><reservationId>r-1234567890abcdef0</reservationId>"
                                  "<ownerId>123456789012</ownerId><groupSet/><instancesSet>");
            n += instance_xml(xml + n, sizeof(xml) - n, &s->inst[i]);
            n += (size_t)snprintf(xml + n, sizeof(xml) - n, "</instancesSet></item>");
        }
        snprintf(xml + n, sizeof(xml) - n, "</reservationSet>\n</DescribeInstancesResponse>");
        answer(c, 200, "OK", NULL, xml);
        return;
    }
    const char *to = NULL, *verb = NULL;
    if (strcmp(action, "StartInstances") == 0) {
        s->st.starts++;
        to = "pending";
        verb = "StartInstancesResponse";
    } else if (strcmp(action, "StopInstances") == 0) {
        s->st.stops++;
        to = "stopping";
        verb = "StopInstancesResponse";
    } else if (strcmp(action, "TerminateInstances") == 0) {
        s->st.terminates++;
        to = "shutting-down";
        verb = "TerminateInstancesResponse";
    } else {
        error_xml(s, c, 400, "Bad Request", NULL, "InvalidAction",
                  "The action is not valid for this web service.");
        return;
    }
    struct inst *in = bpt_loop_form(r->body, "InstanceId.1", v, sizeof(v)) ? by_id(s, v) : NULL;
    if (in == NULL) {
        error_xml(s, c, 400, "Bad Request", NULL, "InvalidInstanceID.NotFound",
                  "The instance ID does not exist");
        return;
    }
    char prev[24];
    snprintf(prev, sizeof(prev), "%s", in->state);
    if (strcmp(to, "pending") == 0 && strcmp(in->state, "stopped") != 0) {
        error_xml(s, c, 400, "Bad Request", NULL, "IncorrectInstanceState",
                  "The instance is not in a state from which it can be started.");
        return;
    }
    snprintf(in->state, sizeof(in->state), "%s", to);
    in->pending_left = s->k.pending_polls;
    snprintf(xml, sizeof(xml),
             "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<%s xmlns=\"" XMLNS "\"><requestId>"
             "req-%08u</requestId><instancesSet><item><instanceId>%s</instanceId><currentState>"
             "<code>%s</code><name>%s</name></currentState><previousState><code>%s</code><name>"
             "%s</name></previousState></item></instancesSet></%s>",
             verb, ++s->req_seq, in->id, state_code(to), to, state_code(prev), prev, verb);
    answer(c, 200, "OK", NULL, xml);
}

static void set_locked(struct bpt_ec2_server *s, const struct bpt_ec2_knobs *k)
{
    snprintf(s->key_id, sizeof(s->key_id), "%s", k->key_id ? k->key_id : "");
    snprintf(s->secret, sizeof(s->secret), "%s", k->secret ? k->secret : "");
    snprintf(s->token, sizeof(s->token), "%s", k->token ? k->token : "");
    snprintf(s->region, sizeof(s->region), "%s", k->region ? k->region : "us-east-1");
    s->has_token = k->token != NULL;
    s->token_expired = k->token_expired;
    s->k = *k;
    for (size_t i = 0; i < s->n_inst; i++) {
        if (s->inst[i].pending_left > k->pending_polls) {
            s->inst[i].pending_left = k->pending_polls;
        }
    }
}

void bpt_ec2_server_set(struct bpt_ec2_server *s, const struct bpt_ec2_knobs *k)
{
    pthread_mutex_lock(&s->mu);
    set_locked(s, k);
    pthread_mutex_unlock(&s->mu);
}

static void on_request(void *ud, int c, const struct bpt_loop_req *r)
{
    struct bpt_ec2_server *s = ud;
    pthread_mutex_lock(&s->mu);
    handle(s, c, r);
    pthread_mutex_unlock(&s->mu);
}

int bpt_ec2_server_start(struct bpt_ec2_server **out, const struct bpt_ec2_knobs *k)
{
    struct bpt_ec2_server *s = calloc(1, sizeof(*s));
    *out = NULL;
    if (s == NULL) {
        return -1;
    }
    pthread_mutex_init(&s->mu, NULL);
    set_locked(s, k);
    if (bpt_loop_start(&s->loop, on_request, s) != 0) {
        pthread_mutex_destroy(&s->mu);
        free(s);
        return -1;
    }
    *out = s;
    return 0;
}

uint16_t bpt_ec2_server_port(const struct bpt_ec2_server *s)
{
    return bpt_loop_port(s->loop);
}

void bpt_ec2_server_stats(const struct bpt_ec2_server *s, struct bpt_ec2_stats *out)
{
    struct bpt_ec2_server *m = (struct bpt_ec2_server *)s;
    pthread_mutex_lock(&m->mu);
    *out = s->st;
    out->live = 0;
    for (size_t i = 0; i < s->n_inst; i++) {
        out->live += strcmp(s->inst[i].state, "terminated") != 0 &&
                     strcmp(s->inst[i].state, "shutting-down") != 0;
    }
    if (s->n_inst > 0) {
        snprintf(out->last_state, sizeof(out->last_state), "%s", s->inst[s->n_inst - 1].state);
    }
    pthread_mutex_unlock(&m->mu);
}

void bpt_ec2_server_stop(struct bpt_ec2_server *s)
{
    if (s == NULL) {
        return;
    }
    bpt_loop_stop(s->loop);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
