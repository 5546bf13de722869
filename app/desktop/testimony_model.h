// The new-testimony screen: what the investigator states about a witness's
// account, the account itself as text, imported files and audio recorded in
// the app. Saving hashes, signs and encrypts each part into the vault on the
// worker thread, with progress and a way to cancel.
#pragma once

#include <QtQml/qqmlregistration.h>

#include <QAudioFormat>
#include <QObject>
#include <QPointer>
#include <QString>
#include <QStringList>
#include <QUrl>
#include <QVariantList>
#include <atomic>
#include <memory>
#include <vector>

#include "vault_model.h"

class QAudioSource;
class QIODevice;
class QMediaDevices;

namespace custodia::desktop {

// Records from the default microphone into memory. Qt 6.4's QMediaRecorder
// can only write to a file, which would put the witness's voice on disk in
// plaintext before it reached the vault; QAudioSource hands over raw PCM
// instead, which is kept in memory and ingested as a WAV file.
class AudioRecorder : public QObject {
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("Each NewTestimonyModel has its recorder.")
    Q_PROPERTY(bool available READ available NOTIFY availableChanged)
    Q_PROPERTY(QString deviceName READ deviceName NOTIFY availableChanged)
    Q_PROPERTY(bool recording READ recording NOTIFY recordingChanged)
    Q_PROPERTY(double level READ level NOTIFY levelChanged)
    Q_PROPERTY(int seconds READ seconds NOTIFY secondsChanged)
    Q_PROPERTY(int takes READ takes NOTIFY takesChanged)
    Q_PROPERTY(QString errorMessage READ errorMessage NOTIFY errorMessageChanged)

  public:
    // A take stops by itself here: about 45 minutes of 48 kHz mono audio.
    static constexpr std::size_t kMaxTakeBytes = 256u << 20;

    explicit AudioRecorder(QObject* parent = nullptr);
    ~AudioRecorder() override;

    bool available() const;
    QString deviceName() const;
    bool recording() const { return source_ != nullptr; }
    double level() const { return level_; }
    int seconds() const { return seconds_; }
    int takes() const { return static_cast<int>(takes_.size()); }
    QString errorMessage() const { return error_; }

    Q_INVOKABLE void start();
    Q_INVOKABLE void stop();
    Q_INVOKABLE void discardTakes();

    // The finished takes as WAV files; the recorder forgets them.
    std::vector<std::vector<std::uint8_t>> takeRecordings();
    // Takes a failed save did not store come back, in order.
    void returnRecordings(std::vector<std::vector<std::uint8_t>> takes);

  Q_SIGNALS:
    void availableChanged();
    void recordingChanged();
    void levelChanged();
    void secondsChanged();
    void takesChanged();
    void errorMessageChanged();

  private:
    void readAvailable();
    void setError(const QString& message);

    QMediaDevices* devices_ = nullptr;
    QAudioSource* source_ = nullptr;
    QIODevice* input_ = nullptr;
    QAudioFormat format_;
    std::vector<std::uint8_t> pcm_;
    std::vector<std::vector<std::uint8_t>> takes_;
    double level_ = 0;
    int seconds_ = 0;
    QString error_;
};

class NewTestimonyModel : public QObject {
    Q_OBJECT
    QML_ELEMENT
    Q_PROPERTY(VaultModel* vault READ vault WRITE setVault NOTIFY vaultChanged)
    Q_PROPERTY(QString caseId MEMBER case_id_ NOTIFY fieldsChanged)
    Q_PROPERTY(QString title MEMBER title_ NOTIFY fieldsChanged)
    Q_PROPERTY(QString witness MEMBER witness_ NOTIFY fieldsChanged)
    // An index into consentTypes: written, oral (recorded), none.
    Q_PROPERTY(int consentType MEMBER consent_type_ NOTIFY fieldsChanged)
    Q_PROPERTY(QStringList consentTypes READ consentTypes CONSTANT)
    Q_PROPERTY(bool shareWithCourts MEMBER share_courts_ NOTIFY fieldsChanged)
    Q_PROPERTY(bool shareWithPublic MEMBER share_public_ NOTIFY fieldsChanged)
    // Comma-separated organisation names the witness agreed may receive it.
    Q_PROPERTY(QString shareWithOrganisations MEMBER share_orgs_ NOTIFY fieldsChanged)
    Q_PROPERTY(bool locationKnown MEMBER location_known_ NOTIFY fieldsChanged)
    Q_PROPERTY(QString latitude MEMBER latitude_ NOTIFY fieldsChanged)
    Q_PROPERTY(QString longitude MEMBER longitude_ NOTIFY fieldsChanged)
    Q_PROPERTY(QString accuracy MEMBER accuracy_ NOTIFY fieldsChanged)
    Q_PROPERTY(QString language MEMBER language_ NOTIFY fieldsChanged)
    Q_PROPERTY(QString tags MEMBER tags_ NOTIFY fieldsChanged)
    Q_PROPERTY(QString statement MEMBER statement_ NOTIFY fieldsChanged)
    // [{name, size}] of the files to import.
    Q_PROPERTY(QVariantList files READ files NOTIFY filesChanged)
    Q_PROPERTY(AudioRecorder* recorder READ recorder CONSTANT)

    Q_PROPERTY(bool busy READ busy NOTIFY busyChanged)
    Q_PROPERTY(double progress READ progress NOTIFY progressChanged)
    Q_PROPERTY(QString progressText READ progressText NOTIFY progressChanged)
    Q_PROPERTY(QString errorMessage READ errorMessage NOTIFY errorMessageChanged)

  public:
    explicit NewTestimonyModel(QObject* parent = nullptr);

    VaultModel* vault() const { return vault_; }
    void setVault(VaultModel* vault);
    QStringList consentTypes() const;
    QVariantList files() const;
    AudioRecorder* recorder() const { return recorder_; }
    bool busy() const { return busy_; }
    double progress() const { return progress_; }
    QString progressText() const { return progress_text_; }
    QString errorMessage() const { return error_; }

    // Accepts a file:// URL (from a file dialog) or a local path.
    Q_INVOKABLE bool addFile(const QVariant& file);
    Q_INVOKABLE void removeFile(int index);
    Q_INVOKABLE void save();
    Q_INVOKABLE void cancel();
    Q_INVOKABLE void reset();

  Q_SIGNALS:
    void vaultChanged();
    void fieldsChanged();
    void filesChanged();
    void busyChanged();
    void progressChanged();
    void errorMessageChanged();
    // Everything asked for is in the vault; `firstItemId` is the first saved.
    void saved(int count, const QString& firstItemId);

  private:
    struct File {
        QString path;
        QString name;
        qint64 size = 0;
    };
    void setBusy(bool busy);
    void setProgress(double value, const QString& text);
    void setError(const QString& message);

    QPointer<VaultModel> vault_;
    QString case_id_, title_, witness_;
    int consent_type_ = 0;
    bool share_courts_ = false;
    bool share_public_ = false;
    QString share_orgs_;
    bool location_known_ = false;
    QString latitude_, longitude_, accuracy_;
    QString language_, tags_, statement_;
    std::vector<File> files_;
    AudioRecorder* recorder_;

    bool busy_ = false;
    double progress_ = 0;
    QString progress_text_;
    QString error_;
    std::shared_ptr<std::atomic<bool>> cancel_;
};

}  // namespace custodia::desktop
