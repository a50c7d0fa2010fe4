#include "helpers/canned_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct bpt_canned_http {
    int fd;
    uint16_t port;
    int status;
    char *body;
    pthread_t thread;
    atomic_bool stop;
    atomic_uint requests;
};

/* Read the request head and its Content-Length body (both discarded). */
static void read_request(int c)
{
    char buf[16384];
    size_t used = 0;
    long want = -1;
    for (;;) {
        ssize_t r = recv(c, buf + used, sizeof(buf) - 1 - used, 0);
        if (r <= 0) {
            return;
        }
        used += (size_t)r;
        buf[used] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (end && want < 0) {
            const char *cl = strcasestr(buf, "\r\nContent-Length:");
            want = (long)(end + 4 - buf) + (cl ? strtol(cl + 17, NULL, 10) : 0);
        }
        if ((want >= 0 && (long)used >= want) || used == sizeof(buf) - 1) {
            return;
        }
    }
}

static void *serve(void *arg)
{
    struct bpt_canned_http *s = arg;
    while (!atomic_load(&s->stop)) {
        struct pollfd p = {.fd = s->fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0) {
            continue;
        }
        int c = accept(s->fd, NULL, NULL);
        if (c < 0) {
            continue;
        }
        read_request(c);
        atomic_fetch_add(&s->requests, 1); /* counted before the answer: a client that has its
                                              answer sees the count */
        char head[256];
        int n = snprintf(head, sizeof(head),
                         "HTTP/1.1 %d Canned\r\nContent-Type: application/json\r\n"
                         "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                         s->status, strlen(s->body));
        if (send(c, head, (size_t)n, MSG_NOSIGNAL) == n) {
            (void)!send(c, s->body, strlen(s->body), MSG_NOSIGNAL);
        }
        shutdown(c, SHUT_WR);
        close(c);
    }
    return NULL;
}

int bpt_canned_http_start(struct bpt_canned_http **out, int status, const char *body)
{
    struct bpt_canned_http *s = calloc(1, sizeof(*s));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    *out = NULL;
    if (!s || !(s->body = strdup(body))) {
        free(s);
        return -1;
    }
    s->status = status;
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(s->fd, 16) != 0 ||
        getsockname(s->fd, (struct sockaddr *)&a, &al) != 0) {
        fprintf(stderr, "canned http: %s\n", strerror(errno));
        goto fail;
    }
    s->port = ntohs(a.sin_port);
    if (pthread_create(&s->thread, NULL, serve, s) != 0) {
        fprintf(stderr, "canned http: no thread\n");
        goto fail;
    }
    *out = s;
    return 0;
fail:
    if (s->fd >= 0) {
        close(s->fd);
    }
    free(s->body);
    free(s);
    return -1;
}

uint16_t bpt_canned_http_port(const struct bpt_canned_http *s)
{
    return s->port;
}

unsigned bpt_canned_http_requests(const struct bpt_canned_http *s)
{
    return atomic_load(&((struct bpt_canned_http *)s)->requests);
}

void bpt_canned_http_stop(struct bpt_canned_http *s)
{
    if (!s) {
        return;
    }
    atomic_store(&s->stop, true);
    pthread_join(s->thread, NULL);
    close(s->fd);
    free(s->body);
    free(s);
}

uint16_t bpt_closed_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    uint16_t port = 0;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &al) == 0) {
        port = ntohs(a.sin_port);
    }
    if (fd >= 0) {
        close(fd);
    }
    return port;
}
