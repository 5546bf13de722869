// Exporting a case as a sealed bundle (DESIGN.md §6, docs/FORMAT.md
// "Exporting a case"): the vault supplies items, originals and custody
// evidence; bundle_writer seals them.
#include <unistd.h>

#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "custodia/core/bundle_writer.h"
#include "custodia/core/capture_record.h"
#include "custodia/core/custody_entry.h"
#include "custodia/core/merkle.h"
#include "custodia/core/note.h"
#include "custodia/core/vault.h"
#include "custodia/crypto/age.h"
#include "custodia/crypto/blob.h"
#include "custodia/crypto/encoding.h"
#include "durable_file.h"
#include "ids.h"
#include "item_rows.h"
#include "outbox_files.h"
#include "vault_state.h"

namespace custodia::core {
namespace {

using nlohmann::json;

// Owns everything a blob's plaintext stream needs, so the bundle writer can
// hold one object per original and drop it when the original is sealed.
class BlobContentSource final : public crypto::ByteSource {
  public:
    static Result<std::unique_ptr<crypto::ByteSource>> open(const BlobStore& blobs,
                                                            const BlobId& blob_id,
                                                            const crypto::SecretBytes& key) {
        auto fd = blobs.open_for_reading(blob_id);
        if (!fd) return std::move(fd).error();
        std::unique_ptr<BlobContentSource> self(new BlobContentSource(std::move(*fd)));
        auto reader = crypto::blob::BlobReader::open(self->file_, key);
        if (!reader) return std::move(reader).error();
        self->reader_ = std::move(*reader);
        return std::unique_ptr<crypto::ByteSource>(std::move(self));
    }
    Result<std::size_t> read(std::span<std::uint8_t> out) override { return reader_->read(out); }

  private:
    explicit BlobContentSource(UniqueFd fd) : fd_(std::move(fd)), file_(fd_.get()) {}
    UniqueFd fd_;
    crypto::FdSource file_;
    std::unique_ptr<crypto::blob::BlobReader> reader_;
};

json location_json(const Location& l) {
    json j = {{"lat", l.lat}, {"lon", l.lon}, {"source", l.source}};
    if (l.accuracy_m) j["accuracy_m"] = *l.accuracy_m;
    return j;
}

Result<json> item_json(const Item& item, const std::vector<std::uint8_t>& capture_record,
                       const std::optional<json>& witness_identity) {
    const auto& f = item.fields;
    json consent = {{"type", std::string(to_string(f.consent.type))},
                    {"scope", f.consent.scope},
                    {"withdrawn", f.consent.withdrawn}};
    if (f.consent.recorded_in) consent["recorded_in"] = *f.consent.recorded_in;
    json capture = {{"time", format_utc(item.capture.time.unix_ms)},
                    {"unix_ms", item.capture.time.unix_ms},
                    {"offset_minutes", item.capture.time.offset_minutes},
                    {"clock_source", item.capture.clock_source},
                    {"investigator", item.capture.investigator}};
    if (item.capture.location) capture["location"] = location_json(*item.capture.location);
    json j = {{"case_id", item.case_id},
              {"kind", std::string(to_string(f.kind))},
              {"title", f.title},
              {"description", f.description},
              {"language", f.language},
              {"tags", f.tags},
              {"witness", f.witness},
              {"consent", consent},
              {"capture", capture},
              {"capture_signature", crypto::to_base64(item.capture_signature, true)},
              {"capture_record", crypto::to_base64(capture_record, true)}};
    if (f.location) j["location"] = location_json(*f.location);
    if (f.derived_from) j["derived_from"] = *f.derived_from;
    if (witness_identity) j["witness_identity"] = *witness_identity;
    return j;
}

Result<crypto::SecretBytes> load_blob_key(Database& db, const BlobId& blob_id) {
    auto st = db.prepare(
        "SELECT k.key FROM blob_keys k JOIN attachments a ON a.id = k.attachment_id"
        " WHERE a.blob_id = ?1");
    if (!st) return std::move(st).error();
    if (auto s = st->bind_text(1, blob_id); !s) return std::move(s).error();
    auto row = st->step();
    if (!row) return std::move(row).error();
    if (!*row) return make_error(Errc::malformed, "the item's blob key is missing from vault.db");
    return st->column_secret(0);
}

Result<std::optional<json>> load_witness_identity(Database& db, const Item& item) {
    if (item.fields.witness.empty()) return std::optional<json>{};
    auto case_bytes = id_bytes(item.case_id);
    if (!case_bytes) return make_error(Errc::malformed, "malformed case id");
    auto st = db.prepare(
        "SELECT i.full_name, i.contact, i.notes FROM witness_identities i"
        " JOIN witnesses w ON w.id = i.witness_id WHERE w.case_id = ?1 AND w.pseudonym = ?2");
    if (!st) return std::move(st).error();
    if (auto s = st->bind_blob(1, *case_bytes); !s) return std::move(s).error();
    if (auto s = st->bind_text(2, item.fields.witness); !s) return std::move(s).error();
    auto row = st->step();
    if (!row) return std::move(row).error();
    if (!*row) return std::optional<json>{};
    return std::optional<json>(json{{"full_name", st->column_text(0)},
                                    {"contact", st->column_text(1)},
                                    {"notes", st->column_text(2)}});
}

std::vector<std::uint8_t> text_bytes(std::string_view text) {
    return {text.begin(), text.end()};
}

// custody/proofs/<index>: see docs/FORMAT.md "Exporting a case".
std::string inclusion_proof_text(std::uint64_t index, std::uint64_t tree_size,
                                 const MerkleHash& leaf, const std::vector<MerkleHash>& proof) {
    std::string text = "custodia.inclusion-proof/v1\n";
    text += "index " + std::to_string(index) + "\n";
    text += "tree_size " + std::to_string(tree_size) + "\n";
    text += "leaf " + crypto::to_hex(leaf) + "\n";
    for (const auto& h : proof) text += "hash " + crypto::to_hex(h) + "\n";
    return text;
}

Status check_consent(const Item& item, const ExportOptions& options) {
    if (item.state == ItemState::shredded || item.fields.consent.withdrawn)
        return make_error(Errc::malformed,
                          "item " + item.id + ": consent was withdrawn; it cannot be exported");
    if (item.fields.consent.type == ConsentType::none && !options.allow_without_consent)
        return make_error(Errc::malformed,
                          "item " + item.id +
                              ": no consent is recorded; exporting it needs an explicit override");
    return {};
}

}  // namespace

Result<ExportedBundle> Vault::export_bundle(
    const CaseId& case_id, const std::vector<ItemId>& item_ids,
    const std::vector<std::string>& recipients, bool include_witness_identities,
    const std::filesystem::path& out, const Progress& progress, const ExportOptions& options) {
    auto directory = out.parent_path();
    if (directory.empty()) directory = ".";
    return seal_case(case_id, item_ids, recipients, include_witness_identities, directory,
                     out.filename().string(), progress, options);
}

Result<ExportedBundle> Vault::export_to_outbox(const CaseId& case_id,
                                               const std::vector<ItemId>& item_ids,
                                               const std::vector<std::string>& recipients,
                                               bool include_witness_identities,
                                               const std::string& server, const Progress& progress,
                                               const ExportOptions& options) {
    // Refused before anything is sealed.
    if (auto known = get_server(server); !known) return std::move(known).error();
    const auto outbox = state_->dir / kOutboxDirectoryName;
    if (auto s = make_directory_durably(outbox); !s) return std::move(s).error();
    auto sealed = seal_case(case_id, item_ids, recipients, include_witness_identities, outbox, {},
                            progress, options);
    if (!sealed) return std::move(sealed).error();
    // Already at their outbox names, so queuing copies nothing.
    if (auto entry = queue_bundle(*sealed, server); !entry) {
        ::unlink(sealed->bundle_path.c_str());
        ::unlink(sealed->envelope_path.c_str());
        return std::move(entry).error();
    }
    return sealed;
}

Result<ExportedBundle> Vault::seal_case(const CaseId& case_id, const std::vector<ItemId>& item_ids,
                                        const std::vector<std::string>& recipient_texts,
                                        bool include_witness_identities,
                                        const std::filesystem::path& directory,
                                        const std::string& file_name, const Progress& progress,
                                        const ExportOptions& options) {
    if (recipient_texts.empty()) return make_error(Errc::malformed, "no recipient given");
    std::vector<crypto::age::Recipient> recipients;
    for (const auto& text : recipient_texts) {
        auto r = crypto::age::Recipient::parse(text);
        if (!r) return std::move(r).error();
        recipients.push_back(*r);
    }
    auto kase = get_case(case_id);
    if (!kase) return std::move(kase).error();

    std::vector<Item> items;
    if (item_ids.empty()) {
        auto all = list_items(case_id, 0, std::numeric_limits<std::uint64_t>::max() / 2);
        if (!all) return std::move(all).error();
        for (auto& item : *all)
            if (item.state == ItemState::active && !item.fields.consent.withdrawn)
                items.push_back(std::move(item));
    } else {
        std::set<ItemId> seen;
        for (const auto& id : item_ids) {
            if (!seen.insert(id).second) continue;
            auto item = get_item(id);
            if (!item) return std::move(item).error();
            if (item->case_id != case_id)
                return make_error(Errc::malformed, "item " + id + " is not in case " + case_id);
            items.push_back(std::move(item).value());
        }
    }
    if (items.empty()) return make_error(Errc::malformed, "the case has no item to export");
    for (const auto& item : items)
        if (auto s = check_consent(item, options); !s) return std::move(s).error();

    BundleContents contents;
    contents.case_id = kase->id;
    contents.case_title = kase->title;
    contents.case_description = kase->description;
    {
        std::lock_guard guard(state_->mutex);
        auto note = latest_checkpoint_note(state_->db);
        if (!note) return std::move(note).error();
        if (!*note) return make_error(Errc::malformed, "the vault has no checkpoint");
        auto parsed = SignedNote::parse(**note);
        if (!parsed) return std::move(parsed).error();
        auto checkpoint = Checkpoint::parse(parsed->text());
        if (!checkpoint) return std::move(checkpoint).error();
        contents.custody.push_back({"device.pub", text_bytes(device_key().to_file())});
        contents.custody.push_back({"checkpoint", text_bytes(**note)});
        // Receipts travel in later bundles of the same case (FORMAT.md
        // "custody/receipts/"); other cases' bundles are not revealed.
        auto receipts = receipt_custody_files(state_->db, kase->id);
        if (!receipts) return std::move(receipts).error();
        for (auto& r : *receipts) contents.custody.push_back(std::move(r));

        for (const auto& item : items) {
            auto record = encode_capture_record(item);
            if (!record) return std::move(record).error();
            std::optional<json> identity;
            if (include_witness_identities) {
                auto found = load_witness_identity(state_->db, item);
                if (!found) return std::move(found).error();
                identity = std::move(*found);
            }
            auto j = item_json(item, *record, identity);
            if (!j) return std::move(j).error();
            BundleItem bundle_item;
            bundle_item.id = item.id;
            bundle_item.metadata_json = j->dump();
            if (item.attachment) {
                auto key = load_blob_key(state_->db, item.attachment->blob_id);
                if (!key) return std::move(key).error();
                auto shared_key = std::make_shared<crypto::SecretBytes>(std::move(*key));
                const BlobStore* blobs = &state_->blobs;
                BundleAttachment a;
                a.name = item.attachment->original_name;
                a.mime = item.attachment->mime_type;
                a.size = item.attachment->size;
                a.sha256 = item.attachment->sha256;
                a.open = [blobs, blob_id = item.attachment->blob_id, shared_key]() {
                    return BlobContentSource::open(*blobs, blob_id, *shared_key);
                };
                a.authenticated = true;  // BlobReader fails on any changed byte
                bundle_item.attachment = std::move(a);
            }
            contents.items.push_back(std::move(bundle_item));
        }
    }

    // Entries and proofs against the checkpoint taken above; entries logged
    // since (by another thread) are past its size and left out.
    auto checkpoint_note = SignedNote::parse(
        std::string(contents.custody[1].bytes.begin(), contents.custody[1].bytes.end()));
    if (!checkpoint_note) return std::move(checkpoint_note).error();
    auto checkpoint = Checkpoint::parse(checkpoint_note->text());
    if (!checkpoint) return std::move(checkpoint).error();
    std::vector<std::vector<CustodyEntry>> item_entries;
    for (const auto& item : items) {
        auto entries = custody_log(item.id);
        if (!entries) return std::move(entries).error();
        item_entries.push_back(std::move(entries).value());
    }
    {
        // A few reads per proof: one snapshot and lock for all of them.
        std::lock_guard guard(state_->mutex);
        auto read = state_->db.begin_read();
        if (!read) return std::move(read).error();
        DatabaseLeafHashes leaves(state_->db, checkpoint->size);
        for (const auto& entries : item_entries)
            for (const auto& entry : entries) {
                if (entry.index >= checkpoint->size) continue;  // newer than the checkpoint
                auto proof = inclusion_proof(leaves, entry.index, checkpoint->size);
                if (!proof) return std::move(proof).error();
                const auto name = std::to_string(entry.index);
                contents.custody.push_back({"entries/" + name, entry.encoded});
                contents.custody.push_back(
                    {"proofs/" + name,
                     text_bytes(inclusion_proof_text(entry.index, checkpoint->size,
                                                     leaf_hash(entry.encoded), *proof))});
            }
    }

    BundleWriteOptions write_options;
    write_options.zstd_level = options.zstd_level;
    write_options.file_name = file_name;
    const BundleSigner signer{state_->device_key, state_->clock, state_->random};
    auto written = write_bundle(directory, contents, recipients, signer, progress, write_options);
    if (!written) return std::move(written).error();

    std::lock_guard guard(state_->mutex);
    auto change = VaultChange::begin(*state_);
    if (!change) return std::move(change).error();
    for (const auto& item : items) {
        CustodyDetails details;
        details.add("bundle", written->sealed.bundle_id)
            .add("sha256", crypto::to_hex(written->sealed.sha256));
        if (auto e = change->log(CustodyEvent::exported, case_id, item.id, details.text()); !e)
            return std::move(e).error();
    }
    if (auto s = change->commit(); !s) return std::move(s).error();

    ExportedBundle result;
    result.bundle_id = written->sealed.bundle_id;
    result.bundle_path = written->bundle_path;
    result.envelope_path = written->envelope_path;
    result.size = written->sealed.size;
    result.sha256 = written->sealed.sha256;
    result.items = items.size();
    result.case_id = case_id;
    for (const auto& item : items) result.item_ids.push_back(item.id);
    return result;
}

}  // namespace custodia::core
