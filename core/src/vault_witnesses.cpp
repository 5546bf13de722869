// Witness identities (DESIGN.md §4): the one place a witness's name and
// contact are stored, apart from the items, so that listing, searching or
// exporting items never reads them unless asked to.
#include <algorithm>
#include <optional>
#include <string_view>
#include <tuple>

#include "custodia/core/vault.h"
#include "ids.h"
#include "utf8.h"
#include "vault_state.h"

namespace custodia::core {
namespace {

constexpr std::size_t kMaxPseudonymBytes = 1 << 20;  // as any item field
constexpr std::size_t kMaxIdentityFieldBytes = 64 * 1024;

Status check_field(std::string_view text, std::string_view what, std::size_t max) {
    if (text.size() > max) return make_error(Errc::limit, std::string(what) + " is too long");
    if (!is_valid_utf8(text))
        return make_error(Errc::malformed, std::string(what) + " is not valid UTF-8");
    return {};
}

}  // namespace

Status Vault::set_witness_identity(const CaseId& case_id, const std::string& pseudonym,
                                   const WitnessIdentity& identity) {
    const auto case_bytes = id_bytes(case_id);
    if (!case_bytes) return make_error(Errc::malformed, "malformed case id");
    if (pseudonym.empty()) return make_error(Errc::malformed, "the witness pseudonym is empty");
    if (identity.full_name.empty())
        return make_error(Errc::malformed, "the witness's name is empty");
    if (auto s = check_field(pseudonym, "witness pseudonym", kMaxPseudonymBytes); !s) return s;
    if (auto s = check_field(identity.full_name, "witness name", kMaxIdentityFieldBytes); !s)
        return s;
    if (auto s = check_field(identity.contact, "witness contact", kMaxIdentityFieldBytes); !s)
        return s;
    if (auto s = check_field(identity.notes, "witness notes", kMaxIdentityFieldBytes); !s) return s;

    std::lock_guard guard(state_->mutex);
    Database& db = state_->db;
    {
        auto st = db.prepare("SELECT 1 FROM cases WHERE id = ?1");
        if (!st) return std::move(st).error();
        if (auto s = st->bind_blob(1, *case_bytes); !s) return s;
        auto row = st->step();
        if (!row) return std::move(row).error();
        if (!*row) return make_error(Errc::malformed, "there is no case " + case_id);
    }
    auto tx = db.begin();
    if (!tx) return std::move(tx).error();
    std::optional<IdBytes> witness;
    {
        auto st = db.prepare("SELECT id FROM witnesses WHERE case_id = ?1 AND pseudonym = ?2");
        if (!st) return std::move(st).error();
        if (auto s = st->bind_blob(1, *case_bytes); !s) return s;
        if (auto s = st->bind_text(2, pseudonym); !s) return s;
        auto row = st->step();
        if (!row) return std::move(row).error();
        if (*row) {
            const auto blob = st->column_blob(0);
            if (blob.size() != std::tuple_size_v<IdBytes>)
                return make_error(Errc::malformed, "vault.db holds a malformed witness");
            IdBytes id{};
            std::copy(blob.begin(), blob.end(), id.begin());
            witness = id;
        }
    }
    if (!witness) {
        witness = *id_bytes(new_id(state_->random));
        auto st = db.prepare(
            "INSERT INTO witnesses (id, case_id, pseudonym, created_at) VALUES (?1, ?2, ?3, ?4)");
        if (!st) return std::move(st).error();
        for (Status s :
             {st->bind_blob(1, *witness), st->bind_blob(2, *case_bytes),
              st->bind_text(3, pseudonym), st->bind_int64(4, state_->clock.now().unix_ms)})
            if (!s) return s;
        if (auto s = st->run(); !s) return s;
    }
    auto st = db.prepare(
        "INSERT OR REPLACE INTO witness_identities (witness_id, full_name, contact, notes)"
        " VALUES (?1, ?2, ?3, ?4)");
    if (!st) return std::move(st).error();
    for (Status s : {st->bind_blob(1, *witness), st->bind_text(2, identity.full_name),
                     st->bind_text(3, identity.contact), st->bind_text(4, identity.notes)})
        if (!s) return s;
    if (auto s = st->run(); !s) return s;
    return tx->commit();
}

}  // namespace custodia::core
