// The age verbs of custodia-cli: keygen, recipient, encrypt, decrypt. Files
// they write and read are interchangeable with age-keygen's and age's.
#pragma once

#include <string>
#include <vector>

#include "exit_codes.h"

namespace custodia::cli {

struct KeygenOptions {
    std::string output;  // empty: the identity file goes to stdout
};

struct RecipientOptions {
    std::vector<std::string> identity_files;  // "-" is stdin
};

struct EncryptOptions {
    std::vector<std::string> recipients;  // "age1…"
    std::string output;                   // empty or "-": stdout
    std::string input = "-";
};

struct DecryptOptions {
    std::vector<std::string> identity_files;
    std::string output;
    std::string input = "-";
};

CommandOutcome run_keygen(const KeygenOptions& options);
CommandOutcome run_recipient(const RecipientOptions& options);
CommandOutcome run_encrypt(const EncryptOptions& options);
CommandOutcome run_decrypt(const DecryptOptions& options);

}  // namespace custodia::cli
