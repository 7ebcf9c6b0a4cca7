#pragma once
// Small C helpers for what Swift cannot import from Glibc: C-variadic calls (prctl, syscall),
// _GNU_SOURCE-only APIs (pipe2, POSIX_SPAWN_SETSID, posix_spawn_file_actions_addclosefrom_np,
// struct ucred) and function-like macros (WIFEXITED & co).
#include <sys/types.h>
#include <sys/resource.h>
#include <stddef.h>

/// Spawns `file` (PATH lookup) with argv/envp as the leader of a new session and process group:
/// stdin is /dev/null, stdout/stderr are `out_fd`/`err_fd`, every other descriptor is closed, the
/// signal mask is empty and every catchable signal has its default disposition, the working
/// directory is `cwd` (NULL keeps the daemon's). `status_fd` >= 0 becomes the child's fd 3 (the exec helper's
/// status pipe); then every descriptor from 4 up is closed instead. Returns 0 and stores the pid, or an errno value.
int heidi_spawn(const char *file, char *const argv[], char *const envp[], const char *cwd,
                int out_fd, int err_fd, int status_fd, pid_t *pid_out);

/// The calling thread's kernel thread id (gettid).
int heidi_gettid(void);

/// fcntl(fd, F_SETPIPE_SZ, size): grows a pipe's buffer. Returns the new size or -1 with errno set.
int heidi_set_pipe_size(int fd, int size);

/// pipe2(fds, O_CLOEXEC). Returns 0 or -1 with errno set.
int heidi_pipe_cloexec(int fds[2]);

/// pidfd_open(pid, 0). Returns the descriptor or -1 with errno set.
int heidi_pidfd_open(pid_t pid);

/// prctl(PR_SET_CHILD_SUBREAPER, 1). Returns 0 or -1 with errno set.
int heidi_set_child_subreaper(void);

/// prctl(PR_GET_CHILD_SUBREAPER). Returns 1, 0, or -1 with errno set.
int heidi_is_child_subreaper(void);

/// Whether the extended attribute `name` of `path` is set to "1" (systemd marks delegated cgroups with
/// trusted.delegate / user.delegate). Returns 1, 0 when absent or different, -1 with errno set on other errors.
int heidi_xattr_is_one(const char *path, const char *name);

/// SO_PEERCRED of a connected AF_UNIX socket. Returns 0 or -1 with errno set.
int heidi_peer_credentials(int fd, pid_t *pid, uid_t *uid, gid_t *gid);

/// Binds a non-blocking, close-on-exec AF_UNIX datagram socket with SO_PASSCRED to `path` (a leading '@' means
/// the abstract namespace), for a stage's progress channel. Returns the descriptor or -1 with errno set
/// (ENAMETOOLONG when the path does not fit in sun_path).
int heidi_bind_datagram(const char *path);

/// A non-blocking, close-on-exec AF_UNIX datagram socket connected to `path` ('@' = abstract namespace): how a
/// stage (or a test) talks to a progress channel. Returns the descriptor or -1 with errno set.
int heidi_connect_datagram(const char *path);

/// Receives one datagram with its sender's SCM_CREDENTIALS. Returns its length, or -1 with errno set (EAGAIN when
/// nothing is queued); `*truncated` is 1 when the datagram was longer than `capacity` (the rest is discarded);
/// `*pid` is 0 when the kernel sent no credentials.
long heidi_recv_with_credentials(int fd, void *buffer, size_t capacity, int *truncated, pid_t *pid, uid_t *uid);

/// Whether `pid` (a child) has exited, without reaping it: the zombie keeps the pid and process-group id
/// reserved, so the rest of its group can still be signalled safely. Returns 1 exited, 0 running, -1 error.
int heidi_child_exited_nowait(pid_t pid);

/// Counts the lines (newlines) in `count` bytes if they are "plain": no byte >= 0x80, no ESC (0x1b), no CR (0x0d)
/// and no ASCII letter. Returns -1 when they are not. 16 bytes at a time with SSE2.
long heidi_plain_lines(const unsigned char *bytes, size_t count);

int heidi_wifexited(int status);
int heidi_wexitstatus(int status);
int heidi_wifsignaled(int status);
int heidi_wtermsig(int status);
