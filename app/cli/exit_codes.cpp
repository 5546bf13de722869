#include "exit_codes.h"

namespace custodia::cli {

ExitCode exit_code_for(Errc code) noexcept {
    switch (code) {
        // A file that does not parse is as untrustworthy as one whose tag
        // fails: a truncated or altered file shows up as either, depending
        // on where the damage is.
        case Errc::malformed:
        case Errc::auth_failed:
            return ExitCode::verification_failed;
        case Errc::no_matching_key:
        case Errc::wrong_passphrase:
            return ExitCode::wrong_key;
        case Errc::unsupported:
        case Errc::io:
        case Errc::cancelled:
        case Errc::limit:
        case Errc::internal:
            return ExitCode::failure;
    }
    return ExitCode::failure;
}

std::string exit_code_help() {
    return "Exit status:\n"
           "  0  success\n"
           "  1  verification failed (authentication, HMAC, signature or payload failure,\n"
           "     or input that does not follow its format)\n"
           "  2  usage error\n"
           "  3  wrong passphrase or key (no identity matches)\n"
           "  4  I/O or other failure (including unsupported versions and size limits)\n";
}

Failure failure_from(const Error& error, std::string_view context) {
    std::string message(context);
    if (!error.message.empty()) {
        message += ": ";
        message += error.message;
    }
    return Failure{exit_code_for(error.code), std::move(message)};
}

Failure usage_failure(std::string message) {
    return Failure{ExitCode::usage, std::move(message)};
}

}  // namespace custodia::cli
