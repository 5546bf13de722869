// Where the vault verbs get a passphrase from, in this order:
//   1. a file named on the command line (--passphrase-file, "-" for stdin);
//   2. the environment variable CUSTODIA_PASSPHRASE, meant for automation
//      (scripts, tests) on a machine the investigator controls: any process of
//      the same user can read another's environment;
//   3. the terminal, with echo switched off.
// Every passphrase lands in SecretBytes straight from read(2) or getenv(3);
// it never passes through a std::string.
#pragma once

#include <string>
#include <string_view>

#include "custodia/crypto/result.h"
#include "custodia/crypto/secret.h"

namespace custodia::cli {

inline constexpr const char* kPassphraseEnv = "CUSTODIA_PASSPHRASE";

// Passphrases longer than this are not passphrases a person types, and the
// terminal buffer we read them into is this size.
inline constexpr std::size_t kMaxPassphraseSize = 1024;
// A new passphrase shorter than this protects evidence too weakly to accept.
inline constexpr std::size_t kMinNewPassphraseSize = 8;

// Whether a person can be asked: the process has a controlling terminal.
bool terminal_available();

// The passphrase of an existing vault: from `file` when it is not empty,
// else from CUSTODIA_PASSPHRASE, else asked on the terminal with `prompt`.
// Errc::malformed (a usage error) when none of them is available.
Result<crypto::SecretBytes> read_passphrase(const std::string& file, std::string_view prompt);

// A passphrase being chosen: from `file` when given, else from `env_name`
// when that is set (pass nullptr for none), else asked twice on the terminal.
// Checks the length against kMinNewPassphraseSize; a mismatch between the two
// entries is Errc::malformed.
Result<crypto::SecretBytes> read_new_passphrase(const std::string& file, const char* env_name,
                                                std::string_view prompt);

// A file holding one secret line (a passphrase or a recovery key): the
// trailing end of line, if any, is not part of the secret.
Result<crypto::SecretBytes> read_secret_line_file(const std::string& path);

}  // namespace custodia::cli
