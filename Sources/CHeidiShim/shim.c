#define _GNU_SOURCE
#include "heidishim.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <string.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

int heidi_spawn(const char *file, char *const argv[], char *const envp[], const char *cwd,
                int out_fd, int err_fd, int status_fd, pid_t *pid_out) {
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
    if (status_fd >= 0 && (rc = posix_spawn_file_actions_adddup2(&actions, status_fd, 3)) != 0) goto out;
    if (cwd != NULL && (rc = posix_spawn_file_actions_addchdir_np(&actions, cwd)) != 0) goto out;
    // Must come after the dup2s: it closes every other descriptor, including the pipe originals.
    if ((rc = posix_spawn_file_actions_addclosefrom_np(&actions, status_fd >= 0 ? 4 : 3)) != 0) goto out;

    rc = posix_spawnp(pid_out, file, &actions, &attr, argv, envp);
out:
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
    return rc;
}

int heidi_spawn_file_actions_closefrom(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}

int heidi_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int heidi_gettid(void) { return (int)gettid(); }

int heidi_set_pipe_size(int fd, int size) { return fcntl(fd, F_SETPIPE_SZ, size); }

int heidi_pidfd_open(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }

int heidi_set_child_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }

int heidi_is_child_subreaper(void) {
    int value = 0;
    if (prctl(PR_GET_CHILD_SUBREAPER, &value, 0, 0, 0) != 0) return -1;
    return value ? 1 : 0;
}

int heidi_xattr_is_one(const char *path, const char *name) {
    char value[8];
    ssize_t n = getxattr(path, name, value, sizeof value);
    if (n < 0) return (errno == ENODATA || errno == ENOTSUP) ? 0 : -1;
    return n >= 1 && value[0] == '1' ? 1 : 0;
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

/// Fills `address` for `path` (a leading '@' means the abstract namespace). Returns the address length, or -1 with
/// errno ENAMETOOLONG.
static int datagram_address(const char *path, struct sockaddr_un *address) {
    memset(address, 0, sizeof(*address));
    address->sun_family = AF_UNIX;
    size_t length = strlen(path);
    if (length == 0 || length >= sizeof(address->sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(address->sun_path, path, length);
    if (path[0] == '@') address->sun_path[0] = '\0';
    // Abstract names are exactly as long as given; paths include their terminating NUL.
    return (int)(offsetof(struct sockaddr_un, sun_path) + length + (path[0] == '@' ? 0 : 1));
}

static int datagram_socket(const char *path, int passcred, int (*attach)(int, const struct sockaddr *, socklen_t)) {
    struct sockaddr_un address;
    int size = datagram_address(path, &address);
    if (size < 0) return -1;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    int on = 1;
    if ((passcred && setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) != 0)
        || attach(fd, (struct sockaddr *)&address, (socklen_t)size) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int heidi_bind_datagram(const char *path) { return datagram_socket(path, 1, bind); }

int heidi_connect_datagram(const char *path) { return datagram_socket(path, 0, connect); }

long heidi_recv_with_credentials(int fd, void *buffer, size_t capacity, int *truncated, pid_t *pid, uid_t *uid) {
    union {
        struct cmsghdr header;
        char space[CMSG_SPACE(sizeof(struct ucred))];
    } control;
    struct iovec vector = {.iov_base = buffer, .iov_len = capacity};
    struct msghdr message;
    memset(&message, 0, sizeof(message));
    message.msg_iov = &vector;
    message.msg_iovlen = 1;
    message.msg_control = &control;
    message.msg_controllen = sizeof(control);
    ssize_t n = recvmsg(fd, &message, MSG_CMSG_CLOEXEC | MSG_TRUNC);
    if (n < 0) return -1;
    *truncated = (message.msg_flags & MSG_TRUNC) || (size_t)n > capacity;
    *pid = 0;
    *uid = (uid_t)-1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&message); c != NULL; c = CMSG_NXTHDR(&message, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
            struct ucred cred;
            memcpy(&cred, CMSG_DATA(c), sizeof(cred));
            *pid = cred.pid;
            *uid = cred.uid;
        } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            // A sender may attach descriptors; never keep them.
            int count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            int fds[count > 0 ? count : 1];
            memcpy(fds, CMSG_DATA(c), sizeof(int) * (size_t)count);
            for (int i = 0; i < count; i++) close(fds[i]);
        }
    }
    return (long)((size_t)n > capacity ? capacity : (size_t)n);
}

int heidi_child_exited_nowait(pid_t pid) {
    siginfo_t info;
    info.si_pid = 0;
    if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT | WNOHANG) != 0) return -1;
    return info.si_pid == pid ? 1 : 0;
}

int heidi_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int heidi_epoll_add(int epfd, int fd, unsigned int id, int edge_triggered) {
    struct epoll_event event;
    memset(&event, 0, sizeof event);
    event.events = EPOLLIN | (edge_triggered ? EPOLLET : 0);
    event.data.u32 = id;
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &event);
}

int heidi_epoll_remove(int epfd, int fd) { return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL); }

int heidi_epoll_wait(int epfd, unsigned int *ids, int *hung_up, int capacity, int timeout_ms) {
    struct epoll_event events[8];
    if (capacity > 8) capacity = 8;
    int count = epoll_wait(epfd, events, capacity, timeout_ms);
    for (int i = 0; i < count; i++) {
        ids[i] = events[i].data.u32;
        hung_up[i] = (events[i].events & (EPOLLHUP | EPOLLERR)) != 0;
    }
    return count;
}

int heidi_wifexited(int status) { return WIFEXITED(status); }
int heidi_wexitstatus(int status) { return WEXITSTATUS(status); }
int heidi_wifsignaled(int status) { return WIFSIGNALED(status); }
int heidi_wtermsig(int status) { return WTERMSIG(status); }
