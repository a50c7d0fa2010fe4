/* The loopback clouds' HTTP side (loop_http.h). */
#include "helpers/loop_http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define REQ_MAX (256 * 1024)

struct bpt_loop_server {
    int fd;
    uint16_t port;
    atomic_int stop;
    pthread_t thread;
    bpt_loop_handler handler;
    void *ud;
};

const char *bpt_loop_header(const struct bpt_loop_req *r, const char *name)
{
    for (size_t i = 0; i < r->n_hdr; i++) {
        if (strcmp(r->names[i], name) == 0) {
            return r->values[i];
        }
    }
    return NULL;
}

/* The form parameter @p key, percent-decoded into @p out; false when absent. */
bool bpt_loop_form(const char *s, const char *key, char *out, size_t cap)
{
    size_t kl = strlen(key);
    const char *p = s;
    while (p != NULL && *p != '\0') {
        const char *end = strchr(p, '&');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n > kl && memcmp(p, key, kl) == 0 && p[kl] == '=') {
            size_t o = 0;
            for (size_t i = kl + 1; i < n && o + 1 < cap; i++) {
                if (p[i] == '%' && i + 2 < n + 1 && isxdigit((unsigned char)p[i + 1]) &&
                    isxdigit((unsigned char)p[i + 2])) {
                    char h[3] = {p[i + 1], p[i + 2], 0};
                    out[o++] = (char)strtol(h, NULL, 16);
                    i += 2;
                } else {
                    out[o++] = p[i] == '+' ? ' ' : p[i];
                }
            }
            out[o] = '\0';
            return true;
        }
        p = end ? end + 1 : NULL;
    }
    return false;
}

static int read_request(int c, struct bpt_loop_req *r, char *buf)
{
    size_t len = 0;
    char *eoh = NULL;
    while (eoh == NULL) {
        if (len == REQ_MAX) {
            return -1;
        }
        ssize_t n = recv(c, buf + len, REQ_MAX - len, 0);
        if (n <= 0) {
            return -1;
        }
        len += (size_t)n;
        buf[len] = '\0';
        eoh = strstr(buf, "\r\n\r\n");
    }
    *eoh = '\0';
    char *save = NULL, *line = strtok_r(buf, "\r\n", &save);
    if (line == NULL || sscanf(line, "%7s %1023s", r->method, r->target) != 2) {
        return -1;
    }
    r->n_hdr = 0;
    while ((line = strtok_r(NULL, "\r\n", &save)) != NULL && r->n_hdr < BPT_LOOP_MAX_HDR) {
        char *colon = strchr(line, ':');
        if (colon == NULL) {
            return -1;
        }
        *colon = '\0';
        size_t i;
        for (i = 0; line[i] != '\0' && i < 63; i++) {
            r->names[r->n_hdr][i] = (char)tolower((unsigned char)line[i]);
        }
        r->names[r->n_hdr][i] = '\0';
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t') {
            v++;
        }
        size_t vl = strlen(v);
        while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t')) {
            v[--vl] = '\0';
        }
        snprintf(r->values[r->n_hdr], sizeof(r->values[0]), "%s", v);
        r->n_hdr++;
    }
    const char *cl = bpt_loop_header(r, "content-length"), *expect = bpt_loop_header(r, "expect");
    size_t want = cl ? (size_t)strtoul(cl, NULL, 10) : 0;
    size_t have = len - (size_t)(eoh + 4 - buf);
    if (want > REQ_MAX / 2) {
        return -1;
    }
    r->body = malloc(want + 1);
    if (r->body == NULL) {
        return -1;
    }
    memcpy(r->body, eoh + 4, have < want ? have : want);
    if (expect != NULL && strcasecmp(expect, "100-continue") == 0 && have == 0) {
        const char *cont = "HTTP/1.1 100 Continue\r\n\r\n";
        if (send(c, cont, strlen(cont), MSG_NOSIGNAL) < 0) {
            return -1;
        }
    }
    while (have < want) {
        ssize_t n = recv(c, r->body + have, want - have, 0);
        if (n <= 0) {
            return -1;
        }
        have += (size_t)n;
    }
    r->body[want] = '\0';
    r->body_len = want;
    return 0;
}

static const char *reason_of(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 409:
        return "Conflict";
    case 429:
        return "Too Many Requests";
    case 503:
        return "Service Unavailable";
    default:
        return "Status";
    }
}

void bpt_loop_answer(int c, int status, const char *type, const char *extra, const char *body)
{
    char head[4096];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n%sContent-Length: %zu\r\nConnection: "
                     "close\r\n\r\n",
                     status, reason_of(status), type, extra ? extra : "", strlen(body));
    (void)!send(c, head, (size_t)n, MSG_NOSIGNAL);
    (void)!send(c, body, strlen(body), MSG_NOSIGNAL);
}

static void *serve(void *arg)
{
    struct bpt_loop_server *s = arg;
    char *buf = malloc(REQ_MAX + 1);
    while (buf != NULL && !atomic_load(&s->stop)) {
        struct pollfd p = {.fd = s->fd, .events = POLLIN};
        if (poll(&p, 1, 20) <= 0) {
            continue;
        }
        int c = accept(s->fd, NULL, NULL);
        if (c < 0) {
            continue;
        }
        struct timeval tv = {.tv_sec = 5};
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        struct bpt_loop_req *r = calloc(1, sizeof(*r));
        if (r != NULL && read_request(c, r, buf) == 0) {
            s->handler(s->ud, c, r);
        }
        if (r != NULL) {
            free(r->body);
        }
        free(r);
        close(c);
    }
    free(buf);
    return NULL;
}

int bpt_loop_start(struct bpt_loop_server **out, bpt_loop_handler h, void *ud)
{
    struct bpt_loop_server *s = calloc(1, sizeof(*s));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    *out = NULL;
    if (s == NULL) {
        return -1;
    }
    s->handler = h;
    s->ud = ud;
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(s->fd, 16) != 0 ||
        getsockname(s->fd, (struct sockaddr *)&a, &al) != 0) {
        fprintf(stderr, "loopback server: cannot listen\n");
        if (s->fd >= 0) {
            close(s->fd);
        }
        free(s);
        return -1;
    }
    s->port = ntohs(a.sin_port);
    if (pthread_create(&s->thread, NULL, serve, s) != 0) {
        close(s->fd);
        free(s);
        return -1;
    }
    *out = s;
    return 0;
}

uint16_t bpt_loop_port(const struct bpt_loop_server *s)
{
    return s->port;
}

void bpt_loop_stop(struct bpt_loop_server *s)
{
    if (s == NULL) {
        return;
    }
    atomic_store(&s->stop, 1);
    pthread_join(s->thread, NULL);
    close(s->fd);
    free(s);
}
