// heidi-exec: the exec wrapper heidid starts every stage through, for what posix_spawn cannot do: reset every
// signal disposition (glibc's posix_spawn leaves its two reserved real-time signals, 32 and 33, ignored in the
// child whatever POSIX_SPAWN_SETSIGDEF says, and SIG_IGN survives exec), resource limits (setrlimit) and joining
// the stage's own cgroup. heidid never forks (it is multi-threaded), so whatever must happen "between fork and
// exec" happens here, in a single-threaded process, before the real exec.
//
//   heidi-exec [-l RESOURCE=SOFT[:HARD]]... [-g CGROUP_DIR] -- PROGRAM [ARG]...
//
// RESOURCE is nofile, as, cpu, core or nproc; VALUE is SOFT or SOFT:HARD (hard defaults to soft). CGROUP_DIR is a
// cgroup v2 directory: the process moves itself into it, so the stage and everything it starts is inside the
// cgroup from its first instruction (no window in which a child could be forked outside it). PROGRAM is found
// through the PATH of the environment heidid passed.
//
// Errors go to fd 3 when it is open (heidid's status pipe; close-on-exec here, so a successful exec closes it and
// heidid reads EOF) as "<errno> <message>", and to stderr; the exit status is then 127.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

static int status_fd = -1;

static void fail(int code, const char *what, const char *detail) {
    char message[1024];
    int n = snprintf(message, sizeof message, "%d %s: %s", code, what, detail ? detail : strerror(code));
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof message) n = (int)sizeof message - 1;
    if (status_fd >= 0) {
        ssize_t ignored = write(status_fd, message, (size_t)n);
        (void)ignored;
    }
    dprintf(2, "heidi-exec: %s\n", strchr(message, ' ') ? strchr(message, ' ') + 1 : message);
    _exit(127);
}

static int resource_id(const char *name, size_t length) {
    static const struct { const char *name; int id; } table[] = {
        {"nofile", RLIMIT_NOFILE}, {"as", RLIMIT_AS}, {"cpu", RLIMIT_CPU}, {"core", RLIMIT_CORE}, {"nproc", RLIMIT_NPROC},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (strlen(table[i].name) == length && strncmp(table[i].name, name, length) == 0) return table[i].id;
    }
    return -1;
}

static void apply_limit(const char *spec) {
    const char *equals = strchr(spec, '=');
    if (equals == NULL) fail(EINVAL, "bad limit (expected RESOURCE=SOFT[:HARD])", spec);
    int resource = resource_id(spec, (size_t)(equals - spec));
    if (resource < 0) fail(EINVAL, "unknown resource (nofile, as, cpu, core, nproc)", spec);
    char *end = NULL;
    errno = 0;
    unsigned long long soft = strtoull(equals + 1, &end, 10);
    if (errno != 0 || end == equals + 1) fail(EINVAL, "bad limit value", spec);
    unsigned long long hard = soft;
    if (*end == ':') {
        const char *start = end + 1;
        hard = strtoull(start, &end, 10);
        if (errno != 0 || end == start || hard < soft) fail(EINVAL, "bad hard limit", spec);
    }
    if (*end != '\0') fail(EINVAL, "bad limit value", spec);
    struct rlimit limit = {(rlim_t)soft, (rlim_t)hard};
    if (setrlimit(resource, &limit) != 0) {
        char what[160];
        snprintf(what, sizeof what, "setrlimit %s", spec);
        fail(errno, what, NULL);
    }
}

static void join_cgroup(const char *directory) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s/cgroup.procs", directory) >= (int)sizeof path) fail(ENAMETOOLONG, "cgroup path", directory);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        char what[4200];
        snprintf(what, sizeof what, "cannot open %s", path);
        fail(errno, what, NULL);
    }
    // "0" moves the writing process.
    if (write(fd, "0", 1) != 1) {
        int code = errno;
        char what[4200];
        snprintf(what, sizeof what, "cannot join cgroup %s", directory);
        fail(code, what, NULL);
    }
    close(fd);
}

// Every signal to SIG_DFL and none blocked. Through the raw system calls: glibc's sigaction refuses its reserved
// signals (EINVAL), and they are exactly the ones posix_spawn left ignored. An all-zero kernel sigaction is SIG_DFL
// with no flags and an empty mask on every architecture, whatever its field order. SIGKILL and SIGSTOP cannot be
// changed (EINVAL) and are always at their default.
static void reset_signals(void) {
    unsigned long zero[8] = {0};
    const size_t sigset_size = (_NSIG - 1) / 8;
    for (int sig = 1; sig < _NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        syscall(SYS_rt_sigaction, sig, zero, NULL, sigset_size);
    }
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, zero, NULL, sigset_size);
}

int main(int argc, char *argv[]) {
    reset_signals();
    if (fcntl(3, F_SETFD, FD_CLOEXEC) == 0) status_fd = 3;
    int i = 1;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) { i++; break; }
        if (strcmp(argv[i], "-l") == 0 && i + 1 < argc) { apply_limit(argv[++i]); continue; }
        if (strcmp(argv[i], "-g") == 0 && i + 1 < argc) { join_cgroup(argv[++i]); continue; }
        fail(EINVAL, "usage", "heidi-exec [-l RESOURCE=SOFT[:HARD]]... [-g CGROUP_DIR] -- PROGRAM [ARG]...");
    }
    if (i >= argc) fail(EINVAL, "usage", "no program after --");
    execvp(argv[i], &argv[i]);
    char what[4200];
    snprintf(what, sizeof what, "cannot execute %s", argv[i]);
    fail(errno, what, NULL);
    return 127;
}
