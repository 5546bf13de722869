// One item as the item screen shows it: what was captured, its SHA-256, the
// capture signature checked against the device key, the custody timeline,
// and a preview decrypted into memory only (DESIGN.md §3 "Never plaintext on
// disk"). Nothing here writes a file.
#pragma once

#include <QtQml/qqmlregistration.h>

#include <QHash>
#include <QImage>
#include <QObject>
#include <QPointer>
#include <QQuickImageProvider>
#include <QString>
#include <QVariantList>
#include <memory>
#include <mutex>

#include "vault_model.h"

namespace custodia::desktop {

// Decoded previews of the open items, keyed by the id the image provider is
// asked for. Locking the vault clears it and overwrites the pixels it owns.
class PreviewStore {
  public:
    void put(const QString& key, QImage image);
    QImage get(const QString& key) const;
    void remove(const QString& key);
    void clear();

  private:
    mutable std::mutex mutex_;
    QHash<QString, QImage> images_;
};

// image://custodia/<key>: serves what PreviewStore holds, never reads the vault.
class PreviewImageProvider final : public QQuickImageProvider {
  public:
    explicit PreviewImageProvider(std::shared_ptr<PreviewStore> store);
    QImage requestImage(const QString& id, QSize* size, const QSize& requested_size) override;

  private:
    std::shared_ptr<PreviewStore> store_;
};

class ItemModel : public QObject {
    Q_OBJECT
    QML_ELEMENT
    Q_PROPERTY(VaultModel* vault READ vault WRITE setVault NOTIFY vaultChanged)
    Q_PROPERTY(QString itemId READ itemId WRITE setItemId NOTIFY itemIdChanged)
    Q_PROPERTY(bool loading READ loading NOTIFY loadingChanged)
    Q_PROPERTY(bool loaded READ loaded NOTIFY loadedChanged)
    Q_PROPERTY(QString errorMessage READ errorMessage NOTIFY errorMessageChanged)

    Q_PROPERTY(QString title READ title NOTIFY loadedChanged)
    Q_PROPERTY(QString kind READ kind NOTIFY loadedChanged)
    Q_PROPERTY(QString description READ description NOTIFY loadedChanged)
    Q_PROPERTY(QString capturedLocal READ capturedLocal NOTIFY loadedChanged)
    Q_PROPERTY(QString capturedUtc READ capturedUtc NOTIFY loadedChanged)
    Q_PROPERTY(QString clockSource READ clockSource NOTIFY loadedChanged)
    Q_PROPERTY(QString investigator READ investigator NOTIFY loadedChanged)
    Q_PROPERTY(QString witness READ witness NOTIFY loadedChanged)
    Q_PROPERTY(QString consent READ consent NOTIFY loadedChanged)
    Q_PROPERTY(QString location READ location NOTIFY loadedChanged)
    Q_PROPERTY(QString language READ language NOTIFY loadedChanged)
    Q_PROPERTY(QString tags READ tags NOTIFY loadedChanged)
    Q_PROPERTY(QString originalName READ originalName NOTIFY loadedChanged)
    Q_PROPERTY(QString mimeType READ mimeType NOTIFY loadedChanged)
    Q_PROPERTY(QString size READ size NOTIFY loadedChanged)
    Q_PROPERTY(QString sha256 READ sha256 NOTIFY loadedChanged)
    Q_PROPERTY(bool signatureValid READ signatureValid NOTIFY loadedChanged)
    Q_PROPERTY(bool shredded READ shredded NOTIFY loadedChanged)
    Q_PROPERTY(QVariantList timeline READ timeline NOTIFY loadedChanged)

    // "image", "text" or "" (nothing to show in the app, or not loaded yet).
    Q_PROPERTY(QString previewKind READ previewKind NOTIFY previewChanged)
    Q_PROPERTY(bool canPreview READ canPreview NOTIFY loadedChanged)
    Q_PROPERTY(bool previewLoading READ previewLoading NOTIFY previewChanged)
    Q_PROPERTY(QString previewText READ previewText NOTIFY previewChanged)
    Q_PROPERTY(QString previewSource READ previewSource NOTIFY previewChanged)

  public:
    explicit ItemModel(QObject* parent = nullptr);
    ~ItemModel() override;

    VaultModel* vault() const { return vault_; }
    void setVault(VaultModel* vault);
    QString itemId() const { return item_id_; }
    void setItemId(const QString& id);
    bool loading() const { return loading_; }
    bool loaded() const { return loaded_; }
    QString errorMessage() const { return error_; }

    QString title() const { return title_; }
    QString kind() const { return kind_; }
    QString description() const { return description_; }
    QString capturedLocal() const { return captured_local_; }
    QString capturedUtc() const { return captured_utc_; }
    QString clockSource() const { return clock_source_; }
    QString investigator() const { return investigator_; }
    QString witness() const { return witness_; }
    QString consent() const { return consent_; }
    QString location() const { return location_; }
    QString language() const { return language_; }
    QString tags() const { return tags_; }
    QString originalName() const { return original_name_; }
    QString mimeType() const { return mime_type_; }
    QString size() const { return size_; }
    QString sha256() const { return sha256_; }
    bool signatureValid() const { return signature_valid_; }
    bool shredded() const { return shredded_; }
    QVariantList timeline() const { return timeline_; }

    QString previewKind() const { return preview_kind_; }
    bool canPreview() const;
    bool previewLoading() const { return preview_loading_; }
    QString previewText() const { return preview_text_; }
    QString previewSource() const { return preview_source_; }

    Q_INVOKABLE void reload();
    // Decrypts the content into memory and shows it. The vault logs this as
    // an "extracted" custody event, so it happens only when asked for.
    Q_INVOKABLE void loadPreview();
    Q_INVOKABLE void closePreview();

  Q_SIGNALS:
    void vaultChanged();
    void itemIdChanged();
    void loadingChanged();
    void loadedChanged();
    void errorMessageChanged();
    void previewChanged();

  private:
    void clear();
    void setError(const QString& message);

    QPointer<VaultModel> vault_;
    QString item_id_;
    bool loading_ = false;
    bool loaded_ = false;
    QString error_;
    std::uint64_t request_ = 0;

    QString title_, kind_, description_, captured_local_, captured_utc_, clock_source_;
    QString investigator_, witness_, consent_, location_, language_, tags_;
    QString original_name_, mime_type_, size_, sha256_;
    bool signature_valid_ = false;
    bool shredded_ = false;
    QVariantList timeline_;

    QString preview_kind_, preview_text_, preview_source_, preview_key_;
    bool preview_loading_ = false;
    int preview_serial_ = 0;
};

}  // namespace custodia::desktop
