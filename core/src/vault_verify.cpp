// Vault::verify(): every check a court expert would ask for, run over the
// whole vault, collecting every problem rather than stopping at the first.
#include <set>

#include "custodia/core/capture_record.h"
#include "custodia/core/custody_entry.h"
#include "custodia/core/vault.h"
#include "custodia/crypto/blob.h"
#include "ids.h"
#include "item_rows.h"
#include "vault_state.h"

namespace custodia::core {

namespace {

constexpr std::size_t kVerifyPiece = 1 << 20;
// Interior-node problems repeat one cause; past this many, they are counted.
constexpr std::size_t kMaxNodeProblems = 16;

class Problems {
  public:
    explicit Problems(VerifyReport& report) : report_(report) {}
    void add(std::string what, std::optional<ItemId> item, std::string message) {
        report_.problems.push_back(
            VerifyProblem{std::move(what), std::move(item), std::move(message)});
    }

  private:
    VerifyReport& report_;
};

std::optional<ItemId> id_or_none(const Statement& st, int column) {
    return optional_id_column(st, column);
}

// Re-hashes every entry from its bytes, so that neither a changed entry nor
// a changed stored leaf hash goes unnoticed (the root check catches the
// second). Returns the recomputed tree.
Result<MemoryLeafHashes> check_entries(Database& db, Problems& problems, const Progress& progress) {
    MemoryLeafHashes tree;
    auto st = db.prepare(
        "SELECT seq, event, case_id, item_id, entry, leaf_hash FROM custody_entries ORDER BY seq");
    if (!st) return std::move(st).error();
    std::uint64_t expected = 0;
    for (;;) {
        auto row = st->step();
        if (!row) return std::move(row).error();
        if (!*row) break;
        if ((expected & 0xFFF) == 0 && progress.cancelled())
            return make_error(Errc::cancelled, "verify cancelled");
        const auto seq = static_cast<std::uint64_t>(st->column_int64(0));
        const auto item = id_or_none(*st, 3);
        const std::string where = "custody entry " + std::to_string(seq);
        if (seq != expected) {
            problems.add("custody log", item,
                         "entries are missing before entry " + std::to_string(seq));
            expected = seq;
        }
        const auto entry = st->column_blob(4);
        const auto stored = st->column_blob(5);
        const MerkleHash leaf = leaf_hash(entry);
        if (!std::equal(leaf.begin(), leaf.end(), stored.begin(), stored.end()))
            problems.add("custody entry", item, where + " does not hash to its stored leaf hash");
        auto decoded = decode_custody_entry(entry);
        if (!decoded) {
            problems.add("custody entry", item,
                         where + " is malformed: " + decoded.error().message);
        } else if (decoded->index != seq || to_string(decoded->event) != st->column_text(1) ||
                   decoded->case_id != id_or_none(*st, 2) || decoded->item_id != item) {
            problems.add("custody entry", item,
                         where + ": its index columns disagree with its signed bytes");
        }
        tree.append(leaf);
        ++expected;
    }
    return tree;
}

Status check_nodes(Database& db, const MemoryLeafHashes& tree, Problems& problems) {
    const std::uint64_t n = tree.size();
    std::uint64_t wanted = 0;
    for (unsigned level = 1; level < 64; ++level) wanted += n >> level;
    auto st = db.prepare("SELECT level, idx, hash FROM custody_nodes ORDER BY level, idx");
    if (!st) return std::move(st).error();
    std::uint64_t seen = 0, bad = 0;
    for (;;) {
        auto row = st->step();
        if (!row) return std::move(row).error();
        if (!*row) break;
        ++seen;
        const auto level = st->column_int64(0);
        const auto idx = static_cast<std::uint64_t>(st->column_int64(1));
        const auto stored = st->column_blob(2);
        bool ok = level >= 1 && level < 64 && idx < (n >> level);
        if (ok) {
            auto h = tree.range_hash(idx << level, (idx + 1) << level);
            ok = h && std::equal(h->begin(), h->end(), stored.begin(), stored.end());
        }
        if (!ok && bad++ < kMaxNodeProblems)
            problems.add("custody log", std::nullopt,
                         "stored Merkle node (" + std::to_string(level) + ", " +
                             std::to_string(idx) + ") does not match the entries");
    }
    if (bad > kMaxNodeProblems)
        problems.add("custody log", std::nullopt,
                     std::to_string(bad - kMaxNodeProblems) + " more Merkle nodes do not match");
    if (seen != wanted)
        problems.add("custody log", std::nullopt,
                     "the database holds " + std::to_string(seen) + " Merkle nodes where " +
                         std::to_string(wanted) + " belong: proofs from it would be wrong");
    return {};
}

Status check_checkpoints(Vault::State& state, const MemoryLeafHashes& tree,
                         const NoteVerifierKey& verifier, Problems& problems) {
    const std::uint64_t n = tree.size();
    auto st =
        state.db.prepare("SELECT tree_size, root_hash, note FROM checkpoints ORDER BY tree_size");
    if (!st) return std::move(st).error();
    std::optional<std::uint64_t> latest;
    for (;;) {
        auto row = st->step();
        if (!row) return std::move(row).error();
        if (!*row) break;
        const auto size = static_cast<std::uint64_t>(st->column_int64(0));
        const std::string where = "checkpoint of " + std::to_string(size) + " entries";
        latest = size;
        const auto note_bytes = st->column_blob(2);
        auto cp =
            parse_device_checkpoint(std::string(note_bytes.begin(), note_bytes.end()), verifier);
        if (!cp) {
            problems.add("checkpoint", std::nullopt,
                         where + ": signature does not verify under the device key (" +
                             cp.error().message + ")");
            continue;
        }
        const auto column_root = st->column_blob(1);
        if (cp->checkpoint.size != size ||
            !std::equal(column_root.begin(), column_root.end(), cp->checkpoint.root.begin(),
                        cp->checkpoint.root.end()))
            problems.add("checkpoint", std::nullopt,
                         where + ": index columns disagree with the note");
        if (cp->checkpoint.size > n) {
            problems.add("checkpoint", std::nullopt,
                         where + " but the log holds " + std::to_string(n) +
                             ": entries were removed (vault.db rolled back?)");
            continue;
        }
        auto root = merkle_root(tree, cp->checkpoint.size);
        if (!root || *root != cp->checkpoint.root)
            problems.add("checkpoint", std::nullopt,
                         where + ": the log's entries do not lead to its signed root hash");
    }
    if (!latest)
        problems.add("checkpoint", std::nullopt, "the custody log has no signed checkpoint");
    else if (*latest < n)
        problems.add("checkpoint", std::nullopt,
                     std::to_string(n - *latest) +
                         " custody entries are not covered by a signed checkpoint");
    return {};
}

void check_outside_checkpoint(Vault::State& state, const MemoryLeafHashes& tree,
                              Problems& problems) {
    auto outside = read_outside_checkpoint(state);
    if (!outside) {
        problems.add("vault.checkpoint", std::nullopt,
                     "not a valid checkpoint of this vault: " + outside.error().message);
        return;
    }
    if (!*outside) {
        problems.add("vault.checkpoint", std::nullopt,
                     "missing: a rollback of vault.db cannot be detected");
        return;
    }
    const Checkpoint& cp = (*outside)->checkpoint;
    const std::uint64_t n = tree.size();
    if (cp.size > n) {
        problems.add("database rolled back", std::nullopt,
                     "vault.checkpoint records " + std::to_string(cp.size) +
                         " custody entries but vault.db holds only " + std::to_string(n) +
                         ": vault.db was replaced by an older copy");
        return;
    }
    auto root = merkle_root(tree, cp.size);
    if (!root || *root != cp.root)
        problems.add("database rolled back", std::nullopt,
                     "the first " + std::to_string(cp.size) +
                         " custody entries in vault.db differ from those vault.checkpoint signs:"
                         " the database was replaced or its history rewritten");
}

// Decrypts a blob whole and compares its SHA-256 and size with the record.
Status check_blob(const Vault::State& state, const Attachment& a, const crypto::SecretBytes& key,
                  std::vector<std::uint8_t>& piece) {
    auto fd = state.blobs.open_for_reading(a.blob_id);
    if (!fd) return std::move(fd).error();
    crypto::FdSource file(fd->get());
    auto reader = crypto::blob::BlobReader::open(file, key);
    if (!reader) return std::move(reader).error();
    crypto::Sha256 hasher;
    std::uint64_t size = 0;
    for (;;) {
        auto n = crypto::read_full(**reader, piece);
        if (!n) return std::move(n).error();
        if (*n == 0) break;
        hasher.update(std::span<const std::uint8_t>(piece).first(*n));
        size += *n;
    }
    crypto::wipe(piece);
    if (size != a.size)
        return make_error(Errc::auth_failed, "decrypts to " + std::to_string(size) +
                                                 " bytes where the capture record signs " +
                                                 std::to_string(a.size));
    if (!crypto::equal_constant_time(hasher.finish(), a.sha256))
        return make_error(Errc::auth_failed, "content does not match its signed SHA-256");
    return {};
}

Status check_items(Vault::State& state, VerifyReport& report, Problems& problems,
                   const Progress& progress, std::set<BlobId>& referenced) {
    auto count = state.db.prepare("SELECT count(*) FROM items");
    if (!count) return std::move(count).error();
    if (auto row = count->step(); !row) return std::move(row).error();
    const auto total = static_cast<std::uint64_t>(count->column_int64(0));

    auto st = state.db.prepare(item_select(", cr.statement, dk.public_key, k.key") +
                               "  LEFT JOIN device_keys dk ON dk.id = cr.device_key_id"
                               "  LEFT JOIN blob_keys k ON k.attachment_id = a.id"
                               " ORDER BY i.local_id");
    if (!st) return std::move(st).error();
    std::vector<std::uint8_t> piece(kVerifyPiece);
    for (;;) {
        auto row = st->step();
        if (!row) return std::move(row).error();
        if (!*row) break;
        if (progress.cancelled()) return make_error(Errc::cancelled, "verify cancelled");
        auto item = item_from_row(*st);
        if (!item) {
            problems.add("item", id_or_none(*st, 0), item.error().message);
            continue;
        }
        const ItemId& id = item->id;
        if (item->attachment) referenced.insert(item->attachment->blob_id);

        const auto statement = st->column_blob(30);
        const auto public_key = st->column_blob(31);
        if (!item->attachment) {
            problems.add("attachment", id, "the item has no content");
        } else if (statement.empty() || public_key.size() != 32) {
            problems.add("capture signature", id, "the item has no capture record");
        } else {
            auto encoded = encode_capture_record(*item);
            if (!encoded || *encoded != statement)
                problems.add("capture record", id,
                             "the item's metadata in vault.db differs from what the device "
                             "signed at capture");
            crypto::Ed25519PublicKey pk{};
            std::copy(public_key.begin(), public_key.end(), pk.begin());
            if (!crypto::verify_ed25519(pk, statement, item->capture_signature))
                problems.add("capture signature", id, "the device's signature does not verify");
        }

        if (item->attachment) {
            const bool has_key = !st->column_is_null(32);
            if (item->state == ItemState::shredded) {
                if (has_key)
                    problems.add("blob key", id, "shredded, but its blob key is still stored");
            } else if (!has_key) {
                problems.add("blob key", id, "the blob key is missing: the content cannot be read");
            } else if (auto s = check_blob(state, *item->attachment, st->column_secret(32), piece);
                       !s) {
                problems.add("blob", id,
                             "blob " + item->attachment->blob_id + ": " + s.error().message);
            }
        }
        ++report.items_checked;
        progress(report.items_checked, total);
    }
    return {};
}

}  // namespace

Result<VerifyReport> Vault::verify(const Progress& progress) {
    std::lock_guard guard(state_->mutex);
    State& state = *state_;
    VerifyReport report;
    Problems problems(report);
    if (state.log_damage) problems.add("custody log", std::nullopt, state.log_damage->message);

    auto verifier = state.signer().verifier();
    if (!verifier) return std::move(verifier).error();
    auto tree = check_entries(state.db, problems, progress);
    if (!tree) return std::move(tree).error();
    report.log_size = tree->size();
    if (auto s = check_nodes(state.db, *tree, problems); !s) return std::move(s).error();
    if (auto s = check_checkpoints(state, *tree, *verifier, problems); !s)
        return std::move(s).error();
    check_outside_checkpoint(state, *tree, problems);

    std::set<BlobId> referenced;
    if (auto s = check_items(state, report, problems, progress, referenced); !s)
        return std::move(s).error();

    auto listing = state.blobs.list();
    if (!listing) return std::move(listing).error();
    std::size_t orphans = 0;
    for (const BlobId& id : listing->blobs)
        if (!referenced.contains(id)) ++orphans;
    if (orphans > 0)
        problems.add("blob", std::nullopt,
                     std::to_string(orphans) +
                         " blob files belong to no item in vault.db (left by a rolled-back"
                         " database or an interrupted import)");
    if (!listing->temporaries.empty())
        problems.add("blob", std::nullopt,
                     std::to_string(listing->temporaries.size()) +
                         " unfinished blob files (*.tmp) are left from an interrupted import");
    return report;
}

}  // namespace custodia::core
