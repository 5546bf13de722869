// Cases and items: ingest, testimony, listing, search, extraction and
// consent withdrawal (DESIGN.md §3–§4).
#include <algorithm>
#include <limits>

#include "custodia/core/capture_record.h"
#include "custodia/core/custody_entry.h"
#include "custodia/core/vault.h"
#include "custodia/crypto/age.h"
#include "custodia/crypto/blob.h"
#include "custodia/crypto/encoding.h"
#include "ids.h"
#include "ingest_pipeline.h"
#include "item_rows.h"
#include "utf8.h"
#include "vault_state.h"

namespace custodia::core {

namespace {

constexpr std::size_t kMaxNameBytes = std::size_t{16} * 1024;
constexpr std::size_t kMaxFieldBytes = 1 << 20;
constexpr std::size_t kExtractPiece = 1 << 20;
// Both ends of the utc_offset_minutes CHECK in vault.db: ±18 hours.
constexpr std::int32_t kMaxOffsetMinutes = 18 * 60;
// Separates aggregated tags and organisations; never inside one (checked).
constexpr char kListSeparator = '\x1F';

Status check_text(std::string_view text, std::string_view what, std::size_t max) {
    if (text.size() > max) return make_error(Errc::limit, std::string(what) + " is too long");
    if (!is_valid_utf8(text))
        return make_error(Errc::malformed, std::string(what) + " is not valid UTF-8");
    return {};
}

Status check_list_entry(std::string_view text, std::string_view what) {
    if (auto s = check_text(text, what, kMaxNameBytes); !s) return s;
    if (text.empty() || std::any_of(text.begin(), text.end(),
                                    [](char c) { return static_cast<unsigned char>(c) < 0x20; }))
        return make_error(Errc::malformed,
                          std::string(what) + " is empty or has control characters");
    return {};
}

Result<IdBytes> parse_id(std::string_view id, std::string_view what) {
    auto bytes = id_bytes(id);
    if (!bytes) return make_error(Errc::malformed, "malformed " + std::string(what) + " id");
    return *bytes;
}

std::vector<std::string> split_list(const std::string& joined) {
    std::vector<std::string> out;
    if (joined.empty()) return out;
    std::size_t start = 0;
    for (;;) {
        const std::size_t sep = joined.find(kListSeparator, start);
        out.push_back(joined.substr(start, sep - start));
        if (sep == std::string::npos) break;
        start = sep + 1;
    }
    return out;
}

Result<bool> exists(Database& db, std::string_view sql, std::span<const std::uint8_t> key) {
    auto st = db.prepare(sql);
    if (!st) return std::move(st).error();
    if (auto s = st->bind_blob(1, key); !s) return std::move(s).error();
    return st->step();
}

}  // namespace

std::optional<std::string> optional_id_column(const Statement& st, int column) {
    if (st.column_is_null(column)) return std::nullopt;
    const auto bytes = st.column_blob(column);
    if (bytes.size() != vault_format::kIdSize) return std::nullopt;
    IdBytes id{};
    std::copy(bytes.begin(), bytes.end(), id.begin());
    return id_text(id);
}

std::string item_select(std::string_view extra_columns) {
    // One row per item: the item, its first attachment and capture record,
    // and its consent. Tags and organisations come aggregated (sorted).
    std::string sql = R"sql(
SELECT i.id, i.case_id, i.kind, i.title, i.description, i.captured_at, i.utc_offset_minutes,
       i.clock_source, i.latitude, i.longitude, i.location_accuracy_m, i.location_source,
       i.investigator, i.language, w.pseudonym, i.derived_from,
       a.original_name, a.mime_type, a.size, a.sha256, a.blob_id, cr.signature,
       EXISTS (SELECT 1 FROM shredded_items s WHERE s.item_id = i.id),
       c.type, c.share_courts, c.share_public, c.record_item_id,
       EXISTS (SELECT 1 FROM consent_withdrawals cw WHERE cw.consent_id = c.id),
       (SELECT group_concat(tag, char(31)) FROM
            (SELECT tag FROM item_tags t WHERE t.item_id = i.id ORDER BY tag)),
       (SELECT group_concat(organisation, char(31)) FROM
            (SELECT organisation FROM consent_organisations o WHERE o.consent_id = c.id
              ORDER BY organisation)))sql";
    sql += extra_columns;
    sql += R"sql(
  FROM items i
  LEFT JOIN witnesses w ON w.id = i.witness_id
  LEFT JOIN attachments a
         ON a.id = (SELECT id FROM attachments WHERE item_id = i.id ORDER BY created_at LIMIT 1)
  LEFT JOIN capture_records cr
         ON cr.id = (SELECT id FROM capture_records WHERE item_id = i.id ORDER BY id LIMIT 1)
  LEFT JOIN consents c
         ON c.id = (SELECT consent_id FROM consent_items WHERE item_id = i.id LIMIT 1)
)sql";
    return sql;
}

Result<Item> item_from_row(const Statement& st) {
    Item item;
    auto id = optional_id_column(st, 0);
    auto case_id = optional_id_column(st, 1);
    auto kind = parse_item_kind(st.column_text(2));
    if (!id || !case_id || !kind)
        return make_error(Errc::malformed, "vault.db holds a malformed item");
    item.id = *id;
    item.case_id = *case_id;
    ItemFields& f = item.fields;
    f.kind = *kind;
    f.title = st.column_text(3);
    f.description = st.column_text(4);
    item.capture.time.unix_ms = st.column_int64(5);
    item.capture.time.offset_minutes = static_cast<std::int32_t>(st.column_int64(6));
    item.capture.clock_source = st.column_text(7);
    if (!st.column_is_null(8)) {
        Location loc;
        loc.lat = st.column_double(8);
        loc.lon = st.column_double(9);
        if (!st.column_is_null(10)) loc.accuracy_m = st.column_double(10);
        loc.source = st.column_text(11);
        item.capture.location = loc;
        f.location = loc;
    }
    item.capture.investigator = st.column_text(12);
    f.language = st.column_text(13);
    f.witness = st.column_text(14);
    f.derived_from = optional_id_column(st, 15);
    if (!st.column_is_null(20)) {
        Attachment a;
        a.original_name = st.column_text(16);
        a.mime_type = st.column_text(17);
        a.size = static_cast<std::uint64_t>(st.column_int64(18));
        const auto sha = st.column_blob(19);
        if (sha.size() != a.sha256.size())
            return make_error(Errc::malformed, "vault.db holds a malformed SHA-256");
        std::copy(sha.begin(), sha.end(), a.sha256.begin());
        a.blob_id = st.column_text(20);
        item.attachment = std::move(a);
    }
    const auto sig = st.column_blob(21);
    if (sig.size() == item.capture_signature.size())
        std::copy(sig.begin(), sig.end(), item.capture_signature.begin());
    item.state = st.column_int64(22) != 0 ? ItemState::shredded : ItemState::active;
    if (!st.column_is_null(23)) {
        Consent& c = f.consent;
        c.type = parse_consent_type(st.column_text(23)).value_or(ConsentType::none);
        c.scope = split_list(st.column_text(29));
        if (st.column_int64(24) != 0) c.scope.emplace_back("courts");
        if (st.column_int64(25) != 0) c.scope.emplace_back("public");
        c.recorded_in = optional_id_column(st, 26);
        c.withdrawn = st.column_int64(27) != 0;
    }
    f.tags = split_list(st.column_text(28));
    return item;
}

namespace {

Result<std::vector<Item>> collect_items(Statement& st) {
    std::vector<Item> out;
    for (;;) {
        auto row = st.step();
        if (!row) return std::move(row).error();
        if (!*row) return out;
        auto item = item_from_row(st);
        if (!item) return std::move(item).error();
        out.push_back(std::move(item).value());
    }
}

}  // namespace

Result<Item> load_item(Database& db, const ItemId& id) {
    auto bytes = parse_id(id, "item");
    if (!bytes) return std::move(bytes).error();
    auto st = db.prepare(item_select() + " WHERE i.id = ?1");
    if (!st) return std::move(st).error();
    if (auto s = st->bind_blob(1, *bytes); !s) return std::move(s).error();
    auto items = collect_items(*st);
    if (!items) return std::move(items).error();
    if (items->empty()) return make_error(Errc::malformed, "no item with this id in the vault");
    return std::move(items->front());
}

namespace {

Result<Case> load_case(Database& db, const IdBytes& id) {
    auto st = db.prepare("SELECT title, description, created_at FROM cases WHERE id = ?1");
    if (!st) return std::move(st).error();
    if (auto s = st->bind_blob(1, id); !s) return std::move(s).error();
    auto row = st->step();
    if (!row) return std::move(row).error();
    if (!*row) return make_error(Errc::malformed, "no case with this id in the vault");
    Case c;
    c.id = id_text(id);
    c.title = st->column_text(0);
    c.description = st->column_text(1);
    c.created_unix_ms = st->column_int64(2);
    auto rec =
        db.prepare("SELECT recipient FROM case_recipients WHERE case_id = ?1 ORDER BY recipient");
    if (!rec) return std::move(rec).error();
    if (auto s = rec->bind_blob(1, id); !s) return std::move(s).error();
    for (;;) {
        auto r = rec->step();
        if (!r) return std::move(r).error();
        if (!*r) break;
        c.recipients.push_back(rec->column_text(0));
    }
    return c;
}

Status check_fields(const ItemFields& f) {
    for (auto [text, what] : {std::pair<std::string_view, std::string_view>{f.title, "title"},
                              {f.description, "description"},
                              {f.language, "language"},
                              {f.witness, "witness pseudonym"}})
        if (auto s = check_text(text, what, kMaxFieldBytes); !s) return s;
    for (const auto& tag : f.tags)
        if (auto s = check_list_entry(tag, "tag"); !s) return s;
    for (const auto& who : f.consent.scope)
        if (auto s = check_list_entry(who, "consent scope entry"); !s) return s;
    if (f.location) {
        if (auto s = check_location(*f.location); !s) return s;
        if (auto s = check_text(f.location->source, "location source", kMaxNameBytes); !s) return s;
    }
    if (f.derived_from && !is_valid_id(*f.derived_from))
        return make_error(Errc::malformed, "malformed derived-from item id");
    if (f.consent.recorded_in && !is_valid_id(*f.consent.recorded_in))
        return make_error(Errc::malformed, "malformed consent record item id");
    return {};
}

// Runs a statement whose parameters are bound by `bind`.
template <class Bind>
Status run_statement(Database& db, std::string_view sql, Bind&& bind) {
    auto st = db.prepare(sql);
    if (!st) return std::move(st).error();
    if (auto s = bind(*st); !s) return s;
    return st->run();
}

Status bind_all(std::initializer_list<Status> results) {
    for (const Status& s : results)
        if (!s) return s;
    return {};
}

struct NewItem {
    Item item;
    IdBytes id{};
    IdBytes case_id{};
    IdBytes attachment_id{};
    IdBytes consent_id{};
    crypto::SecretBytes blob_key;
    std::vector<std::uint8_t> record;
};

// Everything an item adds to vault.db, inside the caller's change.
Status insert_item(VaultChange& change, Vault::State& state, const NewItem& n,
                   std::optional<std::string_view> searchable_text, std::int64_t now_ms) {
    Database& db = change.db();
    const Item& item = n.item;
    const ItemFields& f = item.fields;

    std::optional<IdBytes> witness;
    if (!f.witness.empty()) {
        auto st = db.prepare("SELECT id FROM witnesses WHERE case_id = ?1 AND pseudonym = ?2");
        if (!st) return std::move(st).error();
        if (auto s = bind_all({st->bind_blob(1, n.case_id), st->bind_text(2, f.witness)}); !s)
            return s;
        auto row = st->step();
        if (!row) return std::move(row).error();
        if (*row) {
            auto existing = optional_id_column(*st, 0);
            if (!existing) return make_error(Errc::malformed, "vault.db holds a malformed witness");
            witness = id_bytes(*existing);
        } else {
            witness = *id_bytes(new_id(state.random));
            if (auto s = run_statement(
                    db,
                    "INSERT INTO witnesses (id, case_id, pseudonym, created_at)"
                    " VALUES (?1, ?2, ?3, ?4)",
                    [&](Statement& w) {
                        return bind_all({w.bind_blob(1, *witness), w.bind_blob(2, n.case_id),
                                         w.bind_text(3, f.witness), w.bind_int64(4, now_ms)});
                    });
                !s)
                return s;
        }
    }

    auto insert = db.prepare(
        "INSERT INTO items (id, case_id, kind, title, description, captured_at,"
        " utc_offset_minutes, clock_source, latitude, longitude, location_accuracy_m,"
        " location_source, investigator, language, witness_id, derived_from, created_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)");
    if (!insert) return std::move(insert).error();
    Statement& st = *insert;
    const auto& loc = item.capture.location;
    std::optional<IdBytes> derived;
    if (f.derived_from) derived = id_bytes(*f.derived_from);
    if (auto s = bind_all(
            {st.bind_blob(1, n.id), st.bind_blob(2, n.case_id), st.bind_text(3, to_string(f.kind)),
             st.bind_text(4, f.title), st.bind_text(5, f.description),
             st.bind_int64(6, item.capture.time.unix_ms),
             st.bind_int64(7, item.capture.time.offset_minutes),
             st.bind_text(8, item.capture.clock_source),
             loc ? st.bind_double(9, loc->lat) : st.bind_null(9),
             loc ? st.bind_double(10, loc->lon) : st.bind_null(10),
             loc && loc->accuracy_m ? st.bind_double(11, *loc->accuracy_m) : st.bind_null(11),
             loc ? st.bind_text(12, loc->source) : st.bind_null(12),
             st.bind_text(13, item.capture.investigator), st.bind_text(14, f.language),
             witness ? st.bind_blob(15, *witness) : st.bind_null(15),
             derived ? st.bind_blob(16, *derived) : st.bind_null(16), st.bind_int64(17, now_ms),
             st.run()});
        !s)
        return s;
    const std::int64_t local_id = db.last_insert_rowid();

    for (const auto& tag : f.tags)
        if (auto s =
                run_statement(db, "INSERT OR IGNORE INTO item_tags (item_id, tag) VALUES (?1, ?2)",
                              [&](Statement& t) {
                                  return bind_all({t.bind_blob(1, n.id), t.bind_text(2, tag)});
                              });
            !s)
            return s;

    const Attachment& a = *item.attachment;
    if (auto s = run_statement(
            db,
            "INSERT INTO attachments (id, item_id, original_name, mime_type, size, sha256,"
            " blob_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            [&](Statement& t) {
                return bind_all({t.bind_blob(1, n.attachment_id), t.bind_blob(2, n.id),
                                 t.bind_text(3, a.original_name), t.bind_text(4, a.mime_type),
                                 t.bind_int64(5, static_cast<std::int64_t>(a.size)),
                                 t.bind_blob(6, a.sha256), t.bind_text(7, a.blob_id),
                                 t.bind_int64(8, now_ms)});
            });
        !s)
        return s;
    if (auto s = run_statement(db, "INSERT INTO blob_keys (attachment_id, key) VALUES (?1, ?2)",
                               [&](Statement& t) {
                                   return bind_all({t.bind_blob(1, n.attachment_id),
                                                    t.bind_blob(2, n.blob_key.span())});
                               });
        !s)
        return s;

    // Every item gets a consent row, "none" included, so that a withdrawal
    // always has something to record against.
    const Consent& c = f.consent;
    const bool courts = std::find(c.scope.begin(), c.scope.end(), "courts") != c.scope.end();
    const bool everyone = std::find(c.scope.begin(), c.scope.end(), "public") != c.scope.end();
    std::optional<IdBytes> recorded_in;
    if (c.recorded_in) recorded_in = id_bytes(*c.recorded_in);
    if (auto s = run_statement(
            db,
            "INSERT INTO consents (id, witness_id, type, share_courts, share_public,"
            " record_item_id, given_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            [&](Statement& t) {
                return bind_all({t.bind_blob(1, n.consent_id),
                                 witness ? t.bind_blob(2, *witness) : t.bind_null(2),
                                 t.bind_text(3, to_string(c.type)), t.bind_int64(4, courts ? 1 : 0),
                                 t.bind_int64(5, everyone ? 1 : 0),
                                 recorded_in ? t.bind_blob(6, *recorded_in) : t.bind_null(6),
                                 t.bind_int64(7, item.capture.time.unix_ms)});
            });
        !s)
        return s;
    for (const auto& who : c.scope) {
        if (who == "courts" || who == "public") continue;
        if (auto s = run_statement(
                db,
                "INSERT OR IGNORE INTO consent_organisations (consent_id,"
                " organisation) VALUES (?1, ?2)",
                [&](Statement& t) {
                    return bind_all({t.bind_blob(1, n.consent_id), t.bind_text(2, who)});
                });
            !s)
            return s;
    }
    if (auto s =
            run_statement(db, "INSERT INTO consent_items (consent_id, item_id) VALUES (?1, ?2)",
                          [&](Statement& t) {
                              return bind_all({t.bind_blob(1, n.consent_id), t.bind_blob(2, n.id)});
                          });
        !s)
        return s;

    if (auto s = run_statement(
            db,
            "INSERT INTO capture_records (item_id, attachment_id, statement, signature,"
            " device_key_id, signed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            [&](Statement& t) {
                return bind_all({t.bind_blob(1, n.id), t.bind_blob(2, n.attachment_id),
                                 t.bind_blob(3, n.record), t.bind_blob(4, item.capture_signature),
                                 t.bind_int64(5, state.device_key_row),
                                 t.bind_int64(6, item.capture.time.unix_ms)});
            });
        !s)
        return s;

    // The text of a testimony is searchable, but only through the index:
    // items.body stays empty so that shredding the blob and the index row
    // leaves no copy behind.
    if (searchable_text)
        if (auto s = run_statement(
                db, "UPDATE item_search SET body = ?1 WHERE docid = ?2",
                [&](Statement& t) {
                    return bind_all({t.bind_text(1, *searchable_text), t.bind_int64(2, local_id)});
                });
            !s)
            return s;
    return {};
}

// FTS4 query syntax treats '-', '"', '*', OR, NEAR... as operators. A person's
// search terms are taken literally: each becomes a quoted phrase, all must
// match, and a trailing '*' keeps its prefix meaning.
std::string literal_fts_query(std::string_view query) {
    std::string out;
    std::size_t i = 0;
    while (i < query.size()) {
        while (i < query.size() && (query[i] == ' ' || query[i] == '\t' || query[i] == '\n')) ++i;
        std::string term;
        while (i < query.size() && query[i] != ' ' && query[i] != '\t' && query[i] != '\n') {
            if (query[i] != '"') term += query[i];
            ++i;
        }
        bool prefix = false;
        while (!term.empty() && term.back() == '*') {
            term.pop_back();
            prefix = true;
        }
        if (term.empty()) continue;
        if (!out.empty()) out += ' ';
        out += '"';
        out += term;
        if (prefix) out += '*';
        out += '"';
    }
    return out;
}

}  // namespace

// ---- Cases ------------------------------------------------------------------------------

Result<Case> Vault::create_case(const std::string& title, const std::string& description,
                                const std::vector<std::string>& recipients) {
    if (auto s = check_text(title, "title", kMaxFieldBytes); !s) return std::move(s).error();
    if (auto s = check_text(description, "description", kMaxFieldBytes); !s)
        return std::move(s).error();
    for (const auto& r : recipients)
        if (auto parsed = crypto::age::Recipient::parse(r); !parsed)
            return make_error(Errc::malformed,
                              "not an age X25519 recipient: " + parsed.error().message);
    std::lock_guard guard(state_->mutex);
    Case c;
    c.id = new_id(state_->random);
    c.title = title;
    c.description = description;
    c.created_unix_ms = state_->clock.now().unix_ms;
    const IdBytes id = *id_bytes(c.id);
    auto change = VaultChange::begin(*state_);
    if (!change) return std::move(change).error();
    Database& db = change->db();
    if (auto s = run_statement(db,
                               "INSERT INTO cases (id, title, description, created_at)"
                               " VALUES (?1, ?2, ?3, ?4)",
                               [&](Statement& t) {
                                   return bind_all({t.bind_blob(1, id), t.bind_text(2, title),
                                                    t.bind_text(3, description),
                                                    t.bind_int64(4, c.created_unix_ms)});
                               });
        !s)
        return std::move(s).error();
    for (const auto& r : recipients)
        if (auto s = run_statement(db,
                                   "INSERT OR IGNORE INTO case_recipients (case_id, recipient)"
                                   " VALUES (?1, ?2)",
                                   [&](Statement& t) {
                                       return bind_all({t.bind_blob(1, id), t.bind_text(2, r)});
                                   });
            !s)
            return std::move(s).error();
    CustodyDetails details;
    details.add("object", "case");
    if (auto e = change->log(CustodyEvent::created, c.id, {}, details.text()); !e)
        return std::move(e).error();
    if (auto s = change->commit(); !s) return std::move(s).error();
    c.recipients = recipients;
    std::sort(c.recipients.begin(), c.recipients.end());
    c.recipients.erase(std::unique(c.recipients.begin(), c.recipients.end()), c.recipients.end());
    return c;
}

Result<std::vector<Case>> Vault::list_cases() {
    std::lock_guard guard(state_->mutex);
    auto st = state_->db.prepare("SELECT id FROM cases ORDER BY created_at, rowid");
    if (!st) return std::move(st).error();
    std::vector<IdBytes> ids;
    for (;;) {
        auto row = st->step();
        if (!row) return std::move(row).error();
        if (!*row) break;
        auto id = optional_id_column(*st, 0);
        if (!id) return make_error(Errc::malformed, "vault.db holds a malformed case id");
        ids.push_back(*id_bytes(*id));
    }
    std::vector<Case> out;
    for (const auto& id : ids) {
        auto c = load_case(state_->db, id);
        if (!c) return std::move(c).error();
        out.push_back(std::move(c).value());
    }
    return out;
}

Result<Case> Vault::get_case(const CaseId& id) {
    auto bytes = parse_id(id, "case");
    if (!bytes) return std::move(bytes).error();
    std::lock_guard guard(state_->mutex);
    return load_case(state_->db, *bytes);
}

// ---- Ingest ---------------------------------------------------------------------------------

namespace {

Result<ItemId> ingest_item(Vault::State& state, const CaseId& case_id, crypto::ByteSource& content,
                           const std::string& original_name, const std::string& mime_type,
                           const ItemFields& fields, const Progress& progress, CustodyEvent event,
                           std::optional<std::string_view> searchable_text) {
    auto case_bytes = parse_id(case_id, "case");
    if (!case_bytes) return std::move(case_bytes).error();
    if (auto s = check_fields(fields); !s) return std::move(s).error();
    if (auto s = check_text(original_name, "file name", kMaxNameBytes); !s)
        return std::move(s).error();
    if (auto s = check_text(mime_type, "MIME type", kMaxNameBytes); !s) return std::move(s).error();

    NewItem n;
    Item& item = n.item;
    {
        std::lock_guard guard(state.mutex);
        if (state.log_damage) return *state.log_damage;
        auto known = exists(state.db, "SELECT 1 FROM cases WHERE id = ?1", *case_bytes);
        if (!known) return std::move(known).error();
        if (!*known) return make_error(Errc::malformed, "no case with this id in the vault");
        for (const auto& ref : {fields.derived_from, fields.consent.recorded_in}) {
            if (!ref) continue;
            auto found = exists(state.db, "SELECT 1 FROM items WHERE id = ?1", *id_bytes(*ref));
            if (!found) return std::move(found).error();
            if (!*found) return make_error(Errc::malformed, "a referenced item does not exist");
        }
        item.id = new_id(state.random);
        item.capture.time = state.clock.now();
        item.capture.clock_source = state.clock.source();
    }
    if (item.capture.time.offset_minutes < -kMaxOffsetMinutes ||
        item.capture.time.offset_minutes > kMaxOffsetMinutes)
        return make_error(Errc::malformed, "the clock reports an impossible UTC offset");
    n.id = *id_bytes(item.id);
    n.case_id = *case_bytes;
    n.attachment_id = *id_bytes(new_id(state.random));
    n.consent_id = *id_bytes(new_id(state.random));
    n.blob_key = crypto::SecretBytes(32);
    state.random.fill(n.blob_key.span());
    const BlobId blob_id = new_id(state.random);
    item.case_id = case_id;
    item.fields = fields;
    item.fields.consent.withdrawn = false;
    item.capture.location = fields.location;
    item.capture.investigator = state.investigator;

    // The blob is durable under its final name before any row names it; a
    // crash before the commit below leaves an orphan that open() removes.
    auto pending = state.blobs.begin(blob_id);
    if (!pending) return std::move(pending).error();
    auto sealed = seal_and_hash(content, pending->fd(), n.blob_key, state.random, progress);
    if (!sealed) return std::move(sealed).error();  // ~PendingBlob removes the file
    // From the rename into place until the row commits, every way out removes
    // the blob again, a failed commit(*pending) after its rename and an
    // exception (std::bad_alloc) included: otherwise it stays, unreadable,
    // until the vault is next opened, and verify reports it.
    struct RemoveBlob {
        const BlobStore& blobs;
        const BlobId& id;
        bool armed = true;
        ~RemoveBlob() {
            if (!armed) return;
            try {
                (void)blobs.remove(id);
            } catch (...) {  // open() removes it then
            }
        }
    } remove_blob{state.blobs, blob_id};
    if (auto s = state.blobs.commit(*pending); !s) return std::move(s).error();

    item.attachment = Attachment{original_name, mime_type, sealed->size, sealed->sha256, blob_id};
    auto record = encode_capture_record(item);
    if (!record) {
        (void)state.blobs.remove(blob_id);
        return std::move(record).error();
    }
    n.record = std::move(record).value();
    item.capture_signature = state.device_key.sign_ed25519(n.record);

    Status committed = [&]() -> Status {
        std::lock_guard guard(state.mutex);
        auto change = VaultChange::begin(state);
        if (!change) return std::move(change).error();
        const std::int64_t now_ms = item.capture.time.unix_ms;
        if (auto s = insert_item(*change, state, n, searchable_text, now_ms); !s) return s;
        CustodyDetails details;
        details.add("sha256", crypto::to_hex(sealed->sha256))
            .add("size", std::to_string(sealed->size))
            .add("capture_signature", crypto::to_hex(item.capture_signature));
        if (auto e = change->log(event, case_id, item.id, details.text()); !e)
            return std::move(e).error();
        return change->commit();
    }();
    if (!committed) {
        (void)state.blobs.remove(blob_id);
        return std::move(committed).error();
    }
    remove_blob.armed = false;
    return item.id;
}

}  // namespace

Result<ItemId> Vault::ingest(const CaseId& case_id, crypto::ByteSource& content,
                             const std::string& original_name, const std::string& mime_type,
                             const ItemFields& fields, const Progress& progress) {
    return ingest_item(*state_, case_id, content, original_name, mime_type, fields, progress,
                       CustodyEvent::imported, std::nullopt);
}

Result<ItemId> Vault::add_testimony(const CaseId& case_id, std::string_view text,
                                    const ItemFields& fields) {
    if (!is_valid_utf8(text)) return make_error(Errc::malformed, "testimony is not valid UTF-8");
    crypto::MemorySource source(crypto::as_bytes(text));
    return ingest_item(*state_, case_id, source, std::string(vault_format::kTestimonyFileName),
                       std::string(vault_format::kTestimonyMimeType), fields, {},
                       CustodyEvent::captured, text);
}

// ---- Reading ----------------------------------------------------------------------------------

Result<std::vector<Item>> Vault::list_items(const std::optional<CaseId>& case_id,
                                            std::uint64_t offset, std::uint64_t limit) {
    constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    std::optional<IdBytes> case_bytes;
    if (case_id) {
        auto bytes = parse_id(*case_id, "case");
        if (!bytes) return std::move(bytes).error();
        case_bytes = *bytes;
    }
    std::lock_guard guard(state_->mutex);
    // Chronological by capture time. The page's rows are picked from the
    // index on (case_id, captured_at) or (captured_at) alone, which holds
    // local_id too, so skipping `offset` rows never reads an item row; only
    // the page's items are then assembled.
    auto st = state_->db.prepare(
        item_select() + " WHERE i.local_id IN (SELECT local_id FROM items" +
        (case_bytes ? " WHERE case_id = ?3" : "") +
        " ORDER BY captured_at, local_id LIMIT ?1 OFFSET ?2) ORDER BY i.captured_at, i.local_id");
    if (!st) return std::move(st).error();
    if (auto s = bind_all({st->bind_int64(1, static_cast<std::int64_t>(std::min(limit, kMax))),
                           st->bind_int64(2, static_cast<std::int64_t>(std::min(offset, kMax))),
                           case_bytes ? st->bind_blob(3, *case_bytes) : Status{}});
        !s)
        return std::move(s).error();
    return collect_items(*st);
}

Result<std::vector<Item>> Vault::search(const std::string& query, std::uint64_t limit) {
    return search(query, std::nullopt, limit);
}

Result<std::vector<Item>> Vault::search(const std::string& query,
                                        const std::optional<CaseId>& case_id, std::uint64_t limit) {
    std::optional<IdBytes> case_bytes;
    if (case_id) {
        auto bytes = parse_id(*case_id, "case");
        if (!bytes) return std::move(bytes).error();
        case_bytes = *bytes;
    }
    const std::string match = literal_fts_query(query);
    if (match.empty()) return std::vector<Item>{};
    constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    std::lock_guard guard(state_->mutex);
    // Newest first in the index's own docid order, so that a common word
    // costs a walk of the first `limit` matches and no sort of all of them.
    // The case filter sits inside that walk (index on case_id), before the
    // limit is counted.
    auto st = state_->db.prepare(
        item_select() +
        " WHERE i.local_id IN (SELECT docid FROM item_search WHERE item_search MATCH ?1" +
        (case_bytes ? " AND docid IN (SELECT local_id FROM items WHERE case_id = ?3)" : "") +
        " ORDER BY docid DESC LIMIT ?2) ORDER BY i.local_id DESC");
    if (!st) return std::move(st).error();
    if (auto s = bind_all({st->bind_text(1, match),
                           st->bind_int64(2, static_cast<std::int64_t>(std::min(limit, kMax))),
                           case_bytes ? st->bind_blob(3, *case_bytes) : Status{}});
        !s)
        return std::move(s).error();
    return collect_items(*st);
}

Result<Item> Vault::get_item(const ItemId& id) {
    std::lock_guard guard(state_->mutex);
    return load_item(state_->db, id);
}

bool Vault::capture_signature_valid(const Item& item) const {
    return verify_capture_signature(state_->device_key.public_key(), item);
}

// ---- Extract ----------------------------------------------------------------------------------

Status Vault::extract(const ItemId& id, crypto::ByteSink& out, const Progress& progress) {
    auto item_bytes = parse_id(id, "item");
    if (!item_bytes) return std::move(item_bytes).error();
    Attachment attachment;
    crypto::SecretBytes key;
    CaseId case_id;
    {
        std::lock_guard guard(state_->mutex);
        auto item = load_item(state_->db, id);
        if (!item) return std::move(item).error();
        if (item->state == ItemState::shredded)
            return make_error(Errc::no_matching_key,
                              "the item's content was destroyed when consent was withdrawn");
        if (!item->attachment) return make_error(Errc::malformed, "the item has no content");
        attachment = *item->attachment;
        case_id = item->case_id;
        auto st = state_->db.prepare(
            "SELECT k.key FROM blob_keys k JOIN attachments a ON a.id = k.attachment_id"
            " WHERE a.blob_id = ?1");
        if (!st) return std::move(st).error();
        if (auto s = st->bind_text(1, attachment.blob_id); !s) return s;
        auto row = st->step();
        if (!row) return std::move(row).error();
        if (!*row)
            return make_error(Errc::malformed, "the item's blob key is missing from vault.db");
        key = st->column_secret(0);
    }

    auto fd = state_->blobs.open_for_reading(attachment.blob_id);
    if (!fd) return std::move(fd).error();
    crypto::FdSource file(fd->get());
    auto reader = crypto::blob::BlobReader::open(file, key);
    if (!reader) return std::move(reader).error();
    std::vector<std::uint8_t> piece(kExtractPiece);
    crypto::Sha256 hasher;
    std::uint64_t done = 0;
    Status copied = [&]() -> Status {
        for (;;) {
            if (progress.cancelled()) return make_error(Errc::cancelled, "extract cancelled");
            auto n = crypto::read_full(**reader, piece);
            if (!n) return std::move(n).error();
            if (*n == 0) return {};
            const auto chunk = std::span<const std::uint8_t>(piece).first(*n);
            hasher.update(chunk);
            if (auto s = out.write(chunk); !s) return s;
            done += *n;
            progress(done, attachment.size);
        }
    }();
    crypto::wipe(piece);
    if (!copied) return copied;
    const auto digest = hasher.finish();
    if (done != attachment.size || !crypto::equal_constant_time(digest, attachment.sha256))
        return make_error(Errc::auth_failed,
                          "the extracted content does not match its signed SHA-256");

    std::lock_guard guard(state_->mutex);
    auto change = VaultChange::begin(*state_);
    if (!change) return std::move(change).error();
    if (auto e = change->log(CustodyEvent::extracted, case_id, id, ""); !e)
        return std::move(e).error();
    return change->commit();
}

// ---- Consent withdrawal ---------------------------------------------------------------------

Status Vault::withdraw_consent(const ItemId& id, const std::string& reason) {
    if (auto s = check_text(reason, "reason", kMaxFieldBytes); !s) return s;
    auto item_bytes = parse_id(id, "item");
    if (!item_bytes) return std::move(item_bytes).error();
    std::vector<std::pair<ItemId, BlobId>> shredded;
    {
        std::lock_guard guard(state_->mutex);
        auto item = load_item(state_->db, id);
        if (!item) return std::move(item).error();
        auto change = VaultChange::begin(*state_);
        if (!change) return std::move(change).error();
        Database& db = change->db();
        const std::int64_t now_ms = state_->clock.now().unix_ms;

        // The consents this item falls under, and every item they cover.
        std::vector<IdBytes> consents;
        {
            auto st = db.prepare("SELECT consent_id FROM consent_items WHERE item_id = ?1");
            if (!st) return std::move(st).error();
            if (auto s = st->bind_blob(1, *item_bytes); !s) return s;
            for (;;) {
                auto row = st->step();
                if (!row) return std::move(row).error();
                if (!*row) break;
                auto cid = optional_id_column(*st, 0);
                if (cid) consents.push_back(*id_bytes(*cid));
            }
        }
        std::vector<IdBytes> covered{*item_bytes};
        for (const auto& consent : consents) {
            auto st = db.prepare("SELECT item_id FROM consent_items WHERE consent_id = ?1");
            if (!st) return std::move(st).error();
            if (auto s = st->bind_blob(1, consent); !s) return s;
            for (;;) {
                auto row = st->step();
                if (!row) return std::move(row).error();
                if (!*row) break;
                auto other = optional_id_column(*st, 0);
                if (!other) continue;
                const IdBytes b = *id_bytes(*other);
                if (std::find(covered.begin(), covered.end(), b) == covered.end())
                    covered.push_back(b);
            }
        }

        CustodyDetails details;
        details.add("reason", reason);
        auto withdrawn =
            change->log(CustodyEvent::consent_withdrawn, item->case_id, id, details.text());
        if (!withdrawn) return std::move(withdrawn).error();
        for (const auto& consent : consents)
            if (auto s = run_statement(
                    db,
                    "INSERT OR IGNORE INTO consent_withdrawals (consent_id, withdrawn_at, shredded,"
                    " custody_seq) VALUES (?1, ?2, 1, ?3)",
                    [&](Statement& t) {
                        return bind_all(
                            {t.bind_blob(1, consent), t.bind_int64(2, now_ms),
                             t.bind_int64(3, static_cast<std::int64_t>(withdrawn->index))});
                    });
                !s)
                return s;

        for (const auto& target : covered) {
            auto victim = load_item(db, id_text(target));
            if (!victim) return std::move(victim).error();
            if (victim->state == ItemState::shredded) continue;
            // Deleting the key row is the shredding: without the key the blob
            // is noise. secure_delete overwrites the freed database bytes.
            for (std::string_view sql : {"DELETE FROM blob_keys WHERE attachment_id IN"
                                         " (SELECT id FROM attachments WHERE item_id = ?1)",
                                         "DELETE FROM item_search WHERE docid = (SELECT local_id "
                                         "FROM items WHERE id = ?1)"})
                if (auto s = run_statement(db, sql,
                                           [&](Statement& t) { return t.bind_blob(1, target); });
                    !s)
                    return s;
            CustodyDetails how;
            how.add("method", "crypto-shred");
            auto destroyed =
                change->log(CustodyEvent::destroyed, victim->case_id, victim->id, how.text());
            if (!destroyed) return std::move(destroyed).error();
            if (auto s = run_statement(
                    db,
                    "INSERT INTO shredded_items (item_id, shredded_at, custody_seq)"
                    " VALUES (?1, ?2, ?3)",
                    [&](Statement& t) {
                        return bind_all(
                            {t.bind_blob(1, target), t.bind_int64(2, now_ms),
                             t.bind_int64(3, static_cast<std::int64_t>(destroyed->index))});
                    });
                !s)
                return s;
            if (victim->attachment) shredded.emplace_back(victim->id, victim->attachment->blob_id);
        }
        if (auto s = change->commit(); !s) return s;
        // Old page images in the write-ahead log may still hold the key;
        // move them into the database, where secure_delete has zeroed it,
        // and truncate the log. Best effort: the commit already stands.
        (void)state_->db.execute("PRAGMA wal_checkpoint(TRUNCATE)");
    }
    // The keys are gone; the blobs are noise now, removed to free the space.
    // A blob left here by a crash is removed by the next open.
    for (const auto& [item_id, blob_id] : shredded) (void)state_->blobs.remove(blob_id);
    return {};
}

}  // namespace custodia::core
