// What the two memory-dump tests need before gcore can dump a process: no
// AddressSanitizer in this build (its shadow memory spans terabytes), the
// CAP_SYS_PTRACE capability (the apps make themselves non-dumpable), and
// gdb's gcore. tests/run-all.sh sets CUSTODIA_REQUIRE_GCORE=1 for the release
// build it runs them in, so that a missing capability or tool fails there
// instead of passing as a skip; elsewhere (the asan suite, a developer's
// machine) they skip and say why.
#pragma once

#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>

#include "support/process.h"

namespace custodia::testing {

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kAddressSanitizer = true;
#else
inline constexpr bool kAddressSanitizer = false;
#endif
#else
inline constexpr bool kAddressSanitizer = false;
#endif

inline bool can_ptrace_anything() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("CapEff:", 0) == 0)
            return (std::stoull(line.substr(7), nullptr, 16) >> 19) & 1u;  // CAP_SYS_PTRACE
    }
    return false;
}

// Why gcore cannot dump a process here, or nullopt when it can.
inline std::optional<std::string> why_no_gcore() {
    if (kAddressSanitizer)
        return "AddressSanitizer maps terabytes of readable address space that gdb would dump "
               "for many minutes: run this test from a build without sanitizers";
    if (!can_ptrace_anything())
        return "no CAP_SYS_PTRACE: gdb cannot attach to the non-dumpable process";
    if (run_shell("command -v gcore >/dev/null").exit_code != 0)
        return "gcore (Debian package gdb) is not installed";
    return std::nullopt;
}

inline bool gcore_required() {
    const char* v = std::getenv("CUSTODIA_REQUIRE_GCORE");
    return v != nullptr && std::string(v) == "1";
}

}  // namespace custodia::testing

// Skips the test (or fails it when CUSTODIA_REQUIRE_GCORE=1) unless gcore
// can dump a process here.
#define CUSTODIA_REQUIRE_GCORE_OR_SKIP()                             \
    do {                                                             \
        if (const auto why = custodia::testing::why_no_gcore()) {    \
            if (custodia::testing::gcore_required()) FAIL() << *why; \
            GTEST_SKIP() << *why;                                    \
        }                                                            \
    } while (false)
