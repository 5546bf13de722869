// The unlocked-or-locked vault as the QML screens see it (DESIGN.md §8).
//
// VaultModel owns the one core::Vault of the app while it is unlocked and the
// worker thread every vault call runs on: the UI thread never waits for the
// KDF, SQLCipher or a blob. Locking drops the Vault object, which wipes the
// master key; a job still running when the lock comes is cancelled, and its
// result is thrown away.
#pragma once

#include <QtQml/qqmlregistration.h>

#include <QObject>
#include <QString>
#include <QThreadPool>
#include <QTimer>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "custodia/core/progress.h"
#include "custodia/core/vault.h"
#include "custodia/crypto/result.h"
#include "custodia/crypto/secret.h"

namespace custodia::desktop {

class PreviewStore;

// The words a person sees for a failed vault call. Core messages carry no
// secrets or user data (result.h), so they may be shown as the detail.
QString describe_error(const Error& error);

// A passphrase from a text field into locked memory (the QString stays the
// caller's to clear).
crypto::SecretBytes to_secret(const QString& text);

// The words the screens use for the evidence model's values.
QString kind_label(core::ItemKind kind);
QString consent_label(const core::Consent& consent);
QString event_label(core::CustodyEvent event);
// "24 Nov 2026 07:00 (UTC+02:00)": the local time the device recorded.
QString short_time(const core::Timestamp& time);

class VaultModel : public QObject {
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("The app creates the one VaultModel and hands it to every screen.")
    Q_PROPERTY(State state READ state NOTIFY stateChanged)
    Q_PROPERTY(bool busy READ busy NOTIFY busyChanged)
    Q_PROPERTY(QString errorMessage READ errorMessage NOTIFY errorMessageChanged)
    Q_PROPERTY(int waitSeconds READ waitSeconds NOTIFY waitSecondsChanged)
    Q_PROPERTY(QString recoveryKey READ recoveryKey NOTIFY recoveryKeyChanged)
    Q_PROPERTY(QString investigator READ investigator NOTIFY stateChanged)
    Q_PROPERTY(QString deviceKey READ deviceKey NOTIFY stateChanged)
    Q_PROPERTY(QString vaultPath READ vaultPath CONSTANT)
    // Read-only to the screens: they change it through SecuritySettingsModel,
    // which asks for the passphrase first. main() restores it with the setter.
    Q_PROPERTY(int autoLockMinutes READ autoLockMinutes NOTIFY autoLockMinutesChanged)
    Q_PROPERTY(int minimumPassphraseLength READ minimumPassphraseLength CONSTANT)

  public:
    enum class State { NoVault, Locked, Unlocked };
    Q_ENUM(State)

    // `previews` lets several VaultModels (in tests) share one image
    // provider; the app passes none and gets its own store.
    explicit VaultModel(std::filesystem::path dir, QObject* parent = nullptr,
                        std::shared_ptr<PreviewStore> previews = {});
    ~VaultModel() override;

    State state() const { return state_; }
    bool busy() const { return busy_; }
    QString errorMessage() const { return error_; }
    int waitSeconds() const { return wait_seconds_; }
    QString recoveryKey() const { return recovery_key_; }
    QString investigator() const { return investigator_; }
    QString deviceKey() const { return device_key_; }
    QString vaultPath() const;
    int autoLockMinutes() const { return auto_lock_minutes_; }
    void setAutoLockMinutes(int minutes);
    static int minimumPassphraseLength() { return 10; }

    // 0 (empty) … 4 (strong): length and variety only, a nudge and not a
    // promise; the Argon2id cost is what actually slows a guesser.
    Q_INVOKABLE int passphraseStrength(const QString& passphrase) const;
    Q_INVOKABLE QString strengthLabel(int strength) const;

    // The passphrase arrives as the QString the text field holds; it becomes
    // SecretBytes at once and the caller clears the field.
    Q_INVOKABLE void create(const QString& passphrase, const QString& confirmation,
                            const QString& investigator);
    Q_INVOKABLE void unlock(const QString& passphrase);
    Q_INVOKABLE void lock();
    // The recovery key is shown once, then forgotten.
    Q_INVOKABLE void acknowledgeRecoveryKey();
    // Any input restarts the auto-lock countdown; the app also sees every
    // key, mouse and touch event through an event filter.
    Q_INVOKABLE void recordActivity();
    Q_INVOKABLE void clearError();

    // ---- For the other view-models (C++ only) --------------------------------------------

    // Runs on the vault's worker thread; returns what to do on the UI thread.
    using Continuation = std::function<void()>;
    using Work = std::function<Continuation(core::Vault&, const core::Progress&)>;
    using ProgressReport = std::function<void(std::uint64_t done, std::uint64_t total)>;

    // Queues `work` unless the vault is locked (then returns false). The
    // continuation runs on the UI thread only if `receiver` still exists and
    // the vault was not locked in between. `progress` is delivered on the UI
    // thread too, at most about twenty times a second.
    bool submit(QObject* receiver, Work work, ProgressReport progress = {},
                std::shared_ptr<std::atomic<bool>> cancel = {});

    // Panic wipe: locks, then crypto-erases and removes the vault on the
    // worker (core::Vault::wipe); the state becomes NoVault. C++ only: the
    // screens reach it through SecuritySettingsModel, after the passphrase
    // was checked again.
    void wipeVault();

    std::shared_ptr<PreviewStore> previews() const { return previews_; }
    // Called after a change, so that the lists showing the vault reload.
    void notifyContentChanged() { Q_EMIT contentChanged(); }

    // Tests make vaults with libsodium's minimum Argon2id cost; the app never
    // calls this, so every real vault is calibrated (vault.h, KdfChoice).
    void setKdfForTesting(const core::KdfChoice& kdf) { kdf_ = kdf; }
    void setAutoLockIntervalForTesting(std::chrono::milliseconds interval);

  Q_SIGNALS:
    void stateChanged();
    void busyChanged();
    void errorMessageChanged();
    void waitSecondsChanged();
    void recoveryKeyChanged();
    void autoLockMinutesChanged();
    void unlocked();
    void locked();
    void contentChanged();
    // The vault is gone (panic wipe); settings kept outside it go too.
    void wiped();

  protected:
    bool eventFilter(QObject* watched, QEvent* event) override;

  private:
    void setBusy(bool busy);
    void setError(const QString& message);
    void setWaitSeconds(int seconds);
    void becomeUnlocked(std::shared_ptr<core::Vault> vault);
    void failedUnlock(const Error& error, std::optional<std::chrono::seconds> wait);
    void refreshWait();
    void restartAutoLock();

    std::filesystem::path dir_;
    State state_ = State::NoVault;
    bool busy_ = false;
    QString error_;
    int wait_seconds_ = 0;
    bool wiping_ = false;
    QString recovery_key_;
    QString investigator_;
    QString device_key_;
    int auto_lock_minutes_ = 5;
    std::optional<std::chrono::milliseconds> auto_lock_override_;
    core::KdfChoice kdf_;

    // Jobs hold their own reference, so a lock during a job frees the keys
    // as soon as that job returns; nothing new starts after the lock.
    std::shared_ptr<core::Vault> vault_;
    std::uint64_t generation_ = 0;
    std::vector<std::weak_ptr<std::atomic<bool>>> cancels_;
    std::shared_ptr<PreviewStore> previews_;

    QTimer auto_lock_;
    QTimer wait_tick_;
    // Declared last so it is destroyed first: its destructor waits for the
    // running job while everything that job may post back to still exists.
    QThreadPool worker_;
};

}  // namespace custodia::desktop
