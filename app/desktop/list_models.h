// The lists the screens show: the vault's cases, and the items of one case
// (or those matching a search). Both read through VaultModel's worker and
// hold only what a row displays.
#pragma once

#include <QtQml/qqmlregistration.h>

#include <QAbstractListModel>
#include <QPointer>
#include <QString>
#include <QTimer>
#include <vector>

#include "vault_model.h"

namespace custodia::desktop {

class CasesModel : public QAbstractListModel {
    Q_OBJECT
    QML_ELEMENT
    Q_PROPERTY(VaultModel* vault READ vault WRITE setVault NOTIFY vaultChanged)
    Q_PROPERTY(int count READ count NOTIFY countChanged)
    Q_PROPERTY(bool loading READ loading NOTIFY loadingChanged)
    Q_PROPERTY(QString errorMessage READ errorMessage NOTIFY errorMessageChanged)

  public:
    enum Role { CaseIdRole = Qt::UserRole + 1, TitleRole, DescriptionRole, CreatedRole };

    explicit CasesModel(QObject* parent = nullptr);

    VaultModel* vault() const { return vault_; }
    void setVault(VaultModel* vault);
    int count() const { return static_cast<int>(rows_.size()); }
    bool loading() const { return loading_; }
    QString errorMessage() const { return error_; }

    int rowCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QHash<int, QByteArray> roleNames() const override;

    Q_INVOKABLE void reload();
    // Emits caseCreated with the new id, or sets errorMessage.
    Q_INVOKABLE void createCase(const QString& title, const QString& description);
    Q_INVOKABLE QString titleOf(const QString& case_id) const;

  Q_SIGNALS:
    void vaultChanged();
    void countChanged();
    void loadingChanged();
    void errorMessageChanged();
    void caseCreated(const QString& caseId);

  private:
    struct Row {
        QString id, title, description, created;
    };
    void setRows(std::vector<Row> rows);
    void setLoading(bool loading);
    void setError(const QString& message);

    QPointer<VaultModel> vault_;
    std::vector<Row> rows_;
    bool loading_ = false;
    QString error_;
    std::uint64_t request_ = 0;
};

class ItemsModel : public QAbstractListModel {
    Q_OBJECT
    QML_ELEMENT
    Q_PROPERTY(VaultModel* vault READ vault WRITE setVault NOTIFY vaultChanged)
    Q_PROPERTY(QString caseId READ caseId WRITE setCaseId NOTIFY caseIdChanged)
    // Full-text search over titles, descriptions, witnesses and tags; empty
    // lists the case in capture order.
    Q_PROPERTY(QString query READ query WRITE setQuery NOTIFY queryChanged)
    Q_PROPERTY(int count READ count NOTIFY countChanged)
    Q_PROPERTY(bool loading READ loading NOTIFY loadingChanged)
    Q_PROPERTY(QString errorMessage READ errorMessage NOTIFY errorMessageChanged)

  public:
    enum Role {
        ItemIdRole = Qt::UserRole + 1,
        KindRole,
        TitleRole,
        CapturedRole,
        WitnessRole,
        ConsentRole,
        SyncStateRole,
        ShreddedRole,
    };

    // A page of a case is read at a time, as the list scrolls.
    static constexpr int kPageSize = 100;
    static constexpr int kSearchLimit = 500;

    explicit ItemsModel(QObject* parent = nullptr);

    VaultModel* vault() const { return vault_; }
    void setVault(VaultModel* vault);
    QString caseId() const { return case_id_; }
    void setCaseId(const QString& id);
    QString query() const { return query_; }
    void setQuery(const QString& query);
    int count() const { return static_cast<int>(rows_.size()); }
    bool loading() const { return loading_; }
    QString errorMessage() const { return error_; }

    int rowCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QHash<int, QByteArray> roleNames() const override;
    bool canFetchMore(const QModelIndex& parent) const override;
    void fetchMore(const QModelIndex& parent) override;

    Q_INVOKABLE void reload();
    Q_INVOKABLE QString itemIdAt(int row) const;
    Q_INVOKABLE QString syncStateAt(int row) const;

  Q_SIGNALS:
    void vaultChanged();
    void caseIdChanged();
    void queryChanged();
    void countChanged();
    void loadingChanged();
    void errorMessageChanged();

  private:
    struct Row {
        QString id, kind, title, captured, witness, consent, sync_state;
        bool shredded = false;
    };
    void load(bool append);
    void setLoading(bool loading);
    void setError(const QString& message);

    QPointer<VaultModel> vault_;
    QString case_id_;
    QString query_;
    std::vector<Row> rows_;
    bool loading_ = false;
    bool more_ = false;
    QString error_;
    std::uint64_t request_ = 0;
    QTimer search_delay_;
};

}  // namespace custodia::desktop
