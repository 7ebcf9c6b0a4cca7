#pragma once
// Small C helpers for what Swift cannot import from Glibc: C-variadic calls (prctl, syscall),
// _GNU_SOURCE-only APIs (pipe2, POSIX_SPAWN_SETSID, posix_spawn_file_actions_addclosefrom_np,
// struct ucred) and function-like macros (WIFEXITED & co).
#include <spawn.h>
#include <sys/types.h>
#include <sys/resource.h>
#include <stddef.h>
#include <stdint.h>

/// Spawns `file` (PATH lookup) with argv/envp as the leader of a new session and process group:
/// stdin is /dev/null, stdout/stderr are `out_fd`/`err_fd`, every other descriptor is closed, the
/// signal mask is empty and every catchable signal has its default disposition, the working
/// directory is `cwd` (NULL keeps the daemon's). `status_fd` >= 0 becomes the child's fd 3 (the exec helper's
/// status pipe); then every descriptor from 4 up is closed instead. Returns 0 and stores the pid, or an errno value.
int heidi_spawn(const char *file, char *const argv[], char *const envp[], const char *cwd,
                int out_fd, int err_fd, int status_fd, pid_t *pid_out);

/// posix_spawn_file_actions_addclosefrom_np(actions, from): the spawn closes every descriptor from `from` up in
/// the child (for spawners other than `heidi_spawn`, which does it itself). Returns 0 or an errno value.
int heidi_spawn_file_actions_closefrom(posix_spawn_file_actions_t *actions, int from);

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

/// epoll_create1(EPOLL_CLOEXEC). Returns the descriptor or -1 with errno set.
int heidi_epoll_create(void);

/// Watches `fd` for input (edge-triggered when `edge_triggered` is non-zero), reported as `id`. Returns 0 or -1.
int heidi_epoll_add(int epfd, int fd, unsigned int id, int edge_triggered);

/// Stops watching `fd`. Returns 0 or -1 with errno set.
int heidi_epoll_remove(int epfd, int fd);

/// epoll_wait for at most `capacity` (<= 8) events; stores their ids in `ids` in the order the kernel reports them,
/// which is the order in which the descriptors became ready, and in `hung_up` whether each came with EPOLLHUP or
/// EPOLLERR (the writer side is closed). Returns the count, or -1 with errno set.
int heidi_epoll_wait(int epfd, unsigned int *ids, int *hung_up, int capacity, int timeout_ms);

#define HEIDI_TRIGGER_WORDS_MAX 32
#define HEIDI_TRIGGER_WORD_LENGTH_MAX 16

/// Trigger words prepared for heidi_scan_text (built once by heidi_trigger_table_init, then only read).
typedef struct heidi_trigger_table {
    /// Bucket bits by the low and by the high nibble of a word's first, second and third byte.
    unsigned char nibble_low[3][16], nibble_high[3][16];
    unsigned char word_count;
    unsigned char bucket_size[8];
    unsigned char bucket_words[8][HEIDI_TRIGGER_WORDS_MAX];
    unsigned char word_bucket[HEIDI_TRIGGER_WORDS_MAX];
    unsigned char word_length[HEIDI_TRIGGER_WORDS_MAX];
    uint64_t word_head[HEIDI_TRIGGER_WORDS_MAX], word_head_fold[HEIDI_TRIGGER_WORDS_MAX], word_head_mask[HEIDI_TRIGGER_WORDS_MAX];
    unsigned char word_text[HEIDI_TRIGGER_WORDS_MAX][HEIDI_TRIGGER_WORD_LENGTH_MAX];
    unsigned char word_fold[HEIDI_TRIGGER_WORDS_MAX][HEIDI_TRIGGER_WORD_LENGTH_MAX];
    /// Words that can only begin a secret as part of an assignment's name (set by
    /// heidi_trigger_table_require_separator): with HEIDI_SCAN_OPTION_ASSIGNMENTS their hits are reported only
    /// when a separator may follow the name.
    unsigned char word_needs_separator[HEIDI_TRIGGER_WORDS_MAX];
} heidi_trigger_table;

/// Prepares `count` trigger words (ASCII, 3 to 16 bytes, letters matched in either case; at most 32 words with at
/// most 8 different first letters). Returns 0, or -1 when the words do not fit.
int heidi_trigger_table_init(heidi_trigger_table *table, const char *const *words, size_t count);

/// Marks word `word` (an index given to heidi_trigger_table_init) as one whose every secret is an assignment to a
/// name holding it (`token=…`, `API_KEY: …`): no other pattern can start where it stands. Returns 0, or -1 when
/// there is no such word or it holds a byte no name may hold (`[A-Za-z0-9_.-]`).
int heidi_trigger_table_require_separator(heidi_trigger_table *table, size_t word);

enum { HEIDI_SCAN_ESCAPE = 1, HEIDI_SCAN_CARRIAGE_RETURN = 2, HEIDI_SCAN_NON_ASCII = 4 };

/// Options of heidi_scan_text_with: the scalar loop even where AVX2 runs (tests compare the two); hits of words
/// marked by heidi_trigger_table_require_separator only where the name run from the hit is followed by an
/// optional quote, ASCII whitespace and `=` or `:` (or by a byte >= 0x80, which may begin Unicode whitespace, or
/// by the end of the buffer). A hit left out that way cannot begin an assignment, so it cannot begin a secret.
enum { HEIDI_SCAN_OPTION_SCALAR = 1, HEIDI_SCAN_OPTION_ASSIGNMENTS = 2 };

/// One pass over `count` bytes: returns the number of newlines; sets `*flags` to the HEIDI_SCAN_ bits of what it
/// saw (ESC, CR, bytes >= 0x80); stores every occurrence of a trigger word, in order, as `offset << 5 | word` in
/// `hits` (up to `capacity`) and sets `*hit_count` to how many there were (which may exceed `capacity`).
/// 32 bytes at a time with AVX2 where the CPU has it.
long heidi_scan_text(const unsigned char *bytes, size_t count, const heidi_trigger_table *table, uint32_t *hits,
                     size_t capacity, size_t *hit_count, int *flags);

/// heidi_scan_text without vector instructions: what CPUs without AVX2 run (tests compare the two).
long heidi_scan_text_scalar(const unsigned char *bytes, size_t count, const heidi_trigger_table *table, uint32_t *hits,
                            size_t capacity, size_t *hit_count, int *flags);

/// 1 where heidi_scan_text runs its AVX2 loop (the CPU has AVX2 and the kernel saves its registers), else 0. Asked of
/// the CPU on the first call (or first scan) and kept.
int heidi_scan_text_is_vectorized(void);

/// heidi_scan_text with HEIDI_SCAN_OPTION_ bits.
long heidi_scan_text_with(const unsigned char *bytes, size_t count, const heidi_trigger_table *table, uint32_t *hits,
                          size_t capacity, size_t *hit_count, int *flags, int options);

int heidi_wifexited(int status);
int heidi_wexitstatus(int status);
int heidi_wifsignaled(int status);
int heidi_wtermsig(int status);
