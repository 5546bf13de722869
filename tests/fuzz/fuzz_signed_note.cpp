// Signed notes, checkpoints and Merkle proofs (core/note.h, core/merkle.h):
// what a bundle's custody/ files and an intake server's answers carry. The
// first byte picks what the rest is:
//   0  "<verifier key>\n<signed note>": the key line is parsed as the one
//      trusted key, the note is parsed and verified against it, and its text
//      is parsed as a checkpoint;
//   1  a tree shape (size, leaf index, old size) and a mutation: honest
//      inclusion and consistency proofs from MemoryLeafHashes must verify,
//      and the same proofs with one bit flipped must not;
//   2  raw verifier input (leaf, index, size, root, proof hashes): the
//      verifiers agree with each other and never accept a proof of the wrong
//      length.
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "custodia/core/merkle.h"
#include "custodia/core/note.h"
#include "fuzz_check.h"

namespace core = custodia::core;
using custodia::Errc;

namespace {

std::uint64_t read_u64(std::span<const std::uint8_t>& in) {
    std::uint64_t v = 0;
    for (int i = 0; i < 8 && !in.empty(); ++i) {
        v = (v << 8) | in.front();
        in = in.subspan(1);
    }
    return v;
}

core::MerkleHash read_hash(std::span<const std::uint8_t>& in) {
    core::MerkleHash h{};
    const std::size_t n = std::min(h.size(), in.size());
    std::memcpy(h.data(), in.data(), n);
    in = in.subspan(n);
    return h;
}

void fuzz_note(std::string_view text) {
    const auto nl = text.find('\n');
    if (nl == std::string_view::npos) return;
    const std::string_view key_line = text.substr(0, nl);
    const std::string_view encoded = text.substr(nl + 1);

    auto key = core::NoteVerifierKey::parse(key_line);
    if (key) FUZZ_CHECK(key->to_string() == key_line);

    auto note = core::SignedNote::parse(encoded);
    if (!note) return;
    FUZZ_CHECK(note->serialize() == encoded);
    FUZZ_CHECK(!note->signatures().empty());
    FUZZ_CHECK(note->signatures().size() <= core::note_format::kMaxSignatures);
    FUZZ_CHECK(!note->text().empty() && note->text().back() == '\n');
    auto plain = core::SignedNote::from_text(note->text());
    FUZZ_CHECK(plain.ok());

    if (auto cp = core::Checkpoint::parse(note->text())) {
        auto back = cp->to_text();
        FUZZ_CHECK(back.ok() && *back == note->text());
    }

    if (!key) return;
    const core::NoteVerifierKey known[] = {*key};
    auto verified = core::verify_note(*note, known);
    bool named = false;
    for (const auto& line : note->signatures())
        named |= line.name == key->name() && line.key_id == key->key_id();
    if (!named) {
        FUZZ_CHECK(!verified.ok());
        return;
    }
    if (!verified) return;
    // Accepted: exactly the one known key, and every line naming it verifies.
    FUZZ_CHECK(verified->size() == 1);
    FUZZ_CHECK((*verified)[0].name == key->name() && (*verified)[0].key_id == key->key_id());
    FUZZ_CHECK((*verified)[0].timestamp.has_value() ==
               (key->type() == core::NoteSignatureType::cosignature_v1));
    for (const auto& line : note->signatures())
        if (line.name == key->name() && line.key_id == key->key_id())
            FUZZ_CHECK(key->verify(note->text(), line.signature));
}

void flip(std::vector<core::MerkleHash>& proof, std::span<const std::uint8_t> in) {
    std::span<const std::uint8_t> r = in;
    const auto bit = static_cast<std::size_t>(read_u64(r) % (proof.size() * 256));
    proof[bit / 256][(bit / 8) % 32] ^= static_cast<std::uint8_t>(1u << (bit % 8));
}

void fuzz_honest_proofs(std::span<const std::uint8_t> in) {
    if (in.size() < 6) return;
    const std::uint64_t size = 1 + ((in[0] | (in[1] << 8)) % 700);
    const std::uint64_t index = (in[2] | (in[3] << 8)) % size;
    const std::uint64_t old_size = (in[4] | (in[5] << 8)) % (size + 1);
    const auto mutation = in.subspan(6);

    core::MemoryLeafHashes leaves;
    core::CompactRange range;
    for (std::uint64_t i = 0; i < size; ++i) {
        const auto leaf = core::leaf_hash("leaf " + std::to_string(i));
        leaves.append(leaf);
        range.append(leaf);
    }
    auto root = core::merkle_root(leaves, size);
    FUZZ_CHECK(root.ok() && *root == range.root());
    auto old_root = core::merkle_root(leaves, old_size);
    FUZZ_CHECK(old_root.ok());
    if (old_size == 0) FUZZ_CHECK(*old_root == core::empty_tree_hash());

    std::vector<core::MerkleHash> leaf_list;
    FUZZ_CHECK(leaves.read_leaf_hashes(index, index + 1, leaf_list).ok());
    const core::MerkleHash leaf = leaf_list.at(0);

    auto inclusion = core::inclusion_proof(leaves, index, size);
    FUZZ_CHECK(inclusion.ok());
    FUZZ_CHECK(inclusion->size() == core::inclusion_proof_size(index, size));
    FUZZ_CHECK(core::verify_inclusion(leaf, index, size, *inclusion, *root).ok());
    auto from = core::root_from_inclusion_proof(leaf, index, size, *inclusion);
    FUZZ_CHECK(from.ok() && *from == *root);

    auto consistency = core::consistency_proof(leaves, old_size, size);
    FUZZ_CHECK(consistency.ok());
    FUZZ_CHECK(consistency->size() == core::consistency_proof_size(old_size, size));
    FUZZ_CHECK(core::verify_consistency(old_size, size, *old_root, *root, *consistency).ok());

    if (mutation.empty()) return;
    if (!inclusion->empty()) {
        auto bad = *inclusion;
        flip(bad, mutation);
        const auto st = core::verify_inclusion(leaf, index, size, bad, *root);
        FUZZ_CHECK(!st.ok() && st.error().code == Errc::auth_failed);
        // One hash too many or too few is refused before any hashing.
        bad = *inclusion;
        bad.pop_back();
        FUZZ_CHECK(core::verify_inclusion(leaf, index, size, bad, *root).error().code ==
                   Errc::malformed);
    }
    auto longer = *inclusion;
    longer.push_back(leaf);
    FUZZ_CHECK(core::verify_inclusion(leaf, index, size, longer, *root).error().code ==
               Errc::malformed);
    if (!consistency->empty()) {
        auto bad = *consistency;
        flip(bad, mutation);
        FUZZ_CHECK(!core::verify_consistency(old_size, size, *old_root, *root, bad).ok());
    }
    // A different leaf (all leaves are distinct) is not at this index.
    const auto other = core::leaf_hash("not a leaf");
    FUZZ_CHECK(!core::verify_inclusion(other, index, size, *inclusion, *root).ok());
}

void fuzz_raw_verifiers(std::span<const std::uint8_t> in) {
    const core::MerkleHash leaf = read_hash(in);
    const std::uint64_t index = read_u64(in);
    const std::uint64_t size = read_u64(in);
    const core::MerkleHash root = read_hash(in);
    const core::MerkleHash other_root = read_hash(in);
    auto proof = core::merkle_hashes_from_bytes(in);
    if (!proof) {
        FUZZ_CHECK(in.size() % 32 != 0 || in.size() / 32 > core::kMaxProofHashes);
        return;
    }
    FUZZ_CHECK(proof->size() == in.size() / 32);

    const auto st = core::verify_inclusion(leaf, index, size, *proof, root);
    const auto from = core::root_from_inclusion_proof(leaf, index, size, *proof);
    FUZZ_CHECK(st.ok() == (from.ok() && *from == root));
    if (index >= size || proof->size() != core::inclusion_proof_size(index, size))
        FUZZ_CHECK(!st.ok() && st.error().code == Errc::malformed);

    const auto c = core::verify_consistency(index, size, other_root, root, *proof);
    if (index > size || proof->size() != core::consistency_proof_size(index, size))
        FUZZ_CHECK(!c.ok());
    if (c.ok() && index == size) FUZZ_CHECK(other_root == root);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::span<const std::uint8_t> rest(data + 1, size - 1);
    switch (data[0]) {
        case 0:
            fuzz_note(std::string_view(reinterpret_cast<const char*>(rest.data()), rest.size()));
            break;
        case 1:
            fuzz_honest_proofs(rest);
            break;
        case 2:
            fuzz_raw_verifiers(rest);
            break;
        default:
            break;
    }
    return 0;
}
