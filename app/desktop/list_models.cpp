#include "list_models.h"

#include <QDateTime>
#include <QLocale>
#include <map>
#include <string>
#include <utility>

namespace custodia::desktop {

// ---- CasesModel --------------------------------------------------------------------------

CasesModel::CasesModel(QObject* parent) : QAbstractListModel(parent) {}

void CasesModel::setVault(VaultModel* vault) {
    if (vault_ == vault) return;
    if (vault_) disconnect(vault_, nullptr, this, nullptr);
    vault_ = vault;
    if (vault_) {
        connect(vault_, &VaultModel::unlocked, this, &CasesModel::reload);
        connect(vault_, &VaultModel::locked, this, [this] {
            ++request_;
            setRows({});
            setLoading(false);
        });
    }
    Q_EMIT vaultChanged();
    reload();
}

int CasesModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : count();
}

QVariant CasesModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= count()) return {};
    const Row& r = rows_[static_cast<std::size_t>(index.row())];
    switch (role) {
        case CaseIdRole:
            return r.id;
        case Qt::DisplayRole:
        case TitleRole:
            return r.title;
        case DescriptionRole:
            return r.description;
        case CreatedRole:
            return r.created;
        default:
            return {};
    }
}

QHash<int, QByteArray> CasesModel::roleNames() const {
    return {{CaseIdRole, "caseId"},
            {TitleRole, "title"},
            {DescriptionRole, "description"},
            {CreatedRole, "created"}};
}

QString CasesModel::titleOf(const QString& case_id) const {
    for (const Row& r : rows_)
        if (r.id == case_id) return r.title;
    return {};
}

void CasesModel::reload() {
    if (!vault_) return;
    const auto request = ++request_;
    const bool queued =
        vault_->submit(this, [this, request](core::Vault& vault, const core::Progress&) {
            auto cases = std::make_shared<Result<std::vector<core::Case>>>(vault.list_cases());
            return [this, request, cases] {
                if (request != request_) return;
                setLoading(false);
                if (!*cases) {
                    setError(describe_error(cases->error()));
                    return;
                }
                setError({});
                std::vector<Row> rows;
                for (const core::Case& c : **cases) {
                    const auto created = QDateTime::fromMSecsSinceEpoch(c.created_unix_ms);
                    rows.push_back({QString::fromStdString(c.id), QString::fromStdString(c.title),
                                    QString::fromStdString(c.description),
                                    QLocale().toString(created, QLocale::ShortFormat)});
                }
                setRows(std::move(rows));
            };
        });
    if (queued) setLoading(true);
}

void CasesModel::createCase(const QString& title, const QString& description) {
    if (!vault_) return;
    const QString clean = title.simplified();
    if (clean.isEmpty()) {
        setError(tr("Give the case a title."));
        return;
    }
    const std::string t = clean.toStdString();
    const std::string d = description.trimmed().toStdString();
    const bool queued =
        vault_->submit(this, [this, t, d](core::Vault& vault, const core::Progress&) {
            auto made = std::make_shared<Result<core::Case>>(vault.create_case(t, d, {}));
            return [this, made] {
                if (!*made) {
                    setError(describe_error(made->error()));
                    return;
                }
                setError({});
                reload();
                Q_EMIT caseCreated(QString::fromStdString((*made)->id));
            };
        });
    if (!queued) setError(tr("The vault is locked."));
}

void CasesModel::setRows(std::vector<Row> rows) {
    beginResetModel();
    rows_ = std::move(rows);
    endResetModel();
    Q_EMIT countChanged();
}

void CasesModel::setLoading(bool loading) {
    if (loading_ == loading) return;
    loading_ = loading;
    Q_EMIT loadingChanged();
}

void CasesModel::setError(const QString& message) {
    if (error_ == message) return;
    error_ = message;
    Q_EMIT errorMessageChanged();
}

// ---- ItemsModel --------------------------------------------------------------------------

ItemsModel::ItemsModel(QObject* parent) : QAbstractListModel(parent) {
    // Searching as the person types, but not at every key stroke.
    search_delay_.setSingleShot(true);
    search_delay_.setInterval(250);
    connect(&search_delay_, &QTimer::timeout, this, &ItemsModel::reload);
}

void ItemsModel::setVault(VaultModel* vault) {
    if (vault_ == vault) return;
    if (vault_) disconnect(vault_, nullptr, this, nullptr);
    vault_ = vault;
    if (vault_) {
        connect(vault_, &VaultModel::unlocked, this, &ItemsModel::reload);
        connect(vault_, &VaultModel::contentChanged, this, &ItemsModel::reload);
        connect(vault_, &VaultModel::locked, this, [this] {
            ++request_;
            beginResetModel();
            rows_.clear();
            more_ = false;
            endResetModel();
            Q_EMIT countChanged();
            setLoading(false);
        });
    }
    Q_EMIT vaultChanged();
    reload();
}

void ItemsModel::setCaseId(const QString& id) {
    if (case_id_ == id) return;
    case_id_ = id;
    Q_EMIT caseIdChanged();
    reload();
}

void ItemsModel::setQuery(const QString& query) {
    if (query_ == query) return;
    query_ = query;
    Q_EMIT queryChanged();
    search_delay_.start();
}

int ItemsModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : count();
}

QVariant ItemsModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= count()) return {};
    const Row& r = rows_[static_cast<std::size_t>(index.row())];
    switch (role) {
        case ItemIdRole:
            return r.id;
        case KindRole:
            return r.kind;
        case Qt::DisplayRole:
        case TitleRole:
            return r.title;
        case CapturedRole:
            return r.captured;
        case WitnessRole:
            return r.witness;
        case ConsentRole:
            return r.consent;
        case SyncStateRole:
            return r.sync_state;
        case ShreddedRole:
            return r.shredded;
        default:
            return {};
    }
}

QHash<int, QByteArray> ItemsModel::roleNames() const {
    return {{ItemIdRole, "itemId"},       {KindRole, "kind"},        {TitleRole, "title"},
            {CapturedRole, "captured"},   {WitnessRole, "witness"},  {ConsentRole, "consent"},
            {SyncStateRole, "syncState"}, {ShreddedRole, "shredded"}};
}

QString ItemsModel::itemIdAt(int row) const {
    if (row < 0 || row >= count()) return {};
    return rows_[static_cast<std::size_t>(row)].id;
}

QString ItemsModel::syncStateAt(int row) const {
    if (row < 0 || row >= count()) return {};
    return rows_[static_cast<std::size_t>(row)].sync_state;
}

bool ItemsModel::canFetchMore(const QModelIndex& parent) const {
    return !parent.isValid() && more_ && !loading_;
}

void ItemsModel::fetchMore(const QModelIndex& parent) {
    if (canFetchMore(parent)) load(true);
}

void ItemsModel::reload() {
    search_delay_.stop();
    load(false);
}

void ItemsModel::load(bool append) {
    if (!vault_ || case_id_.isEmpty()) return;
    const auto request = ++request_;
    const std::string case_id = case_id_.toStdString();
    const std::string query = query_.trimmed().toStdString();
    const std::uint64_t offset = append ? rows_.size() : 0;
    const bool queued = vault_->submit(this, [this, request, case_id, query, offset, append](
                                                 core::Vault& vault, const core::Progress&) {
        auto items = std::make_shared<Result<std::vector<core::Item>>>(
            query.empty() ? vault.list_items(case_id, offset, kPageSize)
                          : vault.search(query, case_id, kSearchLimit));
        // Where each item stands in the outbox: a verified receipt from any
        // server beats a bundle still waiting.
        auto sync_states = std::make_shared<std::map<std::string, core::OutboxState>>();
        if (auto outbox = vault.list_outbox()) {
            for (const auto& entry : *outbox) {
                if (entry.case_id != case_id) continue;
                for (const auto& id : entry.item_ids) {
                    auto [at, inserted] = sync_states->emplace(id, entry.state);
                    if (!inserted && entry.state == core::OutboxState::received)
                        at->second = entry.state;
                }
            }
        }
        return [this, request, items, append, query, sync_states] {
            if (request != request_) return;
            setLoading(false);
            if (!*items) {
                setError(describe_error(items->error()));
                return;
            }
            setError({});
            std::vector<Row> rows;
            for (const core::Item& it : **items) {
                QString sync_state = tr("Not sent");
                if (const auto found = sync_states->find(it.id); found != sync_states->end()) {
                    switch (found->second) {
                        case core::OutboxState::received:
                            sync_state = tr("Received");
                            break;
                        case core::OutboxState::failed:
                            sync_state = tr("Not sent yet");
                            break;
                        default:
                            sync_state = tr("In the outbox");
                            break;
                    }
                }
                rows.push_back(
                    {QString::fromStdString(it.id), kind_label(it.fields.kind),
                     QString::fromStdString(it.fields.title), short_time(it.capture.time),
                     QString::fromStdString(it.fields.witness), consent_label(it.fields.consent),
                     sync_state, it.state == core::ItemState::shredded});
            }
            const bool more = query.empty() && (*items)->size() == kPageSize;
            if (append) {
                if (!rows.empty()) {
                    const int first = count();
                    beginInsertRows({}, first, first + static_cast<int>(rows.size()) - 1);
                    for (auto& r : rows) rows_.push_back(std::move(r));
                    endInsertRows();
                }
            } else {
                beginResetModel();
                rows_ = std::move(rows);
                endResetModel();
            }
            more_ = more;
            Q_EMIT countChanged();
        };
    });
    if (queued) setLoading(true);
}

void ItemsModel::setLoading(bool loading) {
    if (loading_ == loading) return;
    loading_ = loading;
    Q_EMIT loadingChanged();
}

void ItemsModel::setError(const QString& message) {
    if (error_ == message) return;
    error_ = message;
    Q_EMIT errorMessageChanged();
}

}  // namespace custodia::desktop
