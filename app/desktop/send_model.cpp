#include "send_model.h"

#include <QCryptographicHash>
#include <QDateTime>
#include <QDir>
#include <QFileInfo>
#include <QLocale>
#include <QSettings>
#include <QUrl>
#include <filesystem>
#include <limits>
#include <optional>
#include <system_error>
#include <utility>

#include "custodia/crypto/age.h"

namespace custodia::desktop {
namespace {

const QString kRecipientsGroup = QStringLiteral("recipients");

QString path_from(const QVariant& value) {
    if (value.userType() == QMetaType::QUrl) return value.toUrl().toLocalFile();
    const QString text = value.toString().trimmed();
    if (text.startsWith(QLatin1String("file:"))) return QUrl(text).toLocalFile();
    return text;
}

QString size_text(std::uint64_t bytes) {
    return QLocale().formattedDataSize(
        static_cast<qint64>(std::min<std::uint64_t>(bytes, std::numeric_limits<qint64>::max())), 1,
        QLocale::DataSizeSIFormat);
}

}  // namespace

struct SendModel::Outcome {
    std::optional<Error> error;
    QString readable;  // set instead of `error` for problems found before sealing
    core::ExportedBundle bundle;
    QString queued_for;  // the server's name, when queued for upload
};

// ---- RecipientsModel ---------------------------------------------------------------------

RecipientsModel::RecipientsModel(QObject* parent) : QObject(parent) {}

QString RecipientsModel::groupFor(const QString& deviceKey) {
    // A digest, so the settings file does not carry the device key itself.
    const QByteArray digest =
        QCryptographicHash::hash(deviceKey.toUtf8(), QCryptographicHash::Sha256).toHex().left(16);
    return kRecipientsGroup + QLatin1Char('/') + QString::fromLatin1(digest);
}

void RecipientsModel::setVault(VaultModel* vault) {
    if (vault_ == vault) return;
    if (vault_) disconnect(vault_, nullptr, this, nullptr);
    vault_ = vault;
    if (vault_) connect(vault_, &VaultModel::stateChanged, this, &RecipientsModel::reload);
    Q_EMIT vaultChanged();
    reload();
}

void RecipientsModel::reload() {
    names_.clear();
    keys_.clear();
    group_.clear();
    if (vault_ && vault_->state() == VaultModel::State::Unlocked &&
        !vault_->deviceKey().isEmpty()) {
        group_ = groupFor(vault_->deviceKey());
        QSettings settings;
        names_ = settings.value(group_ + QStringLiteral("/names")).toStringList();
        keys_ = settings.value(group_ + QStringLiteral("/keys")).toStringList();
        if (names_.size() != keys_.size()) names_.resize(keys_.size());
    }
    Q_EMIT recipientsChanged();
}

QVariantList RecipientsModel::recipients() const {
    QVariantList out;
    for (qsizetype i = 0; i < keys_.size(); ++i) {
        QVariantMap row;
        row.insert(QStringLiteral("name"), names_.value(i));
        row.insert(QStringLiteral("key"), keys_.at(i));
        out.append(row);
    }
    return out;
}

QString RecipientsModel::checkKey(const QString& key) const {
    return recipientProblem(key);
}

QString RecipientsModel::recipientProblem(const QString& key) {
    const QString clean = key.trimmed();
    if (clean.isEmpty()) return tr("Paste the organisation's public key (it starts with age1).");
    if (!clean.startsWith(QLatin1String("age1")))
        return tr(
            "This is not an age public key: it must start with age1. Never paste a key "
            "that starts with AGE-SECRET-KEY.");
    if (!crypto::age::Recipient::parse(clean.toStdString()))
        return tr("This age public key is damaged or incomplete: check that it was copied whole.");
    return {};
}

bool RecipientsModel::add(const QString& name, const QString& key) {
    if (group_.isEmpty()) {
        setError(tr("The vault is locked."));
        return false;
    }
    const QString problem = checkKey(key);
    if (!problem.isEmpty()) {
        setError(problem);
        return false;
    }
    const QString clean = key.trimmed();
    const QString label = name.simplified();
    if (label.isEmpty()) {
        setError(tr("Give the recipient a name, e.g. the organisation's."));
        return false;
    }
    if (keys_.contains(clean)) {
        setError(tr("That key is already saved."));
        return false;
    }
    names_ << label;
    keys_ << clean;
    save();
    setError({});
    Q_EMIT recipientsChanged();
    return true;
}

void RecipientsModel::remove(int index) {
    if (index < 0 || index >= keys_.size()) return;
    names_.removeAt(index);
    keys_.removeAt(index);
    save();
    Q_EMIT recipientsChanged();
}

void RecipientsModel::save() {
    if (group_.isEmpty()) return;
    QSettings settings;
    settings.setValue(group_ + QStringLiteral("/names"), names_);
    settings.setValue(group_ + QStringLiteral("/keys"), keys_);
    settings.sync();
}

void RecipientsModel::forgetAll() {
    QSettings settings;
    settings.remove(kRecipientsGroup);
    settings.sync();
}

void RecipientsModel::forgetOtherVaults(const QString& deviceKey) {
    const QString keep = groupFor(deviceKey).section(QLatin1Char('/'), 1);
    QSettings settings;
    settings.beginGroup(kRecipientsGroup);
    for (const QString& group : settings.childGroups())
        if (group != keep) settings.remove(group);
    settings.endGroup();
    settings.sync();
}

void RecipientsModel::setError(const QString& message) {
    if (error_ == message) return;
    error_ = message;
    Q_EMIT errorMessageChanged();
}

// ---- SendModel ---------------------------------------------------------------------------

SendModel::SendModel(QObject* parent) : QObject(parent) {}

void SendModel::loadServers() {
    if (!vault_) return;
    (void)vault_->submit(this, [this](core::Vault& vault, const core::Progress&) {
        auto listed = std::make_shared<Result<std::vector<core::SyncServer>>>(vault.list_servers());
        return [this, listed] {
            QStringList names;
            if (*listed)
                for (const auto& s : **listed) names << QString::fromStdString(s.name);
            if (names == servers_) return;
            servers_ = names;
            Q_EMIT serversChanged();
        };
    });
}

void SendModel::setVault(VaultModel* vault) {
    if (vault_ == vault) return;
    if (vault_) disconnect(vault_, nullptr, this, nullptr);
    vault_ = vault;
    loadServers();
    if (vault_) {
        // The job is cancelled by the lock; its continuation never runs.
        connect(vault_, &VaultModel::locked, this, [this] {
            cancel_.reset();
            setBusy(false);
            setProgress(0, {});
        });
    }
    Q_EMIT vaultChanged();
}

void SendModel::setFolder(const QString& folder) {
    const QString path = path_from(folder);
    if (folder_ == path) return;
    folder_ = path;
    Q_EMIT fieldsChanged();
}

void SendModel::setFolderUrl(const QVariant& folder) {
    setFolder(path_from(folder));
}

bool SendModel::addRecipient(const QString& key) {
    const QString problem = RecipientsModel::recipientProblem(key);
    if (!problem.isEmpty()) {
        setMessages(problem, {});
        return false;
    }
    const QString clean = key.trimmed();
    if (!recipients_.contains(clean)) {
        recipients_ << clean;
        Q_EMIT recipientsChanged();
    }
    setMessages({}, {});
    return true;
}

void SendModel::removeRecipient(const QString& key) {
    if (recipients_.removeAll(key.trimmed()) > 0) Q_EMIT recipientsChanged();
}

bool SendModel::hasRecipient(const QString& key) const {
    return recipients_.contains(key.trimmed());
}

void SendModel::cancel() {
    if (cancel_) cancel_->store(true);
}

void SendModel::send() {
    seal({});
}

void SendModel::queueForUpload(const QString& server) {
    if (server.isEmpty()) {
        setMessages(tr("Choose the server to send it to (enrol with one in Settings)."), {});
        return;
    }
    seal(server);
}

void SendModel::seal(const QString& server) {
    if (busy_ || !vault_) return;
    if (case_id_.isEmpty()) {
        setMessages(tr("Open a case to send first."), {});
        return;
    }
    if (recipients_.isEmpty()) {
        setMessages(tr("Choose at least one recipient: the organisation's public key (age1…)."),
                    {});
        return;
    }
    // Queued for a server, the bundle is sealed straight into the vault's
    // outbox (Vault::export_to_outbox); only ciphertext is ever there.
    // Otherwise into the chosen folder, under a neutral name: the case title
    // would tell whoever finds the stick what the sealed bundle is about.
    std::filesystem::path out;
    if (server.isEmpty()) {
        if (folder_.isEmpty()) {
            setMessages(tr("Choose the folder to save the bundle in, for example a USB stick."),
                        {});
            return;
        }
        const QFileInfo info(folder_);
        if (!info.exists() || !info.isDir()) {
            setMessages(
                tr("The folder %1 does not exist. Is the USB stick plugged in?").arg(folder_), {});
            return;
        }
        if (!info.isWritable()) {
            setMessages(
                tr("Custodia may not write to %1 (it is read-only, or not yours).").arg(folder_),
                {});
            return;
        }
        const QString stamp =
            QDateTime::currentDateTimeUtc().toString(QStringLiteral("yyyyMMdd-HHmmss"));
        QDir dir(info.absoluteFilePath());
        QString name = QStringLiteral("custodia-%1.custodia").arg(stamp);
        for (int n = 2; dir.exists(name) || dir.exists(name + QStringLiteral(".envelope")); ++n)
            name = QStringLiteral("custodia-%1-%2.custodia").arg(stamp).arg(n);
        out = QFile::encodeName(dir.filePath(name)).toStdString();
    }

    std::vector<std::string> recipients;
    for (const QString& r : recipients_) recipients.push_back(r.toStdString());
    const std::string case_id = case_id_.toStdString();
    const bool identities = include_identities_;
    core::ExportOptions options;
    options.allow_without_consent = allow_without_consent_;

    setMessages({}, {});
    setBusy(true);
    setProgress(0, tr("Preparing…"));
    cancel_ = std::make_shared<std::atomic<bool>>(false);
    const bool queued = vault_->submit(
        this,
        [this, case_id, recipients, identities, options, out, server_name = server.toStdString()](
            core::Vault& vault, const core::Progress& progress) -> VaultModel::Continuation {
            auto outcome = std::make_shared<Outcome>();
            const auto finish = [this, outcome] { return [this, outcome] { finished(*outcome); }; };
            // What the core would refuse or skip, said in words first.
            auto items = vault.list_items(case_id, 0, std::numeric_limits<std::int64_t>::max());
            if (!items) {
                outcome->error = items.error();
                return finish();
            }
            std::uint64_t sendable = 0, without_consent = 0, bytes = 0;
            for (const core::Item& item : *items) {
                if (item.state != core::ItemState::active || item.fields.consent.withdrawn)
                    continue;
                ++sendable;
                if (item.fields.consent.type == core::ConsentType::none) ++without_consent;
                if (item.attachment) bytes += item.attachment->size;
            }
            if (sendable == 0) {
                outcome->readable =
                    tr("Nothing in this case can be sent: it is empty, or consent was withdrawn "
                       "for everything in it.");
                return finish();
            }
            if (without_consent > 0 && !options.allow_without_consent) {
                outcome->readable =
                    tr("This case holds %n item(s) without documented consent, so Custodia "
                       "sent nothing. Tick “Also send items without documented consent” only "
                       "if the witnesses agreed in another way.",
                       nullptr, static_cast<int>(without_consent));
                return finish();
            }
            // Compression may shrink it; headers and custody records add a
            // little. Refusing early beats a stick filled to the last byte.
            const std::uint64_t needed = bytes + (1u << 20);
            const auto target = server_name.empty() ? out.parent_path() : vault.dir();
            std::error_code ec;
            const auto space = std::filesystem::space(target, ec);
            if (!ec && space.available < needed) {
                outcome->readable =
                    tr("Not enough free space in %1: the bundle needs about %2 and only %3 is "
                       "free. Nothing was written.")
                        .arg(QString::fromStdString(target.string()), size_text(needed),
                             size_text(space.available));
                return finish();
            }
            auto made = server_name.empty()
                            ? vault.export_bundle(case_id, {}, recipients, identities, out,
                                                  progress, options)
                            : vault.export_to_outbox(case_id, {}, recipients, identities,
                                                     server_name, progress, options);
            if (!made) {
                outcome->error = made.error();
                return finish();
            }
            outcome->bundle = std::move(made).value();
            if (!server_name.empty()) outcome->queued_for = QString::fromStdString(server_name);
            return finish();
        },
        [this](std::uint64_t done, std::uint64_t total) {
            const double value =
                total == 0 ? 0.0 : static_cast<double>(done) / static_cast<double>(total);
            setProgress(value, tr("Sealing the bundle… %1%").arg(qRound(value * 100)));
        },
        cancel_);
    if (!queued) {
        setBusy(false);
        setProgress(0, {});
        setMessages(tr("The vault is locked."), {});
    }
}

void SendModel::finished(const Outcome& outcome) {
    setBusy(false);
    cancel_.reset();
    setProgress(0, {});
    if (!outcome.readable.isEmpty()) {
        setMessages(outcome.readable, {});
        return;
    }
    if (outcome.error) {
        const Error& e = *outcome.error;
        const QString detail = QString::fromStdString(e.message);
        QString message;
        if (e.code == Errc::cancelled)
            message = tr("Sending cancelled. No bundle was written.");
        else if (detail.contains(QLatin1String("No space left")))
            message =
                tr("The folder ran out of space while the bundle was written. Nothing was "
                   "kept; free some space or use another stick.");
        else if (e.code == Errc::io)
            message = tr("The bundle could not be written to %1: %2. Nothing was kept.")
                          .arg(folder_, detail);
        else if (detail.contains(QLatin1String("consent")))
            message = tr("Custodia refused to send: %1").arg(detail);
        else
            message = describe_error(e);
        setMessages(message, {});
        return;
    }
    if (vault_) vault_->notifyContentChanged();  // the export is in the custody log
    if (!outcome.queued_for.isEmpty()) {
        setMessages({}, tr("Sealed %n item(s) and queued the bundle for %1. Open the outbox to "
                           "send it now, or later when the connection is safe.",
                           nullptr, static_cast<int>(outcome.bundle.items))
                            .arg(outcome.queued_for));
        Q_EMIT queued(outcome.queued_for);
        return;
    }
    const QString path = QString::fromStdString(outcome.bundle.bundle_path.string());
    setMessages({},
                tr("Sealed %n item(s) into %1 (%2). Give the recipients this file and the "
                   ".envelope file next to it.",
                   nullptr, static_cast<int>(outcome.bundle.items))
                    .arg(path, size_text(outcome.bundle.size)),
                path);
    Q_EMIT sent(path);
}

void SendModel::setBusy(bool busy) {
    if (busy_ == busy) return;
    busy_ = busy;
    Q_EMIT busyChanged();
}

void SendModel::setProgress(double value, const QString& text) {
    progress_ = value;
    progress_text_ = text;
    Q_EMIT progressChanged();
}

void SendModel::setMessages(const QString& error, const QString& done, const QString& path) {
    if (error_ == error && done_ == done && bundle_path_ == path) return;
    error_ = error;
    done_ = done;
    bundle_path_ = path;
    Q_EMIT messageChanged();
}

}  // namespace custodia::desktop
