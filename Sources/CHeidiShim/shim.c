#define _GNU_SOURCE
#include "heidishim.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int heidi_spawn(const char *file, char *const argv[], char *const envp[], const char *cwd,
                int out_fd, int err_fd, pid_t *pid_out) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    int rc = posix_spawn_file_actions_init(&actions);
    if (rc != 0) return rc;
    rc = posix_spawnattr_init(&attr);
    if (rc != 0) { posix_spawn_file_actions_destroy(&actions); return rc; }

    sigset_t empty, all;
    sigemptyset(&empty);
    sigfillset(&all);
    short flags = POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    if ((rc = posix_spawnattr_setflags(&attr, flags)) != 0) goto out;
    if ((rc = posix_spawnattr_setsigmask(&attr, &empty)) != 0) goto out;
    // SIGKILL/SIGSTOP cannot be reset; glibc skips them.
    if ((rc = posix_spawnattr_setsigdefault(&attr, &all)) != 0) goto out;

    if ((rc = posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)) != 0) goto out;
    if ((rc = posix_spawn_file_actions_adddup2(&actions, out_fd, 1)) != 0) goto out;
    if ((rc = posix_spawn_file_actions_adddup2(&actions, err_fd, 2)) != 0) goto out;
    if (cwd != NULL && (rc = posix_spawn_file_actions_addchdir_np(&actions, cwd)) != 0) goto out;
    // Must come after the dup2s: it closes every descriptor >= 3, including the pipe originals.
    if ((rc = posix_spawn_file_actions_addclosefrom_np(&actions, 3)) != 0) goto out;

    rc = posix_spawnp(pid_out, file, &actions, &attr, argv, envp);
out:
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
    return rc;
}

int heidi_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int heidi_pidfd_open(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }

int heidi_set_child_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }

int heidi_is_child_subreaper(void) {
    int value = 0;
    if (prctl(PR_GET_CHILD_SUBREAPER, &value, 0, 0, 0) != 0) return -1;
    return value ? 1 : 0;
}

int heidi_peer_credentials(int fd, pid_t *pid, uid_t *uid, gid_t *gid) {
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return -1;
    *pid = cred.pid;
    *uid = cred.uid;
    *gid = cred.gid;
    return 0;
}

int heidi_child_exited_nowait(pid_t pid) {
    siginfo_t info;
    info.si_pid = 0;
    if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT | WNOHANG) != 0) return -1;
    return info.si_pid == pid ? 1 : 0;
}

int heidi_wifexited(int status) { return WIFEXITED(status); }
int heidi_wexitstatus(int status) { return WEXITSTATUS(status); }
int heidi_wifsignaled(int status) { return WIFSIGNALED(status); }
int heidi_wtermsig(int status) { return WTERMSIG(status); }
