// Progress and cancellation for long operations (ingest, export, verify,
// upload). The callback runs on the worker thread; the UI marshals it.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>

namespace custodia::core {

struct Progress {
    std::function<void(std::uint64_t done, std::uint64_t total)> report;
    const std::atomic<bool>* cancel = nullptr;

    void operator()(std::uint64_t done, std::uint64_t total) const {
        if (report) report(done, total);
    }
    bool cancelled() const { return cancel != nullptr && cancel->load(std::memory_order_relaxed); }
};

}  // namespace custodia::core
