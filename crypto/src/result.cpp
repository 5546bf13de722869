#include "custodia/crypto/result.h"

namespace custodia {

const char* errc_name(Errc code) noexcept {
    switch (code) {
        case Errc::malformed:
            return "malformed input";
        case Errc::auth_failed:
            return "authentication failed";
        case Errc::no_matching_key:
            return "no matching key";
        case Errc::wrong_passphrase:
            return "wrong passphrase";
        case Errc::unsupported:
            return "unsupported";
        case Errc::io:
            return "I/O error";
        case Errc::cancelled:
            return "cancelled";
        case Errc::limit:
            return "limit exceeded";
        case Errc::internal:
            return "internal error";
    }
    return "unknown error";
}

}  // namespace custodia
