// The command-line grammar of the vault verbs: which options each takes, and
// which run_* function a parsed command line goes to (vault_commands.h).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "exit_codes.h"
#include "sync_commands.h"
#include "vault_commands.h"

namespace CLI {
class App;
}

namespace custodia::cli {

class VaultVerbs {
  public:
    // Adds --vault, --passphrase-file, --recovery-key-file and the verbs.
    explicit VaultVerbs(CLI::App& app);
    VaultVerbs(const VaultVerbs&) = delete;
    VaultVerbs& operator=(const VaultVerbs&) = delete;

    // After parsing: the outcome of the vault verb given, or nothing when the
    // command line named another verb.
    std::optional<CommandOutcome> run() const;

  private:
    VaultGlobals globals_;
    StatusOptions status_;
    InitOptions init_;
    CaseCreateOptions case_create_;
    JsonOption case_list_;
    AddOptions add_;
    TestimonyOptions testimony_;
    ListOptions list_;
    SearchOptions search_;
    std::vector<std::string> search_words_;
    ShowOptions show_;
    ExtractOptions extract_;
    JsonOption log_;
    JsonOption verify_;
    PasswdOptions passwd_;
    WipeOptions wipe_;
    DuressOptions duress_;
    ExportCliOptions export_;
    OpenBundleOptions open_bundle_;
    VerifyBundleOptions verify_bundle_;
    VerifyBundleOptions verify_target_;  // `verify PATH`
    WitnessAddOptions witness_add_;
    CLI::App* witness_add_cmd_ = nullptr;
    ServerAddOptions server_add_;
    JsonOption server_list_;
    ServerRemoveOptions server_remove_;
    SyncCliOptions sync_;
    JsonOption outbox_;

    CLI::App* status_cmd_ = nullptr;
    CLI::App* init_cmd_ = nullptr;
    CLI::App* case_create_cmd_ = nullptr;
    CLI::App* case_list_cmd_ = nullptr;
    CLI::App* add_cmd_ = nullptr;
    CLI::App* testimony_cmd_ = nullptr;
    CLI::App* list_cmd_ = nullptr;
    CLI::App* search_cmd_ = nullptr;
    CLI::App* show_cmd_ = nullptr;
    CLI::App* extract_cmd_ = nullptr;
    CLI::App* log_cmd_ = nullptr;
    CLI::App* checkpoint_cmd_ = nullptr;
    CLI::App* verify_cmd_ = nullptr;
    CLI::App* passwd_cmd_ = nullptr;
    CLI::App* identity_cmd_ = nullptr;
    CLI::App* wipe_cmd_ = nullptr;
    CLI::App* duress_set_cmd_ = nullptr;
    CLI::App* export_cmd_ = nullptr;
    CLI::App* open_bundle_cmd_ = nullptr;
    CLI::App* verify_bundle_cmd_ = nullptr;
    CLI::App* server_add_cmd_ = nullptr;
    CLI::App* server_list_cmd_ = nullptr;
    CLI::App* server_remove_cmd_ = nullptr;
    CLI::App* sync_cmd_ = nullptr;
    CLI::App* outbox_cmd_ = nullptr;
};

}  // namespace custodia::cli
