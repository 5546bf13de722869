// Sending over the network (DESIGN.md §7–§8): the intake servers this device
// enrolled with (by pasting an enrolment code) and the outbox of sealed
// bundles waiting for a server's signed receipt. Every network call runs on
// the vault's worker thread through custodia_sync; only a verified receipt
// shows as "received".
#pragma once

#include <QtQml/qqmlregistration.h>

#include <QObject>
#include <QPointer>
#include <QString>
#include <QVariantList>
#include <atomic>
#include <memory>

#include "vault_model.h"

namespace custodia::desktop {

class ServersModel : public QObject {
    Q_OBJECT
    QML_ELEMENT
    Q_PROPERTY(VaultModel* vault READ vault WRITE setVault NOTIFY vaultChanged)
    // [{name, url}]
    Q_PROPERTY(QVariantList servers READ servers NOTIFY serversChanged)
    Q_PROPERTY(int count READ count NOTIFY serversChanged)
    // The stored transport settings (changed through SecuritySettingsModel).
    Q_PROPERTY(QString proxy READ proxy NOTIFY serversChanged)
    Q_PROPERTY(bool requireProxy READ requireProxy NOTIFY serversChanged)
    Q_PROPERTY(bool busy READ busy NOTIFY busyChanged)
    Q_PROPERTY(QString errorMessage READ errorMessage NOTIFY messageChanged)
    Q_PROPERTY(QString doneMessage READ doneMessage NOTIFY messageChanged)

  public:
    explicit ServersModel(QObject* parent = nullptr);

    VaultModel* vault() const { return vault_; }
    void setVault(VaultModel* vault);
    QVariantList servers() const { return servers_; }
    int count() const { return static_cast<int>(servers_.size()); }
    QString proxy() const { return proxy_; }
    bool requireProxy() const { return require_proxy_; }
    bool busy() const { return busy_; }
    QString errorMessage() const { return error_; }
    QString doneMessage() const { return done_; }

    Q_INVOKABLE void reload();
    // Enrols this device with the server the code names (a network call)
    // and keeps the server's key pinned in the vault. `name` may be empty.
    Q_INVOKABLE void enrol(const QString& code, const QString& name);
    Q_INVOKABLE void remove(const QString& name);

  Q_SIGNALS:
    void vaultChanged();
    void serversChanged();
    void busyChanged();
    void messageChanged();
    void enrolled(const QString& name);

  private:
    void setBusy(bool busy);
    void setMessages(const QString& error, const QString& done);

    QPointer<VaultModel> vault_;
    QVariantList servers_;
    QString proxy_;
    bool require_proxy_ = false;
    bool busy_ = false;
    QString error_, done_;
};

class OutboxModel : public QObject {
    Q_OBJECT
    QML_ELEMENT
    Q_PROPERTY(VaultModel* vault READ vault WRITE setVault NOTIFY vaultChanged)
    // [{bundleId, server, caseTitle, state, stateLabel, received, progress,
    //   sizeText, error, attempts, queued}]
    Q_PROPERTY(QVariantList entries READ entries NOTIFY entriesChanged)
    Q_PROPERTY(int count READ count NOTIFY entriesChanged)
    Q_PROPERTY(int waiting READ waiting NOTIFY entriesChanged)
    Q_PROPERTY(bool busy READ busy NOTIFY busyChanged)
    Q_PROPERTY(double progress READ progress NOTIFY progressChanged)
    Q_PROPERTY(QString progressText READ progressText NOTIFY progressChanged)
    Q_PROPERTY(QString errorMessage READ errorMessage NOTIFY messageChanged)
    Q_PROPERTY(QString doneMessage READ doneMessage NOTIFY messageChanged)

  public:
    explicit OutboxModel(QObject* parent = nullptr);

    VaultModel* vault() const { return vault_; }
    void setVault(VaultModel* vault);
    QVariantList entries() const { return entries_; }
    int count() const { return static_cast<int>(entries_.size()); }
    int waiting() const { return waiting_; }
    bool busy() const { return busy_; }
    double progress() const { return progress_; }
    QString progressText() const { return progress_text_; }
    QString errorMessage() const { return error_; }
    QString doneMessage() const { return done_; }

    Q_INVOKABLE void reload();
    // Uploads every entry not yet received, oldest first.
    Q_INVOKABLE void sendNow();
    Q_INVOKABLE void cancel();

  Q_SIGNALS:
    void vaultChanged();
    void entriesChanged();
    void busyChanged();
    void progressChanged();
    void messageChanged();
    void pushFinished();

  private:
    void setBusy(bool busy);
    void setProgress(double value, const QString& text);
    void setMessages(const QString& error, const QString& done);

    QPointer<VaultModel> vault_;
    QVariantList entries_;
    int waiting_ = 0;
    bool busy_ = false;
    double progress_ = 0;
    QString progress_text_, error_, done_;
    std::uint64_t request_ = 0;
    std::shared_ptr<std::atomic<bool>> cancel_;
};

}  // namespace custodia::desktop
