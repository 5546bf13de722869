#include "sync_model.h"

#include <QLocale>
#include <optional>
#include <utility>
#include <vector>

#include "custodia/core/clock.h"
#include "custodia/crypto/random.h"
#include "custodia/sync/enrolment.h"
#include "custodia/sync/outbox.h"

namespace custodia::desktop {
namespace {

QString size_text(std::uint64_t bytes) {
    return QLocale().formattedDataSize(static_cast<qint64>(bytes), 1, QLocale::DataSizeSIFormat);
}

QString state_label(const core::OutboxEntry& e) {
    switch (e.state) {
        case core::OutboxState::queued:
            return OutboxModel::tr("Waiting to be sent");
        case core::OutboxState::sending:
            return OutboxModel::tr("Sending was interrupted; it resumes with the next send");
        case core::OutboxState::received:
            return OutboxModel::tr("Received: the server's signed receipt is verified");
        case core::OutboxState::failed:
            return OutboxModel::tr("Not sent yet (tried %n time(s))", nullptr,
                                   static_cast<int>(e.attempts));
    }
    return {};
}

// What a network failure means for the person holding the phone.
QString describe_sync_error(const Error& error) {
    const QString detail = QString::fromStdString(error.message);
    switch (error.code) {
        case Errc::io:
            return ServersModel::tr("Custodia could not reach the server: %1").arg(detail);
        case Errc::malformed:
            return ServersModel::tr("That did not work: %1").arg(detail);
        case Errc::auth_failed:
            return ServersModel::tr("The server did not prove it is the one in the code: %1")
                .arg(detail);
        default:
            return describe_error(error);
    }
}

}  // namespace

// ---- ServersModel ------------------------------------------------------------------------

ServersModel::ServersModel(QObject* parent) : QObject(parent) {}

void ServersModel::setVault(VaultModel* vault) {
    if (vault_ == vault) return;
    if (vault_) disconnect(vault_, nullptr, this, nullptr);
    vault_ = vault;
    if (vault_) {
        connect(vault_, &VaultModel::unlocked, this, &ServersModel::reload);
        connect(vault_, &VaultModel::locked, this, [this] {
            servers_.clear();
            proxy_.clear();
            require_proxy_ = false;
            setBusy(false);
            Q_EMIT serversChanged();
        });
    }
    Q_EMIT vaultChanged();
    reload();
}

void ServersModel::reload() {
    if (!vault_) return;
    (void)vault_->submit(this, [this](core::Vault& vault, const core::Progress&) {
        auto servers =
            std::make_shared<Result<std::vector<core::SyncServer>>>(vault.list_servers());
        auto settings = std::make_shared<Result<core::SyncSettings>>(vault.sync_settings());
        return [this, servers, settings] {
            if (!*servers) {
                setMessages(describe_error(servers->error()), {});
                return;
            }
            QVariantList rows;
            for (const auto& s : **servers) {
                QVariantMap row;
                row.insert(QStringLiteral("name"), QString::fromStdString(s.name));
                auto pin = sync::ServerPin::from_json(s.pin_json);
                row.insert(QStringLiteral("url"),
                           pin ? QString::fromStdString(pin->url()) : QString());
                rows.append(row);
            }
            servers_ = rows;
            if (*settings) {
                proxy_ = QString::fromStdString((*settings)->proxy);
                require_proxy_ = (*settings)->require_proxy;
            }
            Q_EMIT serversChanged();
        };
    });
}

void ServersModel::enrol(const QString& code, const QString& name) {
    if (busy_ || !vault_) return;
    const QString clean = code.trimmed();
    if (clean.isEmpty()) {
        setMessages(tr("Paste the enrolment code your organisation gave you."), {});
        return;
    }
    // The code holds a one-time token: into locked memory at once.
    auto secret = std::make_shared<crypto::SecretBytes>(to_secret(clean));
    if (!sync::EnrolmentCode::parse(secret->view())) {
        setMessages(tr("That is not a Custodia enrolment code (it starts with "
                       "custodia-enroll:v1:). Check that it was copied whole."),
                    {});
        return;
    }
    sync::EnrolOptions options;
    options.name = name.simplified().toStdString();
    setMessages({}, {});
    setBusy(true);
    const bool queued =
        vault_->submit(this, [this, secret, options](core::Vault& vault, const core::Progress&) {
            std::optional<Error> failure;
            core::SyncServer stored;
            auto transport = sync::transport_for(vault, {});
            if (!transport) {
                failure = transport.error();
            } else {
                auto made = sync::enrol_server(vault, secret->view(), options, *transport,
                                               crypto::system_random(), core::system_clock());
                if (made)
                    stored = std::move(made).value();
                else
                    failure = made.error();
            }
            *secret = crypto::SecretBytes();
            return [this, failure, stored] {
                setBusy(false);
                if (failure) {
                    setMessages(describe_sync_error(*failure), {});
                    return;
                }
                const QString stored_name = QString::fromStdString(stored.name);
                setMessages(
                    {}, tr("Enrolled with %1. Cases can now be queued for it.").arg(stored_name));
                reload();
                Q_EMIT enrolled(stored_name);
            };
        });
    if (!queued) {
        setBusy(false);
        setMessages(tr("The vault is locked."), {});
    }
}

void ServersModel::remove(const QString& name) {
    if (!vault_) return;
    const std::string n = name.toStdString();
    (void)vault_->submit(this, [this, n](core::Vault& vault, const core::Progress&) {
        auto removed = std::make_shared<Status>(vault.remove_server(n));
        return [this, removed] {
            if (!*removed) {
                setMessages(tr("This server still has bundles to receive, so it stays: %1")
                                .arg(QString::fromStdString(removed->error().message)),
                            {});
                return;
            }
            setMessages({}, {});
            reload();
        };
    });
}

void ServersModel::setBusy(bool busy) {
    if (busy_ == busy) return;
    busy_ = busy;
    Q_EMIT busyChanged();
}

void ServersModel::setMessages(const QString& error, const QString& done) {
    if (error_ == error && done_ == done) return;
    error_ = error;
    done_ = done;
    Q_EMIT messageChanged();
}

// ---- OutboxModel -------------------------------------------------------------------------

OutboxModel::OutboxModel(QObject* parent) : QObject(parent) {}

void OutboxModel::setVault(VaultModel* vault) {
    if (vault_ == vault) return;
    if (vault_) disconnect(vault_, nullptr, this, nullptr);
    vault_ = vault;
    if (vault_) {
        connect(vault_, &VaultModel::unlocked, this, &OutboxModel::reload);
        connect(vault_, &VaultModel::contentChanged, this, &OutboxModel::reload);
        connect(vault_, &VaultModel::locked, this, [this] {
            ++request_;
            cancel_.reset();
            entries_.clear();
            waiting_ = 0;
            setBusy(false);
            setProgress(0, {});
            Q_EMIT entriesChanged();
        });
    }
    Q_EMIT vaultChanged();
    reload();
}

void OutboxModel::reload() {
    if (!vault_) return;
    const auto request = ++request_;
    (void)vault_->submit(this, [this, request](core::Vault& vault, const core::Progress&) {
        auto entries =
            std::make_shared<Result<std::vector<core::OutboxEntry>>>(vault.list_outbox());
        auto titles = std::make_shared<std::vector<QString>>();
        if (*entries)
            for (const auto& e : **entries) {
                auto c = vault.get_case(e.case_id);
                titles->push_back(c ? QString::fromStdString(c->title) : QString());
            }
        return [this, request, entries, titles] {
            if (request != request_) return;
            if (!*entries) {
                setMessages(describe_error(entries->error()), {});
                return;
            }
            QVariantList rows;
            int waiting = 0;
            std::size_t i = 0;
            for (const auto& e : **entries) {
                const bool received = e.state == core::OutboxState::received;
                if (!received) ++waiting;
                QVariantMap row;
                row.insert(QStringLiteral("bundleId"), QString::fromStdString(e.bundle_id));
                row.insert(QStringLiteral("server"), QString::fromStdString(e.server));
                row.insert(QStringLiteral("caseTitle"), (*titles)[i++]);
                row.insert(
                    QStringLiteral("state"),
                    QString::fromUtf8(core::to_string(e.state).data(),
                                      static_cast<qsizetype>(core::to_string(e.state).size())));
                row.insert(QStringLiteral("stateLabel"), state_label(e));
                row.insert(QStringLiteral("received"), received);
                row.insert(QStringLiteral("progress"),
                           e.size == 0 ? 0.0
                                       : static_cast<double>(e.bytes_confirmed) /
                                             static_cast<double>(e.size));
                row.insert(QStringLiteral("sizeText"), size_text(e.size));
                row.insert(QStringLiteral("error"), QString::fromStdString(e.last_error));
                row.insert(QStringLiteral("attempts"), static_cast<int>(e.attempts));
                row.insert(QStringLiteral("queued"), short_time(e.queued_at));
                rows.append(row);
            }
            entries_ = rows;
            waiting_ = waiting;
            Q_EMIT entriesChanged();
        };
    });
}

void OutboxModel::cancel() {
    if (cancel_) cancel_->store(true);
}

void OutboxModel::sendNow() {
    if (busy_ || !vault_) return;
    if (waiting_ == 0) {
        setMessages({}, tr("Nothing is waiting to be sent."));
        return;
    }
    setMessages({}, {});
    setBusy(true);
    setProgress(0, tr("Connecting…"));
    cancel_ = std::make_shared<std::atomic<bool>>(false);
    const bool queued = vault_->submit(
        this,
        [this](core::Vault& vault, const core::Progress& progress) -> VaultModel::Continuation {
            auto outcome = std::make_shared<std::optional<Result<sync::PushReport>>>();
            auto transport = sync::transport_for(vault, {});
            if (!transport) {
                outcome->emplace(transport.error());
            } else {
                sync::PushOptions options;
                options.transport = *transport;
                // A person is waiting: a few tries, then a readable reason;
                // the next "Send now" resumes where the server stopped.
                options.retry.max_attempts_without_progress = 3;
                options.retry.max_delay = std::chrono::seconds(5);
                options.progress = [&progress](const sync::PushProgress& p) {
                    progress(p.done, p.total);
                    return !progress.cancelled();
                };
                outcome->emplace(sync::push_outbox(vault, options, crypto::system_random(),
                                                   core::system_clock()));
            }
            return [this, outcome] {
                setBusy(false);
                cancel_.reset();
                setProgress(0, {});
                const auto& result = **outcome;
                if (!result) {
                    setMessages(result.error().code == Errc::cancelled
                                    ? tr("Sending stopped. What the server confirmed is kept; "
                                         "the rest goes with the next send.")
                                    : describe_sync_error(result.error()),
                                {});
                } else {
                    int received = 0, failed = 0;
                    QString first_error;
                    for (const auto& e : result->entries) {
                        if (e.received) {
                            ++received;
                        } else {
                            ++failed;
                            if (first_error.isEmpty())
                                first_error = QString::fromStdString(e.error);
                        }
                    }
                    if (failed > 0)
                        setMessages(tr("%n bundle(s) could not be sent: %1", nullptr, failed)
                                        .arg(first_error),
                                    received > 0 ? tr("%n bundle(s) received.", nullptr, received)
                                                 : QString());
                    else
                        setMessages({}, tr("%n bundle(s) received, each with a verified receipt.",
                                           nullptr, received));
                }
                if (vault_) vault_->notifyContentChanged();
                Q_EMIT pushFinished();
            };
        },
        [this](std::uint64_t done, std::uint64_t total) {
            const double value =
                total == 0 ? 0.0 : static_cast<double>(done) / static_cast<double>(total);
            setProgress(value, tr("Sending… %1 of %2").arg(size_text(done), size_text(total)));
        },
        cancel_);
    if (!queued) {
        setBusy(false);
        setMessages(tr("The vault is locked."), {});
    }
}

void OutboxModel::setBusy(bool busy) {
    if (busy_ == busy) return;
    busy_ = busy;
    Q_EMIT busyChanged();
}

void OutboxModel::setProgress(double value, const QString& text) {
    progress_ = value;
    progress_text_ = text;
    Q_EMIT progressChanged();
}

void OutboxModel::setMessages(const QString& error, const QString& done) {
    if (error_ == error && done_ == done) return;
    error_ = error;
    done_ = done;
    Q_EMIT messageChanged();
}

}  // namespace custodia::desktop
