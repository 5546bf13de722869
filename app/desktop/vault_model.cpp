#include "vault_model.h"

#include <QCoreApplication>
#include <QDateTime>
#include <QEvent>
#include <QLocale>
#include <QPointer>
#include <QStringList>
#include <QTimeZone>
#include <utility>

#include "custodia/core/vault_header.h"
#include "custodia/crypto/random.h"
#include "custodia/crypto/secret.h"
#include "item_model.h"
#include "send_model.h"

namespace custodia::desktop {

// The UTF-8 bytes go straight into locked memory; the temporary QByteArray is
// wiped before it is freed. The QString itself belongs to the caller.
crypto::SecretBytes to_secret(const QString& text) {
    QByteArray utf8 = text.toUtf8();
    auto secret = crypto::SecretBytes::copy_of(
        std::string_view(utf8.constData(), static_cast<std::size_t>(utf8.size())));
    crypto::wipe(std::span(reinterpret_cast<std::uint8_t*>(utf8.data()),
                           static_cast<std::size_t>(utf8.size())));
    return secret;
}

namespace {

using namespace std::chrono_literals;

// The countdown itself is on screen (waitSeconds); this says why.
QString wait_text() {
    return VaultModel::tr("Too many failed attempts: Custodia waits longer after each one.");
}

}  // namespace

QString describe_error(const Error& error) {
    const QString detail = QString::fromStdString(error.message);
    switch (error.code) {
        case Errc::wrong_passphrase:
            return VaultModel::tr("That passphrase does not open this vault.");
        case Errc::cancelled:
            return VaultModel::tr("Cancelled.");
        case Errc::malformed:
            return VaultModel::tr("Custodia could not read this: %1").arg(detail);
        case Errc::auth_failed:
            return VaultModel::tr("The vault's contents did not verify: %1").arg(detail);
        case Errc::io:
            return VaultModel::tr("The device refused to read or write: %1").arg(detail);
        case Errc::limit:
            return VaultModel::tr("Too large or too many: %1").arg(detail);
        default:
            return VaultModel::tr("Something went wrong: %1").arg(detail);
    }
}

QString kind_label(core::ItemKind kind) {
    switch (kind) {
        case core::ItemKind::testimony:
            return VaultModel::tr("Testimony");
        case core::ItemKind::audio:
            return VaultModel::tr("Audio");
        case core::ItemKind::video:
            return VaultModel::tr("Video");
        case core::ItemKind::photo:
            return VaultModel::tr("Photo");
        case core::ItemKind::document:
            return VaultModel::tr("Document");
        case core::ItemKind::note:
            return VaultModel::tr("Note");
    }
    return {};
}

QString consent_label(const core::Consent& consent) {
    QString type;
    switch (consent.type) {
        case core::ConsentType::written:
            type = VaultModel::tr("Written consent");
            break;
        case core::ConsentType::oral_recorded:
            type = VaultModel::tr("Oral consent, recorded");
            break;
        case core::ConsentType::none:
            type = VaultModel::tr("No documented consent");
            break;
    }
    if (consent.withdrawn) return VaultModel::tr("%1 (withdrawn)").arg(type);
    if (consent.scope.empty()) return type;
    QStringList scope;
    for (const auto& s : consent.scope) scope << QString::fromStdString(s);
    return VaultModel::tr("%1: may be shared with %2").arg(type, scope.join(QStringLiteral(", ")));
}

QString event_label(core::CustodyEvent event) {
    using E = core::CustodyEvent;
    switch (event) {
        case E::created:
            return VaultModel::tr("Created");
        case E::captured:
            return VaultModel::tr("Captured");
        case E::imported:
            return VaultModel::tr("Imported");
        case E::annotated:
            return VaultModel::tr("Annotated");
        case E::extracted:
            return VaultModel::tr("Decrypted for viewing or export");
        case E::exported:
            return VaultModel::tr("Exported");
        case E::bundled:
            return VaultModel::tr("Sealed in a bundle");
        case E::uploaded:
            return VaultModel::tr("Uploaded");
        case E::receipt_received:
            return VaultModel::tr("Receipt received");
        case E::timestamped:
            return VaultModel::tr("Timestamped");
        case E::consent_withdrawn:
            return VaultModel::tr("Consent withdrawn");
        case E::destroyed:
            return VaultModel::tr("Destroyed");
        case E::passphrase_changed:
            return VaultModel::tr("Passphrase changed");
    }
    return QString::fromUtf8(core::to_string(event));
}

QString short_time(const core::Timestamp& time) {
    const auto local =
        QDateTime::fromMSecsSinceEpoch(time.unix_ms, QTimeZone(time.offset_minutes * 60));
    const int abs_minutes = std::abs(time.offset_minutes);
    const QString offset = QStringLiteral("UTC%1%2:%3")
                               .arg(time.offset_minutes < 0 ? QLatin1Char('-') : QLatin1Char('+'))
                               .arg(abs_minutes / 60, 2, 10, QLatin1Char('0'))
                               .arg(abs_minutes % 60, 2, 10, QLatin1Char('0'));
    return QStringLiteral("%1 (%2)").arg(
        QLocale().toString(local, QStringLiteral("d MMM yyyy HH:mm")), offset);
}

VaultModel::VaultModel(std::filesystem::path dir, QObject* parent,
                       std::shared_ptr<PreviewStore> previews)
    : QObject(parent),
      dir_(std::move(dir)),
      previews_(previews ? std::move(previews) : std::make_shared<PreviewStore>()) {
    worker_.setMaxThreadCount(1);  // vault calls run one at a time, in the order asked
    worker_.setExpiryTimeout(-1);
    state_ = core::Vault::exists(dir_) ? State::Locked : State::NoVault;

    auto_lock_.setSingleShot(true);
    connect(&auto_lock_, &QTimer::timeout, this, &VaultModel::lock);
    wait_tick_.setInterval(1000);
    connect(&wait_tick_, &QTimer::timeout, this, [this] {
        setWaitSeconds(wait_seconds_ - 1);
        if (wait_seconds_ <= 0) {
            wait_tick_.stop();
            setError({});
        }
    });
    if (auto* app = QCoreApplication::instance()) app->installEventFilter(this);
    if (state_ == State::Locked) refreshWait();
}

VaultModel::~VaultModel() {
    ++generation_;
    for (auto& weak : cancels_)
        if (auto flag = weak.lock()) flag->store(true);
    worker_.waitForDone();
}

QString VaultModel::vaultPath() const {
    return QString::fromStdString(dir_.string());
}

void VaultModel::setAutoLockMinutes(int minutes) {
    minutes = std::clamp(minutes, 1, 120);
    if (minutes == auto_lock_minutes_) return;
    auto_lock_minutes_ = minutes;
    Q_EMIT autoLockMinutesChanged();
    restartAutoLock();
}

void VaultModel::setAutoLockIntervalForTesting(std::chrono::milliseconds interval) {
    auto_lock_override_ = interval;
    restartAutoLock();
}

int VaultModel::passphraseStrength(const QString& passphrase) const {
    const auto length = passphrase.size();
    if (length == 0) return 0;
    bool lower = false, upper = false, digit = false, other = false;
    QChar first = passphrase.front();
    bool all_same = true;
    for (const QChar c : passphrase) {
        if (c != first) all_same = false;
        if (c.isLower())
            lower = true;
        else if (c.isUpper())
            upper = true;
        else if (c.isDigit())
            digit = true;
        else
            other = true;
    }
    const int kinds = int(lower) + int(upper) + int(digit) + int(other);
    if (all_same || length < 8) return 1;
    if (length < minimumPassphraseLength()) return 1;
    if (length >= 20 && kinds >= 2) return 4;
    if (length >= 16 && kinds >= 3) return 4;
    if (length >= 14 || kinds >= 3) return 3;
    return 2;
}

QString VaultModel::strengthLabel(int strength) const {
    switch (strength) {
        case 0:
            return {};
        case 1:
            return tr("Too weak");
        case 2:
            return tr("Fair");
        case 3:
            return tr("Good");
        default:
            return tr("Strong");
    }
}

void VaultModel::create(const QString& passphrase, const QString& confirmation,
                        const QString& investigator) {
    if (busy_ || state_ != State::NoVault) return;
    auto secret = std::make_shared<crypto::SecretBytes>(to_secret(passphrase));
    {
        const auto confirm = to_secret(confirmation);
        if (!secret->equals(confirm.span())) {
            setError(tr("The two passphrases are not the same."));
            return;
        }
    }
    if (passphrase.size() < minimumPassphraseLength()) {
        setError(tr("Use at least %n characters.", nullptr, minimumPassphraseLength()));
        return;
    }
    const QString name = investigator.simplified();
    if (name.isEmpty()) {
        setError(tr("Type the name the custody log should record for you."));
        return;
    }
    core::VaultOptions options;
    options.investigator = name.toStdString();
    options.kdf = kdf_;

    setError({});
    setBusy(true);
    const auto dir = dir_;
    worker_.start([this, dir, secret, options] {
        auto made = std::make_shared<Result<core::CreatedVault>>(core::Vault::create(
            dir, *secret, options, crypto::system_random(), core::system_clock()));
        *secret = crypto::SecretBytes();
        QMetaObject::invokeMethod(
            this,
            [this, made] {
                setBusy(false);
                if (!*made) {
                    setError(describe_error(made->error()));
                    return;
                }
                const auto& key = (*made)->recovery_key;
                recovery_key_ = QString::fromUtf8(reinterpret_cast<const char*>(key.data()),
                                                  static_cast<qsizetype>(key.size()));
                Q_EMIT recoveryKeyChanged();
                becomeUnlocked(std::shared_ptr<core::Vault>(std::move((*made)->vault)));
            },
            Qt::QueuedConnection);
    });
}

void VaultModel::unlock(const QString& passphrase) {
    if (busy_ || state_ != State::Locked || wait_seconds_ > 0) return;
    if (passphrase.isEmpty()) {
        setError(tr("Type your passphrase."));
        return;
    }
    auto secret = std::make_shared<crypto::SecretBytes>(to_secret(passphrase));
    setError({});
    setBusy(true);
    const auto dir = dir_;
    worker_.start([this, dir, secret] {
        auto opened = std::make_shared<Result<std::unique_ptr<core::Vault>>>(
            core::Vault::open(dir, *secret, crypto::system_random(), core::system_clock()));
        *secret = crypto::SecretBytes();
        std::optional<std::chrono::seconds> wait;
        if (!*opened) {
            if (auto w = core::unlock_wait_remaining(dir, std::chrono::system_clock::now()))
                wait = *w;
        }
        QMetaObject::invokeMethod(
            this,
            [this, opened, wait] {
                setBusy(false);
                if (*opened)
                    becomeUnlocked(std::shared_ptr<core::Vault>(std::move(**opened)));
                else
                    failedUnlock(opened->error(), wait);
            },
            Qt::QueuedConnection);
    });
}

void VaultModel::failedUnlock(const Error& error, std::optional<std::chrono::seconds> wait) {
    const int seconds = wait ? static_cast<int>(wait->count()) : 0;
    setWaitSeconds(seconds);
    if (seconds > 0) {
        wait_tick_.start();
        if (error.code == Errc::limit)
            setError(wait_text());
        else
            setError(describe_error(error) + QLatin1Char('\n') + wait_text());
    } else {
        setError(describe_error(error));
    }
}

void VaultModel::refreshWait() {
    const auto dir = dir_;
    worker_.start([this, dir] {
        auto w = core::unlock_wait_remaining(dir, std::chrono::system_clock::now());
        const std::chrono::seconds wait = w ? *w : std::chrono::seconds(0);
        QMetaObject::invokeMethod(
            this,
            [this, wait] {
                if (state_ == State::Locked && wait.count() > 0)
                    failedUnlock(make_error(Errc::limit, {}), wait);
            },
            Qt::QueuedConnection);
    });
}

void VaultModel::becomeUnlocked(std::shared_ptr<core::Vault> vault) {
    vault_ = std::move(vault);
    investigator_ = QString::fromStdString(vault_->investigator());
    device_key_ = QString::fromStdString(vault_->device_key().to_base64());
    // What was kept outside the vault for another vault (one a duress
    // passphrase erased, say) must not outlive it.
    RecipientsModel::forgetOtherVaults(device_key_);
    setWaitSeconds(0);
    wait_tick_.stop();
    state_ = State::Unlocked;
    Q_EMIT stateChanged();
    Q_EMIT unlocked();
    restartAutoLock();
}

void VaultModel::lock() {
    if (state_ != State::Unlocked) return;
    ++generation_;
    for (auto& weak : cancels_)
        if (auto flag = weak.lock()) flag->store(true);
    cancels_.clear();
    vault_.reset();
    previews_->clear();
    acknowledgeRecoveryKey();
    investigator_.clear();
    device_key_.clear();
    auto_lock_.stop();
    setError({});
    state_ = State::Locked;
    Q_EMIT stateChanged();
    Q_EMIT locked();
}

void VaultModel::wipeVault() {
    if (state_ == State::NoVault || wiping_) return;
    wiping_ = true;
    lock();
    wait_tick_.stop();
    setWaitSeconds(0);
    setBusy(true);
    const auto dir = dir_;
    // Queued behind any job still running: that job holds the last reference
    // to the Vault, so the keys are gone before the header is overwritten.
    worker_.start([this, dir] {
        const Status erased = core::Vault::wipe(dir);
        const bool gone = !core::Vault::exists(dir);
        const QString error = erased ? QString() : describe_error(erased.error());
        QMetaObject::invokeMethod(
            this,
            [this, gone, error] {
                wiping_ = false;
                setBusy(false);
                setError(error);
                state_ = gone ? State::NoVault : State::Locked;
                Q_EMIT stateChanged();
                if (gone) Q_EMIT wiped();
            },
            Qt::QueuedConnection);
    });
}

void VaultModel::acknowledgeRecoveryKey() {
    if (recovery_key_.isEmpty()) return;
    // Overwrites this copy; copies the text item made for display are Qt's.
    recovery_key_.fill(QLatin1Char('0'));
    recovery_key_.clear();
    Q_EMIT recoveryKeyChanged();
    restartAutoLock();
}

void VaultModel::recordActivity() {
    restartAutoLock();
}

void VaultModel::clearError() {
    setError({});
}

void VaultModel::restartAutoLock() {
    // Locking while the recovery key is on screen would lose it for good.
    if (state_ != State::Unlocked || !recovery_key_.isEmpty()) {
        auto_lock_.stop();
        return;
    }
    const auto interval = auto_lock_override_.value_or(std::chrono::minutes(auto_lock_minutes_));
    auto_lock_.start(interval);
}

bool VaultModel::eventFilter(QObject* watched, QEvent* event) {
    switch (event->type()) {
        case QEvent::KeyPress:
        case QEvent::MouseButtonPress:
        case QEvent::TouchBegin:
        case QEvent::Wheel:
            if (auto_lock_.isActive()) restartAutoLock();
            break;
        default:
            break;
    }
    return QObject::eventFilter(watched, event);
}

bool VaultModel::submit(QObject* receiver, Work work, ProgressReport progress,
                        std::shared_ptr<std::atomic<bool>> cancel) {
    if (!vault_) return false;
    if (!cancel) cancel = std::make_shared<std::atomic<bool>>(false);
    std::erase_if(cancels_, [](const auto& weak) { return weak.expired(); });
    cancels_.push_back(cancel);

    // QPointer is only read on the UI thread; the worker merely carries it.
    const QPointer<QObject> target(receiver);
    const auto generation = generation_;
    core::Progress report;
    report.cancel = cancel.get();
    if (progress) {
        auto last = std::make_shared<std::chrono::steady_clock::time_point>();
        report.report = [this, target, generation, progress, last](std::uint64_t done,
                                                                   std::uint64_t total) {
            const auto now = std::chrono::steady_clock::now();
            if (done != total && now - *last < 50ms) return;
            *last = now;
            QMetaObject::invokeMethod(
                this,
                [this, target, generation, progress, done, total] {
                    if (target && generation == generation_) progress(done, total);
                },
                Qt::QueuedConnection);
        };
    }
    worker_.start(
        [this, vault = vault_, work = std::move(work), report, cancel, target, generation] {
            Continuation then = work(*vault, report);
            QMetaObject::invokeMethod(
                this,
                [this, target, generation, then = std::move(then)] {
                    if (target && generation == generation_ && then) then();
                },
                Qt::QueuedConnection);
        });
    return true;
}

void VaultModel::setBusy(bool busy) {
    if (busy_ == busy) return;
    busy_ = busy;
    Q_EMIT busyChanged();
}

void VaultModel::setError(const QString& message) {
    if (error_ == message) return;
    error_ = message;
    Q_EMIT errorMessageChanged();
}

void VaultModel::setWaitSeconds(int seconds) {
    seconds = std::max(seconds, 0);
    if (wait_seconds_ == seconds) return;
    wait_seconds_ = seconds;
    Q_EMIT waitSecondsChanged();
}

}  // namespace custodia::desktop
