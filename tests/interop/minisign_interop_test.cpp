// Interop with Debian's `minisign` binary (a declared dependency, see
// packaging/install-deps.sh): minisign must accept what we sign, and we must
// accept what minisign signs. A missing binary fails the suite.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "custodia/crypto/minisign.h"
#include "custodia/crypto/random.h"
#include "custodia/crypto/sign.h"
#include "custodia/crypto/stream_io.h"

namespace {

namespace fs = std::filesystem;
namespace ms = custodia::crypto::minisign;
using custodia::Errc;
using custodia::Status;
using custodia::crypto::DeterministicRandom;
using custodia::crypto::Ed25519SecretKey;
using custodia::crypto::FdSource;

const std::vector<std::size_t> kSizes = {0, 1, std::size_t{1} << 20};

class TempDir {
  public:
    TempDir() {
        const char* base = std::getenv("TMPDIR");
        std::string pattern =
            std::string(base && *base ? base : "/tmp") + "/custodia-minisign-XXXXXX";
        if (char* made = ::mkdtemp(pattern.data())) path_ = made;
    }
    ~TempDir() {
        std::error_code ec;
        if (!path_.empty()) fs::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const fs::path& path() const { return path_; }

  private:
    fs::path path_;
};

struct CommandResult {
    int exit_code = -1;
    std::string output;  // stdout and stderr together
};

std::string quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

// stdin is /dev/null so that a password prompt fails instead of hanging.
CommandResult run(const std::string& command) {
    CommandResult result;
    FILE* pipe = ::popen((command + " </dev/null 2>&1").c_str(), "r");
    if (pipe == nullptr) return result;
    char buffer[4096];
    std::size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, n);
    const int status = ::pclose(pipe);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
}

void write_file(const fs::path& path, const std::string& data) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    ASSERT_TRUE(out.good()) << path;
}

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string pattern(std::size_t size) {
    std::string out(size, '\0');
    for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<char>((i * 167 + 11) % 256);
    return out;
}

std::span<const std::uint8_t> bytes(const std::string& s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

std::string tampered(std::string message) {
    if (message.empty()) return "x";
    message[message.size() / 2] = static_cast<char>(message[message.size() / 2] ^ 0x01);
    return message;
}

Status verify_file(const ms::PublicKey& key, const ms::Signature& sig, const fs::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return custodia::make_error(Errc::io, "open failed");
    FdSource source(fd);
    Status st = ms::verify(key, sig, source);
    ::close(fd);
    return st;
}

class MinisignInterop : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_FALSE(dir_.path().empty()) << "mkdtemp failed";
        const auto version = run("minisign -v");
        ASSERT_EQ(version.exit_code, 0)
            << "Debian's minisign binary is required (packaging/install-deps.sh): "
            << version.output;
        ASSERT_EQ(version.output.rfind("minisign ", 0), 0u) << version.output;
    }

    fs::path file(const std::string& name) const { return dir_.path() / name; }

    TempDir dir_;
};

// ---------------------------------------------------------------- minisign checks ours

class OursCheckedByMinisign : public MinisignInterop {
  protected:
    Ed25519SecretKey key_ = [] {
        DeterministicRandom random(0x6d696e69);
        return Ed25519SecretKey::generate(random);
    }();
    ms::PublicKey public_ = ms::PublicKey::derive_from(key_.public_key());
    ms::Signer signer_{key_, public_.key_id()};

    // Signs `message` into FILE and FILE.minisig; returns FILE.
    fs::path sign_to_files(const std::string& name, const std::string& message,
                           const std::string& trusted) {
        const fs::path path = file(name);
        write_file(path, message);
        auto sig = signer_.sign(bytes(message), trusted);
        EXPECT_TRUE(sig.ok());
        if (sig.ok()) write_file(path.string() + ".minisig", sig->serialize());
        return path;
    }
};

TEST_F(OursCheckedByMinisign, VerifiesWithInlinePublicKey) {
    for (std::size_t size : kSizes) {
        const std::string trusted = "custodia size=" + std::to_string(size) + "\tfile:evidence";
        const auto path = sign_to_files("m" + std::to_string(size), pattern(size), trusted);
        const auto r =
            run("minisign -Vm " + quote(path.string()) + " -P " + quote(public_.to_base64()));
        EXPECT_EQ(r.exit_code, 0) << size << ": " << r.output;
        EXPECT_NE(r.output.find("Signature and comment signature verified"), std::string::npos)
            << r.output;
        EXPECT_NE(r.output.find("Trusted comment: " + trusted + "\n"), std::string::npos)
            << r.output;
    }
}

TEST_F(OursCheckedByMinisign, VerifiesWithPublicKeyFile) {
    write_file(file("device.pub"), public_.to_file());
    for (std::size_t size : kSizes) {
        const std::string trusted = "pubfile " + std::to_string(size);
        const auto path = sign_to_files("m" + std::to_string(size), pattern(size), trusted);
        const auto r = run("minisign -Vm " + quote(path.string()) + " -p " +
                           quote(file("device.pub").string()));
        EXPECT_EQ(r.exit_code, 0) << size << ": " << r.output;
        EXPECT_NE(r.output.find("Trusted comment: " + trusted + "\n"), std::string::npos)
            << r.output;
    }
}

TEST_F(OursCheckedByMinisign, QuietModePrintsExactlyOurTrustedComment) {
    const std::string trusted = "timestamp:1700000000\tfile:manifest.json";
    const auto path = sign_to_files("manifest.json", "{\"v\":1}\n", trusted);
    const auto r =
        run("minisign -Q -Vm " + quote(path.string()) + " -P " + quote(public_.to_base64()));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.output, trusted + "\n");
}

TEST_F(OursCheckedByMinisign, IsPrehashedAsMinisignRequiresWithH) {
    const auto path = sign_to_files("big", pattern(std::size_t{1} << 20), "prehashed");
    const auto r =
        run("minisign -V -H -m " + quote(path.string()) + " -P " + quote(public_.to_base64()));
    EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST_F(OursCheckedByMinisign, StreamedSignatureVerifies) {
    const auto path = file("streamed");
    write_file(path, pattern(std::size_t{1} << 20));
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    FdSource source(fd);
    auto sig = signer_.sign(source, "streamed from fd");
    ::close(fd);
    ASSERT_TRUE(sig.ok());
    write_file(path.string() + ".minisig", sig->serialize());
    const auto r =
        run("minisign -Vm " + quote(path.string()) + " -P " + quote(public_.to_base64()));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("Trusted comment: streamed from fd\n"), std::string::npos);
}

TEST_F(OursCheckedByMinisign, TamperedFileIsRejectedByMinisign) {
    for (std::size_t size : kSizes) {
        const std::string name = "t" + std::to_string(size);
        const auto path = sign_to_files(name, pattern(size), "will be tampered");
        write_file(path, tampered(pattern(size)));
        const auto r =
            run("minisign -Vm " + quote(path.string()) + " -P " + quote(public_.to_base64()));
        EXPECT_NE(r.exit_code, 0) << size << ": " << r.output;
        EXPECT_NE(r.output.find("Signature verification failed"), std::string::npos) << r.output;
    }
}

TEST_F(OursCheckedByMinisign, EditedTrustedCommentIsRejectedByMinisign) {
    const auto path = sign_to_files("c", "content", "timestamp:1");
    std::string text = read_file(path.string() + ".minisig");
    const auto at = text.find("trusted comment: timestamp:1\n");
    ASSERT_NE(at, std::string::npos);
    text.replace(at, 29, "trusted comment: timestamp:2\n");
    write_file(path.string() + ".minisig", text);
    const auto r =
        run("minisign -Vm " + quote(path.string()) + " -P " + quote(public_.to_base64()));
    EXPECT_NE(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("Comment signature verification failed"), std::string::npos)
        << r.output;
}

TEST_F(OursCheckedByMinisign, OtherKeyIdIsRejectedByMinisign) {
    const auto path = sign_to_files("k", "content", "key id");
    ms::KeyId other = public_.key_id();
    other[0] ^= 0xff;
    const auto key = ms::PublicKey::from(other, key_.public_key());
    const auto r = run("minisign -Vm " + quote(path.string()) + " -P " + quote(key.to_base64()));
    EXPECT_NE(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("key id"), std::string::npos) << r.output;
}

TEST_F(OursCheckedByMinisign, KeyIdWithLeadingZeroDigitsWorksFromPubFile) {
    // Our .pub comment prints all 16 digits; minisign 0.11 would print fewer.
    ms::KeyId id = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x00, 0x00};
    const auto key = ms::PublicKey::from(id, key_.public_key());
    EXPECT_EQ(key.to_file().substr(0, key.to_file().find('\n')),
              "untrusted comment: minisign public key 0000665544332211");
    const ms::Signer signer(key_, id);
    const auto path = file("z");
    write_file(path, "zero id");
    auto sig = signer.sign(bytes("zero id"), "zero id");
    ASSERT_TRUE(sig.ok());
    write_file(path.string() + ".minisig", sig->serialize());
    write_file(file("z.pub"), key.to_file());
    const auto r =
        run("minisign -Vm " + quote(path.string()) + " -p " + quote(file("z.pub").string()));
    EXPECT_EQ(r.exit_code, 0) << r.output;
}

// ---------------------------------------------------------------- we check minisign's

class MinisignCheckedByOurs : public MinisignInterop {
  protected:
    void SetUp() override {
        MinisignInterop::SetUp();
        if (HasFatalFailure()) return;
        const auto r = run("minisign -G -W -p " + quote(file("key.pub").string()) + " -s " +
                           quote(file("key.sec").string()));
        ASSERT_EQ(r.exit_code, 0) << r.output;
        pub_text_ = read_file(file("key.pub"));
        auto key = ms::PublicKey::parse(pub_text_);
        ASSERT_TRUE(key.ok()) << key.error().message << "\n" << pub_text_;
        key_.emplace(*key);
    }

    // Runs `minisign -S` over `message`; returns the .minisig text.
    std::string minisign_sign(const std::string& name, const std::string& message,
                              const std::string& extra_flags) {
        const fs::path path = file(name);
        write_file(path, message);
        const auto r =
            run("minisign -S " + extra_flags + " -s " + quote(file("key.sec").string()) + " -m " +
                quote(path.string()) + " -x " + quote(path.string() + ".minisig"));
        EXPECT_EQ(r.exit_code, 0) << r.output;
        return read_file(path.string() + ".minisig");
    }

    void expect_verifies(const std::string& sig_text, const std::string& message,
                         const fs::path& path) {
        auto sig = ms::Signature::parse(sig_text);
        ASSERT_TRUE(sig.ok()) << sig.error().message << "\n" << sig_text;
        EXPECT_EQ(sig->serialize(), sig_text);
        EXPECT_EQ(sig->key_id(), key_->key_id());
        EXPECT_TRUE(ms::verify(*key_, *sig, bytes(message)).ok());
        EXPECT_TRUE(verify_file(*key_, *sig, path).ok());
    }

    void expect_tamper_rejected(const std::string& sig_text, const std::string& message,
                                const fs::path& path) {
        auto sig = ms::Signature::parse(sig_text);
        ASSERT_TRUE(sig.ok());
        const std::string changed = tampered(message);
        auto st = ms::verify(*key_, *sig, bytes(changed));
        ASSERT_FALSE(st.ok());
        EXPECT_EQ(st.error().code, Errc::auth_failed);
        write_file(path, changed);
        auto streamed = verify_file(*key_, *sig, path);
        ASSERT_FALSE(streamed.ok());
        EXPECT_EQ(streamed.error().code, Errc::auth_failed);
    }

    std::string pub_text_;
    std::optional<ms::PublicKey> key_;
};

TEST_F(MinisignCheckedByOurs, PubFileKeyIdMatchesItsComment) {
    const auto first_line = pub_text_.substr(0, pub_text_.find('\n'));
    const std::string prefix = "untrusted comment: minisign public key ";
    ASSERT_EQ(first_line.rfind(prefix, 0), 0u) << first_line;
    // minisign 0.11 drops leading zeros, so compare the numbers.
    EXPECT_EQ(std::stoull(first_line.substr(prefix.size()), nullptr, 16),
              std::stoull(ms::key_id_hex(key_->key_id()), nullptr, 16));
    const auto second_line = pub_text_.substr(first_line.size() + 1);
    EXPECT_EQ(key_->to_base64() + "\n", second_line);
}

TEST_F(MinisignCheckedByOurs, PrehashedSignaturesVerify) {
    for (std::size_t size : kSizes) {
        const std::string name = "p" + std::to_string(size);
        const std::string message = pattern(size);
        const std::string trusted = "minisign made this " + std::to_string(size);
        const auto text = minisign_sign(name, message, "-t " + quote(trusted));
        auto sig = ms::Signature::parse(text);
        ASSERT_TRUE(sig.ok()) << text;
        EXPECT_TRUE(sig->prehashed());
        EXPECT_EQ(sig->trusted_comment(), trusted);
        expect_verifies(text, message, file(name));
    }
}

TEST_F(MinisignCheckedByOurs, DefaultCommentsVerify) {
    const std::string message = "default comments\n";
    const auto text = minisign_sign("d", message, "");
    auto sig = ms::Signature::parse(text);
    ASSERT_TRUE(sig.ok()) << text;
    EXPECT_EQ(sig->untrusted_comment(), "signature from minisign secret key");
    EXPECT_EQ(sig->trusted_comment().rfind("timestamp:", 0), 0u) << sig->trusted_comment();
    EXPECT_NE(sig->trusted_comment().find("\tfile:d"), std::string::npos);
    expect_verifies(text, message, file("d"));
}

TEST_F(MinisignCheckedByOurs, UntrustedCommentIsKept) {
    const auto text = minisign_sign("u", "u", "-c " + quote("from the field office"));
    auto sig = ms::Signature::parse(text);
    ASSERT_TRUE(sig.ok()) << text;
    EXPECT_EQ(sig->untrusted_comment(), "from the field office");
    expect_verifies(text, "u", file("u"));
}

TEST_F(MinisignCheckedByOurs, TamperedFileIsRejected) {
    for (std::size_t size : kSizes) {
        const std::string name = "x" + std::to_string(size);
        const std::string message = pattern(size);
        const auto text = minisign_sign(name, message, "-t tamper");
        expect_tamper_rejected(text, message, file(name));
    }
}

TEST_F(MinisignCheckedByOurs, OtherPublicKeyHasNoMatchingKeyId) {
    const auto text = minisign_sign("o", "o", "-t other");
    auto sig = ms::Signature::parse(text);
    ASSERT_TRUE(sig.ok());
    DeterministicRandom random(5);
    const auto ours = Ed25519SecretKey::generate(random);
    auto st = ms::verify(ms::PublicKey::derive_from(ours.public_key()), *sig, bytes("o"));
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, Errc::no_matching_key);
}

class MinisignLegacyCheckedByOurs : public MinisignCheckedByOurs {
  protected:
    void SetUp() override {
        MinisignCheckedByOurs::SetUp();
        if (HasFatalFailure()) return;
        const auto help = run("minisign -h");
        if (help.output.find("-l ") == std::string::npos)
            GTEST_SKIP() << "this minisign cannot write legacy signatures (no -l)";
    }
};

TEST_F(MinisignLegacyCheckedByOurs, LegacySignaturesVerify) {
    for (std::size_t size : kSizes) {
        const std::string name = "l" + std::to_string(size);
        const std::string message = pattern(size);
        const auto text = minisign_sign(name, message, "-l -t " + quote("legacy"));
        auto sig = ms::Signature::parse(text);
        ASSERT_TRUE(sig.ok()) << text;
        EXPECT_FALSE(sig->prehashed());
        EXPECT_EQ(sig->trusted_comment(), "legacy");
        expect_verifies(text, message, file(name));
    }
}

TEST_F(MinisignLegacyCheckedByOurs, TamperedFileIsRejected) {
    for (std::size_t size : kSizes) {
        const std::string name = "lx" + std::to_string(size);
        const std::string message = pattern(size);
        const auto text = minisign_sign(name, message, "-l");
        expect_tamper_rejected(text, message, file(name));
    }
}

}  // namespace
