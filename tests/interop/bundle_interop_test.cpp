// Sealed bundles against Debian's own tools (DESIGN.md §6): a court expert
// must be able to open and check a bundle with nothing but
//   age -d -i KEY B.custodia | tar --zstd -xf - -C DIR
//   minisign -Vm manifest.json -P <device key>
//   sha256sum -c SHA256SUMS
//   minisign -Vm B.custodia -x B.custodia.envelope -P <device key>
// and a bundle put together with those tools must be read by ours: accepted
// when it is sound, rejected (naming the check) when it carries links or
// "../" names. Keys come from age-keygen. A missing tool fails the suite.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "custodia/core/bundle_format.h"
#include "custodia/core/bundle_reader.h"
#include "custodia/core/bundle_writer.h"
#include "custodia/core/clock.h"
#include "custodia/core/zstd_stream.h"
#include "custodia/crypto/age.h"
#include "custodia/crypto/encoding.h"
#include "custodia/crypto/hash.h"
#include "custodia/crypto/minisign.h"
#include "custodia/crypto/random.h"
#include "custodia/crypto/sign.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace {

namespace fs = std::filesystem;
namespace age = custodia::crypto::age;
namespace minisign = custodia::crypto::minisign;
namespace bundle = custodia::core::bundle;
namespace check = custodia::core::bundle_check;
using namespace custodia;
using namespace custodia::core;
using custodia::crypto::ByteSource;
using custodia::crypto::DeterministicRandom;
using custodia::crypto::Ed25519SecretKey;
using custodia::crypto::MemorySource;
using custodia::testing::quote;
using custodia::testing::run_shell;
using custodia::testing::TempDir;

using Bytes = std::vector<std::uint8_t>;

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_file(const fs::path& p, std::string_view s) {
    std::ofstream(p, std::ios::binary) << s;
}

// stdout and stderr together; stdin closed so nothing can prompt.
custodia::testing::ProcessResult sh(const std::string& command) {
    return run_shell("(" + command + ") </dev/null 2>&1");
}

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    return s;
}

struct Original {
    std::string item_id;
    std::string name;
    Bytes bytes;
};

class BundleInterop : public ::testing::Test {
  protected:
    void SetUp() override {
        for (const char* tool : {"age", "age-keygen", "minisign", "tar", "zstd", "sha256sum"})
            ASSERT_EQ(sh(std::string("command -v ") + tool).exit_code, 0)
                << tool << " is missing: run packaging/install-deps.sh";
        key_file = dir / "ngo.key";
        ASSERT_EQ(sh("age-keygen -o " + quote(key_file.string())).exit_code, 0);
        auto pub = sh("age-keygen -y " + quote(key_file.string()));
        ASSERT_EQ(pub.exit_code, 0);
        recipient_text = trim(pub.out);
        auto r = age::Recipient::parse(recipient_text);
        ASSERT_TRUE(r) << recipient_text;
        recipients.push_back(*r);
        auto parsed = age::parse_identity_file(read_file(key_file));
        ASSERT_TRUE(parsed);
        ids = std::move(*parsed);

        add("empty.bin", 0);
        add("one.txt", 1);
        add("interview.wav", (3 << 20) + 777);
        add("Témoignage — 証言 🎙.txt", 4321);
        add("name with spaces and 'quotes'.pdf", 100);
    }

    void add(const std::string& name, std::size_t size) {
        Original o{crypto::to_hex(random.bytes<16>()), name, Bytes(size)};
        random.fill(o.bytes);
        originals.push_back(std::move(o));
    }

    BundleContents contents() const {
        BundleContents c;
        c.case_id = "0123456789abcdef0123456789abcdef";
        c.case_title = "Interop case";
        c.case_description = "checked with Debian's tools";
        for (const auto& o : originals) {
            BundleItem item;
            item.id = o.item_id;
            item.metadata_json = R"({"kind":"document"})";
            BundleAttachment a;
            a.name = o.name;
            a.mime = "application/octet-stream";
            a.size = o.bytes.size();
            a.sha256 = crypto::sha256(o.bytes);
            const Bytes* bytes = &o.bytes;
            a.open = [bytes]() -> Result<std::unique_ptr<ByteSource>> {
                return std::unique_ptr<ByteSource>(std::make_unique<MemorySource>(*bytes));
            };
            item.attachment = std::move(a);
            c.items.push_back(std::move(item));
        }
        const std::string pub_file = device_pub.to_file();
        c.custody.push_back({"device.pub", Bytes(pub_file.begin(), pub_file.end())});
        c.custody.push_back({"checkpoint", Bytes{'c', 'p', '\n'}});
        return c;
    }

    WrittenBundle write() {
        auto w =
            write_bundle(dir.path(), contents(), recipients, BundleSigner{device, clock, random});
        EXPECT_TRUE(w) << w.error().message;
        return w ? std::move(*w) : WrittenBundle{};
    }

    // Decrypts and unpacks with age and GNU tar only.
    void unpack_with_tools(const fs::path& bundle_path, const fs::path& out) {
        fs::create_directories(out);
        auto r = sh("age -d -i " + quote(key_file.string()) + " " + quote(bundle_path.string()) +
                    " | tar --zstd -xf - -C " + quote(out.string()));
        ASSERT_EQ(r.exit_code, 0) << r.out;
    }

    std::string attachment_path(const Original& o) const {
        return "files/" + o.item_id + "/" + bundle::sanitize_file_name(o.name);
    }

    TempDir dir;
    DeterministicRandom random{777};
    FixedClock clock{1'764'000'000'000};
    Ed25519SecretKey device = Ed25519SecretKey::generate(random);
    minisign::PublicKey device_pub = minisign::PublicKey::derive_from(device.public_key());
    fs::path key_file;
    std::string recipient_text;
    std::vector<age::Recipient> recipients;
    std::vector<age::Identity> ids;
    std::vector<Original> originals;
};

TEST_F(BundleInterop, StandardToolsOpenAndVerifyOurBundle) {
    const auto w = write();
    const fs::path out = dir / "unpacked";
    unpack_with_tools(w.bundle_path, out);

    // The tar holds regular files only, manifest first.
    auto listing = sh("age -d -i " + quote(key_file.string()) + " " +
                      quote(w.bundle_path.string()) + " | tar --zstd -tvf -");
    ASSERT_EQ(listing.exit_code, 0) << listing.out;
    std::istringstream lines(listing.out);
    std::string line;
    std::size_t entries = 0;
    while (std::getline(lines, line)) {
        ++entries;
        EXPECT_EQ(line[0], '-') << line;
    }
    EXPECT_EQ(entries, 3 + 2 + originals.size());
    auto names = sh("age -d -i " + quote(key_file.string()) + " " + quote(w.bundle_path.string()) +
                    " | tar --zstd -tf - | head -3");
    EXPECT_EQ(names.out, "manifest.json\nmanifest.json.minisig\nSHA256SUMS\n");

    // minisign checks the manifest with the device key, and shows the bundle id.
    auto ms = sh("minisign -Vm " + quote((out / "manifest.json").string()) + " -P " +
                 device_pub.to_base64());
    EXPECT_EQ(ms.exit_code, 0) << ms.out;
    EXPECT_NE(ms.out.find("custodia.manifest/v1 bundle=" + w.sealed.bundle_id), std::string::npos)
        << ms.out;

    // sha256sum checks every file.
    auto sums = sh("cd " + quote(out.string()) + " && sha256sum -c SHA256SUMS");
    EXPECT_EQ(sums.exit_code, 0) << sums.out;
    std::size_t oks = 0;
    for (std::size_t p = sums.out.find(": OK"); p != std::string::npos;
         p = sums.out.find(": OK", p + 1))
        ++oks;
    EXPECT_EQ(oks, 2 + originals.size()) << sums.out;

    // The files are the originals.
    for (const auto& o : originals)
        EXPECT_EQ(read_file(out / attachment_path(o)), std::string(o.bytes.begin(), o.bytes.end()))
            << o.name;

    // The envelope checks the .custodia file with standard minisign, and its
    // statement agrees with sha256sum and the file size.
    auto env = sh("minisign -Vm " + quote(w.bundle_path.string()) + " -x " +
                  quote(w.envelope_path.string()) + " -P " + device_pub.to_base64());
    EXPECT_EQ(env.exit_code, 0) << env.out;
    auto sha = sh("sha256sum " + quote(w.bundle_path.string()) + " | cut -d' ' -f1");
    const std::string expected = "custodia.envelope/v1 bundle=" + w.sealed.bundle_id +
                                 " sha256=" + trim(sha.out) +
                                 " size=" + std::to_string(fs::file_size(w.bundle_path)) +
                                 " device=" + minisign::key_id_hex(device_pub.key_id());
    EXPECT_NE(env.out.find(expected), std::string::npos) << env.out << "\nwanted: " << expected;
}

TEST_F(BundleInterop, StandardToolsCatchTampering) {
    const auto w = write();
    const fs::path out = dir / "unpacked";
    unpack_with_tools(w.bundle_path, out);
    const auto& o = originals[2];
    {
        std::fstream f(out / attachment_path(o), std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(1000);
        f.put('\x5a' ^ static_cast<char>(o.bytes[1000]));
    }
    EXPECT_NE(sh("cd " + quote(out.string()) + " && sha256sum -c --quiet SHA256SUMS").exit_code, 0);

    std::string manifest = read_file(out / "manifest.json");
    manifest.replace(manifest.find("Interop case"), 7, "Altered");
    write_file(out / "manifest.json", manifest);
    EXPECT_NE(sh("minisign -Vm " + quote((out / "manifest.json").string()) + " -P " +
                 device_pub.to_base64())
                  .exit_code,
              0);

    auto bytes = read_file(w.bundle_path);
    bytes[bytes.size() / 2] ^= 1;
    write_file(w.bundle_path, bytes);
    EXPECT_NE(sh("minisign -Vm " + quote(w.bundle_path.string()) + " -x " +
                 quote(w.envelope_path.string()) + " -P " + device_pub.to_base64())
                  .exit_code,
              0);
    EXPECT_NE(sh("age -d -i " + quote(key_file.string()) + " " + quote(w.bundle_path.string()) +
                 " >/dev/null")
                  .exit_code,
              0);
}

// The same entries, re-packed by GNU tar (pax, with its atime/ctime records),
// zstd and age: a bundle made without Custodia is read by Custodia.
TEST_F(BundleInterop, BundleRepackedWithStandardToolsIsAccepted) {
    const auto w = write();
    const fs::path out = dir / "unpacked";
    unpack_with_tools(w.bundle_path, out);

    std::vector<std::string> paths = {"manifest.json", "manifest.json.minisig", "SHA256SUMS"};
    std::vector<std::string> files;
    for (const auto& e : fs::recursive_directory_iterator(out))
        if (e.is_regular_file()) {
            auto rel = fs::relative(e.path(), out).string();
            if (std::find(paths.begin(), paths.end(), rel) == paths.end()) files.push_back(rel);
        }
    std::sort(files.begin(), files.end());
    paths.insert(paths.end(), files.begin(), files.end());
    std::string list;
    for (const auto& p : paths) list += p + '\n';
    write_file(dir / "list", list);

    const fs::path repacked = dir / "repacked.custodia";
    auto r = sh("tar --format=pax --no-recursion -C " + quote(out.string()) + " -cf - -T " +
                quote((dir / "list").string()) + " | zstd -1 -q | age -r " + recipient_text +
                " > " + quote(repacked.string()));
    ASSERT_EQ(r.exit_code, 0) << r.out;

    BundleReadOptions options;
    options.device_key = device_pub;
    options.extract_to = dir / "ours";
    auto report = verify_bundle_file(repacked, ids, options);
    ASSERT_TRUE(report) << report.error().message;
    for (const auto& c : report->checks)
        EXPECT_NE(c.outcome, CheckOutcome::failed) << c.name << ": " << c.detail;
    EXPECT_TRUE(report->ok());
    for (const auto& o : originals)
        EXPECT_EQ(read_file(dir / "ours" / attachment_path(o)),
                  std::string(o.bytes.begin(), o.bytes.end()));
}

// GNU tar will happily store links and "../" names (-P); such a bundle is
// rejected, named, and nothing lands outside the extraction directory.
TEST_F(BundleInterop, LinksAndTraversalMadeWithGnuTarAreRejected) {
    const auto w = write();
    const fs::path out = dir / "unpacked";
    unpack_with_tools(w.bundle_path, out);
    std::string list = "manifest.json\nmanifest.json.minisig\nSHA256SUMS\n";
    write_file(dir / "list", list);

    struct Case {
        const char* what;
        std::string extra;  // shell commands appending to $T
    };
    fs::create_directories(dir / "evil" / "sub");
    write_file(dir / "evil" / "payload", "x");
    fs::create_symlink("/etc/passwd", dir / "evil" / "link");
    const std::string evil = quote((dir / "evil").string());
    const std::vector<Case> cases = {
        {"symlink", "tar --format=pax -rf \"$T\" -C " + evil + " link"},
        {"dot-dot", "tar --format=pax -P -rf \"$T\" -C " + evil + "/sub ../payload"},
        {"absolute",
         "tar --format=pax -P -rf \"$T\" " + quote((dir / "evil" / "payload").string())},
        {"directory", "tar --format=pax --no-recursion -rf \"$T\" -C " + evil + " sub"},
    };
    for (const auto& c : cases) {
        const fs::path tar = dir / "t.tar";
        const fs::path sealed = dir / "evil.custodia";
        fs::remove(tar);
        fs::remove(sealed);
        auto r = sh("T=" + quote(tar.string()) + " && tar --format=pax --no-recursion -C " +
                    quote(out.string()) + " -cf \"$T\" -T " + quote((dir / "list").string()) +
                    " && " + c.extra + " && zstd -1 -q -c \"$T\" | age -r " + recipient_text +
                    " > " + quote(sealed.string()));
        ASSERT_EQ(r.exit_code, 0) << c.what << ": " << r.out;

        BundleReadOptions options;
        options.device_key = device_pub;
        const fs::path target = dir / "x" / "extract";
        fs::create_directories(dir / "x");
        options.extract_to = target;
        auto report = verify_bundle_file(sealed, ids, options);
        ASSERT_TRUE(report) << report.error().message;
        EXPECT_FALSE(report->ok()) << c.what;
        const auto* entries = report->find(check::kEntries);
        ASSERT_NE(entries, nullptr);
        EXPECT_EQ(entries->outcome, CheckOutcome::failed) << c.what;
        EXPECT_FALSE(fs::exists(dir / "x" / "payload")) << c.what;
        EXPECT_FALSE(fs::is_symlink(target / "link")) << c.what;
        fs::remove_all(dir / "x");
    }
}

// The bundle's zstd layer writes media as stored frames and the rest as
// compressed frames (FORMAT.md, Layer 2). Debian's zstd must read the mix,
// and each kind must be what we say: random segments stored (a stored-frame
// header, output no smaller than them), zeros compressed.
TEST(ZstdInterop, StoredAndCompressedFramesDecodeWithZstd) {
    ASSERT_EQ(sh("command -v zstd").exit_code, 0) << "zstd is missing";
    DeterministicRandom random(11);
    constexpr std::size_t kMiB = std::size_t{1} << 20;
    Bytes data(2 * kMiB + 2 * kMiB + 3 * kMiB / 2);
    random.fill(std::span(data).first(2 * kMiB));                  // media: stored
    random.fill(std::span(data).subspan(4 * kMiB, 3 * kMiB / 2));  // media again
    crypto::VectorSink out;
    auto z = ZstdCompressSink::create(out, 1);
    ASSERT_TRUE(z);
    // Uneven writes, as libarchive makes them.
    for (std::size_t at = 0; at < data.size();) {
        const std::size_t n = std::min<std::size_t>(10240 + at % 7, data.size() - at);
        ASSERT_TRUE((*z)->write(std::span(data).subspan(at, n)));
        at += n;
    }
    ASSERT_TRUE((*z)->finish());
    const Bytes& zst = out.bytes();

    // Stored: the first frame is a single-segment frame of exactly 1 MiB.
    const Bytes first_header = {0x28, 0xB5, 0x2F, 0xFD, 0xA0, 0x00, 0x00, 0x10, 0x00};
    ASSERT_GE(zst.size(), first_header.size());
    EXPECT_TRUE(std::equal(first_header.begin(), first_header.end(), zst.begin()));
    // 3.5 MiB of random bytes cannot shrink; 2 MiB of zeros all but vanish.
    EXPECT_GT(zst.size(), 7 * kMiB / 2);
    EXPECT_LT(zst.size(), 7 * kMiB / 2 + 64 * 1024);

    TempDir dir;
    write_file(dir.path() / "s.zst", std::string(zst.begin(), zst.end()));
    auto r = sh("zstd -q -d -c " + quote((dir.path() / "s.zst").string()) + " > " +
                quote((dir.path() / "s").string()));
    ASSERT_EQ(r.exit_code, 0) << r.out;
    const std::string decoded = read_file(dir.path() / "s");
    ASSERT_EQ(decoded.size(), data.size());
    EXPECT_TRUE(std::equal(data.begin(), data.end(),
                           reinterpret_cast<const std::uint8_t*>(decoded.data())));

    MemorySource in(zst);
    auto d = ZstdDecompressSource::create(in);
    ASSERT_TRUE(d);
    crypto::VectorSink back;
    ASSERT_TRUE(crypto::copy_stream(**d, back));
    EXPECT_EQ(back.bytes(), data);
}

}  // namespace
