/* Latency probes for contrib/bench/control-bench.sh (plain C so the client adds as little as possible).
 *   bench rtt SOCKET REQUEST_FILE COUNT   one persistent connection: send the request COUNT times, read each
 *                                          response (Content-Length framed), print p50/p90/p99 in microseconds
 *   bench spawn COUNT ARGV...             run ARGV COUNT times (posix_spawn + waitpid, stdout to /dev/null),
 *                                          print p50/p90/p99 of the whole-process time in milliseconds        */
#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static int rtt(const char *path, const char *request_file, int count) {
    char request[65536];
    int rf = open(request_file, O_RDONLY);
    if (rf < 0) { perror(request_file); return 2; }
    ssize_t request_len = read(rf, request, sizeof request);
    close(rf);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    strncpy(addr.sun_path, path, sizeof addr.sun_path - 1);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) { perror(path); return 2; }
    double *samples = calloc(count, sizeof(double));
    static char buffer[1 << 20];
    for (int i = 0; i < count; i++) {
        double start = now();
        if (write(fd, request, request_len) != request_len) { perror("write"); return 2; }
        size_t have = 0;
        long body = -1;
        size_t header_end = 0;
        for (;;) {
            ssize_t n = read(fd, buffer + have, sizeof buffer - have - 1);
            if (n <= 0) { fprintf(stderr, "connection closed after %d requests\n", i); return 2; }
            have += n;
            buffer[have] = 0;
            if (body < 0) {
                char *end = strstr(buffer, "\r\n\r\n");
                if (!end) continue;
                header_end = end - buffer + 4;
                char *cl = strcasestr(buffer, "content-length:");
                body = cl ? atol(cl + 15) : 0;
            }
            if (have >= header_end + (size_t)body) break;
        }
        samples[i] = now() - start;
    }
    report(samples, count, 1e6, "us");
    return 0;
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
    if (argc >= 4 && strcmp(argv[1], "spawn") == 0) return spawn_many(atoi(argv[2]), argv + 3);
    fprintf(stderr, "usage: bench rtt SOCKET REQUEST_FILE COUNT | bench spawn COUNT ARGV...\n");
    return 2;
}
