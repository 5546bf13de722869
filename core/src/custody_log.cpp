#include "custody_log.h"

#include <bit>

#include "custodia/core/custody_entry.h"
#include "custodia/crypto/encoding.h"
#include "ids.h"

namespace custodia::core {

namespace {

Result<MerkleHash> hash_from_column(const Statement& st, int column, std::string_view what) {
    const auto bytes = st.column_blob(column);
    MerkleHash h{};
    if (bytes.size() != h.size())
        return make_error(Errc::malformed, std::string(what) + " is not a 32-byte hash");
    std::copy(bytes.begin(), bytes.end(), h.begin());
    return h;
}

Status bind_optional_id(Statement& st, int index, const std::optional<std::string>& id) {
    if (!id) return st.bind_null(index);
    auto bytes = id_bytes(*id);
    if (!bytes) return make_error(Errc::internal, "malformed id");
    return st.bind_blob(index, *bytes);
}

}  // namespace

// ---- DatabaseLeafHashes -----------------------------------------------------

Status DatabaseLeafHashes::read_leaf_hashes(std::uint64_t begin, std::uint64_t end,
                                            std::vector<MerkleHash>& out) const {
    if (begin > end || end > size_) return make_error(Errc::malformed, "leaf range outside log");
    auto st = db_.prepare(
        "SELECT leaf_hash FROM custody_entries WHERE seq >= ?1 AND seq < ?2 ORDER BY seq");
    if (!st) return std::move(st).error();
    if (auto s = st->bind_int64(1, static_cast<std::int64_t>(begin)); !s) return s;
    if (auto s = st->bind_int64(2, static_cast<std::int64_t>(end)); !s) return s;
    std::uint64_t got = 0;
    for (;;) {
        auto row = st->step();
        if (!row) return std::move(row).error();
        if (!*row) break;
        auto h = hash_from_column(*st, 0, "leaf hash");
        if (!h) return std::move(h).error();
        out.push_back(*h);
        ++got;
    }
    if (got != end - begin) return make_error(Errc::malformed, "custody log has missing entries");
    return {};
}

Result<MerkleHash> DatabaseLeafHashes::node(unsigned level, std::uint64_t index) const {
    if (level >= 64 || index >= (size_ >> level))
        return make_error(Errc::internal, "Merkle node outside the log");
    std::optional<Statement>& st = level == 0 ? leaf_query_ : node_query_;
    if (!st) {
        auto prepared =
            level == 0
                ? db_.prepare("SELECT leaf_hash FROM custody_entries WHERE seq = ?1")
                : db_.prepare("SELECT hash FROM custody_nodes WHERE level = ?2 AND idx = ?1");
        if (!prepared) return std::move(prepared).error();
        st.emplace(std::move(prepared).value());
    }
    if (auto s = st->bind_int64(1, static_cast<std::int64_t>(index)); !s)
        return std::move(s).error();
    if (level > 0)
        if (auto s = st->bind_int64(2, level); !s) return std::move(s).error();
    auto row = st->step();
    Result<MerkleHash> hash =
        !row    ? Result<MerkleHash>(std::move(row).error())
        : !*row ? Result<MerkleHash>(make_error(
                      Errc::malformed, "custody log node (" + std::to_string(level) + ", " +
                                           std::to_string(index) + ") is missing"))
                : hash_from_column(*st, 0, "custody log node");
    // Reset at once: a statement left on a row would hold its read open.
    // (Its status is the step's, already in `hash`.)
    (void)st->reset();
    return hash;
}

Result<MerkleHash> DatabaseLeafHashes::range_hash(std::uint64_t begin, std::uint64_t end) const {
    if (begin > end || end > size_) return make_error(Errc::malformed, "leaf range outside log");
    const std::uint64_t count = end - begin;
    if (count == 0) return empty_tree_hash();
    // Ranges that proofs ask for start at a multiple of bit_ceil(count) and
    // are a run of stored perfect subtrees, one per set bit of the count.
    const bool aligned = count <= (std::uint64_t{1} << 63) && begin % std::bit_ceil(count) == 0;
    if (!aligned) return LeafHashes::range_hash(begin, end);
    std::vector<MerkleHash> parts;
    std::uint64_t at = begin;
    for (int level = static_cast<int>(std::bit_width(count)) - 1; level >= 0; --level) {
        const std::uint64_t width = std::uint64_t{1} << level;
        if ((count & width) == 0) continue;
        auto h = node(static_cast<unsigned>(level), at >> level);
        if (!h) return std::move(h).error();
        parts.push_back(*h);
        at += width;
    }
    MerkleHash r = parts.back();
    for (std::size_t i = parts.size() - 1; i-- > 0;) r = node_hash(parts[i], r);
    return r;
}

// ---- Checkpoints -------------------------------------------------------------

Result<NoteVerifierKey> CheckpointSigner::verifier() const {
    return NoteVerifierKey::make(origin, NoteSignatureType::ed25519, key->public_key());
}

Result<VerifiedCheckpoint> parse_device_checkpoint(std::string_view note,
                                                   const NoteVerifierKey& verifier) {
    auto parsed = SignedNote::parse(note);
    if (!parsed) return std::move(parsed).error();
    const NoteVerifierKey known[] = {verifier};
    auto verified = verify_note(*parsed, known);
    if (!verified) return std::move(verified).error();
    auto cp = Checkpoint::parse(parsed->text());
    if (!cp) return std::move(cp).error();
    if (cp->origin != verifier.name())
        return make_error(Errc::malformed, "checkpoint is for another log (" + cp->origin + ")");
    return VerifiedCheckpoint{std::string(note), std::move(cp).value()};
}

Status check_extends(Database& db, const Checkpoint& from, const Checkpoint& to) {
    if (from.origin != to.origin)
        return make_error(Errc::auth_failed, "checkpoints belong to different logs");
    if (from.size > to.size)
        return make_error(Errc::auth_failed, "a checkpoint of " + std::to_string(from.size) +
                                                 " entries exists but the database holds only " +
                                                 std::to_string(to.size) +
                                                 ": the database was rolled back");
    DatabaseLeafHashes leaves(db, to.size);
    auto proof = consistency_proof(leaves, from.size, to.size);
    if (!proof) return std::move(proof).error();
    if (auto s = verify_consistency(from.size, to.size, from.root, to.root, *proof); !s)
        return make_error(Errc::auth_failed, "the custody log does not extend its checkpoint of " +
                                                 std::to_string(from.size) +
                                                 " entries: " + s.error().message);
    return {};
}

Result<std::optional<std::string>> latest_checkpoint_note(Database& db) {
    auto st = db.prepare("SELECT note FROM checkpoints ORDER BY tree_size DESC LIMIT 1");
    if (!st) return std::move(st).error();
    auto row = st->step();
    if (!row) return std::move(row).error();
    if (!*row) return std::optional<std::string>{};
    const auto bytes = st->column_blob(0);
    return std::optional<std::string>{std::string(bytes.begin(), bytes.end())};
}

// ---- CustodyLog ----------------------------------------------------------------

Result<CustodyLog> CustodyLog::load(Database& db) {
    auto st = db.prepare("SELECT coalesce(max(seq) + 1, 0), count(*) FROM custody_entries");
    if (!st) return std::move(st).error();
    auto row = st->step();
    if (!row) return std::move(row).error();
    const std::int64_t size = st->column_int64(0);
    if (size < 0 || st->column_int64(1) != size)
        return make_error(Errc::malformed, "custody log entries are not contiguous");
    CustodyLog log;
    log.size_ = static_cast<std::uint64_t>(size);
    DatabaseLeafHashes leaves(db, log.size_);
    std::uint64_t at = 0;
    for (int level = 63; level >= 0; --level) {
        const std::uint64_t width = std::uint64_t{1} << level;
        if ((log.size_ & width) == 0) continue;
        auto h = leaves.node(static_cast<unsigned>(level), at >> level);
        if (!h) return std::move(h).error();
        log.edge_.emplace_back(static_cast<unsigned>(level), *h);
        at += width;
    }
    return log;
}

MerkleHash CustodyLog::root() const {
    if (edge_.empty()) return empty_tree_hash();
    MerkleHash r = edge_.back().second;
    for (std::size_t i = edge_.size() - 1; i-- > 0;) r = node_hash(edge_[i].second, r);
    return r;
}

Result<CustodyEntry> CustodyLog::append(Database& db, CustodyEvent event, const Timestamp& time,
                                        const std::optional<CaseId>& case_id,
                                        const std::optional<ItemId>& item_id, std::string details) {
    CustodyEntry entry;
    entry.index = size_;
    entry.event = event;
    entry.time = time;
    entry.case_id = case_id;
    entry.item_id = item_id;
    entry.details = std::move(details);
    auto encoded = encode_custody_entry(entry);
    if (!encoded) return std::move(encoded).error();
    entry.encoded = std::move(encoded).value();
    const MerkleHash leaf = leaf_hash(entry.encoded);

    auto insert = db.prepare(
        "INSERT INTO custody_entries (seq, event, case_id, item_id, entry, leaf_hash, "
        "recorded_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    if (!insert) return std::move(insert).error();
    Statement& st = *insert;
    for (Status s : {st.bind_int64(1, static_cast<std::int64_t>(entry.index)),
                     st.bind_text(2, to_string(event)), bind_optional_id(st, 3, case_id),
                     bind_optional_id(st, 4, item_id), st.bind_blob(5, entry.encoded),
                     st.bind_blob(6, leaf), st.bind_int64(7, time.unix_ms), st.run()})
        if (!s) return std::move(s).error();

    // Each trailing set bit of the old size is a perfect subtree that the
    // new leaf completes into one a level higher: store each such node.
    auto node_insert =
        db.prepare("INSERT INTO custody_nodes (level, idx, hash) VALUES (?1, ?2, ?3)");
    if (!node_insert) return std::move(node_insert).error();
    unsigned level = 0;
    MerkleHash carry = leaf;
    while (!edge_.empty() && edge_.back().first == level) {
        carry = node_hash(edge_.back().second, carry);
        edge_.pop_back();
        ++level;
        Statement& n = *node_insert;
        for (Status s : {n.reset(), n.bind_int64(1, level),
                         n.bind_int64(2, static_cast<std::int64_t>(entry.index >> level)),
                         n.bind_blob(3, carry), n.run()})
            if (!s) return std::move(s).error();
    }
    edge_.emplace_back(level, carry);
    ++size_;
    return entry;
}

Result<std::string> CustodyLog::sign_checkpoint(Database& db, const CheckpointSigner& signer,
                                                const std::optional<Checkpoint>& outside,
                                                std::int64_t now_unix_ms) {
    auto verifier = signer.verifier();
    if (!verifier) return std::move(verifier).error();
    Checkpoint next;
    next.origin = signer.origin;
    next.size = size_;
    next.root = root();

    // The new tree head must extend every head already signed: the last one
    // in the database and the one kept outside it.
    auto previous = latest_checkpoint_note(db);
    if (!previous) return std::move(previous).error();
    if (*previous) {
        auto prev = parse_device_checkpoint(**previous, *verifier);
        if (!prev)
            return make_error(Errc::auth_failed,
                              "the stored checkpoint does not verify: " + prev.error().message);
        if (auto s = check_extends(db, prev->checkpoint, next); !s) return std::move(s).error();
    }
    if (outside)
        if (auto s = check_extends(db, *outside, next); !s) return std::move(s).error();

    auto text = next.to_text();
    if (!text) return std::move(text).error();
    auto note = SignedNote::from_text(std::move(text).value());
    if (!note) return std::move(note).error();
    if (auto s = sign_note_ed25519(*note, signer.origin, *signer.key); !s)
        return std::move(s).error();
    std::string serialized = note->serialize();

    auto insert = db.prepare(
        "INSERT INTO checkpoints (tree_size, root_hash, note, created_at) VALUES (?1, ?2, ?3, ?4)");
    if (!insert) return std::move(insert).error();
    for (Status s :
         {insert->bind_int64(1, static_cast<std::int64_t>(next.size)),
          insert->bind_blob(2, next.root), insert->bind_blob(3, crypto::as_bytes(serialized)),
          insert->bind_int64(4, now_unix_ms), insert->run()})
        if (!s) return std::move(s).error();
    auto prune = db.prepare(
        "DELETE FROM checkpoints WHERE tree_size < ?1"
        " AND tree_size NOT IN (SELECT tree_size FROM checkpoint_cosignatures)"
        " AND tree_size NOT IN (SELECT tree_size FROM checkpoint_timestamps)");
    if (!prune) return std::move(prune).error();
    for (Status s : {prune->bind_int64(1, static_cast<std::int64_t>(next.size)), prune->run()})
        if (!s) return std::move(s).error();
    return serialized;
}

}  // namespace custodia::core
