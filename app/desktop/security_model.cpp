#include "security_model.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <utility>

#include "custodia/core/vault_header.h"
#include "custodia/crypto/secret.h"
#include "send_model.h"

namespace custodia::desktop {
namespace {

QString reauth_error(const Error& error) {
    if (error.code == Errc::wrong_passphrase)
        return SecuritySettingsModel::tr(
            "That is not your current passphrase. Nothing was changed.");
    if (error.code == Errc::limit)
        return SecuritySettingsModel::tr(
            "Too many wrong passphrases: wait a little, then try again. Nothing was changed.");
    return describe_error(error);
}

// The check a setting without a core call of its own goes through: the
// rate-limited unlock of the vault's header (counted durably before the key
// is derived, like at the lock screen). Only the master-key slot counts; a
// duress passphrase typed here is not the passphrase and erases nothing.
Status check_passphrase(core::Vault& vault, const crypto::SecretBytes& passphrase) {
    auto unlocked =
        core::unlock_vault(vault.dir(), passphrase.span(), std::chrono::system_clock::now());
    if (!unlocked) return std::move(unlocked).error();
    if (unlocked->by != core::UnlockedBy::passphrase)
        return make_error(Errc::wrong_passphrase, "not the passphrase");
    return {};
}

}  // namespace

SecuritySettingsModel::SecuritySettingsModel(QObject* parent) : QObject(parent) {
    wipe_tick_.setInterval(1000);
    connect(&wipe_tick_, &QTimer::timeout, this, &SecuritySettingsModel::tick);
}

void SecuritySettingsModel::setVault(VaultModel* vault) {
    if (vault_ == vault) return;
    if (vault_) disconnect(vault_, nullptr, this, nullptr);
    vault_ = vault;
    if (vault_) {
        // A lock stops a pending wipe: it was armed by the person who unlocked.
        connect(vault_, &VaultModel::locked, this, [this] {
            cancelPanicWipe();
            setBusy(false);
        });
    }
    Q_EMIT vaultChanged();
}

void SecuritySettingsModel::run(const QString& current, Change change, const QString& what,
                                const QString& success, std::function<void()> then) {
    if (busy_ || !vault_) return;
    if (current.isEmpty()) {
        setMessages(tr("Type your current passphrase to confirm this change."), {});
        return;
    }
    auto secret = std::make_shared<crypto::SecretBytes>(to_secret(current));
    setMessages({}, {});
    setBusy(true);
    const bool queued = vault_->submit(
        this,
        [this, secret, change = std::move(change), what, success, then = std::move(then)](
            core::Vault& vault, const core::Progress&) -> VaultModel::Continuation {
            auto outcome = std::make_shared<Status>(change(vault, *secret));
            *secret = crypto::SecretBytes();
            return [this, outcome, what, success, then] {
                setBusy(false);
                if (!*outcome) {
                    setMessages(reauth_error(outcome->error()), {});
                    return;
                }
                setMessages({}, success);
                if (then) then();
                Q_EMIT changed(what);
            };
        });
    if (!queued) {
        setBusy(false);
        setMessages(tr("The vault is locked."), {});
    }
}

QString SecuritySettingsModel::checkNew(const QString& next, const QString& confirmation) {
    if (next != confirmation) return tr("The two new passphrases are not the same.");
    if (next.size() < VaultModel::minimumPassphraseLength())
        return tr("Use at least %n characters.", nullptr, VaultModel::minimumPassphraseLength());
    return {};
}

void SecuritySettingsModel::changePassphrase(const QString& current, const QString& next,
                                             const QString& confirmation) {
    if (busy_) return;
    if (const QString problem = checkNew(next, confirmation); !problem.isEmpty()) {
        setMessages(problem, {});
        return;
    }
    if (next == current) {
        setMessages(tr("The new passphrase is the same as the current one."), {});
        return;
    }
    auto fresh = std::make_shared<crypto::SecretBytes>(to_secret(next));
    run(current,
        [fresh](core::Vault& vault, const crypto::SecretBytes& old) {
            Status changed = vault.change_passphrase(old, *fresh);
            *fresh = crypto::SecretBytes();
            return changed;
        },
        QStringLiteral("passphrase"),
        tr("Passphrase changed. Use the new one from now on; the recovery key still works."), {});
}

void SecuritySettingsModel::setDuressPassphrase(const QString& current, const QString& duress,
                                                const QString& confirmation) {
    if (busy_) return;
    if (const QString problem = checkNew(duress, confirmation); !problem.isEmpty()) {
        setMessages(problem, {});
        return;
    }
    if (duress == current) {
        setMessages(tr("The duress passphrase must be different from your passphrase."), {});
        return;
    }
    auto secret = std::make_shared<crypto::SecretBytes>(to_secret(duress));
    run(current,
        [secret](core::Vault& vault, const crypto::SecretBytes& passphrase) {
            Status set = vault.set_duress_passphrase(passphrase, *secret);
            *secret = crypto::SecretBytes();
            return set;
        },
        QStringLiteral("duress"), tr("Duress passphrase set."), {});
}

void SecuritySettingsModel::changeAutoLock(const QString& current, int minutes) {
    if (busy_ || !vault_) return;
    minutes = std::clamp(minutes, 1, 120);
    run(current, check_passphrase, QStringLiteral("autoLock"),
        tr("The vault now locks after %n minute(s) without use.", nullptr, minutes),
        [this, minutes] {
            if (vault_) vault_->setAutoLockMinutes(minutes);
        });
}

void SecuritySettingsModel::changeSyncSettings(const QString& current, const QString& proxy,
                                               bool requireProxy) {
    if (busy_ || !vault_) return;
    const QString clean = proxy.trimmed();
    if (!clean.isEmpty() && !clean.startsWith(QLatin1String("socks5h://"))) {
        setMessages(tr("The proxy must look like socks5h://127.0.0.1:9050 (socks5h, so that "
                       "server names are looked up through Tor too)."),
                    {});
        return;
    }
    if (requireProxy && clean.isEmpty()) {
        setMessages(tr("Type the Tor proxy address before requiring it."), {});
        return;
    }
    core::SyncSettings settings;
    settings.proxy = clean.toStdString();
    settings.require_proxy = requireProxy;
    run(current,
        [settings](core::Vault& vault, const crypto::SecretBytes& passphrase) {
            if (auto s = check_passphrase(vault, passphrase); !s) return s;
            return vault.set_sync_settings(settings);
        },
        QStringLiteral("sync"),
        requireProxy ? tr("Saved. Custodia now sends nothing unless it goes through Tor.")
                     : tr("Saved."),
        {});
}

void SecuritySettingsModel::armPanicWipe(const QString& current) {
    if (busy_ || wipe_seconds_ > 0) return;
    run(current, check_passphrase, QStringLiteral("wipeArmed"), {}, [this] {
        wipe_seconds_ = kWipeCountdownSeconds;
        Q_EMIT wipeSecondsLeftChanged();
        wipe_tick_.start();
    });
}

void SecuritySettingsModel::cancelPanicWipe() {
    if (wipe_seconds_ == 0) return;
    wipe_tick_.stop();
    wipe_seconds_ = 0;
    Q_EMIT wipeSecondsLeftChanged();
    setMessages({}, tr("Panic wipe cancelled. Nothing was erased."));
}

void SecuritySettingsModel::tick() {
    wipe_seconds_ = std::max(0, wipe_seconds_ - 1);
    Q_EMIT wipeSecondsLeftChanged();
    if (wipe_seconds_ > 0) return;
    wipe_tick_.stop();
    if (vault_) {
        // Whom the investigator sends to goes with the vault.
        RecipientsModel::forgetAll();
        Q_EMIT changed(QStringLiteral("wipe"));
        vault_->wipeVault();
    }
}

void SecuritySettingsModel::clearMessages() {
    setMessages({}, {});
}

void SecuritySettingsModel::setBusy(bool busy) {
    if (busy_ == busy) return;
    busy_ = busy;
    Q_EMIT busyChanged();
}

void SecuritySettingsModel::setMessages(const QString& error, const QString& done) {
    if (error_ == error && done_ == done) return;
    error_ = error;
    done_ = done;
    Q_EMIT messageChanged();
}

}  // namespace custodia::desktop
