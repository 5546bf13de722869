// A one-line progress bar on stderr, drawn only when stderr is a terminal:
// scripts and logs get no carriage-return noise.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace custodia::cli {

class ProgressBar {
  public:
    // `total` may be 0 when unknown: then only the bytes done are shown.
    ProgressBar(std::string label, std::uint64_t total);
    ~ProgressBar();
    ProgressBar(const ProgressBar&) = delete;
    ProgressBar& operator=(const ProgressBar&) = delete;

    // Safe to call from any thread; redraws at most about ten times a second.
    void update(std::uint64_t done);
    // Erases the bar, leaving the line free for what comes next.
    void finish();

  private:
    void draw(std::uint64_t done);

    std::string label_;
    std::uint64_t total_;
    bool enabled_;
    bool drawn_ = false;
    std::chrono::steady_clock::time_point last_draw_{};
    std::mutex mutex_;
};

// "3.0 MiB", "512 B": sizes as a person reads them.
std::string human_size(std::uint64_t bytes);

}  // namespace custodia::cli
