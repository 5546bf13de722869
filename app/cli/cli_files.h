// Files as custodia-cli opens them: "-" means stdin/stdout, outputs appear
// under their final name only once complete and on disk, and small secret
// files (identities) are read straight into SecretBytes.
#pragma once

#include <string>
#include <string_view>

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

// Writes to a temporary file next to `path` and renames it to `path` only in
// commit(), after fsync of the file and, after the rename, of the directory.
// Until then nothing exists under the final name; if commit() is never
// reached (error, exception, SIGINT/SIGTERM/SIGHUP) the temporary is removed.
// Only one may be live at a time (the signal handler knows one name).
class AtomicOutputFile {
  public:
    // `mode` is applied to the final file (after the umask when honour_umask).
    static Result<AtomicOutputFile> create(const std::string& path, unsigned mode,
                                           bool honour_umask);
    AtomicOutputFile(AtomicOutputFile&& other) noexcept;
    AtomicOutputFile& operator=(AtomicOutputFile&&) = delete;
    AtomicOutputFile(const AtomicOutputFile&) = delete;
    AtomicOutputFile& operator=(const AtomicOutputFile&) = delete;
    ~AtomicOutputFile();

    int fd() const noexcept { return fd_; }
    [[nodiscard]] Status commit();

  private:
    AtomicOutputFile(int fd, std::string temp_path, std::string final_path)
        : fd_(fd), temp_path_(std::move(temp_path)), final_path_(std::move(final_path)) {}
    void discard() noexcept;

    int fd_;
    std::string temp_path_;
    std::string final_path_;
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
