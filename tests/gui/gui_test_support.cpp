#include "gui_test_support.h"

#include <QColor>
#include <QCoreApplication>
#include <QCryptographicHash>
#include <QDir>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QFile>
#include <QHostAddress>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QSettings>
#include <QTcpServer>
#include <QTimer>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include "custodia/core/vault.h"
#include "custodia/crypto/random.h"
#include "custodia/crypto/secret.h"
#include "custodia/crypto/stream_io.h"

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
    // Saved recipients and the auto-lock delay live in QSettings: keep the
    // tests' values in this directory, never in the user's own settings.
    const QString settings = QString::fromStdString((root_ / "settings").string());
    QSettings::setPath(QSettings::NativeFormat, QSettings::UserScope, settings);
    QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, settings);
    if (QCoreApplication::organizationName().isEmpty())
        QCoreApplication::setOrganizationName(QStringLiteral("CustodiaTests"));
    if (QCoreApplication::applicationName().isEmpty())
        QCoreApplication::setApplicationName(QStringLiteral("custodia-gui-tests"));
}

GuiTestSupport::~GuiTestSupport() {
    if (intake_ != nullptr) {
        intake_->kill();
        intake_->waitForFinished(5000);
    }
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

QString GuiTestSupport::addConsentedTestimony(desktop::VaultModel* vault, const QString& caseId,
                                              const QString& title, const QString& text,
                                              const QString& witness) {
    core::ItemFields fields;
    fields.kind = core::ItemKind::testimony;
    fields.title = title.toStdString();
    fields.witness = witness.toStdString();
    fields.consent.type = core::ConsentType::written;
    fields.consent.scope = {"courts"};
    const std::string case_id = caseId.toStdString();
    const std::string body = text.toStdString();
    return waitFor(vault, [=](core::Vault& v) -> Result<std::string> {
        return v.add_testimony(case_id, body, fields);
    });
}

QByteArray GuiTestSupport::extractItem(desktop::VaultModel* vault, const QString& itemId) {
    const std::string id = itemId.toStdString();
    auto bytes = std::make_shared<std::string>();
    const QString ok = waitFor(vault, [id, bytes](core::Vault& v) -> Result<std::string> {
        crypto::VectorSink sink;
        if (auto s = v.extract(id, sink); !s) return std::move(s).error();
        bytes->assign(sink.bytes().begin(), sink.bytes().end());
        return std::string("ok");
    });
    if (ok.isEmpty()) return {};
    return QByteArray(bytes->data(), static_cast<qsizetype>(bytes->size()));
}

QString GuiTestSupport::itemMimeType(desktop::VaultModel* vault, const QString& itemId) {
    const std::string id = itemId.toStdString();
    return waitFor(vault, [id](core::Vault& v) -> Result<std::string> {
        auto item = v.get_item(id);
        if (!item) return std::move(item).error();
        if (!item->attachment) return make_error(Errc::malformed, "no attachment");
        return item->attachment->mime_type;
    });
}

QString GuiTestSupport::makeDir(const QString& name) {
    const auto path = root_ / "dirs" / name.toStdString();
    std::filesystem::create_directories(path);
    return QString::fromStdString(path.string());
}

QStringList GuiTestSupport::filesIn(const QString& dir) const {
    return QDir(dir).entryList(QDir::Files, QDir::Name);
}

QVariantMap GuiTestSupport::ageKeygen() {
    const QString key = QString::fromStdString(
        (root_ / "inputs" / ("age-" + std::to_string(++counter_) + ".key")).string());
    QProcess make;
    make.start(QStringLiteral("age-keygen"), {QStringLiteral("-o"), key});
    if (!make.waitForFinished(20000) || make.exitCode() != 0) return {};
    QProcess pub;
    pub.start(QStringLiteral("age-keygen"), {QStringLiteral("-y"), key});
    if (!pub.waitForFinished(20000) || pub.exitCode() != 0) return {};
    return {
        {QStringLiteral("keyFile"), key},
        {QStringLiteral("recipient"), QString::fromUtf8(pub.readAllStandardOutput()).trimmed()}};
}

QString GuiTestSupport::listBundleWithAge(const QString& bundle, const QString& keyFile) const {
    QProcess decrypt, list;
    decrypt.setStandardOutputProcess(&list);
    decrypt.start(QStringLiteral("age"),
                  {QStringLiteral("-d"), QStringLiteral("-i"), keyFile, bundle});
    list.start(QStringLiteral("tar"),
               {QStringLiteral("--zstd"), QStringLiteral("-tf"), QStringLiteral("-")});
    if (!decrypt.waitForFinished(30000) || !list.waitForFinished(30000)) return {};
    if (decrypt.exitCode() != 0 || list.exitCode() != 0) return {};
    return QString::fromUtf8(list.readAllStandardOutput());
}

namespace {

QString intake_admin(const std::filesystem::path& dir, const QStringList& args,
                     int* exit_code = nullptr) {
    QProcess admin;
    admin.start(QStringLiteral(CUSTODIA_INTAKE),
                QStringList{QStringLiteral("--dir"), QString::fromStdString(dir.string())} + args);
    const bool finished = admin.waitForFinished(20000);
    if (exit_code != nullptr) *exit_code = finished ? admin.exitCode() : -1;
    return QString::fromUtf8(admin.readAllStandardOutput());
}

}  // namespace

QString GuiTestSupport::startIntakeServer() {
    if (intake_ != nullptr) return intake_url_;
    intake_dir_ = root_ / ("intake-" + std::to_string(++counter_));
    const auto& dir = intake_dir_;
    int code = 0;
    intake_admin(dir,
                 {QStringLiteral("init"), QStringLiteral("--name"), QStringLiteral("intake.test"),
                  QStringLiteral("--url"), QStringLiteral("http://127.0.0.1:1")},
                 &code);
    if (code != 0) return {};
    intake_ = new QProcess(this);
    intake_->setProcessChannelMode(QProcess::MergedChannels);
    intake_->start(
        QStringLiteral(CUSTODIA_INTAKE),
        {QStringLiteral("--dir"), QString::fromStdString(dir.string()), QStringLiteral("serve"),
         QStringLiteral("--listen"), QStringLiteral("127.0.0.1:0")});
    if (!intake_->waitForStarted(10000)) return {};
    // Its JSON log says which port it bound.
    QElapsedTimer waited;
    waited.start();
    QByteArray seen;
    while (!waited.hasExpired(15000)) {
        intake_->waitForReadyRead(200);
        seen += intake_->readAll();
        for (const QByteArray& line : seen.split('\n')) {
            const QJsonObject event = QJsonDocument::fromJson(line).object();
            if (event.value(QStringLiteral("event")).toString() == QLatin1String("listening")) {
                intake_url_ = QStringLiteral("http://127.0.0.1:%1")
                                  .arg(event.value(QStringLiteral("port")).toInt());
                return intake_url_;
            }
        }
    }
    return {};
}

void GuiTestSupport::stopIntakeServer() {
    if (intake_ == nullptr) return;
    intake_->kill();
    intake_->waitForFinished(5000);
    delete intake_;
    intake_ = nullptr;
    // Codes made before stay valid for the next enrolment attempt to fail on.
}

QString GuiTestSupport::intakeEnrolmentCode() {
    if (intake_url_.isEmpty()) return {};
    int code = 0;
    const QString out =
        intake_admin(intake_dir_,
                     {QStringLiteral("enroll"), QStringLiteral("--url"), intake_url_,
                      QStringLiteral("--name"), QStringLiteral("gui-test")},
                     &code);
    return code == 0 ? out.trimmed() : QString();
}

int GuiTestSupport::intakeBundleCount() {
    int code = 0;
    const QString out =
        intake_admin(intake_dir_, {QStringLiteral("list"), QStringLiteral("--json")}, &code);
    if (code != 0) return -1;
    return static_cast<int>(QJsonDocument::fromJson(out.toUtf8()).array().size());
}

QString GuiTestSupport::closedLoopbackUrl() const {
    // Bound, then closed again: nothing listens there.
    QTcpServer probe;
    if (!probe.listen(QHostAddress::LocalHost, 0)) return {};
    const quint16 port = probe.serverPort();
    probe.close();
    return QStringLiteral("http://127.0.0.1:%1").arg(port);
}

QVariant GuiTestSupport::setting(const QString& key) const {
    return QSettings().value(key);
}

QStringList GuiTestSupport::settingKeys(const QString& prefix) const {
    QStringList out;
    for (const QString& key : QSettings().allKeys())
        if (key.startsWith(prefix)) out << key;
    out.sort();
    return out;
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
