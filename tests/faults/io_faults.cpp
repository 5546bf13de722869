// I/O fault injection for tests: an LD_PRELOAD library that makes the k-th
// call of one file operation fail, counting only calls on files under one
// directory, so that the runtime's own I/O (sanitizer reports, the terminal,
// the dynamic loader) is never touched.
//
//   CUSTODIA_FAULT_DIR     absolute directory; only paths and descriptors under
//                          it count (descriptors are resolved through
//                          /proc/self/fd, so every way of opening one counts)
//   CUSTODIA_FAULT_OP      write (write, writev), pwrite (pwrite, pwrite64,
//                          pwritev), fsync, fdatasync, rename (rename,
//                          renameat, renameat2), create (open, openat, creat
//                          with O_CREAT)
//   CUSTODIA_FAULT_K       the first call that fails, from 1; 0 only counts
//   CUSTODIA_FAULT_MODE    once (only call k fails) or persist (k and after)
//   CUSTODIA_FAULT_ERRNO   EIO (default) or ENOSPC
//   CUSTODIA_FAULT_REPORT  file (outside the directory) to which one line is
//                          appended per failed call ("fault <op> <n> <path>"),
//                          and at exit "count <op> <n>"
//
// Without CUSTODIA_FAULT_DIR and CUSTODIA_FAULT_OP every call passes straight
// through. In a sanitizer build set ASAN_OPTIONS=verify_asan_link_order=0:
// this library is loaded before the ASan runtime, and its own calls reach
// the real functions through the runtime's interceptors (RTLD_NEXT).
// This file defines open(), write() and the rest itself: glibc's fortified
// inline wrappers of them must not exist here.
#undef _FORTIFY_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

namespace {

enum class Op { none, write, pwrite, fsync, fdatasync, rename, create };

struct Config {
    bool ready = false;
    Op op = Op::none;
    unsigned long k = 0;
    bool persist = false;
    int error = EIO;
    char dir[PATH_MAX] = {};
    char real_dir[PATH_MAX] = {};
    char report[PATH_MAX] = {};
};

Config g_config;
std::atomic<int> g_init_state{0};  // 0 not started, 1 running, 2 done
std::atomic<unsigned long> g_calls{0};

template <class F>
F next(const char* name) {
    return reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
}

const char* op_name(Op op) {
    switch (op) {
        case Op::write:
            return "write";
        case Op::pwrite:
            return "pwrite";
        case Op::fsync:
            return "fsync";
        case Op::fdatasync:
            return "fdatasync";
        case Op::rename:
            return "rename";
        case Op::create:
            return "create";
        case Op::none:
            break;
    }
    return "none";
}

void append_report(const char* line) {
    if (g_config.report[0] == '\0') return;
    using OpenFn = int (*)(const char*, int, ...);
    using WriteFn = ssize_t (*)(int, const void*, size_t);
    static const auto real_open = next<OpenFn>("open");
    static const auto real_write = next<WriteFn>("write");
    const int fd = real_open(g_config.report, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) return;
    (void)real_write(fd, line, strlen(line));
    close(fd);
}

void report_count() {
    char line[128];
    snprintf(line, sizeof line, "count %s %lu\n", op_name(g_config.op), g_calls.load());
    append_report(line);
}

void init() {
    int expected = 0;
    if (!g_init_state.compare_exchange_strong(expected, 1)) {
        // Another thread is reading the environment; it takes microseconds.
        while (g_init_state.load() != 2) {
        }
        return;
    }
    const char* dir = getenv("CUSTODIA_FAULT_DIR");
    const char* op = getenv("CUSTODIA_FAULT_OP");
    if (dir != nullptr && op != nullptr && dir[0] == '/' && strlen(dir) < PATH_MAX) {
        Op parsed = Op::none;
        for (Op o : {Op::write, Op::pwrite, Op::fsync, Op::fdatasync, Op::rename, Op::create})
            if (strcmp(op, op_name(o)) == 0) parsed = o;
        g_config.op = parsed;
        snprintf(g_config.dir, sizeof g_config.dir, "%s", dir);
        if (realpath(dir, g_config.real_dir) == nullptr) g_config.real_dir[0] = '\0';
        if (const char* k = getenv("CUSTODIA_FAULT_K")) g_config.k = strtoul(k, nullptr, 10);
        if (const char* m = getenv("CUSTODIA_FAULT_MODE"))
            g_config.persist = strcmp(m, "persist") == 0;
        if (const char* e = getenv("CUSTODIA_FAULT_ERRNO"))
            g_config.error = strcmp(e, "ENOSPC") == 0 ? ENOSPC : EIO;
        if (const char* r = getenv("CUSTODIA_FAULT_REPORT"))
            snprintf(g_config.report, sizeof g_config.report, "%s", r);
        g_config.ready = parsed != Op::none;
        if (g_config.ready) atexit(report_count);
    }
    g_init_state.store(2);
}

bool has_prefix(const char* path, const char* dir) {
    const size_t n = strlen(dir);
    if (n == 0 || strncmp(path, dir, n) != 0) return false;
    return path[n] == '\0' || path[n] == '/' || dir[n - 1] == '/';
}

bool under_dir(const char* path) {
    return has_prefix(path, g_config.dir) || has_prefix(path, g_config.real_dir);
}

bool fd_path(int fd, char* out, size_t size) {
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    const ssize_t n = readlink(link, out, size - 1);
    if (n <= 0) return false;
    out[n] = '\0';
    return true;
}

// The path `path` names relative to `dirfd`, as far as it can be told.
bool at_path(int dirfd, const char* path, char* out, size_t size) {
    if (path == nullptr) return false;
    if (path[0] == '/') {
        snprintf(out, size, "%s", path);
        return true;
    }
    char base[PATH_MAX];
    if (dirfd == AT_FDCWD) {
        if (getcwd(base, sizeof base) == nullptr) return false;
    } else if (!fd_path(dirfd, base, sizeof base)) {
        return false;
    }
    snprintf(out, size, "%s/%s", base, path);
    return true;
}

// Counts one call of `op` on `path` (null: not under the directory) and
// says whether it must fail; sets errno when it must.
bool should_fail(Op op, const char* path) {
    if (g_init_state.load() != 2) init();
    if (!g_config.ready || op != g_config.op || path == nullptr || !under_dir(path)) return false;
    const unsigned long n = g_calls.fetch_add(1) + 1;
    if (g_config.k == 0) return false;
    if (n != g_config.k && !(g_config.persist && n > g_config.k)) return false;
    char line[PATH_MAX + 64];
    snprintf(line, sizeof line, "fault %s %lu %s\n", op_name(op), n, path);
    append_report(line);
    errno = g_config.error;
    return true;
}

bool fd_fails(Op op, int fd) {
    if (g_init_state.load() != 2) init();
    if (!g_config.ready || op != g_config.op) return false;
    char path[PATH_MAX];
    return fd_path(fd, path, sizeof path) && should_fail(op, path);
}

bool at_fails(Op op, int dirfd, const char* name) {
    if (g_init_state.load() != 2) init();
    if (!g_config.ready || op != g_config.op) return false;
    char path[PATH_MAX];
    return at_path(dirfd, name, path, sizeof path) && should_fail(op, path);
}

}  // namespace

extern "C" {

ssize_t write(int fd, const void* buf, size_t count) {
    static const auto real = next<ssize_t (*)(int, const void*, size_t)>("write");
    if (fd_fails(Op::write, fd)) return -1;
    return real(fd, buf, count);
}

ssize_t writev(int fd, const struct iovec* iov, int iovcnt) {
    static const auto real = next<ssize_t (*)(int, const struct iovec*, int)>("writev");
    if (fd_fails(Op::write, fd)) return -1;
    return real(fd, iov, iovcnt);
}

ssize_t pwrite(int fd, const void* buf, size_t count, off_t offset) {
    static const auto real = next<ssize_t (*)(int, const void*, size_t, off_t)>("pwrite");
    if (fd_fails(Op::pwrite, fd)) return -1;
    return real(fd, buf, count, offset);
}

ssize_t pwrite64(int fd, const void* buf, size_t count, off64_t offset) {
    static const auto real = next<ssize_t (*)(int, const void*, size_t, off64_t)>("pwrite64");
    if (fd_fails(Op::pwrite, fd)) return -1;
    return real(fd, buf, count, offset);
}

ssize_t pwritev(int fd, const struct iovec* iov, int iovcnt, off_t offset) {
    static const auto real = next<ssize_t (*)(int, const struct iovec*, int, off_t)>("pwritev");
    if (fd_fails(Op::pwrite, fd)) return -1;
    return real(fd, iov, iovcnt, offset);
}

int fsync(int fd) {
    static const auto real = next<int (*)(int)>("fsync");
    if (fd_fails(Op::fsync, fd)) return -1;
    return real(fd);
}

int fdatasync(int fd) {
    static const auto real = next<int (*)(int)>("fdatasync");
    if (fd_fails(Op::fdatasync, fd)) return -1;
    return real(fd);
}

int rename(const char* from, const char* to) {
    static const auto real = next<int (*)(const char*, const char*)>("rename");
    if (at_fails(Op::rename, AT_FDCWD, to)) return -1;
    return real(from, to);
}

int renameat(int from_dir, const char* from, int to_dir, const char* to) {
    static const auto real = next<int (*)(int, const char*, int, const char*)>("renameat");
    if (at_fails(Op::rename, to_dir, to)) return -1;
    return real(from_dir, from, to_dir, to);
}

int renameat2(int from_dir, const char* from, int to_dir, const char* to, unsigned flags) {
    static const auto real =
        next<int (*)(int, const char*, int, const char*, unsigned)>("renameat2");
    if (at_fails(Op::rename, to_dir, to)) return -1;
    return real(from_dir, from, to_dir, to, flags);
}

// The open family: the mode argument is only there with O_CREAT or
// O_TMPFILE, and only then may it be read.
#define CUSTODIA_OPEN_MODE(flags)                                     \
    mode_t mode = 0;                                                  \
    if (((flags)&O_CREAT) != 0 || ((flags)&O_TMPFILE) == O_TMPFILE) { \
        va_list ap;                                                   \
        va_start(ap, flags);                                          \
        mode = static_cast<mode_t>(va_arg(ap, int));                  \
        va_end(ap);                                                   \
    }

int open(const char* path, int flags, ...) {
    static const auto real = next<int (*)(const char*, int, ...)>("open");
    CUSTODIA_OPEN_MODE(flags)
    if ((flags & O_CREAT) != 0 && at_fails(Op::create, AT_FDCWD, path)) return -1;
    return real(path, flags, mode);
}

int open64(const char* path, int flags, ...) {
    static const auto real = next<int (*)(const char*, int, ...)>("open64");
    CUSTODIA_OPEN_MODE(flags)
    if ((flags & O_CREAT) != 0 && at_fails(Op::create, AT_FDCWD, path)) return -1;
    return real(path, flags, mode);
}

int openat(int dirfd, const char* path, int flags, ...) {
    static const auto real = next<int (*)(int, const char*, int, ...)>("openat");
    CUSTODIA_OPEN_MODE(flags)
    if ((flags & O_CREAT) != 0 && at_fails(Op::create, dirfd, path)) return -1;
    return real(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char* path, int flags, ...) {
    static const auto real = next<int (*)(int, const char*, int, ...)>("openat64");
    CUSTODIA_OPEN_MODE(flags)
    if ((flags & O_CREAT) != 0 && at_fails(Op::create, dirfd, path)) return -1;
    return real(dirfd, path, flags, mode);
}

int creat(const char* path, mode_t mode) {
    static const auto real = next<int (*)(const char*, mode_t)>("creat");
    if (at_fails(Op::create, AT_FDCWD, path)) return -1;
    return real(path, mode);
}

}  // extern "C"
