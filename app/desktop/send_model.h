// Sending a case (DESIGN.md §8 "send"): the age recipients a bundle is sealed
// to, and the sealed bundle itself, written with Vault::export_bundle on the
// worker thread into a folder the investigator picks (a USB stick, say).
#pragma once

#include <QtQml/qqmlregistration.h>

#include <QObject>
#include <QPointer>
#include <QString>
#include <QStringList>
#include <QVariant>
#include <QVariantList>
#include <atomic>
#include <memory>

#include "vault_model.h"

namespace custodia::desktop {

// The organisations' public keys (age1…) the investigator sends to, kept in
// QSettings: public keys only, never a secret. They do say whom the
// investigator works with, so they belong to one vault: kept under a group
// named for the vault's device key, shown only while that vault is unlocked,
// and dropped when another vault unlocks (after a duress passphrase erased
// the old one, nothing points to it) or by a panic wipe.
class RecipientsModel : public QObject {
    Q_OBJECT
    QML_ELEMENT
    Q_PROPERTY(VaultModel* vault READ vault WRITE setVault NOTIFY vaultChanged)
    // [{name, key}], in the order they were added.
    Q_PROPERTY(QVariantList recipients READ recipients NOTIFY recipientsChanged)
    Q_PROPERTY(int count READ count NOTIFY recipientsChanged)
    Q_PROPERTY(QString errorMessage READ errorMessage NOTIFY errorMessageChanged)

  public:
    explicit RecipientsModel(QObject* parent = nullptr);

    VaultModel* vault() const { return vault_; }
    void setVault(VaultModel* vault);
    QVariantList recipients() const;
    int count() const { return static_cast<int>(keys_.size()); }
    QString errorMessage() const { return error_; }

    // Refuses what is not an age X25519 recipient, with the reason.
    Q_INVOKABLE bool add(const QString& name, const QString& key);
    Q_INVOKABLE void remove(int index);
    Q_INVOKABLE void reload();
    // Empty when `key` is a valid age recipient, else why it is not.
    Q_INVOKABLE QString checkKey(const QString& key) const;

    static QString recipientProblem(const QString& key);
    // Forgets every saved recipient (the panic wipe calls this).
    static void forgetAll();
    // Forgets those of every vault but the one with this device key
    // (VaultModel calls this at each unlock).
    static void forgetOtherVaults(const QString& deviceKey);

  Q_SIGNALS:
    void vaultChanged();
    void recipientsChanged();
    void errorMessageChanged();

  private:
    static QString groupFor(const QString& deviceKey);
    void save();
    void setError(const QString& message);

    QPointer<VaultModel> vault_;
    QString group_;  // empty while no vault is unlocked
    QStringList names_, keys_;
    QString error_;
};

class SendModel : public QObject {
    Q_OBJECT
    QML_ELEMENT
    Q_PROPERTY(VaultModel* vault READ vault WRITE setVault NOTIFY vaultChanged)
    Q_PROPERTY(QString caseId MEMBER case_id_ NOTIFY fieldsChanged)
    Q_PROPERTY(QString caseTitle MEMBER case_title_ NOTIFY fieldsChanged)
    // The age recipients the bundle is sealed to (age1…).
    Q_PROPERTY(QStringList recipients READ recipients NOTIFY recipientsChanged)
    // A local path or a file:// URL (from a folder dialog).
    Q_PROPERTY(QString folder READ folder WRITE setFolder NOTIFY fieldsChanged)
    Q_PROPERTY(bool includeWitnessIdentities MEMBER include_identities_ NOTIFY fieldsChanged)
    // Items with consent "none" go only when the investigator says so.
    Q_PROPERTY(bool allowWithoutConsent MEMBER allow_without_consent_ NOTIFY fieldsChanged)

    Q_PROPERTY(bool busy READ busy NOTIFY busyChanged)
    Q_PROPERTY(double progress READ progress NOTIFY progressChanged)
    Q_PROPERTY(QString progressText READ progressText NOTIFY progressChanged)
    Q_PROPERTY(QString errorMessage READ errorMessage NOTIFY messageChanged)
    Q_PROPERTY(QString doneMessage READ doneMessage NOTIFY messageChanged)
    Q_PROPERTY(QString bundlePath READ bundlePath NOTIFY messageChanged)
    // The intake servers this device enrolled with, by name.
    Q_PROPERTY(QStringList servers READ servers NOTIFY serversChanged)

  public:
    explicit SendModel(QObject* parent = nullptr);

    VaultModel* vault() const { return vault_; }
    void setVault(VaultModel* vault);
    QStringList recipients() const { return recipients_; }
    QString folder() const { return folder_; }
    void setFolder(const QString& folder);
    bool busy() const { return busy_; }
    double progress() const { return progress_; }
    QString progressText() const { return progress_text_; }
    QString errorMessage() const { return error_; }
    QString doneMessage() const { return done_; }
    QString bundlePath() const { return bundle_path_; }
    QStringList servers() const { return servers_; }

    Q_INVOKABLE bool addRecipient(const QString& key);
    Q_INVOKABLE void removeRecipient(const QString& key);
    Q_INVOKABLE bool hasRecipient(const QString& key) const;
    Q_INVOKABLE void setFolderUrl(const QVariant& folder);
    Q_INVOKABLE void send();
    // Seals the bundle into the vault's outbox for `server` instead of a
    // folder; the Outbox page sends it.
    Q_INVOKABLE void queueForUpload(const QString& server);
    Q_INVOKABLE void loadServers();
    Q_INVOKABLE void cancel();

  Q_SIGNALS:
    void vaultChanged();
    void fieldsChanged();
    void recipientsChanged();
    void busyChanged();
    void progressChanged();
    void messageChanged();
    void sent(const QString& bundlePath);
    void queued(const QString& server);
    void serversChanged();

  private:
    struct Outcome;
    void seal(const QString& server);
    void finished(const Outcome& outcome);
    void setBusy(bool busy);
    void setProgress(double value, const QString& text);
    void setMessages(const QString& error, const QString& done, const QString& path = {});

    QPointer<VaultModel> vault_;
    QString case_id_, case_title_, folder_;
    QStringList recipients_;
    QStringList servers_;
    bool include_identities_ = false;
    bool allow_without_consent_ = false;
    bool busy_ = false;
    double progress_ = 0;
    QString progress_text_, error_, done_, bundle_path_;
    std::shared_ptr<std::atomic<bool>> cancel_;
};

}  // namespace custodia::desktop
