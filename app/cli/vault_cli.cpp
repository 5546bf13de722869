#include "vault_cli.h"

#include <CLI/CLI.hpp>

namespace custodia::cli {
namespace {

// Repeatable options take one value per occurrence (allow_extra_args false),
// so that `--tag a photo.jpg` cannot swallow the file as a second tag.
template <class T>
CLI::Option* repeatable(CLI::App* cmd, const std::string& name, std::vector<T>& values,
                        const std::string& help, const std::string& value_name) {
    return cmd->add_option(name, values, help)->option_text(value_name)->allow_extra_args(false);
}

void add_metadata_options(CLI::App* cmd, ItemMetadataOptions& m, const std::string& default_kind) {
    cmd->add_option(
           "--kind", m.kind,
           "testimony, audio, video, photo, document or note (default: " + default_kind + ")")
        ->option_text("KIND");
    cmd->add_option("--title", m.title, "Title of the item")->option_text("TEXT");
    cmd->add_option("--description", m.description, "Description of the item")->option_text("TEXT");
    cmd->add_option("--witness", m.witness,
                    "Witness pseudonym (never a real name: identifying details live apart)")
        ->option_text("PSEUDONYM");
    cmd->add_option("--consent", m.consent, "written, oral-recorded or none (default: none)")
        ->option_text("TYPE");
    repeatable(cmd, "--consent-scope", m.consent_scope,
               "Who may receive it: an organisation's name, courts, public (repeatable)", "WHO");
    cmd->add_option("--consent-recorded-in", m.consent_recorded_in,
                    "The item that records the consent itself")
        ->option_text("ITEM");
    cmd->add_option("--lat", m.lat, "Latitude of the capture, in degrees")->option_text("DEG");
    cmd->add_option("--lon", m.lon, "Longitude of the capture, in degrees")->option_text("DEG");
    cmd->add_option("--accuracy", m.accuracy, "Accuracy of the location, in metres")
        ->option_text("M");
    cmd->add_option("--language", m.language, "Language of the content (e.g. fr, ar, sw)")
        ->option_text("LANG");
    repeatable(cmd, "--tag", m.tags, "A tag (repeatable)", "TAG");
    cmd->add_option("--derived-from", m.derived_from,
                    "The item this one corrects, transcribes, translates or redacts")
        ->option_text("ITEM");
}

CLI::App* vault_verb(CLI::App& parent, const std::string& name, const std::string& help) {
    auto* cmd = parent.add_subcommand(name, help);
    // --vault and the passphrase options may also follow the verb.
    cmd->fallthrough();
    return cmd;
}

}  // namespace

VaultVerbs::VaultVerbs(CLI::App& app) {
    app.add_option("--vault", globals_.vault_dir,
                   "Vault directory (default: $XDG_DATA_HOME/custodia, else "
                   "~/.local/share/custodia)")
        ->option_text("DIR");
    app.add_option("--passphrase-file", globals_.passphrase_file,
                   "Read the vault passphrase from FILE (- for stdin) instead of the terminal. "
                   "CUSTODIA_PASSPHRASE in the environment does the same for automation")
        ->option_text("FILE");
    app.add_option("--recovery-key-file", globals_.recovery_key_file,
                   "Open the vault with the recovery key in FILE instead of the passphrase")
        ->option_text("FILE");

    status_cmd_ = vault_verb(app, "status", "Say whether a vault exists (no passphrase needed).");
    status_cmd_->add_flag("--json", status_.json, "Print JSON");

    init_cmd_ = vault_verb(app, "init",
                           "Create the vault: asks for a passphrase, prints the recovery key "
                           "(once) and the device public key.");
    init_cmd_->add_option("--investigator", init_.investigator, "Name recorded with every capture")
        ->option_text("NAME");
    init_cmd_->add_flag("--if-missing", init_.if_missing,
                        "Succeed without change when a vault already exists");

    auto* case_cmd = vault_verb(app, "case", "Create or list cases.");
    case_cmd->require_subcommand(1);
    case_create_cmd_ = vault_verb(*case_cmd, "create", "Create a case; prints its id.");
    case_create_cmd_->add_option("title", case_create_.title, "Title of the case")
        ->option_text("TITLE")
        ->required();
    case_create_cmd_->add_option("--description", case_create_.description, "Description")
        ->option_text("TEXT");
    repeatable(case_create_cmd_, "--recipient", case_create_.recipients,
               "Default age1… recipient (an NGO's key) for this case's bundles (repeatable)",
               "RECIPIENT");
    case_list_cmd_ = vault_verb(*case_cmd, "list", "List the cases.");
    case_list_cmd_->add_flag("--json", case_list_.json, "Print JSON");

    add_cmd_ = vault_verb(app, "add",
                          "Import files into a case: each is hashed, signed and encrypted; "
                          "prints one item id per file.");
    add_cmd_->add_option("--case", add_.case_id, "The case")->option_text("CASE")->required();
    add_cmd_
        ->add_option("--mime-type", add_.mime_type,
                     "Media type of every file (default: guessed from the extension)")
        ->option_text("TYPE");
    add_metadata_options(add_cmd_, add_.metadata, "from the media type");
    add_cmd_->add_option("files", add_.files, "Files to import")->option_text("FILE…")->required();

    testimony_cmd_ = vault_verb(app, "testimony", "Record a written testimony; prints its id.");
    testimony_cmd_->add_option("--case", testimony_.case_id, "The case")
        ->option_text("CASE")
        ->required();
    testimony_cmd_
        ->add_option("--text-file", testimony_.text_file,
                     "UTF-8 text of the testimony (- for stdin)")
        ->option_text("FILE");
    testimony_cmd_
        ->add_option("--text", testimony_.text,
                     "The testimony itself (visible to other local users while the "
                     "command runs: prefer --text-file)")
        ->option_text("TEXT");
    add_metadata_options(testimony_cmd_, testimony_.metadata, "testimony");

    list_cmd_ = vault_verb(app, "list", "List items, oldest capture first.");
    list_cmd_->add_option("--case", list_.case_id, "Only this case's items")->option_text("CASE");
    list_cmd_->add_option("--offset", list_.offset, "Skip this many items")->option_text("N");
    list_cmd_->add_option("--limit", list_.limit, "At most this many items (default 100)")
        ->option_text("N");
    list_cmd_->add_flag("--json", list_.json, "Print JSON");

    search_cmd_ = vault_verb(app, "search", "Search titles, descriptions, tags and testimonies.");
    search_cmd_->add_option("query", search_words_, "Words to search for")
        ->option_text("QUERY…")
        ->required();
    search_cmd_->add_option("--limit", search_.limit, "At most this many items (default 100)")
        ->option_text("N");
    search_cmd_->add_flag("--json", search_.json, "Print JSON");

    show_cmd_ =
        vault_verb(app, "show", "Show an item: metadata, SHA-256, signature and custody events.");
    show_cmd_->add_option("item", show_.item_id, "The item")->option_text("ITEM")->required();
    show_cmd_->add_flag("--json", show_.json, "Print JSON");

    extract_cmd_ = vault_verb(app, "extract",
                              "Decrypt an item's original to a file (logged in the custody log).");
    extract_cmd_->add_option("item", extract_.item_id, "The item")->option_text("ITEM")->required();
    extract_cmd_
        ->add_option("-o,--output", extract_.output,
                     "Output file (mode 0600), written only when the whole item verified; "
                     "- for stdout")
        ->option_text("FILE")
        ->required();
    extract_cmd_->add_flag("--force", extract_.force, "Replace FILE if it exists");

    log_cmd_ = vault_verb(app, "log", "Print the custody log.");
    log_cmd_->add_flag("--json", log_.json, "Print JSON");

    checkpoint_cmd_ = vault_verb(app, "checkpoint",
                                 "Print the latest signed checkpoint of the custody log "
                                 "(a C2SP signed note).");

    verify_cmd_ = vault_verb(app, "verify",
                             "Without PATH: check every item of the vault against its signed "
                             "SHA-256 and the custody log against its checkpoints. With PATH: "
                             "re-verify a sealed bundle (needs -i) or a folder `open` extracted, "
                             "without a vault. Exit 1 naming each problem or failed check.");
    verify_cmd_->add_flag("--json", verify_.json, "Print JSON");
    verify_cmd_
        ->add_option("path", verify_target_.bundle,
                     "A .custodia file or an opened folder (default: verify the vault)")
        ->option_text("PATH");
    verify_cmd_
        ->add_option("-i,--identity", verify_target_.identity_files,
                     "With a .custodia PATH: age identity file")
        ->option_text("KEYFILE")
        ->allow_extra_args(false);
    verify_cmd_
        ->add_option("--device-key", verify_target_.device_key_file,
                     "With PATH: the device's minisign public key you trust (default: the "
                     "bundle's own, reported as self-asserted)")
        ->option_text("KEY");

    passwd_cmd_ = vault_verb(app, "passwd", "Change the passphrase (the data is not rewritten).");
    passwd_cmd_
        ->add_option("--new-passphrase-file", passwd_.new_passphrase_file,
                     "Read the new passphrase from FILE instead of the terminal")
        ->option_text("FILE");

    identity_cmd_ =
        vault_verb(app, "identity", "Print the device public key as a minisign .pub file.");

    wipe_cmd_ = vault_verb(app, "wipe",
                           "Destroy the vault: key slots first, then every file. No passphrase "
                           "needed; cannot be undone.");
    wipe_cmd_->add_flag("--yes", wipe_.yes, "Really destroy it");

    auto* duress_cmd = vault_verb(app, "duress", "Manage the duress passphrase.");
    duress_cmd->require_subcommand(1);
    duress_set_cmd_ = vault_verb(*duress_cmd, "set",
                                 "Set a duress passphrase: opening the vault with it destroys "
                                 "everything in it and shows an empty vault.");
    duress_set_cmd_
        ->add_option("--duress-passphrase-file", duress_.duress_passphrase_file,
                     "Read the duress passphrase from FILE instead of the terminal")
        ->option_text("FILE");

    export_cmd_ =
        vault_verb(app, "export",
                   "Seal a case's items into a bundle for age recipients "
                   "(OUT.custodia and OUT.custodia.envelope); prints the bundle id last.");
    export_cmd_->add_option("--case", export_.case_id, "The case")->option_text("CASE")->required();
    export_cmd_
        ->add_option("--item", export_.item_ids,
                     "Export only this item (repeatable; default: every active item)")
        ->option_text("ITEM")
        ->allow_extra_args(false);
    export_cmd_->add_option("--to", export_.recipients, "Recipient age1… (repeatable)")
        ->option_text("RECIPIENT")
        ->allow_extra_args(false)
        ->required();
    export_cmd_->add_flag("--include-witness-identities", export_.include_witness_identities,
                          "Include the witnesses' identifying details (not only pseudonyms)");
    export_cmd_->add_flag("--allow-without-consent", export_.allow_without_consent,
                          "Also export items whose consent type is none");
    export_cmd_
        ->add_option("-o,--output", export_.output,
                     "The bundle file (OUT.custodia); optional with --send")
        ->option_text("OUT");
    export_cmd_->add_flag("--send", export_.send,
                          "Also queue the bundle in the vault's outbox for `sync` to send");
    export_cmd_
        ->add_option("--server", export_.server,
                     "With --send: the enrolled server (default: the only one)")
        ->option_text("NAME");

    auto* server_cmd = vault_verb(app, "server", "Enrol with, list or remove intake servers.");
    server_cmd->require_subcommand(1);
    server_add_cmd_ = vault_verb(*server_cmd, "add",
                                 "Enrol this device with an intake server using the code from "
                                 "`custodia-intake enroll`, and pin the server's key; prints the "
                                 "server's local name last.");
    server_add_cmd_
        ->add_option("code", server_add_.code, "The enrolment code (- to read it from stdin)")
        ->option_text("CODE")
        ->required();
    server_add_cmd_
        ->add_option("--url", server_add_.url,
                     "Reach the server at this address instead of the code's (e.g. an .onion)")
        ->option_text("URL");
    server_add_cmd_->add_option("--name", server_add_.name, "Local name (default: the server's)")
        ->option_text("NAME");
    server_add_cmd_
        ->add_option("--device-name", server_add_.device_name,
                     "How the server's administrator sees this device")
        ->option_text("TEXT");
    server_add_cmd_
        ->add_option("--proxy", server_add_.proxy,
                     "SOCKS5h proxy, e.g. socks5h://127.0.0.1:9050 (default: the vault's)")
        ->option_text("URL");
    server_add_cmd_->add_flag("--require-proxy", server_add_.require_proxy,
                              "Send nothing unless through the proxy");
    server_add_cmd_->add_option("--ca-file", server_add_.ca_file, "Trust this CA bundle for TLS")
        ->option_text("FILE");
    server_list_cmd_ = vault_verb(*server_cmd, "list", "List the enrolled servers.");
    server_list_cmd_->add_flag("--json", server_list_.json, "Print JSON");
    server_remove_cmd_ =
        vault_verb(*server_cmd, "remove", "Forget a server (refused while bundles wait for it).");
    server_remove_cmd_->add_option("name", server_remove_.name, "The server's local name")
        ->option_text("NAME")
        ->required();

    sync_cmd_ = vault_verb(app, "sync",
                           "Send every bundle in the outbox; exit 0 only when each one has a "
                           "verified receipt, otherwise name each failure.");
    sync_cmd_
        ->add_option("--proxy", sync_.proxy,
                     "SOCKS5h proxy, e.g. socks5h://127.0.0.1:9050 (default: the vault's)")
        ->option_text("URL");
    sync_cmd_->add_flag("--require-proxy", sync_.require_proxy,
                        "Fail closed: send nothing unless through the proxy");
    sync_cmd_->add_flag("--save", sync_.save,
                        "Store --proxy and --require-proxy in the vault, exactly as given "
                        "(`sync --save` alone clears them)");
    sync_cmd_->add_option("--ca-file", sync_.ca_file, "Trust this CA bundle for TLS")
        ->option_text("FILE");
    sync_cmd_
        ->add_option("--retry-attempts", sync_.retry_attempts,
                     "Failed attempts in a row, without progress, before a bundle waits for the "
                     "next sync (default 8)")
        ->option_text("N");
    sync_cmd_
        ->add_option("--retry-delay-ms", sync_.retry_delay_ms,
                     "Base of the exponential backoff with jitter (default 500)")
        ->option_text("MS");

    outbox_cmd_ = vault_verb(app, "outbox",
                             "Show each queued bundle: state, bytes the server holds, attempts "
                             "and the reason of the last failure.");
    outbox_cmd_->add_flag("--json", outbox_.json, "Print JSON");

    auto* witness_cmd = vault_verb(app, "witness", "Witnesses' identifying details.");
    witness_cmd->require_subcommand(1);
    witness_add_cmd_ = vault_verb(
        *witness_cmd, "add",
        "Store a witness's identifying details apart from the items, which name the witness by "
        "pseudonym only; exports include them only with --include-witness-identities.");
    witness_add_cmd_->add_option("pseudonym", witness_add_.pseudonym, "The witness's pseudonym")
        ->option_text("PSEUDONYM")
        ->required();
    witness_add_cmd_->add_option("--case", witness_add_.case_id, "The case")
        ->option_text("CASE")
        ->required();
    witness_add_cmd_
        ->add_option("--name", witness_add_.name,
                     "Full name (visible to other local users while the command runs)")
        ->option_text("NAME")
        ->required();
    witness_add_cmd_->add_option("--contact", witness_add_.contact, "How to reach the witness")
        ->option_text("TEXT");
    witness_add_cmd_->add_option("--notes", witness_add_.notes, "Other identifying notes")
        ->option_text("TEXT");

    open_bundle_cmd_ = app.add_subcommand(
        "open",
        "Decrypt, unpack and verify a sealed bundle into DIR; writes DIR/report.json and "
        "DIR/report.html (a page for readers who are not specialists). "
        "Exit 0 only when every check passes, 1 naming each failed check.");
    open_bundle_cmd_->add_option("bundle", open_bundle_.bundle, "The .custodia file")
        ->option_text("BUNDLE")
        ->required();
    open_bundle_cmd_->add_option("-i,--identity", open_bundle_.identity_files, "age identity file")
        ->option_text("FILE")
        ->allow_extra_args(false)
        ->required();
    open_bundle_cmd_
        ->add_option("-o,--output", open_bundle_.output_dir, "Directory to create (or empty)")
        ->option_text("DIR")
        ->required();
    open_bundle_cmd_
        ->add_option("--device-key", open_bundle_.device_key_file,
                     "The device's minisign public key you trust (default: the bundle's own, "
                     "reported as self-asserted)")
        ->option_text("KEY");

    // The older name of `verify PATH`, kept for scripts.
    verify_bundle_cmd_ = app.add_subcommand(
        "verify-bundle",
        "Same as `verify PATH`: verify a sealed bundle or an opened folder without writing "
        "anything; exit 1 naming each failed check.");
    verify_bundle_cmd_
        ->add_option("bundle", verify_bundle_.bundle, "The .custodia file or an opened folder")
        ->option_text("PATH")
        ->required();
    verify_bundle_cmd_
        ->add_option("-i,--identity", verify_bundle_.identity_files,
                     "age identity file (needed for a .custodia file)")
        ->option_text("FILE")
        ->allow_extra_args(false);
    verify_bundle_cmd_
        ->add_option("--device-key", verify_bundle_.device_key_file,
                     "The device's minisign public key you trust")
        ->option_text("KEY");
    verify_bundle_cmd_->add_flag("--json", verify_bundle_.json, "Print the report as JSON");
}

std::optional<CommandOutcome> VaultVerbs::run() const {
    if (status_cmd_->parsed()) return run_status(globals_, status_);
    if (init_cmd_->parsed()) return run_init(globals_, init_);
    if (case_create_cmd_->parsed()) return run_case_create(globals_, case_create_);
    if (case_list_cmd_->parsed()) return run_case_list(globals_, case_list_);
    if (add_cmd_->parsed()) return run_add(globals_, add_);
    if (testimony_cmd_->parsed()) return run_testimony(globals_, testimony_);
    if (list_cmd_->parsed()) return run_list(globals_, list_);
    if (search_cmd_->parsed()) {
        SearchOptions search = search_;
        for (const auto& word : search_words_) {
            if (!search.query.empty()) search.query += ' ';
            search.query += word;
        }
        return run_search(globals_, search);
    }
    if (show_cmd_->parsed()) return run_show(globals_, show_);
    if (extract_cmd_->parsed()) return run_extract(globals_, extract_);
    if (log_cmd_->parsed()) return run_log(globals_, log_);
    if (checkpoint_cmd_->parsed()) return run_checkpoint(globals_);
    if (verify_cmd_->parsed()) {
        if (!verify_target_.bundle.empty()) {
            VerifyBundleOptions target = verify_target_;
            target.verb = "verify";
            target.json = verify_.json;
            return run_verify_bundle(target);
        }
        if (!verify_target_.identity_files.empty() || !verify_target_.device_key_file.empty()) {
            return CommandOutcome(
                usage_failure("verify: -i and --device-key need a PATH (a bundle or folder)"));
        }
        return run_verify(globals_, verify_);
    }
    if (passwd_cmd_->parsed()) return run_passwd(globals_, passwd_);
    if (identity_cmd_->parsed()) return run_identity(globals_);
    if (wipe_cmd_->parsed()) return run_wipe(globals_, wipe_);
    if (duress_set_cmd_->parsed()) return run_duress_set(globals_, duress_);
    if (export_cmd_->parsed()) return run_export(globals_, export_);
    if (witness_add_cmd_->parsed()) return run_witness_add(globals_, witness_add_);
    if (open_bundle_cmd_->parsed()) return run_open_bundle(open_bundle_);
    if (verify_bundle_cmd_->parsed()) return run_verify_bundle(verify_bundle_);
    if (server_add_cmd_->parsed()) return run_server_add(globals_, server_add_);
    if (server_list_cmd_->parsed()) return run_server_list(globals_, server_list_);
    if (server_remove_cmd_->parsed()) return run_server_remove(globals_, server_remove_);
    if (sync_cmd_->parsed()) return run_sync(globals_, sync_);
    if (outbox_cmd_->parsed()) return run_outbox(globals_, outbox_);
    return std::nullopt;
}

}  // namespace custodia::cli
