// The custody checks of a sealed bundle (see bundle_custody.h). Every input
// here is attacker-controlled: parsing is strict and each failure is named.
#include "custodia/core/bundle_custody.h"

#include <charconv>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "custodia/core/custody_entry.h"
#include "custodia/core/merkle.h"
#include "custodia/core/note.h"
#include "custodia/crypto/encoding.h"
#include "custodia/crypto/sign.h"

namespace custodia::core {
namespace {

using nlohmann::json;

constexpr std::string_view kEntriesPrefix = "custody/entries/";
constexpr std::string_view kProofsPrefix = "custody/proofs/";
constexpr std::string_view kCaptureDomain = "custodia/v1/capture";
constexpr std::string_view kReceiptsPrefix = "custody/receipts/";
constexpr std::string_view kReceiptContextLine = "custodia.receipt/v1\n";

struct ParsedProof {
    std::uint64_t index = 0;
    std::uint64_t tree_size = 0;
    MerkleHash leaf{};
    std::vector<MerkleHash> hashes;
};

std::optional<std::uint64_t> parse_decimal(std::string_view text) {
    if (text.empty() || (text.size() > 1 && text[0] == '0')) return std::nullopt;
    std::uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
}

std::optional<MerkleHash> parse_hash_hex(std::string_view text) {
    if (text.size() != 64) return std::nullopt;
    auto bytes = crypto::from_hex(text);
    if (!bytes || bytes->size() != 32 || crypto::to_hex(*bytes) != text) return std::nullopt;
    MerkleHash h{};
    std::copy(bytes->begin(), bytes->end(), h.begin());
    return h;
}

// "custodia.inclusion-proof/v1\nindex N\ntree_size N\nleaf HEX\n(hash HEX\n)*"
Result<ParsedProof> parse_proof(std::string_view text) {
    auto bad = [](const char* why) { return make_error(Errc::malformed, why); };
    std::vector<std::string_view> lines;
    while (!text.empty()) {
        const auto nl = text.find('\n');
        if (nl == std::string_view::npos) return bad("proof does not end in a newline");
        lines.push_back(text.substr(0, nl));
        text.remove_prefix(nl + 1);
    }
    if (lines.size() < 4 || lines[0] != "custodia.inclusion-proof/v1")
        return bad("not a custodia.inclusion-proof/v1");
    if (lines.size() - 4 > kMaxProofHashes) return bad("too many proof hashes");
    auto field = [&](std::size_t i, std::string_view key) -> std::optional<std::string_view> {
        if (lines[i].substr(0, key.size() + 1) != std::string(key) + " ") return std::nullopt;
        return lines[i].substr(key.size() + 1);
    };
    ParsedProof p;
    auto index = field(1, "index");
    auto size = field(2, "tree_size");
    auto leaf = field(3, "leaf");
    if (!index || !size || !leaf) return bad("proof fields out of order");
    auto i = parse_decimal(*index);
    auto n = parse_decimal(*size);
    auto l = parse_hash_hex(*leaf);
    if (!i || !n || !l) return bad("malformed index, tree_size or leaf");
    p.index = *i;
    p.tree_size = *n;
    p.leaf = *l;
    for (std::size_t k = 4; k < lines.size(); ++k) {
        auto h = field(k, "hash");
        auto parsed = h ? parse_hash_hex(*h) : std::nullopt;
        if (!parsed) return bad("malformed hash line");
        p.hashes.push_back(*parsed);
    }
    return p;
}

struct CaptureBinding {
    std::vector<std::uint8_t> item_id;
    crypto::Sha256Digest sha256{};
    std::uint64_t size = 0;
};

// The capture record's first fields: domain, item id, SHA-256, size.
std::optional<CaptureBinding> read_capture_prefix(std::span<const std::uint8_t> record) {
    const std::size_t domain_len = kCaptureDomain.size();
    const std::size_t need = 4 + domain_len + 16 + 32 + 8;
    if (record.size() < need) return std::nullopt;
    std::uint32_t len = 0;
    for (std::size_t i = 0; i < 4; ++i) len = (len << 8) | record[i];
    if (len != domain_len) return std::nullopt;
    if (!std::equal(kCaptureDomain.begin(), kCaptureDomain.end(), record.begin() + 4))
        return std::nullopt;
    std::size_t at = 4 + domain_len;
    CaptureBinding b;
    b.item_id.assign(record.begin() + static_cast<std::ptrdiff_t>(at),
                     record.begin() + static_cast<std::ptrdiff_t>(at + 16));
    at += 16;
    std::copy(record.begin() + static_cast<std::ptrdiff_t>(at),
              record.begin() + static_cast<std::ptrdiff_t>(at + 32), b.sha256.begin());
    at += 32;
    for (std::size_t i = 0; i < 8; ++i) b.size = (b.size << 8) | record[at + i];
    return b;
}

BundleCheck make_check(std::string_view name, const std::vector<std::string>& failures,
                       std::string passed_detail) {
    BundleCheck c;
    c.name = std::string(name);
    if (failures.empty()) {
        c.outcome = CheckOutcome::passed;
        c.detail = std::move(passed_detail);
    } else {
        c.outcome = CheckOutcome::failed;
        for (const auto& f : failures) {
            if (!c.detail.empty()) c.detail += "; ";
            c.detail += f;
        }
    }
    return c;
}

BundleCheck not_run(std::string_view name, std::string why) {
    BundleCheck c;
    c.name = std::string(name);
    c.outcome = CheckOutcome::not_run;
    c.detail = std::move(why);
    return c;
}

struct ReceiptFiles {
    const CustodyFileBytes* receipt = nullptr;
    const CustodyFileBytes* checkpoint = nullptr;
    const CustodyFileBytes* vkeys = nullptr;
};

std::string text_of(const CustodyFileBytes& f) {
    return std::string(f.bytes.begin(), f.bytes.end());
}

// One receipt group <stem>.{receipt,checkpoint,vkeys}; the stem is
// "<bundle id>-<8 hex>". Returns the failure, or nothing when it verified.
std::optional<std::string> check_receipt(const std::string& stem, const ReceiptFiles& files,
                                         const crypto::minisign::PublicKey& device_key) {
    const std::string where = std::string(kReceiptsPrefix) + stem;
    if (!files.receipt || !files.checkpoint || !files.vkeys)
        return where + ": needs .receipt, .checkpoint and .vkeys";
    const auto dash = stem.rfind('-');
    if (dash == std::string::npos || dash == 0) return where + ": name is not <bundle>-<key id>";
    const std::string bundle_id = stem.substr(0, dash);

    const std::string vkeys = text_of(*files.vkeys);
    const auto nl = vkeys.find('\n');
    if (nl == std::string::npos || vkeys.empty() || vkeys.back() != '\n' ||
        vkeys.find('\n', nl + 1) != vkeys.size() - 1)
        return where + ".vkeys: not two verifier key lines";
    auto receipt_key = NoteVerifierKey::parse(std::string_view(vkeys).substr(0, nl));
    auto cosign_key =
        NoteVerifierKey::parse(std::string_view(vkeys).substr(nl + 1, vkeys.size() - nl - 2));
    if (!receipt_key || !cosign_key || receipt_key->type() != NoteSignatureType::ed25519 ||
        cosign_key->type() != NoteSignatureType::cosignature_v1 ||
        receipt_key->public_key() != cosign_key->public_key())
        return where + ".vkeys: not one server key's Ed25519 and cosignature verifier keys";

    auto receipt = SignedNote::parse(text_of(*files.receipt));
    if (!receipt) return where + ".receipt: " + receipt.error().message;
    if (auto ok = verify_note(*receipt, std::span(&*receipt_key, 1)); !ok)
        return where + ".receipt is not signed by server key " + receipt_key->name() + ": " +
               ok.error().message;
    if (!receipt->text().starts_with(kReceiptContextLine))
        return where + ".receipt is not a custodia.receipt/v1";
    const json body =
        json::parse(receipt->text().substr(kReceiptContextLine.size()), nullptr, false);
    if (!body.is_object() || !body.contains("bundle") || body["bundle"] != bundle_id ||
        !body.contains("device") ||
        body["device"] != crypto::minisign::key_id_hex(device_key.key_id()))
        return where + ".receipt is for another bundle or device";

    auto cosigned = SignedNote::parse(text_of(*files.checkpoint));
    if (!cosigned) return where + ".checkpoint: " + cosigned.error().message;
    auto cp = Checkpoint::parse(cosigned->text());
    if (!cp) return where + ".checkpoint: " + cp.error().message;
    auto device_vkey =
        NoteVerifierKey::make(cp->origin, NoteSignatureType::ed25519, device_key.key());
    if (!device_vkey || !verify_note(*cosigned, std::span(&*device_vkey, 1)))
        return where + ".checkpoint is not signed by the device key";
    if (auto ok = verify_note(*cosigned, std::span(&*cosign_key, 1)); !ok)
        return where + ".checkpoint is not cosigned by server key " + cosign_key->name() + ": " +
               ok.error().message;
    return std::nullopt;
}

}  // namespace

std::vector<BundleCheck> BundleCustodyVerifier::verify(const BundleReport& report) {
    std::vector<BundleCheck> checks;
    if (!report.manifest) {
        for (auto name : {bundle_check::kCustodyCheckpoint, bundle_check::kCustodyInclusion,
                          bundle_check::kCaptureSignatures})
            checks.push_back(not_run(name, "no valid manifest"));
        return checks;
    }
    const auto& manifest = *report.manifest;
    const crypto::minisign::PublicKey key = trusted_ ? *trusted_ : manifest.device_key();

    std::map<std::string, const CustodyFileBytes*> files;
    for (const auto& f : report.custody_files) files[f.path] = &f;
    auto file_text = [&](const std::string& path) -> std::optional<std::string> {
        auto it = files.find(path);
        if (it == files.end()) return std::nullopt;
        return std::string(it->second->bytes.begin(), it->second->bytes.end());
    };

    // custody_checkpoint
    std::vector<std::string> cp_failures;
    std::optional<Checkpoint> checkpoint;
    {
        for (const auto& f : report.custody_files)
            if (!f.verified) cp_failures.push_back(f.path + " does not match SHA256SUMS");
        auto pub = file_text("custody/device.pub");
        if (!pub) {
            cp_failures.push_back("custody/device.pub is missing");
        } else {
            auto parsed = crypto::minisign::PublicKey::parse(*pub);
            if (!parsed || parsed->key() != key.key() || parsed->key_id() != key.key_id())
                cp_failures.push_back("custody/device.pub is not the device key");
        }
        auto note_text = file_text("custody/checkpoint");
        if (!note_text) {
            cp_failures.push_back("custody/checkpoint is missing");
        } else if (auto note = SignedNote::parse(*note_text); !note) {
            cp_failures.push_back("custody/checkpoint: " + note.error().message);
        } else if (auto cp = Checkpoint::parse(note->text()); !cp) {
            cp_failures.push_back("custody/checkpoint: " + cp.error().message);
        } else if (auto vkey =
                       NoteVerifierKey::make(cp->origin, NoteSignatureType::ed25519, key.key());
                   !vkey) {
            cp_failures.push_back("custody/checkpoint: origin is not a key name");
        } else if (auto ok = verify_note(*note, std::span(&*vkey, 1)); !ok) {
            cp_failures.push_back("custody/checkpoint is not signed by the device key: " +
                                  ok.error().message);
        } else {
            checkpoint = *cp;
        }
    }
    checks.push_back(make_check(
        bundle_check::kCustodyCheckpoint, cp_failures,
        checkpoint ? "signed by the device key, tree size " + std::to_string(checkpoint->size)
                   : ""));

    // custody_inclusion
    if (!checkpoint) {
        checks.push_back(not_run(bundle_check::kCustodyInclusion, "no verified checkpoint"));
    } else {
        std::vector<std::string> failures;
        std::set<std::string> items_with_entries;
        std::uint64_t proved = 0;
        for (const auto& f : report.custody_files) {
            if (!f.path.starts_with(kEntriesPrefix)) continue;
            const std::string name = f.path.substr(kEntriesPrefix.size());
            auto index = parse_decimal(name);
            auto proof_text = file_text(std::string(kProofsPrefix) + name);
            if (!index) {
                failures.push_back(f.path + ": name is not an index");
                continue;
            }
            if (!proof_text) {
                failures.push_back(f.path + ": no inclusion proof");
                continue;
            }
            auto proof = parse_proof(*proof_text);
            if (!proof) {
                failures.push_back(std::string(kProofsPrefix) + name + ": " +
                                   proof.error().message);
                continue;
            }
            const auto leaf = leaf_hash(f.bytes);
            if (proof->index != *index || proof->tree_size != checkpoint->size ||
                proof->leaf != leaf) {
                failures.push_back(f.path + ": proof is for another entry or tree");
                continue;
            }
            if (auto s = verify_inclusion(leaf, *index, checkpoint->size, proof->hashes,
                                          checkpoint->root);
                !s) {
                failures.push_back(f.path + ": not in the checkpoint's tree (" + s.error().message +
                                   ")");
                continue;
            }
            auto entry = decode_custody_entry(f.bytes);
            if (!entry || entry->index != *index) {
                failures.push_back(f.path + ": not a valid custody entry at this index");
                continue;
            }
            if (entry->item_id) items_with_entries.insert(*entry->item_id);
            ++proved;
        }
        for (const auto& item : manifest.items())
            if (!items_with_entries.contains(item.id))
                failures.push_back("item " + item.id + " has no proven custody entry");
        checks.push_back(make_check(bundle_check::kCustodyInclusion, failures,
                                    std::to_string(proved) + " entries proven"));
    }

    // capture_signatures
    {
        std::vector<std::string> failures;
        for (const auto& item : manifest.items()) {
            const std::string who = "item " + item.id + ": ";
            auto j = json::parse(item.json, nullptr, false);
            if (j.is_discarded() || !j.is_object() || !j.contains("capture_record") ||
                !j.contains("capture_signature") || !j["capture_record"].is_string() ||
                !j["capture_signature"].is_string()) {
                failures.push_back(who + "no capture record");
                continue;
            }
            auto record = crypto::from_base64(j["capture_record"].get<std::string>(), true);
            auto sig = crypto::from_base64(j["capture_signature"].get<std::string>(), true);
            if (!record || !sig || sig->size() != 64) {
                failures.push_back(who + "malformed capture record or signature");
                continue;
            }
            crypto::Ed25519Signature signature{};
            std::copy(sig->begin(), sig->end(), signature.begin());
            if (!crypto::verify_ed25519(key.key(), *record, signature)) {
                failures.push_back(who + "capture signature does not verify");
                continue;
            }
            auto binding = read_capture_prefix(*record);
            if (!binding || crypto::to_hex(binding->item_id) != item.id) {
                failures.push_back(who + "capture record is for another item");
                continue;
            }
            if (!item.attachment || item.attachment->size != binding->size ||
                item.attachment->sha256 != binding->sha256)
                failures.push_back(who + "attachment differs from the signed SHA-256 or size");
        }
        checks.push_back(
            make_check(bundle_check::kCaptureSignatures, failures,
                       std::to_string(manifest.items().size()) + " capture signatures verified"));
    }

    // custody_receipts: only when the bundle carries receipts.
    std::map<std::string, ReceiptFiles> receipts;
    std::vector<std::string> receipt_failures;
    for (const auto& f : report.custody_files) {
        if (!f.path.starts_with(kReceiptsPrefix)) continue;
        const std::string name = f.path.substr(kReceiptsPrefix.size());
        const auto dot = name.rfind('.');
        const std::string stem = dot == std::string::npos ? name : name.substr(0, dot);
        const std::string ext = dot == std::string::npos ? "" : name.substr(dot + 1);
        auto& group = receipts[stem];
        if (ext == "receipt")
            group.receipt = &f;
        else if (ext == "checkpoint")
            group.checkpoint = &f;
        else if (ext == "vkeys")
            group.vkeys = &f;
        else
            receipt_failures.push_back(f.path + ": not a receipt file");
    }
    if (!receipts.empty()) {
        for (const auto& [stem, group] : receipts)
            if (auto failure = check_receipt(stem, group, key))
                receipt_failures.push_back(*failure);
        checks.push_back(make_check(bundle_check::kCustodyReceipts, receipt_failures,
                                    std::to_string(receipts.size()) +
                                        " server receipt(s) and cosigned checkpoint(s) verified"));
    }
    return checks;
}

}  // namespace custodia::core
