#include "item_model.h"

#include <QLocale>
#include <QStringList>
#include <algorithm>
#include <cstring>
#include <utility>

#include "custodia/crypto/encoding.h"
#include "custodia/crypto/secret.h"
#include "custodia/crypto/stream_io.h"

namespace custodia::desktop {
namespace {

// Larger content is not previewed: the app would hold all of it in memory.
constexpr std::uint64_t kMaxImagePreview = 64ull << 20;
constexpr std::uint64_t kMaxTextPreview = 1ull << 20;

// Collects decrypted bytes in memory, refusing more than `limit`; the bytes
// are wiped when it goes.
class BoundedMemorySink final : public crypto::ByteSink {
  public:
    explicit BoundedMemorySink(std::uint64_t limit) : limit_(limit) {}
    ~BoundedMemorySink() override { crypto::wipe(bytes_); }
    BoundedMemorySink(const BoundedMemorySink&) = delete;
    BoundedMemorySink& operator=(const BoundedMemorySink&) = delete;

    Status write(std::span<const std::uint8_t> data) override {
        if (bytes_.size() + data.size() > limit_)
            return make_error(Errc::limit, "too large to preview");
        if (bytes_.size() + data.size() > bytes_.capacity()) {
            // Grown by hand: a vector that reallocates frees the old block
            // with the decrypted bytes still in it.
            std::vector<std::uint8_t> larger;
            larger.reserve(std::max(bytes_.size() + data.size(), 2 * bytes_.capacity()));
            larger.assign(bytes_.begin(), bytes_.end());
            crypto::wipe(bytes_);
            bytes_.swap(larger);
        }
        bytes_.insert(bytes_.end(), data.begin(), data.end());
        return {};
    }
    const std::vector<std::uint8_t>& bytes() const { return bytes_; }

  private:
    std::uint64_t limit_;
    std::vector<std::uint8_t> bytes_;
};

// Overwrites the pixels in place, in every QImage that shares them: the copy
// Qt Quick's pixmap holds (QQuickPixmap keeps the image the provider
// returned, sharing its data) is zeroed with ours. bits() would not do: on a
// shared image it detaches and wipes a fresh copy, leaving the decrypted
// pixels in the buffer Qt keeps (tests/security/desktop_memory_gcore.cpp).
// Every image in the store was decoded on the heap by QImage itself, never
// wrapped around read-only memory.
void overwrite_pixels(QImage& image) {
    if (image.isNull()) return;
    std::memset(const_cast<uchar*>(image.constBits()), 0,
                static_cast<std::size_t>(image.sizeInBytes()));
}

// The same for text: fill() would detach first and wipe only its own copy,
// not the buffer the QML Text item still shares. Static (literal) data has
// no heap block and holds nothing secret.
void overwrite_text(QString& text) {
    if (!text.isEmpty() && text.data_ptr()->isMutable())
        std::memset(static_cast<void*>(const_cast<QChar*>(text.constData())), 0,
                    static_cast<std::size_t>(text.size()) * sizeof(QChar));
    text.clear();
}

bool is_text(const QString& mime) {
    return mime.startsWith(QLatin1String("text/"));
}

bool is_image(const QString& mime) {
    return mime.startsWith(QLatin1String("image/"));
}

QString location_text(const std::optional<core::Location>& location) {
    if (!location) return ItemModel::tr("Not recorded");
    QString text = QStringLiteral("%1, %2").arg(QLocale::c().toString(location->lat, 'f', 6),
                                                QLocale::c().toString(location->lon, 'f', 6));
    if (location->accuracy_m)
        text += ItemModel::tr(" (±%1 m)").arg(QLocale().toString(*location->accuracy_m, 'f', 0));
    if (!location->source.empty())
        text += ItemModel::tr(", %1").arg(QString::fromStdString(location->source));
    return text;
}

}  // namespace

// ---- PreviewStore ------------------------------------------------------------------------

void PreviewStore::put(const QString& key, QImage image) {
    std::lock_guard guard(mutex_);
    images_.insert(key, std::move(image));
}

QImage PreviewStore::get(const QString& key) const {
    std::lock_guard guard(mutex_);
    return images_.value(key);
}

void PreviewStore::remove(const QString& key) {
    std::lock_guard guard(mutex_);
    auto it = images_.find(key);
    if (it == images_.end()) return;
    overwrite_pixels(*it);
    images_.erase(it);
}

void PreviewStore::clear() {
    std::lock_guard guard(mutex_);
    for (auto& image : images_) overwrite_pixels(image);
    images_.clear();
}

PreviewImageProvider::PreviewImageProvider(std::shared_ptr<PreviewStore> store)
    : QQuickImageProvider(QQuickImageProvider::Image), store_(std::move(store)) {}

QImage PreviewImageProvider::requestImage(const QString& id, QSize* size,
                                          const QSize& requested_size) {
    QImage image = store_->get(id);
    if (size != nullptr) *size = image.size();
    if (!image.isNull() && requested_size.isValid() && !requested_size.isEmpty())
        image = image.scaled(requested_size, Qt::KeepAspectRatio, Qt::SmoothTransformation);
    return image;
}

// ---- ItemModel ---------------------------------------------------------------------------

ItemModel::ItemModel(QObject* parent) : QObject(parent) {}

ItemModel::~ItemModel() {
    if (!preview_key_.isEmpty() && vault_) vault_->previews()->remove(preview_key_);
    // The page that showed the text may be gone while QML's heap still
    // shares the string until its next collection: wipe it now.
    overwrite_text(preview_text_);
}

void ItemModel::setVault(VaultModel* vault) {
    if (vault_ == vault) return;
    if (vault_) disconnect(vault_, nullptr, this, nullptr);
    vault_ = vault;
    if (vault_) {
        connect(vault_, &VaultModel::locked, this, &ItemModel::clear);
        connect(vault_, &VaultModel::contentChanged, this, &ItemModel::reload);
    }
    Q_EMIT vaultChanged();
    reload();
}

void ItemModel::setItemId(const QString& id) {
    if (item_id_ == id) return;
    item_id_ = id;
    Q_EMIT itemIdChanged();
    closePreview();
    reload();
}

bool ItemModel::canPreview() const {
    if (!loaded_ || shredded_) return false;
    return is_text(mime_type_) || is_image(mime_type_);
}

void ItemModel::setError(const QString& message) {
    if (error_ == message) return;
    error_ = message;
    Q_EMIT errorMessageChanged();
}

void ItemModel::clear() {
    ++request_;
    closePreview();
    if (preview_loading_) {
        preview_loading_ = false;
        Q_EMIT previewChanged();
    }
    const bool was_loaded = loaded_;
    loaded_ = false;
    title_.clear();
    description_.clear();
    witness_.clear();
    tags_.clear();
    timeline_.clear();
    sha256_.clear();
    signature_valid_ = false;
    if (loading_) {
        loading_ = false;
        Q_EMIT loadingChanged();
    }
    if (was_loaded) Q_EMIT loadedChanged();
}

struct LoadedItem {
    core::Item item;
    bool signature_valid = false;
    std::vector<core::CustodyEntry> log;
};

void ItemModel::reload() {
    if (!vault_ || item_id_.isEmpty()) return;
    const auto request = ++request_;
    const std::string id = item_id_.toStdString();
    const bool queued =
        vault_->submit(this, [this, id, request](core::Vault& vault, const core::Progress&) {
            auto item = vault.get_item(id);
            auto result = std::make_shared<Result<LoadedItem>>(Error{Errc::internal, {}});
            if (!item) {
                *result = std::move(item).error();
            } else {
                auto log = vault.custody_log(id);
                if (!log) {
                    *result = std::move(log).error();
                } else {
                    const bool valid = vault.capture_signature_valid(*item);
                    *result = LoadedItem{std::move(item).value(), valid, std::move(log).value()};
                }
            }
            return [this, request, result] {
                if (request != request_) return;
                loading_ = false;
                Q_EMIT loadingChanged();
                if (!*result) {
                    setError(describe_error(result->error()));
                    return;
                }
                setError({});
                const core::Item& it = (*result)->item;
                const core::ItemFields& f = it.fields;
                title_ = QString::fromStdString(f.title);
                kind_ = kind_label(f.kind);
                description_ = QString::fromStdString(f.description);
                captured_local_ = QString::fromStdString(core::format_local(it.capture.time));
                captured_utc_ = QString::fromStdString(core::format_utc(it.capture.time.unix_ms));
                clock_source_ = QString::fromStdString(it.capture.clock_source);
                investigator_ = QString::fromStdString(it.capture.investigator);
                witness_ = QString::fromStdString(f.witness);
                consent_ = consent_label(f.consent);
                location_ = location_text(it.capture.location);
                language_ = QString::fromStdString(f.language);
                QStringList tags;
                for (const auto& t : f.tags) tags << QString::fromStdString(t);
                tags_ = tags.join(QStringLiteral(", "));
                if (it.attachment) {
                    original_name_ = QString::fromStdString(it.attachment->original_name);
                    mime_type_ = QString::fromStdString(it.attachment->mime_type);
                    size_ = QLocale().formattedDataSize(static_cast<qint64>(it.attachment->size), 1,
                                                        QLocale::DataSizeSIFormat);
                    sha256_ = QString::fromStdString(crypto::to_hex(it.attachment->sha256));
                } else {
                    original_name_.clear();
                    mime_type_.clear();
                    size_.clear();
                    sha256_.clear();
                }
                signature_valid_ = (*result)->signature_valid;
                shredded_ = it.state == core::ItemState::shredded;
                timeline_.clear();
                for (const auto& entry : (*result)->log) {
                    QVariantMap row;
                    row.insert(QStringLiteral("event"), event_label(entry.event));
                    row.insert(QStringLiteral("time"),
                               QString::fromStdString(core::format_local(entry.time)));
                    row.insert(QStringLiteral("index"),
                               QVariant::fromValue(static_cast<qulonglong>(entry.index)));
                    timeline_.append(row);
                }
                loaded_ = true;
                Q_EMIT loadedChanged();
            };
        });
    if (queued && !loading_) {
        loading_ = true;
        Q_EMIT loadingChanged();
    }
}

struct DecodedPreview {
    QString kind;
    QString text;
    QImage image;
};

void ItemModel::loadPreview() {
    if (!vault_ || !canPreview() || preview_loading_) return;
    const std::string id = item_id_.toStdString();
    const bool text = is_text(mime_type_);
    const auto request = request_;
    const bool queued = vault_->submit(
        this, [this, id, text, request](core::Vault& vault, const core::Progress& progress) {
            BoundedMemorySink sink(text ? kMaxTextPreview : kMaxImagePreview);
            auto result = std::make_shared<Result<DecodedPreview>>(Error{Errc::internal, {}});
            if (Status s = vault.extract(id, sink, progress); !s) {
                *result = std::move(s).error();
            } else if (text) {
                const auto& b = sink.bytes();
                *result = DecodedPreview{QStringLiteral("text"),
                                         QString::fromUtf8(reinterpret_cast<const char*>(b.data()),
                                                           static_cast<qsizetype>(b.size())),
                                         {}};
            } else {
                // Decoded straight from memory: no thumbnail, no cache file.
                QImage image =
                    QImage::fromData(sink.bytes().data(), static_cast<int>(sink.bytes().size()));
                if (image.isNull())
                    *result = make_error(Errc::unsupported, "this image format cannot be shown");
                else
                    *result = DecodedPreview{QStringLiteral("image"), {}, std::move(image)};
            }
            return [this, request, result] {
                preview_loading_ = false;
                if (request != request_) {
                    Q_EMIT previewChanged();
                    return;
                }
                if (!*result) {
                    setError(describe_error(result->error()));
                    Q_EMIT previewChanged();
                    return;
                }
                preview_kind_ = (*result)->kind;
                preview_text_ = (*result)->text;
                if (preview_kind_ == QLatin1String("image")) {
                    if (!preview_key_.isEmpty()) vault_->previews()->remove(preview_key_);
                    preview_key_ = QStringLiteral("%1-%2").arg(item_id_).arg(++preview_serial_);
                    vault_->previews()->put(preview_key_, std::move((*result)->image));
                    preview_source_ = QStringLiteral("image://custodia/") + preview_key_;
                }
                // A preview is a custody event: the timeline shows it.
                reload();
                Q_EMIT previewChanged();
            };
        });
    if (queued) {
        preview_loading_ = true;
        Q_EMIT previewChanged();
    }
}

void ItemModel::closePreview() {
    if (!preview_key_.isEmpty() && vault_) vault_->previews()->remove(preview_key_);
    preview_key_.clear();
    if (preview_kind_.isEmpty() && preview_text_.isEmpty() && preview_source_.isEmpty()) return;
    preview_kind_.clear();
    overwrite_text(preview_text_);
    preview_source_.clear();
    Q_EMIT previewChanged();
}

}  // namespace custodia::desktop
