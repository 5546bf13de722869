// What the intake server signs (docs/PROTOCOL.md §3.1, §4): the receipt for a
// stored bundle, the answer to an enrolment, and its cosignature of the
// device's checkpoint. All three are C2SP signed notes under the server key,
// so they verify with any signed-note implementation, not only ours.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "custodia/core/note.h"
#include "custodia/crypto/hash.h"
#include "custodia/crypto/minisign.h"
#include "custodia/crypto/result.h"
#include "custodia/sync/enrolment.h"

namespace custodia::sync {

struct Receipt {
    std::string bundle_id;
    std::string device;  // key id hex
    std::int64_t received = 0;
    std::string server;  // the server's note key name
    crypto::Sha256Digest sha256{};
    std::uint64_t size = 0;

    // "custodia.receipt/v1\n" + one line of JSON, members sorted, no spaces.
    [[nodiscard]] Result<std::string> to_note_text() const;
    // Strict: exactly the bytes to_note_text() would write.
    [[nodiscard]] static Result<Receipt> from_note_text(std::string_view text);
};

// Signs with the server key (Ed25519, type 0x01) under `server_name`.
[[nodiscard]] Result<std::string> sign_receipt(const Receipt& receipt, std::string_view server_name,
                                               const crypto::Ed25519SecretKey& server_key);

// What the device expects its receipt to say.
struct ExpectedReceipt {
    std::string bundle_id;
    std::string device;
    crypto::Sha256Digest sha256{};
    std::uint64_t size = 0;
};

// Verifies the note under the pinned key and checks every field against what
// was sent. Errc::auth_failed / no_matching_key when the signature is not the
// pinned server's, Errc::auth_failed when a field differs.
[[nodiscard]] Result<Receipt> verify_receipt(std::string_view receipt_note, const ServerPin& pin,
                                             const ExpectedReceipt& expected);

struct EnrolmentAnswer {
    std::string device;  // key id hex
    std::int64_t enrolled = 0;
    crypto::Ed25519PublicKey public_key{};
    std::string server;

    [[nodiscard]] Result<std::string> to_note_text() const;
    [[nodiscard]] static Result<EnrolmentAnswer> from_note_text(std::string_view text);
};

[[nodiscard]] Result<std::string> sign_enrolment_answer(const EnrolmentAnswer& answer,
                                                        std::string_view server_name,
                                                        const crypto::Ed25519SecretKey& server_key);
[[nodiscard]] Result<EnrolmentAnswer> verify_enrolment_answer(
    std::string_view note, const ServerPin& pin, const crypto::Ed25519PublicKey& device_key);

// Checks that `cosigned` is exactly `sent_checkpoint` (a signed checkpoint
// note) plus a valid tlog-cosignature by the pinned server; returns the
// cosignature's timestamp.
[[nodiscard]] Result<std::uint64_t> verify_cosigned_checkpoint(std::string_view cosigned,
                                                               std::string_view sent_checkpoint,
                                                               const ServerPin& pin);

// Whether one of the note's signature lines is an Ed25519 (type 0x01)
// signature by `key` under any name: the name is bound into the key id, so
// each line's name is tried with this key. The server uses it to accept a
// device's checkpoint without knowing the name the vault signs under.
[[nodiscard]] bool note_signed_by(const core::SignedNote& note,
                                  const crypto::Ed25519PublicKey& key);

}  // namespace custodia::sync
