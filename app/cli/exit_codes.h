// The exit status of custodia-cli, the same for every verb, so that scripts
// (and a court expert's checklist) can tell "the evidence does not verify"
// from "wrong key" from "the disk is full" without parsing messages.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "custodia/crypto/result.h"

namespace custodia::cli {

enum class ExitCode : int {
    success = 0,
    verification_failed = 1,  // authentication, HMAC, signature or payload failure
    usage = 2,                // the command line is wrong
    wrong_key = 3,            // wrong passphrase or key: no identity of ours matches
    failure = 4,              // I/O or any other failure
};

// The one place where an error kind becomes an exit status.
ExitCode exit_code_for(Errc code) noexcept;

// The exit status table as shown at the end of every --help.
std::string exit_code_help();

// A failed command: what to tell the user and how to exit.
struct Failure {
    ExitCode code;
    std::string message;
};

// `context` names what failed ("decrypt input.age"); the error's own message
// never carries key material, and neither may the context.
Failure failure_from(const Error& error, std::string_view context);
Failure usage_failure(std::string message);

// What a verb returns: nothing when it succeeded.
using CommandOutcome = std::optional<Failure>;

}  // namespace custodia::cli
