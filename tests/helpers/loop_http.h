/*
 * The HTTP side of the tests' loopback clouds (ec2_server.h, arm_server.h): on 127.0.0.1
 * (port 0), on its own thread, one request per connection (HTTP/1.1, Connection: close), read
 * whole (headers, and a body by its Content-Length, answering "Expect: 100-continue"), handed
 * to the cloud's handler, then the connection is closed.
 */
#ifndef BPT_TEST_LOOP_HTTP_H
#define BPT_TEST_LOOP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BPT_LOOP_MAX_HDR 32

/** One request: header names lower-cased, values trimmed; the body NUL-terminated. */
struct bpt_loop_req {
    char method[8], target[1024];
    char names[BPT_LOOP_MAX_HDR][64];
    char values[BPT_LOOP_MAX_HDR][4200];
    size_t n_hdr;
    char *body;
    size_t body_len;
};

/** The value of header @p name (lower case), or NULL. */
const char *bpt_loop_header(const struct bpt_loop_req *r, const char *name);

/** The form (application/x-www-form-urlencoded) field @p key of @p s (a body or a query),
 *  percent-decoded into @p out; false when absent. */
bool bpt_loop_form(const char *s, const char *key, char *out, size_t cap);

/** Answer @p status with @p body (Content-Type @p type; @p extra: more "Name: value\r\n"
 *  header lines, or NULL). */
void bpt_loop_answer(int c, int status, const char *type, const char *extra, const char *body);

/** Called on the server's thread for every request; @p c is the connection to answer on. */
typedef void (*bpt_loop_handler)(void *ud, int c, const struct bpt_loop_req *r);

struct bpt_loop_server;

/** Start serving with @p h. @return 0, or -1 after printing why. */
int bpt_loop_start(struct bpt_loop_server **out, bpt_loop_handler h, void *ud);

uint16_t bpt_loop_port(const struct bpt_loop_server *s);

/** Stop, join, free; NULL does nothing. */
void bpt_loop_stop(struct bpt_loop_server *s);

#endif
