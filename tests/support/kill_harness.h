// Pieces shared by the kill -9 tests: run a program as a direct child (no
// shell in between, so the signal hits the program itself), kill it with
// SIGKILL at a chosen moment unless it finished first, and choose those
// moments from a seed, stratified over the life of the process.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <random>
#include <regex>
#include <string>
#include <vector>

extern char** environ;

namespace custodia::testing {

using KillClock = std::chrono::steady_clock;

struct KillOutcome {
    bool killed = false;  // the signal arrived while the process still ran
    int exit_code = -1;   // when it finished first
    std::string out;      // everything it wrote to stdout before it ended
    KillClock::duration elapsed{};
};

// This process's environment without any CUSTODIA_* variable, plus `extra`.
inline std::vector<std::string> clean_environment(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> env = extra;
    for (char** e = environ; *e != nullptr; ++e) {
        if (std::strncmp(*e, "CUSTODIA_", 9) != 0) env.emplace_back(*e);
    }
    return env;
}

// Runs argv[0] with `argv` and `env`, stdin from /dev/null and stderr to
// `stderr_path`. Reads its stdout until it ends or `delay` has passed since
// the start, whichever is first; then SIGKILL. Without a delay it runs to the
// end, and `elapsed` is how long that took (not how long we waited).
inline KillOutcome run_and_kill(const std::vector<std::string>& argv,
                                const std::vector<std::string>& env,
                                std::optional<KillClock::duration> delay,
                                const std::string& stderr_path = "/dev/null") {
    KillOutcome outcome;
    int pipe_fds[2];
    if (::pipe(pipe_fds) != 0) {
        ADD_FAILURE() << "pipe: " << std::strerror(errno);
        return outcome;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
    posix_spawn_file_actions_addclose(&actions, pipe_fds[1]);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, stderr_path.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0600);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    std::vector<char*> envp;
    for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);

    pid_t pid = -1;
    const auto start = KillClock::now();
    const int rc = ::posix_spawn(&pid, args[0], &actions, nullptr, args.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    ::close(pipe_fds[1]);
    if (rc != 0) {
        ADD_FAILURE() << "posix_spawn " << argv[0] << ": " << std::strerror(rc);
        ::close(pipe_fds[0]);
        return outcome;
    }
    char buffer[4096];
    bool ended = false;
    bool signalled = false;
    while (!ended) {
        int timeout_ms = -1;
        if (delay && !signalled) {
            const auto left = start + *delay - KillClock::now();
            if (left <= KillClock::duration::zero()) {
                ::kill(pid, SIGKILL);
                signalled = true;
                continue;
            }
            timeout_ms =
                static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(left).count());
        }
        pollfd watch{pipe_fds[0], POLLIN, 0};
        const int ready = ::poll(&watch, 1, timeout_ms);
        if (ready <= 0) continue;  // the kill time came, or EINTR
        const ssize_t n = ::read(pipe_fds[0], buffer, sizeof buffer);
        if (n > 0) {
            outcome.out.append(buffer, static_cast<std::size_t>(n));
        } else if (n == 0 || errno != EINTR) {
            ended = true;
        }
    }
    outcome.elapsed = KillClock::now() - start;
    ::close(pipe_fds[0]);
    int status = 0;
    if (::waitpid(pid, &status, 0) != pid) ADD_FAILURE() << "waitpid: " << std::strerror(errno);
    if (WIFSIGNALED(status)) {
        EXPECT_EQ(WTERMSIG(status), SIGKILL) << argv[0] << " died of another signal";
        outcome.killed = true;
    } else {
        outcome.exit_code = WEXITSTATUS(status);
    }
    return outcome;
}

// Kill point `point` of `points` lands in its own slice [point, point+1) /
// points of `span` × the measured run, at a place in the slice drawn from
// `seed`: any seed covers the whole run evenly, and a seed replays exactly.
inline KillClock::duration kill_delay(std::uint32_t seed, int point, int points, double full_ms,
                                      double span) {
    std::mt19937 rng(seed + static_cast<std::uint32_t>(point));
    const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
    return std::chrono::duration_cast<KillClock::duration>(
        std::chrono::duration<double, std::milli>(span * full_ms * (point + u) / points));
}

// Complete lines of `out` that match `pattern` whole: a line cut short by the
// kill is not an acknowledgement.
inline std::vector<std::string> complete_lines_matching(const std::string& out,
                                                        const std::regex& pattern) {
    std::vector<std::string> lines;
    std::size_t start = 0;
    for (auto end = out.find('\n'); end != std::string::npos; end = out.find('\n', start)) {
        const std::string line = out.substr(start, end - start);
        if (std::regex_match(line, pattern)) lines.push_back(line);
        start = end + 1;
    }
    return lines;
}

// Seed and number of kill points: fixed for CI, overridable for long runs
// (tests/crash/long-run.sh) through CUSTODIA_CRASH_SEED and
// CUSTODIA_CRASH_POINTS.
inline std::uint32_t crash_seed(std::uint32_t fixed) {
    const char* s = std::getenv("CUSTODIA_CRASH_SEED");
    return s != nullptr && *s != '\0' ? static_cast<std::uint32_t>(std::strtoul(s, nullptr, 0))
                                      : fixed;
}

inline int crash_points(int fixed) {
    const char* s = std::getenv("CUSTODIA_CRASH_POINTS");
    const int n = s != nullptr && *s != '\0' ? std::atoi(s) : 0;
    return n > 0 ? n : fixed;
}

}  // namespace custodia::testing
