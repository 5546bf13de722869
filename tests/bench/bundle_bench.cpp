// Drives the bundle writer and reader from the command line for
// bundle_bench.sh (DESIGN.md §9: export and open + verify, as ratios against
// tar | zstd | age and age -d | tar --zstd -x + sha256sum -c).
//
//   bundle_bench seal DIR SUMS OUT_DIR RECIPIENT
//       Seals every regular file of DIR (SHA-256s taken from SUMS, a
//       `sha256sum` listing, as the vault knows them from capture) into
//       OUT_DIR/bench.custodia + .envelope, with a fresh device key whose
//       minisign public key goes to OUT_DIR/device.pub.
//   bundle_bench open BUNDLE KEY_FILE DEVICE_PUB [EXTRACT_DIR]
//       Verifies (and extracts) the bundle; prints each check; exit status 0
//       only if every check passed.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "custodia/core/bundle_reader.h"
#include "custodia/core/bundle_writer.h"
#include "custodia/core/clock.h"
#include "custodia/crypto/age.h"
#include "custodia/crypto/encoding.h"
#include "custodia/crypto/minisign.h"
#include "custodia/crypto/random.h"
#include "custodia/crypto/sign.h"
#include "custodia/crypto/stream_io.h"

namespace {

namespace fs = std::filesystem;
using namespace custodia;
using namespace custodia::core;

// A file it owns, read in order.
class FileSource final : public crypto::ByteSource {
  public:
    explicit FileSource(int fd) : fd_(fd), in_(fd) {}
    ~FileSource() override { ::close(fd_); }
    Result<std::size_t> read(std::span<std::uint8_t> out) override { return in_.read(out); }

  private:
    int fd_;
    crypto::FdSource in_;
};

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

int seal(const fs::path& dir, const fs::path& sums_file, const fs::path& out_dir,
         const std::string& recipient_text) {
    std::map<std::string, crypto::Sha256Digest> sums;
    std::istringstream lines(slurp(sums_file));
    for (std::string line; std::getline(lines, line);) {
        if (line.size() < 67) continue;
        auto bytes = crypto::from_hex(line.substr(0, 64));
        if (!bytes || bytes->size() != 32) continue;
        crypto::Sha256Digest d{};
        std::copy(bytes->begin(), bytes->end(), d.begin());
        sums[fs::path(line.substr(66)).filename().string()] = d;
    }
    auto recipient = crypto::age::Recipient::parse(recipient_text);
    if (!recipient) {
        std::cerr << "bad recipient\n";
        return 2;
    }
    BundleContents contents;
    contents.case_id = "benchmark";
    contents.case_title = "bundle_bench";
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.is_regular_file()) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    std::size_t n = 0;
    for (const auto& f : files) {
        const auto name = f.filename().string();
        if (!sums.count(name)) {
            std::cerr << "no SHA-256 for " << name << "\n";
            return 2;
        }
        BundleItem item;
        char id[33];
        std::snprintf(id, sizeof id, "%032zx", n++);
        item.id = id;
        BundleAttachment a;
        a.name = name;
        a.mime = "application/octet-stream";
        a.size = fs::file_size(f);
        a.sha256 = sums[name];
        a.open = [f]() -> Result<std::unique_ptr<crypto::ByteSource>> {
            const int fd = ::open(f.c_str(), O_RDONLY | O_CLOEXEC);
            if (fd < 0) return make_error(Errc::io, "open " + f.string());
            ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
            return std::unique_ptr<crypto::ByteSource>(std::make_unique<FileSource>(fd));
        };
        item.attachment = std::move(a);
        contents.items.push_back(std::move(item));
    }

    auto& random = crypto::system_random();
    const auto device = crypto::Ed25519SecretKey::generate(random);
    const auto pub = crypto::minisign::PublicKey::derive_from(device.public_key());
    contents.custody.push_back({"device.pub", {}});
    const std::string pub_file = pub.to_file();
    contents.custody.back().bytes.assign(pub_file.begin(), pub_file.end());
    std::ofstream(out_dir / "device.pub") << pub_file;

    BundleWriteOptions options;
    options.file_name = "bench.custodia";
    std::vector<crypto::age::Recipient> recipients{*recipient};
    auto written = write_bundle(out_dir, contents, recipients,
                                BundleSigner{device, system_clock(), random}, {}, options);
    if (!written) {
        std::cerr << "seal: " << written.error().message << "\n";
        return 1;
    }
    std::cout << written->bundle_path.string() << " " << written->sealed.size << "\n";
    return 0;
}

int open(const fs::path& bundle, const fs::path& key_file, const fs::path& device_pub,
         const std::optional<fs::path>& extract) {
    auto ids = crypto::age::parse_identity_file(slurp(key_file));
    auto pub = crypto::minisign::PublicKey::parse(slurp(device_pub));
    if (!ids || !pub) {
        std::cerr << "bad key files\n";
        return 2;
    }
    BundleReadOptions options;
    options.device_key = *pub;
    options.extract_to = extract;
    options.require_envelope = true;
    auto report = verify_bundle_file(bundle, *ids, options);
    if (!report) {
        std::cerr << "open: " << report.error().message << "\n";
        return 1;
    }
    for (const auto& c : report->checks)
        std::cout << c.name << ": "
                  << (c.outcome == CheckOutcome::passed   ? "passed"
                      : c.outcome == CheckOutcome::failed ? "FAILED"
                                                          : "not run")
                  << (c.detail.empty() ? "" : " (" + c.detail + ")") << "\n";
    return report->ok() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    const std::vector<std::string> args(argv + 1, argv + argc);
    if (args.size() == 5 && args[0] == "seal") return seal(args[1], args[2], args[3], args[4]);
    if ((args.size() == 4 || args.size() == 5) && args[0] == "open")
        return open(args[1], args[2], args[3],
                    args.size() == 5 ? std::optional<fs::path>(args[4]) : std::nullopt);
    std::cerr << "usage: bundle_bench seal DIR SUMS OUT_DIR RECIPIENT\n"
                 "       bundle_bench open BUNDLE KEY_FILE DEVICE_PUB [EXTRACT_DIR]\n";
    return 2;
}
