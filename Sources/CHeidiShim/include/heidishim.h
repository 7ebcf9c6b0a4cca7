#pragma once
// Small C helpers for what Swift cannot import from Glibc: C-variadic calls (prctl, syscall),
// _GNU_SOURCE-only APIs (pipe2, POSIX_SPAWN_SETSID, posix_spawn_file_actions_addclosefrom_np,
// struct ucred) and function-like macros (WIFEXITED & co).
#include <sys/types.h>
#include <sys/resource.h>

/// Spawns `file` (PATH lookup) with argv/envp as the leader of a new session and process group:
/// stdin is /dev/null, stdout/stderr are `out_fd`/`err_fd`, every other descriptor is closed, the
/// signal mask is empty and every catchable signal has its default disposition, the working
/// directory is `cwd` (NULL keeps the daemon's). Returns 0 and stores the pid, or an errno value.
int heidi_spawn(const char *file, char *const argv[], char *const envp[], const char *cwd,
                int out_fd, int err_fd, pid_t *pid_out);

/// pipe2(fds, O_CLOEXEC). Returns 0 or -1 with errno set.
int heidi_pipe_cloexec(int fds[2]);

/// pidfd_open(pid, 0). Returns the descriptor or -1 with errno set.
int heidi_pidfd_open(pid_t pid);

/// prctl(PR_SET_CHILD_SUBREAPER, 1). Returns 0 or -1 with errno set.
int heidi_set_child_subreaper(void);

/// prctl(PR_GET_CHILD_SUBREAPER). Returns 1, 0, or -1 with errno set.
int heidi_is_child_subreaper(void);

/// SO_PEERCRED of a connected AF_UNIX socket. Returns 0 or -1 with errno set.
int heidi_peer_credentials(int fd, pid_t *pid, uid_t *uid, gid_t *gid);

/// Whether `pid` (a child) has exited, without reaping it: the zombie keeps the pid and process-group id
/// reserved, so the rest of its group can still be signalled safely. Returns 1 exited, 0 running, -1 error.
int heidi_child_exited_nowait(pid_t pid);

int heidi_wifexited(int status);
int heidi_wexitstatus(int status);
int heidi_wifsignaled(int status);
int heidi_wtermsig(int status);
