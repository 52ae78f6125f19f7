/*
 * The trivial HTTP/1.1 server that benchmarks/cluster.py points the load generator at to
 * measure the generator's own ceiling: one thread, epoll, keep-alive, a fixed 200 answer
 * per request (a request's body, if it has a Content-Length, is read and dropped), so
 * nearly all CPU it leaves goes to the generator.
 *
 *   cc -O2 -o trivial_http trivial_http.c && ./trivial_http PORT
 *
 * It listens on 127.0.0.1 only and runs until killed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF 65536
#define MAX_FD 4096

static const char ANSWER[] =
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";

struct conn {
    char buf[BUF];
    size_t used;
};

static struct conn *conns[MAX_FD];

/* Bytes of one complete request at the start of buf (head plus body), or 0 if not all in. */
static size_t request_length(const char *buf, size_t used) {
    const char *end = NULL;
    for (size_t i = 3; i < used; i++) {
        if (buf[i] == '\n' && buf[i - 1] == '\r' && buf[i - 2] == '\n' && buf[i - 3] == '\r') {
            end = buf + i + 1;
            break;
        }
    }
    if (end == NULL) return 0;
    size_t head = (size_t)(end - buf);
    size_t body = 0;
    for (const char *p = buf; p + 16 < end; p++) {
        if ((p == buf || p[-1] == '\n') && strncasecmp(p, "Content-Length:", 15) == 0) {
            body = strtoul(p + 15, NULL, 10);
            break;
        }
    }
    return head + body <= used ? head + body : 0;
}

static void drop(int ep, int fd) {
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
    free(conns[fd]);
    conns[fd] = NULL;
}

static void serve(int ep, int fd) {
    struct conn *c = conns[fd];
    for (;;) {
        ssize_t n = read(fd, c->buf + c->used, BUF - c->used);
        if (n == 0 || (n < 0 && errno != EAGAIN)) {
            drop(ep, fd);
            return;
        }
        if (n < 0) return;
        c->used += (size_t)n;
        size_t answers = 0, len;
        while ((len = request_length(c->buf, c->used)) > 0) {
            memmove(c->buf, c->buf + len, c->used - len);
            c->used -= len;
            answers++;
        }
        if (c->used == BUF) {
            /* A request larger than the buffer: not something a benchmark sends. */
            drop(ep, fd);
            return;
        }
        for (size_t i = 0; i < answers; i++) {
            if (write(fd, ANSWER, sizeof ANSWER - 1) < 0) {
                drop(ep, fd);
                return;
            }
        }
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]))};
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    if (bind(ls, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(ls, 1024) < 0) {
        perror("trivial_http: listen on 127.0.0.1");
        return 1;
    }
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    struct epoll_event ready[256];
    for (;;) {
        int n = epoll_wait(ep, ready, 256, -1);
        for (int i = 0; i < n; i++) {
            int fd = ready[i].data.fd;
            if (fd != ls) {
                serve(ep, fd);
                continue;
            }
            int c;
            while ((c = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                if (c >= MAX_FD) {
                    close(c);
                    continue;
                }
                setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                conns[c] = calloc(1, sizeof(struct conn));
                struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
                epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
            }
        }
    }
}
