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
 *   bench spawn COUNT ARGV...             run ARGV COUNT times (posix_spawn + wait4, stdout to /dev/null),
 *                                          print p50/p90/p99 of the whole-process time in milliseconds and the
 *                                          p50 of its page faults
 *   bench serve SOCKET BODY_BYTES         the floor of a request round trip: one thread, epoll, and for every read a
 *                                          canned 200 answer with a body of BODY_BYTES (no parsing, no state)
 *   bench pair COUNT ARGV_A... -- ARGV_B...
 *                                          run A and B COUNT times each, interleaved (AB, then BA, ...), so that
 *                                          both see the same machine; print each one's p50 whole-process time and
 *                                          the median (and quartiles) of the COUNT ratios A/B of neighbouring runs */
#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
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

static int serve(const char *path, int body_bytes) {
    static char answer[65536];
    if (body_bytes < 0 || body_bytes > 60000) return 2;
    int length = snprintf(answer, sizeof answer, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
                          body_bytes);
    memset(answer + length, 'x', body_bytes);
    length += body_bytes;
    int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    strncpy(addr.sun_path, path, sizeof addr.sun_path - 1);
    unlink(path);
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(listener, 128) != 0) { perror(path); return 2; }
    int ep = epoll_create1(0);
    struct epoll_event event = {.events = EPOLLIN, .data.fd = listener};
    epoll_ctl(ep, EPOLL_CTL_ADD, listener, &event);
    static char buffer[65536];
    for (;;) {
        struct epoll_event ready[64];
        int n = epoll_wait(ep, ready, 64, -1);
        for (int i = 0; i < n; i++) {
            int fd = ready[i].data.fd;
            if (fd == listener) {
                int client = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
                struct epoll_event in = {.events = EPOLLIN, .data.fd = client};
                if (client >= 0) epoll_ctl(ep, EPOLL_CTL_ADD, client, &in);
            } else if (read(fd, buffer, sizeof buffer) <= 0 || write(fd, answer, length) != length) {
                close(fd);
            }
        }
    }
}

/* Whole-process time of one run of argv (posix_spawn + wait4, stdout to /dev/null), in seconds; -1 if it could
 * not be started. `first` reports an unexpected exit status, once. The run's page faults (minor + major) go to
 * `faults` unless it is NULL. */
static double spawn_once(char **argv, int first, long *faults) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    double start = now();
    pid_t pid;
    int failed = posix_spawn(&pid, argv[0], &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    if (failed) { perror(argv[0]); return -1; }
    int status;
    struct rusage usage;
    wait4(pid, &status, 0, &usage);
    double elapsed = now() - start;
    if (faults) *faults = usage.ru_minflt + usage.ru_majflt;
    if (first && !(WIFEXITED(status) && WEXITSTATUS(status) <= 1)) fprintf(stderr, "%s exited %d\n", argv[0], status);
    return elapsed;
}

static int spawn_pair(int count, char **a, char **b) {
    double *ta = calloc(count, sizeof(double)), *tb = calloc(count, sizeof(double)), *ratio = calloc(count, sizeof(double));
    for (int i = 0; i < count; i++) {
        char **first = i % 2 ? b : a, **second = i % 2 ? a : b;
        double t1 = spawn_once(first, i < 2, NULL), t2 = spawn_once(second, i < 2, NULL);
        if (t1 < 0 || t2 < 0) return 2;
        ta[i] = i % 2 ? t2 : t1;
        tb[i] = i % 2 ? t1 : t2;
        ratio[i] = ta[i] / tb[i];
    }
    qsort(ta, count, sizeof(double), cmp);
    qsort(tb, count, sizeof(double), cmp);
    qsort(ratio, count, sizeof(double), cmp);
    printf("A p50 %.2f ms  B p50 %.2f ms  A/B median %.2fx (quartiles %.2fx-%.2fx, n=%d)\n", ta[count / 2] * 1e3,
           tb[count / 2] * 1e3, ratio[count / 2], ratio[count / 4], ratio[count * 3 / 4], count);
    return 0;
}

static int spawn_many(int count, char **argv) {
    double *samples = calloc(count, sizeof(double)), *faults = calloc(count, sizeof(double));
    for (int i = 0; i < count; i++) {
        long run_faults = 0;
        samples[i] = spawn_once(argv, i == 0, &run_faults);
        if (samples[i] < 0) return 2;
        faults[i] = (double)run_faults;
    }
    qsort(samples, count, sizeof(double), cmp);
    qsort(faults, count, sizeof(double), cmp);
    printf("p50 %.1f ms  p90 %.1f ms  p99 %.1f ms  (n=%d)  page faults p50 %.0f\n", samples[count / 2] * 1e3,
           samples[count * 9 / 10] * 1e3, samples[count * 99 / 100] * 1e3, count, faults[count / 2]);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 5 && strcmp(argv[1], "rtt") == 0) return rtt(argv[2], argv[3], atoi(argv[4]));
    if (argc >= 6 && strcmp(argv[1], "load") == 0)
        return load(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]), argc >= 7 ? atof(argv[6]) / 1e3 : 0);
    if (argc >= 4 && strcmp(argv[1], "serve") == 0) return serve(argv[2], atoi(argv[3]));
    if (argc >= 4 && strcmp(argv[1], "spawn") == 0) return spawn_many(atoi(argv[2]), argv + 3);
    if (argc >= 6 && strcmp(argv[1], "pair") == 0) {
        char **b = argv + 3;
        while (*b && strcmp(*b, "--") != 0) b++;
        if (*b && b != argv + 3 && b[1]) {
            *b = NULL;  /* ends A's argv */
            return spawn_pair(atoi(argv[2]), argv + 3, b + 1);
        }
    }
    fprintf(stderr, "usage: bench rtt SOCKET REQUEST_FILE COUNT | bench load SOCKET REQUEST_FILE CLIENTS REQUESTS | "
                    "bench serve SOCKET BODY_BYTES | bench spawn COUNT ARGV... | bench pair COUNT ARGV_A... -- ARGV_B...\n");
    return 2;
}
