// Security settings (DESIGN.md §8): passphrase change, duress passphrase,
// auto-lock delay and panic wipe. Every change asks for the current
// passphrase again and has the vault check it on the worker thread, through
// the same rate-limited unlock path as the unlock screen: a person who finds
// the app unlocked cannot change what protects it, and guessing here costs
// the same Argon2id work and back-off as guessing at the lock screen.
#pragma once

#include <QtQml/qqmlregistration.h>

#include <QObject>
#include <QPointer>
#include <QString>
#include <QTimer>
#include <functional>

#include "vault_model.h"

namespace custodia::desktop {

class SecuritySettingsModel : public QObject {
    Q_OBJECT
    QML_ELEMENT
    Q_PROPERTY(VaultModel* vault READ vault WRITE setVault NOTIFY vaultChanged)
    Q_PROPERTY(bool busy READ busy NOTIFY busyChanged)
    Q_PROPERTY(QString errorMessage READ errorMessage NOTIFY messageChanged)
    Q_PROPERTY(QString doneMessage READ doneMessage NOTIFY messageChanged)
    // Counts down from wipeCountdownSeconds once a wipe is confirmed; 0 when
    // no wipe is pending.
    Q_PROPERTY(int wipeSecondsLeft READ wipeSecondsLeft NOTIFY wipeSecondsLeftChanged)
    Q_PROPERTY(int wipeCountdownSeconds READ wipeCountdownSeconds CONSTANT)

  public:
    static constexpr int kWipeCountdownSeconds = 5;

    explicit SecuritySettingsModel(QObject* parent = nullptr);

    VaultModel* vault() const { return vault_; }
    void setVault(VaultModel* vault);
    bool busy() const { return busy_; }
    QString errorMessage() const { return error_; }
    QString doneMessage() const { return done_; }
    int wipeSecondsLeft() const { return wipe_seconds_; }
    static int wipeCountdownSeconds() { return kWipeCountdownSeconds; }

    // Each passphrase arrives as the text field's QString, becomes
    // SecretBytes at once, and the page clears its fields.
    Q_INVOKABLE void changePassphrase(const QString& current, const QString& next,
                                      const QString& confirmation);
    Q_INVOKABLE void setDuressPassphrase(const QString& current, const QString& duress,
                                         const QString& confirmation);
    Q_INVOKABLE void changeAutoLock(const QString& current, int minutes);
    // The Tor (SOCKS5) proxy for sync and whether to refuse sending without
    // it; a proxy must be socks5h:// so names resolve through Tor.
    Q_INVOKABLE void changeSyncSettings(const QString& current, const QString& proxy,
                                        bool requireProxy);
    // Checks the passphrase, then starts the countdown; at zero the vault is
    // wiped and the app returns to first run.
    Q_INVOKABLE void armPanicWipe(const QString& current);
    Q_INVOKABLE void cancelPanicWipe();
    Q_INVOKABLE void clearMessages();

  Q_SIGNALS:
    void vaultChanged();
    void busyChanged();
    void messageChanged();
    void wipeSecondsLeftChanged();
    // "passphrase", "duress", "autoLock", "sync", "wipeArmed" or "wipe".
    void changed(const QString& what);

  private:
    // Runs on the worker with the current passphrase and checks it (itself,
    // or through the core call that takes it).
    using Change = std::function<Status(core::Vault&, const crypto::SecretBytes& current)>;
    // Runs `change`; on success shows `success`, runs `then` on the UI
    // thread and emits changed(what).
    void run(const QString& current, Change change, const QString& what, const QString& success,
             std::function<void()> then);
    static QString checkNew(const QString& next, const QString& confirmation);
    void setBusy(bool busy);
    void setMessages(const QString& error, const QString& done);
    void tick();

    QPointer<VaultModel> vault_;
    bool busy_ = false;
    QString error_, done_;
    int wipe_seconds_ = 0;
    QTimer wipe_tick_;
};

}  // namespace custodia::desktop
