/* The floor for output capture in contrib/bench/supervision_bench.py: the least any supervisor can do to get a
 * child's stdout into a log file through a pipe. Runs `sh -c COMMAND` with stdout on a 1 MiB pipe and copies it to
 * LOG with 256 KiB read(2)s and one write(2) each: the kernel's two copies (out of the pipe, into the page cache) and
 * nothing else: no line handling, no redaction, no journald.
 *   capture-floor LOG COMMAND                                                                                    */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: capture-floor LOG COMMAND\n"); return 2; }
    int out = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int fds[2];
    if (out < 0 || pipe2(fds, O_CLOEXEC) != 0) { perror("capture-floor"); return 1; }
    fcntl(fds[0], F_SETPIPE_SZ, 1 << 20);
    pid_t child = fork();
    if (child == 0) {
        dup2(fds[1], 1);
        execl("/bin/sh", "sh", "-c", argv[2], (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    static char buffer[256 * 1024];
    ssize_t n;
    while ((n = read(fds[0], buffer, sizeof buffer)) > 0) {
        for (ssize_t done = 0; done < n;) {
            ssize_t w = write(out, buffer + done, n - done);
            if (w < 0) { perror("capture-floor: write"); return 1; }
            done += w;
        }
    }
    int status;
    waitpid(child, &status, 0);
    return 0;
}
