// Files as custodia-cli opens them: "-" means stdin/stdout, outputs appear
// under their final name only once complete and on disk, and small secret
// files (identities) are read straight into SecretBytes.
#pragma once

#include <string>
#include <string_view>

#include "custodia/core/new_file.h"
#include "custodia/crypto/result.h"
#include "custodia/crypto/secret.h"
#include "custodia/crypto/stream_io.h"

namespace custodia::cli {

// An input: a named file, or stdin for "-". Closes what it opened.
class InputFile {
  public:
    static Result<InputFile> open(const std::string& path);
    InputFile(InputFile&& other) noexcept;
    InputFile& operator=(InputFile&&) = delete;
    InputFile(const InputFile&) = delete;
    InputFile& operator=(const InputFile&) = delete;
    ~InputFile();

    int fd() const noexcept { return fd_; }
    const std::string& name() const noexcept { return name_; }

  private:
    InputFile(int fd, bool owned, std::string name)
        : fd_(fd), owned_(owned), name_(std::move(name)) {}
    int fd_;
    bool owned_;
    std::string name_;
};

// An output that appears under `path` only in commit(), complete and fsynced
// (core::NewFile): written as an unnamed file where the file system allows,
// so that even kill -9 leaves nothing; else as a hidden temporary next to
// `path`, removed on errors and on SIGINT/SIGTERM/SIGHUP. commit() replaces
// an existing file at `path`. Only one may be live at a time (the signal
// handler knows one name).
class AtomicOutputFile {
  public:
    // `mode` is applied to the final file (after the umask when honour_umask).
    static Result<AtomicOutputFile> create(const std::string& path, unsigned mode,
                                           bool honour_umask);
    AtomicOutputFile(AtomicOutputFile&& other) noexcept = default;
    AtomicOutputFile& operator=(AtomicOutputFile&&) = delete;
    AtomicOutputFile(const AtomicOutputFile&) = delete;
    AtomicOutputFile& operator=(const AtomicOutputFile&) = delete;
    ~AtomicOutputFile();

    int fd() const noexcept { return file_.fd(); }
    [[nodiscard]] Status commit();

  private:
    explicit AtomicOutputFile(core::NewFile file) : file_(std::move(file)) {}

    core::NewFile file_;
};

// Reads a whole small file ("-" for stdin) into locked, wiped-on-free memory.
// Errc::limit beyond `max_size` bytes.
Result<crypto::SecretBytes> read_secret_file(const std::string& path, std::size_t max_size);

// Creates `path` with O_EXCL (never replaces an existing file), writes `data`
// and fsyncs; on any failure after creation the file is removed again.
[[nodiscard]] Status write_new_file(const std::string& path, std::span<const std::uint8_t> data,
                                    unsigned mode);

// Writes all of `data` to a descriptor we do not own (stdout).
[[nodiscard]] Status write_all(int fd, std::span<const std::uint8_t> data, std::string_view what);

}  // namespace custodia::cli
