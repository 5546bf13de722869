// Memory of the desktop app around a large vault (tests/bench/desktop_bench.sh).
//
//   custodia_desktop_bench setup DIR COUNT   a vault with one case of COUNT
//                                            written testimonies, through the
//                                            Vault API, with a cheap test KDF
//   custodia_desktop_bench measure DIR       the real QML app (offscreen):
//                                            RSS locked, after unlocking and
//                                            opening the case, and after
//                                            scrolling through every item
//
// Output: one "key value" line per figure.
#include <QtQml/qqmlextensionplugin.h>

#include <QAbstractItemModel>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QGuiApplication>
#include <QQmlApplicationEngine>
#include <QQuickItem>
#include <QQuickWindow>
#include <QTimer>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>

#include "app_setup.h"
#include "custodia/core/vault.h"
#include "custodia/crypto/random.h"
#include "custodia/crypto/secret.h"
#include "vault_model.h"

Q_IMPORT_QML_PLUGIN(CustodiaPlugin)

namespace {

constexpr std::string_view kPassphrase = "desktop bench passphrase";

// VmRSS or VmHWM from /proc/self/status, in KiB.
long status_kib(const std::string& key) {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(key + ":", 0) == 0) return std::stol(line.substr(key.size() + 1));
    return -1;
}

bool spin_until(const std::function<bool()>& done, int timeout_ms = 120000) {
    QElapsedTimer elapsed;
    elapsed.start();
    while (!done()) {
        if (elapsed.hasExpired(timeout_ms)) return false;
        QEventLoop loop;
        QTimer::singleShot(2, &loop, &QEventLoop::quit);
        loop.exec();
    }
    return true;
}

int setup(const char* dir, long count) {
    using namespace custodia;
    core::VaultOptions options;
    options.investigator = "Bench";
    options.kdf.calibrate = false;
    options.kdf.opslimit = 1;
    options.kdf.memlimit = 8192;
    auto made = core::Vault::create(dir, crypto::SecretBytes::copy_of(kPassphrase), options,
                                    crypto::system_random(), core::system_clock());
    if (!made) {
        std::fprintf(stderr, "create: %s\n", made.error().message.c_str());
        return 1;
    }
    auto& vault = *made->vault;
    auto c = vault.create_case("Bench case", "", {});
    if (!c) return 1;
    core::ItemFields fields;
    fields.kind = core::ItemKind::testimony;
    fields.witness = "W";
    fields.language = "en";
    const auto start = std::chrono::steady_clock::now();
    for (long i = 0; i < count; ++i) {
        fields.title = "Testimony " + std::to_string(i);
        const std::string text = "Account number " + std::to_string(i) + " of the bench vault.";
        if (auto id = vault.add_testimony(c->id, text, fields); !id) {
            std::fprintf(stderr, "add_testimony: %s\n", id.error().message.c_str());
            return 1;
        }
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("setup_items %ld\nsetup_seconds %.1f\n", count, seconds);
    return 0;
}

QQuickItem* current_page(QQuickItem* stack) {
    return stack->property("currentItem").value<QQuickItem*>();
}

int measure(int argc, char** argv, const char* dir) {
    QGuiApplication app(argc, argv);
    custodia::desktop::VaultModel vault{std::filesystem::path(dir)};
    QQmlApplicationEngine engine;
    custodia::desktop::prepare_engine(engine, vault);
    engine.setInitialProperties({{QStringLiteral("vault"), QVariant::fromValue(&vault)}});
    engine.load(QUrl(QStringLiteral("qrc:/qt/qml/Custodia/Main.qml")));
    if (engine.rootObjects().isEmpty()) return 1;
    auto* window = qobject_cast<QQuickWindow*>(engine.rootObjects().constFirst());
    auto* stack = window->findChild<QQuickItem*>(QStringLiteral("stack"));
    bool drawn = false;
    QObject::connect(window, &QQuickWindow::frameSwapped, &app, [&] { drawn = true; });
    if (!spin_until([&] { return drawn; })) return 1;
    std::printf("rss_locked_kib %ld\n", status_kib("VmRSS"));

    QElapsedTimer timer;
    timer.start();
    vault.unlock(
        QString::fromLatin1(kPassphrase.data(), static_cast<qsizetype>(kPassphrase.size())));
    if (!spin_until([&] {
            auto* page = current_page(stack);
            return page && page->property("title").toString() == QStringLiteral("Cases") &&
                   page->property("cases").value<QObject*>()->property("count").toInt() == 1;
        }))
        return 1;
    const auto unlocked_ms = timer.elapsed();
    auto* cases =
        qobject_cast<QAbstractItemModel*>(current_page(stack)->property("cases").value<QObject*>());
    const QVariant case_id = cases->data(cases->index(0, 0), Qt::UserRole + 1);  // caseId
    QMetaObject::invokeMethod(current_page(stack), "openCase", Q_ARG(QString, case_id.toString()),
                              Q_ARG(QString, QStringLiteral("Bench case")));
    QObject* items = nullptr;
    if (!spin_until([&] {
            auto* page = current_page(stack);
            items = page ? page->property("items").value<QObject*>() : nullptr;
            return items && items->property("count").toInt() > 0;
        }))
        return 1;
    const auto first_page_ms = timer.elapsed();
    if (!spin_until([&] { return !stack->property("busy").toBool(); })) return 1;
    // The last figure includes StackView's push animation.
    std::printf(
        "unlock_to_cases_ms %lld\nunlock_to_first_page_rows_ms %lld\n"
        "unlock_to_case_on_screen_ms %lld\n",
        static_cast<long long>(unlocked_ms), static_cast<long long>(first_page_ms),
        static_cast<long long>(timer.elapsed()));
    spin_until([] { return false; }, 300);  // a few frames
    std::printf("rss_unlocked_case_open_kib %ld\n", status_kib("VmRSS"));

    // Scroll to the end: the list fetches page after page.
    auto* list = current_page(stack)->findChild<QQuickItem*>(QStringLiteral("itemsList"));
    QElapsedTimer scroll;
    scroll.start();
    // The view asks for the next page on a later frame: stop only once the
    // count has not moved for a second with nothing loading.
    int last = items->property("count").toInt();
    qint64 last_change_ms = 0;
    QElapsedTimer quiet;
    quiet.start();
    while (!quiet.hasExpired(1000)) {
        QMetaObject::invokeMethod(list, "positionViewAtEnd");
        spin_until([] { return false; }, 5);
        const int now = items->property("count").toInt();
        if (items->property("loading").toBool() || now != last) {
            last = now;
            last_change_ms = scroll.elapsed();
            quiet.restart();
        }
    }
    const auto scroll_ms = last_change_ms;
    std::printf("rows_loaded %d\nscroll_all_ms %lld\n", last, static_cast<long long>(scroll_ms));
    std::printf("rss_all_rows_kib %ld\nrss_peak_kib %ld\n", status_kib("VmRSS"),
                status_kib("VmHWM"));
    vault.lock();
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc == 4 && std::string(argv[1]) == "setup") return setup(argv[2], std::stol(argv[3]));
    if (argc == 3 && std::string(argv[1]) == "measure") return measure(argc, argv, argv[2]);
    std::fprintf(stderr, "usage: %s setup DIR COUNT | measure DIR\n", argv[0]);
    return 2;
}
