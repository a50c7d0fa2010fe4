/*
 * A canned HTTP server for tests of clients: on 127.0.0.1 (port 0), on its own thread, it
 * answers every request with one fixed status and JSON body, then closes the connection. For
 * the answers a real service never gives (a 500, a body that is not JSON, a field of the wrong
 * type) that a client must still classify.
 */
#ifndef BPT_TEST_CANNED_HTTP_H
#define BPT_TEST_CANNED_HTTP_H

#include <stdint.h>

struct bpt_canned_http;

/** Start answering @p status with @p body (copied). @return 0, or -1 after printing why. */
int bpt_canned_http_start(struct bpt_canned_http **out, int status, const char *body);

/** The port it listens on. */
uint16_t bpt_canned_http_port(const struct bpt_canned_http *s);

/** Requests answered so far. */
unsigned bpt_canned_http_requests(const struct bpt_canned_http *s);

/** Stop, join the thread, free; NULL does nothing. */
void bpt_canned_http_stop(struct bpt_canned_http *s);

/** A port on 127.0.0.1 that nothing listens on (bound, then closed). */
uint16_t bpt_closed_port(void);

#endif
