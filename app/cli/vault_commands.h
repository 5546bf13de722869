// The vault verbs of custodia-cli (DESIGN.md §3–§5): an investigator's
// encrypted vault on the command line. Each verb opens the vault, does one
// thing and locks it again when it returns (the master key lives only as long
// as the command).
//
// Contract for scripts: a verb that creates something prints its id on the
// LAST line of stdout (add: one id per line, in the order of the files);
// verbs that list or show take --json and then print one JSON document.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "exit_codes.h"

namespace custodia::cli {

// Set to 1 at `init` to create the vault with libsodium's minimum Argon2id
// cost instead of a calibrated one. For automated tests ONLY; init warns.
inline constexpr const char* kInsecureTestKdfEnv = "CUSTODIA_INSECURE_TEST_KDF";

// Options every vault verb shares; they may come before or after the verb.
struct VaultGlobals {
    std::string vault_dir;          // empty: $XDG_DATA_HOME/custodia or ~/.local/share/custodia
    std::string passphrase_file;    // empty: CUSTODIA_PASSPHRASE, then the terminal
    std::string recovery_key_file;  // unlock with the recovery key instead
};

// What the investigator states about new items (add, testimony).
struct ItemMetadataOptions {
    std::string kind;  // empty: guessed from the media type (add) or testimony
    std::string title;
    std::string description;
    std::string witness;
    std::string consent;  // written, oral-recorded, none
    std::vector<std::string> consent_scope;
    std::string consent_recorded_in;
    std::optional<double> lat;
    std::optional<double> lon;
    std::optional<double> accuracy;
    std::string language;
    std::vector<std::string> tags;
    std::string derived_from;
};

struct StatusOptions {
    bool json = false;
};

struct InitOptions {
    std::string investigator;
    bool if_missing = false;
};

struct CaseCreateOptions {
    std::string title;
    std::string description;
    std::vector<std::string> recipients;
};

struct JsonOption {
    bool json = false;
};

struct AddOptions {
    std::string case_id;
    std::vector<std::string> files;
    std::string mime_type;  // empty: guessed from each file's extension
    ItemMetadataOptions metadata;
};

struct TestimonyOptions {
    std::string case_id;
    std::string text_file;
    std::optional<std::string> text;
    ItemMetadataOptions metadata;
};

struct ListOptions {
    std::string case_id;
    std::uint64_t offset = 0;
    std::uint64_t limit = 100;
    bool json = false;
};

struct SearchOptions {
    std::string query;
    std::uint64_t limit = 100;
    bool json = false;
};

struct ShowOptions {
    std::string item_id;
    bool json = false;
};

struct ExtractOptions {
    std::string item_id;
    std::string output;
    bool force = false;
};

struct PasswdOptions {
    std::string new_passphrase_file;
};

struct WipeOptions {
    bool yes = false;
};

struct DuressOptions {
    std::string duress_passphrase_file;
};

struct ExportCliOptions {
    std::string case_id;
    std::vector<std::string> item_ids;  // empty: every active item of the case
    std::vector<std::string> recipients;
    bool include_witness_identities = false;
    bool allow_without_consent = false;
    std::string output;  // OUT.custodia; OUT.custodia.envelope goes beside it
    bool send = false;   // also queue it in the vault's outbox (output optional then)
    std::string server;  // with send: the enrolled server; default: the only one
};

// open and verify-bundle need no vault: a bundle carries what checks it.
struct OpenBundleOptions {
    std::string bundle;
    std::vector<std::string> identity_files;
    std::string output_dir;
    std::string device_key_file;
};

// A witness's identifying details, kept apart from items (DESIGN.md §4).
struct WitnessAddOptions {
    std::string case_id;
    std::string pseudonym;
    std::string name;
    std::string contact;
    std::string notes;
};

// `verify PATH` and its alias `verify-bundle`: PATH is a .custodia file
// (needs -i) or a folder `open` extracted.
struct VerifyBundleOptions {
    std::string verb;    // for messages
    std::string bundle;  // file or opened folder
    std::vector<std::string> identity_files;
    std::string device_key_file;
    bool json = false;
};

CommandOutcome run_status(const VaultGlobals& globals, const StatusOptions& options);
CommandOutcome run_init(const VaultGlobals& globals, const InitOptions& options);
CommandOutcome run_case_create(const VaultGlobals& globals, const CaseCreateOptions& options);
CommandOutcome run_case_list(const VaultGlobals& globals, const JsonOption& options);
CommandOutcome run_add(const VaultGlobals& globals, const AddOptions& options);
CommandOutcome run_testimony(const VaultGlobals& globals, const TestimonyOptions& options);
CommandOutcome run_list(const VaultGlobals& globals, const ListOptions& options);
CommandOutcome run_search(const VaultGlobals& globals, const SearchOptions& options);
CommandOutcome run_show(const VaultGlobals& globals, const ShowOptions& options);
CommandOutcome run_extract(const VaultGlobals& globals, const ExtractOptions& options);
CommandOutcome run_log(const VaultGlobals& globals, const JsonOption& options);
CommandOutcome run_checkpoint(const VaultGlobals& globals);
CommandOutcome run_verify(const VaultGlobals& globals, const JsonOption& options);
CommandOutcome run_passwd(const VaultGlobals& globals, const PasswdOptions& options);
CommandOutcome run_identity(const VaultGlobals& globals);
CommandOutcome run_wipe(const VaultGlobals& globals, const WipeOptions& options);
CommandOutcome run_export(const VaultGlobals& globals, const ExportCliOptions& options);
CommandOutcome run_open_bundle(const OpenBundleOptions& options);
CommandOutcome run_verify_bundle(const VerifyBundleOptions& options);
CommandOutcome run_witness_add(const VaultGlobals& globals, const WitnessAddOptions& options);
CommandOutcome run_duress_set(const VaultGlobals& globals, const DuressOptions& options);

}  // namespace custodia::cli
