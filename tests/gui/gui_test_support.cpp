#include "gui_test_support.h"

#include <QColor>
#include <QCryptographicHash>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QFile>
#include <QTimer>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include "custodia/core/vault.h"
#include "custodia/crypto/random.h"
#include "custodia/crypto/secret.h"

namespace custodia::testing {
namespace {

core::KdfChoice cheap_kdf() {
    core::KdfChoice kdf;
    kdf.calibrate = false;
    kdf.opslimit = 1;
    kdf.memlimit = 8192;
    return kdf;
}

QByteArray read_all(const std::filesystem::path& path) {
    QFile file(QString::fromStdString(path.string()));
    if (!file.open(QIODevice::ReadOnly)) return {};
    return file.readAll();
}

// Runs the event loop until `done` or 20 s have passed.
bool spin_until(const std::function<bool()>& done) {
    QElapsedTimer elapsed;
    elapsed.start();
    while (!done()) {
        if (elapsed.hasExpired(20000)) return false;
        QEventLoop loop;
        QTimer::singleShot(5, &loop, &QEventLoop::quit);
        loop.exec();
    }
    return true;
}

}  // namespace

GuiTestSupport::GuiTestSupport(QObject* parent)
    : QObject(parent), previews_(std::make_shared<desktop::PreviewStore>()) {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/custodia-gui-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    root_ = tmpl;
    std::filesystem::create_directories(root_ / "inputs");
}

GuiTestSupport::~GuiTestSupport() {
    // Waits for their workers before the files go.
    for (auto* vault : vaults_) delete vault;
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
}

desktop::VaultModel* GuiTestSupport::newVault() {
    const auto dir = root_ / ("vault-" + std::to_string(++counter_));
    auto vault = new desktop::VaultModel(dir, this, previews_);
    vault->setKdfForTesting(cheap_kdf());
    vaults_.push_back(vault);
    return vault;
}

desktop::VaultModel* GuiTestSupport::lockedVault(const QString& passphrase,
                                                 const QString& investigator) {
    const auto dir = root_ / ("vault-" + std::to_string(++counter_));
    core::VaultOptions options;
    options.investigator = investigator.toStdString();
    options.kdf = cheap_kdf();
    auto made = core::Vault::create(dir, crypto::SecretBytes::copy_of(passphrase.toStdString()),
                                    options, crypto::system_random(), core::system_clock());
    if (!made) throw std::runtime_error("test vault: " + made.error().message);
    made->vault.reset();  // locked: the keys are gone
    auto vault = new desktop::VaultModel(dir, this, previews_);
    vault->setKdfForTesting(cheap_kdf());
    vaults_.push_back(vault);
    return vault;
}

desktop::VaultModel* GuiTestSupport::unlockedVault(const QString& passphrase) {
    auto* vault = lockedVault(passphrase, QStringLiteral("Investigator F"));
    vault->unlock(passphrase);
    if (!spin_until([vault] { return !vault->busy(); }) ||
        vault->state() != desktop::VaultModel::State::Unlocked)
        throw std::runtime_error("test vault did not unlock");
    return vault;
}

QString GuiTestSupport::waitFor(desktop::VaultModel* vault,
                                std::function<Result<std::string>(core::Vault&)> work) {
    struct Outcome {
        bool done = false;
        QString id;
    };
    auto outcome = std::make_shared<Outcome>();
    const bool queued = vault->submit(this, [outcome, work](core::Vault& v, const core::Progress&) {
        auto made = std::make_shared<Result<std::string>>(work(v));
        return [outcome, made] {
            if (*made) outcome->id = QString::fromStdString(**made);
            outcome->done = true;
        };
    });
    if (!queued || !spin_until([outcome] { return outcome->done; })) return {};
    return outcome->id;
}

QString GuiTestSupport::addCase(desktop::VaultModel* vault, const QString& title) {
    const std::string t = title.toStdString();
    return waitFor(vault, [t](core::Vault& v) -> Result<std::string> {
        auto made = v.create_case(t, "", {});
        if (!made) return std::move(made).error();
        return made->id;
    });
}

QString GuiTestSupport::addTestimony(desktop::VaultModel* vault, const QString& caseId,
                                     const QString& title, const QString& text,
                                     const QString& witness) {
    core::ItemFields fields;
    fields.kind = core::ItemKind::testimony;
    fields.title = title.toStdString();
    fields.witness = witness.toStdString();
    const std::string case_id = caseId.toStdString();
    const std::string body = text.toStdString();
    return waitFor(vault, [=](core::Vault& v) -> Result<std::string> {
        return v.add_testimony(case_id, body, fields);
    });
}

desktop::VaultModel* GuiTestSupport::reopen(desktop::VaultModel* vault) {
    auto again = new desktop::VaultModel(std::filesystem::path(vault->vaultPath().toStdString()),
                                         this, previews_);
    again->setKdfForTesting(cheap_kdf());
    vaults_.push_back(again);
    return again;
}

void GuiTestSupport::setAutoLockMs(desktop::VaultModel* vault, int ms) {
    vault->setAutoLockIntervalForTesting(std::chrono::milliseconds(ms));
}

QString GuiTestSupport::makePng(int width, int height, const QString& color) {
    QImage image(width, height, QImage::Format_RGB32);
    image.fill(QColor(color));
    // A diagonal stripe, so that the file is not one flat colour.
    for (int i = 0; i < std::min(width, height); ++i) image.setPixel(i, i, qRgb(0, 0, 0));
    const auto path = root_ / "inputs" / ("photo-" + std::to_string(++counter_) + ".png");
    const QString name = QString::fromStdString(path.string());
    if (!image.save(name, "PNG")) return {};
    return name;
}

QString GuiTestSupport::makeFile(const QString& name, int megabytes) {
    const auto path = root_ / "inputs" / name.toStdString();
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    std::vector<char> block(1 << 20);
    crypto::DeterministicRandom random(static_cast<std::uint64_t>(megabytes));
    for (int i = 0; i < megabytes; ++i) {
        random.fill(std::span(reinterpret_cast<std::uint8_t*>(block.data()), block.size()));
        out.write(block.data(), static_cast<std::streamsize>(block.size()));
    }
    return QString::fromStdString(path.string());
}

QString GuiTestSupport::sha256OfFile(const QString& path) const {
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) return {};
    QCryptographicHash hash(QCryptographicHash::Sha256);
    hash.addData(&file);
    return QString::fromLatin1(hash.result().toHex());
}

QString GuiTestSupport::sha256OfText(const QString& text) const {
    return QString::fromLatin1(
        QCryptographicHash::hash(text.toUtf8(), QCryptographicHash::Sha256).toHex());
}

bool GuiTestSupport::vaultContains(desktop::VaultModel* vault, const QByteArray& needle) const {
    const std::filesystem::path dir(vault->vaultPath().toStdString());
    if (!std::filesystem::exists(dir)) return false;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
        if (!entry.is_regular_file()) continue;
        if (read_all(entry.path()).contains(needle)) return true;
    }
    return false;
}

bool GuiTestSupport::vaultContainsText(desktop::VaultModel* vault, const QString& text) const {
    return vaultContains(vault, text.toUtf8());
}

bool GuiTestSupport::vaultContainsFileBytes(desktop::VaultModel* vault, const QString& path) const {
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) return true;  // cannot tell: fail the test
    // The middle of the file: past any header that many PNGs share.
    const QByteArray all = file.readAll();
    const qsizetype n = std::min<qsizetype>(64, all.size());
    return vaultContains(vault, all.mid((all.size() - n) / 2, n));
}

QStringList GuiTestSupport::vaultFiles(desktop::VaultModel* vault) const {
    const std::filesystem::path dir(vault->vaultPath().toStdString());
    QStringList out;
    if (!std::filesystem::exists(dir)) return out;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir))
        if (entry.is_regular_file())
            out << QString::fromStdString(std::filesystem::relative(entry.path(), dir).string());
    out.sort();
    return out;
}

}  // namespace custodia::testing
