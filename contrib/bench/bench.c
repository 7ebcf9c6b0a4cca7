/* Latency probes for contrib/bench/control-bench.sh and control-load.py (plain C so the client adds as little as
 * possible).
 *   bench rtt SOCKET REQUEST_FILE COUNT   one persistent connection: send the request COUNT times, read each
 *                                          response (Content-Length framed), print p50/p90/p99 in microseconds
 *   bench load SOCKET REQUEST_FILE CLIENTS REQUESTS [INTERVAL_MS]
 *                                          CLIENTS connections at once (one thread, epoll), each sending the request
 *                                          REQUESTS times, waiting for each answer and then about INTERVAL_MS
 *                                          (0.5-1.5x, at random, so the clients drift apart; default 0) before the
 *                                          next; prints answered/failed, the rate and p50/p90/p99 in
 *                                          milliseconds; exits 1 unless every answer was 200
 *   bench spawn COUNT ARGV...             run ARGV COUNT times (posix_spawn + waitpid, stdout to /dev/null),
 *                                          print p50/p90/p99 of the whole-process time in milliseconds        */
#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(double *samples, int n, double scale, const char *unit) {
    qsort(samples, n, sizeof(double), cmp);
    printf("p50 %.1f %s  p90 %.1f %s  p99 %.1f %s  (n=%d)\n", samples[n / 2] * scale, unit, samples[n * 9 / 10] * scale,
           unit, samples[n * 99 / 100] * scale, unit, n);
}

static ssize_t read_request(const char *request_file, char *request, size_t size) {
    int rf = open(request_file, O_RDONLY);
    if (rf < 0) { perror(request_file); return -1; }
    ssize_t len = read(rf, request, size);
    close(rf);
    return len;
}

static int connect_unix(const char *path) {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    strncpy(addr.sun_path, path, sizeof addr.sun_path - 1);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) { close(fd); return -1; }
    return fd;
}

/* Whether buffer[0..have) (NUL-terminated) holds one whole Content-Length framed response. */
static int response_complete(const char *buffer, size_t have) {
    const char *end = strstr(buffer, "\r\n\r\n");
    if (!end) return 0;
    const char *cl = strcasestr(buffer, "content-length:");
    long body = cl && cl < end ? atol(cl + 15) : 0;
    return have >= (size_t)(end - buffer + 4) + (size_t)body;
}

static int rtt(const char *path, const char *request_file, int count) {
    char request[65536];
    ssize_t request_len = read_request(request_file, request, sizeof request);
    if (request_len < 0) return 2;
    int fd = connect_unix(path);
    if (fd < 0) { perror(path); return 2; }
    double *samples = calloc(count, sizeof(double));
    static char buffer[1 << 20];
    for (int i = 0; i < count; i++) {
        double start = now();
        if (write(fd, request, request_len) != request_len) { perror("write"); return 2; }
        size_t have = 0;
        do {
            ssize_t n = read(fd, buffer + have, sizeof buffer - have - 1);
            if (n <= 0) { fprintf(stderr, "connection closed after %d requests\n", i); return 2; }
            have += n;
            buffer[have] = 0;
        } while (!response_complete(buffer, have));
        samples[i] = now() - start;
    }
    report(samples, count, 1e6, "us");
    return 0;
}

struct client {
    int fd, left, waiting;
    size_t have;
    double sent, next;
    char buffer[8192];
};

static int load(const char *path, const char *request_file, int clients, int requests, double interval) {
    char request[65536];
    ssize_t request_len = read_request(request_file, request, sizeof request);
    if (request_len < 0) return 2;
    int ep = epoll_create1(0);
    struct client *all = calloc(clients, sizeof(struct client));
    double *samples = calloc((size_t)clients * requests, sizeof(double));
    int answered = 0, failed = 0, open_clients = 0;
    double started = now();
    for (int i = 0; i < clients; i++) {
        struct client *c = &all[i];
        c->fd = connect_unix(path);
        if (c->fd < 0) { failed += requests; continue; }
        c->left = requests;
        c->sent = now();
        if (write(c->fd, request, request_len) != request_len) { failed += requests; close(c->fd); continue; }
        struct epoll_event event = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &event);
        open_clients++;
    }
    struct epoll_event events[256];
    double last_answer = now();
    while (open_clients > 0) {
        int n = epoll_wait(ep, events, 256, interval > 0 ? 1 : 1000);
        if (n < 0 || now() - last_answer > 30) { fprintf(stderr, "no answer for 30 s\n"); break; }
        if (interval > 0) {  /* send for the clients whose pause is over */
            double t = now();
            for (int i = 0; i < clients; i++) {
                struct client *c = &all[i];
                if (!c->waiting || c->next > t) continue;
                c->waiting = 0;
                c->sent = t;
                if (write(c->fd, request, request_len) != request_len) {
                    failed += c->left;
                    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                    close(c->fd);
                    open_clients--;
                }
            }
        }
        for (int e = 0; e < n; e++) {
            struct client *c = events[e].data.ptr;
            ssize_t got = read(c->fd, c->buffer + c->have, sizeof c->buffer - c->have - 1);
            int done = 0;
            if (got <= 0) {
                failed += c->left;
                done = 1;
            } else {
                c->have += got;
                c->buffer[c->have] = 0;
                if (!response_complete(c->buffer, c->have)) continue;
                last_answer = now();
                if (strncmp(c->buffer, "HTTP/1.1 200", 12) == 0) samples[answered++] = last_answer - c->sent;
                else failed++;
                c->have = 0;
                if (--c->left == 0) done = 1;
                else if (interval > 0) {
                    c->waiting = 1;
                    c->next = last_answer + interval * (0.5 + (double)rand() / RAND_MAX);
                } else {
                    c->sent = last_answer;
                    if (write(c->fd, request, request_len) != request_len) { failed += c->left; done = 1; }
                }
            }
            if (done) {
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                open_clients--;
            }
        }
    }
    double elapsed = now() - started;
    printf("answered %d/%d, failed %d, in %.2f s (%.0f req/s); latency ", answered, clients * requests, failed, elapsed,
           answered / elapsed);
    if (answered > 0) report(samples, answered, 1e3, "ms");
    else printf("n/a\n");
    return answered == clients * requests ? 0 : 1;
}

static int spawn_many(int count, char **argv) {
    double *samples = calloc(count, sizeof(double));
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    for (int i = 0; i < count; i++) {
        double start = now();
        pid_t pid;
        if (posix_spawn(&pid, argv[0], &actions, NULL, argv, environ) != 0) { perror(argv[0]); return 2; }
        int status;
        waitpid(pid, &status, 0);
        samples[i] = now() - start;
        if (i == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) <= 1)) fprintf(stderr, "%s exited %d\n", argv[0], status);
    }
    report(samples, count, 1e3, "ms");
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 5 && strcmp(argv[1], "rtt") == 0) return rtt(argv[2], argv[3], atoi(argv[4]));
    if (argc >= 6 && strcmp(argv[1], "load") == 0)
        return load(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]), argc >= 7 ? atof(argv[6]) / 1e3 : 0);
    if (argc >= 4 && strcmp(argv[1], "spawn") == 0) return spawn_many(atoi(argv[2]), argv + 3);
    fprintf(stderr, "usage: bench rtt SOCKET REQUEST_FILE COUNT | bench load SOCKET REQUEST_FILE CLIENTS REQUESTS | "
                    "bench spawn COUNT ARGV...\n");
    return 2;
}
