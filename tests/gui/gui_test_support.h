// What the GUI tests need beyond the screens: temporary vaults with cheap key
// slots, input files made on the spot, independent SHA-256 (Qt's own), and a
// look at the raw files to prove no plaintext reached the disk.
#pragma once

#include <QImage>
#include <QObject>
#include <QProcess>
#include <QString>
#include <QVariantList>
#include <QVariantMap>
#include <filesystem>
#include <functional>
#include <memory>
#include <vector>

#include "item_model.h"
#include "vault_model.h"

namespace custodia::testing {

class GuiTestSupport : public QObject {
    Q_OBJECT

  public:
    explicit GuiTestSupport(QObject* parent = nullptr);
    ~GuiTestSupport() override;

    std::shared_ptr<desktop::PreviewStore> previews() const { return previews_; }
    const std::filesystem::path& root() const { return root_; }

    // A VaultModel over a new, empty directory; vaults it creates use
    // libsodium's minimum Argon2id cost. Owned by this object.
    Q_INVOKABLE custodia::desktop::VaultModel* newVault();
    // A vault made through the core API with `passphrase`, locked.
    Q_INVOKABLE custodia::desktop::VaultModel* lockedVault(const QString& passphrase,
                                                           const QString& investigator);
    // The same, unlocked (waits for the unlock).
    Q_INVOKABLE custodia::desktop::VaultModel* unlockedVault(const QString& passphrase);
    // Fixtures through VaultModel::submit, the path every view-model takes;
    // each waits for its result and returns the new id ("" on failure).
    Q_INVOKABLE QString addCase(custodia::desktop::VaultModel* vault, const QString& title);
    Q_INVOKABLE QString addTestimony(custodia::desktop::VaultModel* vault, const QString& caseId,
                                     const QString& title, const QString& text,
                                     const QString& witness);
    // The same with written consent to share with courts.
    Q_INVOKABLE QString addConsentedTestimony(custodia::desktop::VaultModel* vault,
                                              const QString& caseId, const QString& title,
                                              const QString& text, const QString& witness);
    // Another VaultModel over the same directory, as after an app restart.
    Q_INVOKABLE custodia::desktop::VaultModel* reopen(custodia::desktop::VaultModel* vault);
    Q_INVOKABLE void setAutoLockMs(custodia::desktop::VaultModel* vault, int ms);

    // Test inputs live outside every vault, under this object's directory.
    Q_INVOKABLE QString makePng(int width, int height, const QString& color);
    Q_INVOKABLE QString makeFile(const QString& name, int megabytes);
    // SHA-256 by Qt (QCryptographicHash), not by our crypto module.
    Q_INVOKABLE QString sha256OfFile(const QString& path) const;
    Q_INVOKABLE QString sha256OfText(const QString& text) const;
    // True if any file in the vault directory holds these bytes verbatim.
    Q_INVOKABLE bool vaultContainsText(custodia::desktop::VaultModel* vault,
                                       const QString& text) const;
    Q_INVOKABLE bool vaultContainsFileBytes(custodia::desktop::VaultModel* vault,
                                            const QString& path) const;
    // Every file path under the vault directory, relative, sorted.
    Q_INVOKABLE QStringList vaultFiles(custodia::desktop::VaultModel* vault) const;

    // The item's original bytes, decrypted from the vault (a custody
    // "extracted" event), and its MIME type; empty on failure.
    QByteArray extractItem(custodia::desktop::VaultModel* vault, const QString& itemId);
    QString itemMimeType(custodia::desktop::VaultModel* vault, const QString& itemId);

    // True if any file in the vault directory holds these bytes verbatim.
    bool vaultContainsBytes(custodia::desktop::VaultModel* vault, const QByteArray& bytes) const {
        return vaultContains(vault, bytes);
    }

    // A new empty directory under this object's directory.
    Q_INVOKABLE QString makeDir(const QString& name);
    // Files in a directory, sorted by name.
    Q_INVOKABLE QStringList filesIn(const QString& dir) const;
    // An X25519 identity made by Debian's age-keygen: {keyFile, recipient};
    // empty when age-keygen is missing.
    Q_INVOKABLE QVariantMap ageKeygen();
    // The names inside a sealed bundle, as Debian's age and GNU tar read it
    // (age -d -i KEY B | tar --zstd -tf -); "" when either refuses.
    Q_INVOKABLE QString listBundleWithAge(const QString& bundle, const QString& keyFile) const;
    // A real custodia-intake server on 127.0.0.1 (plain HTTP, which the
    // protocol allows on loopback only), in this object's directory; returns
    // its URL, "" when it did not start. Stopped with this object.
    Q_INVOKABLE QString startIntakeServer();
    Q_INVOKABLE void stopIntakeServer();
    // A fresh enrolment code from that server's admin command.
    Q_INVOKABLE QString intakeEnrolmentCode();
    // How many bundles the server holds (custodia-intake list --json).
    Q_INVOKABLE int intakeBundleCount();
    // A loopback URL where nothing listens.
    Q_INVOKABLE QString closedLoopbackUrl() const;

    // A Settings value as QSettings holds it (tests redirect QSettings into
    // this object's directory).
    Q_INVOKABLE QVariant setting(const QString& key) const;
    // Every QSettings key that starts with `prefix`.
    Q_INVOKABLE QStringList settingKeys(const QString& prefix) const;

  private:
    QString waitFor(custodia::desktop::VaultModel* vault,
                    std::function<Result<std::string>(core::Vault&)> work);
    bool vaultContains(custodia::desktop::VaultModel* vault, const QByteArray& needle) const;

    std::filesystem::path root_;
    QProcess* intake_ = nullptr;
    QString intake_url_;
    std::filesystem::path intake_dir_;
    std::shared_ptr<desktop::PreviewStore> previews_;
    // Children of this object, so QML's collector leaves them alone.
    std::vector<desktop::VaultModel*> vaults_;
    int counter_ = 0;
};

}  // namespace custodia::testing
