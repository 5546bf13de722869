#include "progress_bar.h"

#include <unistd.h>

#include <cstdio>

namespace custodia::cli {
namespace {

constexpr int kBarWidth = 30;
constexpr auto kRedrawInterval = std::chrono::milliseconds(100);
// Labels are file names; a long one would wrap the line and break the
// carriage-return redraw.
constexpr std::size_t kMaxLabel = 32;

}  // namespace

std::string human_size(std::uint64_t bytes) {
    static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    if (bytes < 1024) {
        return std::to_string(bytes) + " B";
    }
    double value = static_cast<double>(bytes);
    std::size_t unit = 0;
    while (value >= 1024 && unit + 1 < std::size(kUnits)) {
        value /= 1024;
        ++unit;
    }
    char text[32];
    std::snprintf(text, sizeof text, "%.1f %s", value, kUnits[unit]);
    return text;
}

ProgressBar::ProgressBar(std::string label, std::uint64_t total)
    : label_(std::move(label)), total_(total), enabled_(::isatty(STDERR_FILENO) != 0) {
    if (label_.size() > kMaxLabel) {
        // Cut on a UTF-8 character boundary.
        std::size_t cut = kMaxLabel - 1;
        while (cut > 0 && (static_cast<unsigned char>(label_[cut]) & 0xC0) == 0x80) {
            --cut;
        }
        label_ = label_.substr(0, cut) + "…";
    }
}

ProgressBar::~ProgressBar() {
    finish();
}

void ProgressBar::update(std::uint64_t done) {
    if (!enabled_) {
        return;
    }
    std::lock_guard guard(mutex_);
    const auto now = std::chrono::steady_clock::now();
    if (drawn_ && now - last_draw_ < kRedrawInterval && done != total_) {
        return;
    }
    last_draw_ = now;
    draw(done);
}

void ProgressBar::draw(std::uint64_t done) {
    std::string line = "\r" + label_ + " [";
    if (total_ > 0) {
        const double fraction =
            done >= total_ ? 1.0 : static_cast<double>(done) / static_cast<double>(total_);
        const int filled = static_cast<int>(fraction * kBarWidth);
        line.append(static_cast<std::size_t>(filled), '#');
        line.append(static_cast<std::size_t>(kBarWidth - filled), '.');
        char percent[16];
        std::snprintf(percent, sizeof percent, "] %3d%% ", static_cast<int>(fraction * 100));
        line += percent;
        line += human_size(done) + " / " + human_size(total_);
    } else {
        line += "] " + human_size(done);
    }
    line += "\x1b[K";
    std::fputs(line.c_str(), stderr);
    std::fflush(stderr);
    drawn_ = true;
}

void ProgressBar::finish() {
    std::lock_guard guard(mutex_);
    if (enabled_ && drawn_) {
        std::fputs("\r\x1b[K", stderr);
        std::fflush(stderr);
        drawn_ = false;
    }
}

}  // namespace custodia::cli
