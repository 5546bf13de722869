#include "testimony_model.h"

#include <fcntl.h>
#include <unistd.h>

#include <QAudioDevice>
#include <QAudioSource>
#include <QFile>
#include <QFileInfo>
#include <QIODevice>
#include <QLocale>
#include <QMediaDevices>
#include <QMimeDatabase>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>
#include <utility>

#include "custodia/crypto/secret.h"
#include "custodia/crypto/stream_io.h"

namespace custodia::desktop {
namespace {

void put_le(std::vector<std::uint8_t>& out, std::uint32_t value, int bytes) {
    for (int i = 0; i < bytes; ++i) out.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
}

// A canonical RIFF/WAVE header for `data_size` bytes of interleaved PCM
// (format 1) or IEEE float (format 3) samples.
std::vector<std::uint8_t> wav_header(const QAudioFormat& format, std::uint32_t data_size) {
    const auto bytes_per_sample = static_cast<std::uint32_t>(format.bytesPerSample());
    const auto channels = static_cast<std::uint32_t>(format.channelCount());
    const auto rate = static_cast<std::uint32_t>(format.sampleRate());
    const bool is_float = format.sampleFormat() == QAudioFormat::Float;
    std::vector<std::uint8_t> h;
    h.reserve(44);
    const auto tag = [&](const char* four) { h.insert(h.end(), four, four + 4); };
    tag("RIFF");
    put_le(h, 36 + data_size, 4);
    tag("WAVE");
    tag("fmt ");
    put_le(h, 16, 4);
    put_le(h, is_float ? 3 : 1, 2);
    put_le(h, channels, 2);
    put_le(h, rate, 4);
    put_le(h, rate * channels * bytes_per_sample, 4);
    put_le(h, channels * bytes_per_sample, 2);
    put_le(h, bytes_per_sample * 8, 2);
    tag("data");
    put_le(h, data_size, 4);
    return h;
}

core::ItemKind kind_for_mime(const QString& mime) {
    if (mime.startsWith(QLatin1String("image/"))) return core::ItemKind::photo;
    if (mime.startsWith(QLatin1String("audio/"))) return core::ItemKind::audio;
    if (mime.startsWith(QLatin1String("video/"))) return core::ItemKind::video;
    return core::ItemKind::document;
}

std::vector<std::string> split_list(const QString& text) {
    std::vector<std::string> out;
    for (const QString& part : text.split(QLatin1Char(','), Qt::SkipEmptyParts)) {
        const QString clean = part.simplified();
        if (!clean.isEmpty()) out.push_back(clean.toStdString());
    }
    return out;
}

std::optional<double> parse_number(const QString& text) {
    bool ok = false;
    const QString t = text.trimmed();
    double v = QLocale::c().toDouble(t, &ok);
    if (!ok) v = QLocale().toDouble(t, &ok);
    if (!ok || !std::isfinite(v)) return std::nullopt;
    return v;
}

}  // namespace

// ---- AudioRecorder -----------------------------------------------------------------------

AudioRecorder::AudioRecorder(QObject* parent) : QObject(parent), devices_(new QMediaDevices(this)) {
    connect(devices_, &QMediaDevices::audioInputsChanged, this, &AudioRecorder::availableChanged);
}

AudioRecorder::~AudioRecorder() {
    if (source_ != nullptr) source_->stop();
    crypto::wipe(pcm_);
    discardTakes();
}

bool AudioRecorder::available() const {
    return !QMediaDevices::defaultAudioInput().isNull();
}

QString AudioRecorder::deviceName() const {
    return QMediaDevices::defaultAudioInput().description();
}

void AudioRecorder::start() {
    if (source_ != nullptr) return;
    const QAudioDevice device = QMediaDevices::defaultAudioInput();
    if (device.isNull()) {
        setError(tr("No microphone was found on this device."));
        return;
    }
    // Mono 16-bit speech is plenty for testimony; fall back to what the
    // device prefers when it cannot do that.
    QAudioFormat format;
    format.setSampleRate(48000);
    format.setChannelCount(1);
    format.setSampleFormat(QAudioFormat::Int16);
    if (!device.isFormatSupported(format)) format = device.preferredFormat();
    format_ = format;
    setError({});
    crypto::wipe(pcm_);
    pcm_.clear();
    pcm_.reserve(std::min<std::size_t>(kMaxTakeBytes, 16u << 20));
    source_ = new QAudioSource(device, format_, this);
    input_ = source_->start();
    if (input_ == nullptr) {
        delete source_;
        source_ = nullptr;
        setError(tr("The microphone could not be opened."));
        return;
    }
    connect(input_, &QIODevice::readyRead, this, &AudioRecorder::readAvailable);
    seconds_ = 0;
    Q_EMIT secondsChanged();
    Q_EMIT recordingChanged();
}

void AudioRecorder::readAvailable() {
    if (input_ == nullptr) return;
    const QByteArray chunk = input_->readAll();
    if (chunk.isEmpty()) return;
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(chunk.constData());
    if (pcm_.size() + static_cast<std::size_t>(chunk.size()) > pcm_.capacity()) {
        // Grow by hand so the old buffer is wiped, not merely freed.
        std::vector<std::uint8_t> bigger;
        bigger.reserve(
            std::max(pcm_.capacity() * 2, pcm_.size() + static_cast<std::size_t>(chunk.size())));
        bigger.insert(bigger.end(), pcm_.begin(), pcm_.end());
        crypto::wipe(pcm_);
        pcm_.swap(bigger);
    }
    pcm_.insert(pcm_.end(), bytes, bytes + chunk.size());

    double peak = 0;
    if (format_.sampleFormat() == QAudioFormat::Int16) {
        for (qsizetype i = 0; i + 1 < chunk.size(); i += 2) {
            std::int16_t s = 0;
            std::memcpy(&s, chunk.constData() + i, 2);
            peak = std::max(peak, std::abs(static_cast<double>(s)) / 32768.0);
        }
    } else if (format_.sampleFormat() == QAudioFormat::Float) {
        for (qsizetype i = 0; i + 3 < chunk.size(); i += 4) {
            float s = 0;
            std::memcpy(&s, chunk.constData() + i, 4);
            peak = std::max(peak, static_cast<double>(std::fabs(s)));
        }
    }
    level_ = std::min(peak, 1.0);
    Q_EMIT levelChanged();
    const int seconds = static_cast<int>(format_.durationForBytes(static_cast<qint32>(
                                             std::min<std::size_t>(pcm_.size(), INT32_MAX))) /
                                         1000000);
    if (seconds != seconds_) {
        seconds_ = seconds;
        Q_EMIT secondsChanged();
    }
    if (pcm_.size() >= kMaxTakeBytes) {
        stop();
        setError(tr("The recording reached its maximum length and was stopped."));
    }
}

void AudioRecorder::stop() {
    if (source_ == nullptr) return;
    readAvailable();
    source_->stop();
    source_->deleteLater();
    source_ = nullptr;
    input_ = nullptr;
    if (!pcm_.empty()) {
        std::vector<std::uint8_t> wav =
            wav_header(format_, static_cast<std::uint32_t>(pcm_.size()));
        wav.reserve(wav.size() + pcm_.size());
        wav.insert(wav.end(), pcm_.begin(), pcm_.end());
        takes_.push_back(std::move(wav));
        Q_EMIT takesChanged();
    }
    crypto::wipe(pcm_);
    pcm_.clear();
    level_ = 0;
    Q_EMIT levelChanged();
    Q_EMIT recordingChanged();
}

void AudioRecorder::discardTakes() {
    for (auto& take : takes_) crypto::wipe(take);
    const bool had = !takes_.empty();
    takes_.clear();
    if (had) Q_EMIT takesChanged();
}

std::vector<std::vector<std::uint8_t>> AudioRecorder::takeRecordings() {
    auto out = std::move(takes_);
    takes_.clear();
    Q_EMIT takesChanged();
    return out;
}

void AudioRecorder::returnRecordings(std::vector<std::vector<std::uint8_t>> takes) {
    if (takes.empty()) return;
    for (auto& take : takes) takes_.push_back(std::move(take));
    Q_EMIT takesChanged();
}

void AudioRecorder::setError(const QString& message) {
    if (error_ == message) return;
    error_ = message;
    Q_EMIT errorMessageChanged();
}

// ---- NewTestimonyModel -------------------------------------------------------------------

NewTestimonyModel::NewTestimonyModel(QObject* parent)
    : QObject(parent), recorder_(new AudioRecorder(this)) {
    // The device's language as a starting guess; the "C" locale says nothing.
    const QString language = QLocale().name().section(QLatin1Char('_'), 0, 0);
    if (language != QLatin1String("C")) language_ = language;
}

void NewTestimonyModel::setVault(VaultModel* vault) {
    if (vault_ == vault) return;
    if (vault_) disconnect(vault_, nullptr, this, nullptr);
    vault_ = vault;
    // A lock takes the unsaved account away with the keys.
    if (vault_) connect(vault_, &VaultModel::locked, this, &NewTestimonyModel::reset);
    Q_EMIT vaultChanged();
}

QStringList NewTestimonyModel::consentTypes() const {
    return {tr("Written consent"), tr("Oral consent, recorded"), tr("No documented consent")};
}

QVariantList NewTestimonyModel::files() const {
    QVariantList out;
    for (const File& f : files_) {
        QVariantMap row;
        row.insert(QStringLiteral("name"), f.name);
        row.insert(QStringLiteral("size"),
                   QLocale().formattedDataSize(f.size, 1, QLocale::DataSizeSIFormat));
        out.append(row);
    }
    return out;
}

bool NewTestimonyModel::addFile(const QVariant& file) {
    QString path;
    if (file.userType() == QMetaType::QUrl)
        path = file.toUrl().toLocalFile();
    else if (const QString text = file.toString(); text.startsWith(QLatin1String("file:")))
        path = QUrl(text).toLocalFile();
    else
        path = text;
    const QFileInfo info(path);
    if (path.isEmpty() || !info.isFile() || !info.isReadable()) {
        setError(tr("That file cannot be read."));
        return false;
    }
    for (const File& f : files_)
        if (f.path == info.absoluteFilePath()) return true;
    files_.push_back({info.absoluteFilePath(), info.fileName(), info.size()});
    setError({});
    Q_EMIT filesChanged();
    return true;
}

void NewTestimonyModel::removeFile(int index) {
    if (index < 0 || index >= static_cast<int>(files_.size())) return;
    files_.erase(files_.begin() + index);
    Q_EMIT filesChanged();
}

void NewTestimonyModel::reset() {
    // After a lock the save's continuation never runs: the form is free again.
    cancel();
    cancel_.reset();
    setBusy(false);
    title_.clear();
    witness_.clear();
    consent_type_ = 0;
    share_courts_ = share_public_ = false;
    share_orgs_.clear();
    location_known_ = false;
    latitude_.clear();
    longitude_.clear();
    accuracy_.clear();
    tags_.clear();
    // The language usually stays the same from one account to the next.
    if (!statement_.isEmpty()) statement_.fill(QLatin1Char(' '));
    statement_.clear();
    files_.clear();
    recorder_->stop();
    recorder_->discardTakes();
    setError({});
    setProgress(0, {});
    Q_EMIT fieldsChanged();
    Q_EMIT filesChanged();
}

void NewTestimonyModel::cancel() {
    if (cancel_) cancel_->store(true);
}

namespace {

struct SavePart {
    enum class Source { statement, file, recording } source;
    std::string name;
    std::string mime;
    core::ItemKind kind;
    std::string title;
    std::string path;                 // file
    std::vector<std::uint8_t> bytes;  // recording (WAV in memory)
    std::uint64_t size = 0;
};

struct SaveOutcome {
    int saved = 0;
    std::optional<Error> error;
    QString first_id;
};

}  // namespace

void NewTestimonyModel::save() {
    if (busy_ || !vault_) return;
    if (recorder_->recording()) recorder_->stop();
    if (case_id_.isEmpty()) {
        setError(tr("Choose a case first."));
        return;
    }
    const QString witness = witness_.simplified();
    if (witness.isEmpty()) {
        setError(tr("Give the witness a pseudonym (never their real name)."));
        return;
    }
    const bool has_statement = !statement_.trimmed().isEmpty();
    if (!has_statement && files_.empty() && recorder_->takes() == 0) {
        setError(tr("There is nothing to save yet: write the account, record it or add a file."));
        return;
    }

    core::ItemFields base;
    base.witness = witness.toStdString();
    base.language = language_.trimmed().toStdString();
    base.tags = split_list(tags_);
    const core::ConsentType types[] = {core::ConsentType::written, core::ConsentType::oral_recorded,
                                       core::ConsentType::none};
    base.consent.type = types[std::clamp(consent_type_, 0, 2)];
    if (base.consent.type != core::ConsentType::none) {
        base.consent.scope = split_list(share_orgs_);
        if (share_courts_) base.consent.scope.emplace_back("courts");
        if (share_public_) base.consent.scope.emplace_back("public");
    }
    if (location_known_) {
        const auto lat = parse_number(latitude_);
        const auto lon = parse_number(longitude_);
        if (!lat || !lon || *lat < -90 || *lat > 90 || *lon < -180 || *lon > 180) {
            setError(
                tr("The location needs a latitude (−90 to 90) and a longitude (−180 to 180)."));
            return;
        }
        core::Location where;
        where.lat = *lat;
        where.lon = *lon;
        where.source = "typed";
        if (!accuracy_.trimmed().isEmpty()) {
            const auto acc = parse_number(accuracy_);
            if (!acc || *acc < 0) {
                setError(tr("The accuracy is a distance in metres."));
                return;
            }
            where.accuracy_m = *acc;
        }
        base.location = where;
    }

    const QString title = title_.simplified();
    auto parts = std::make_shared<std::vector<SavePart>>();
    std::uint64_t total = 0;
    QMimeDatabase mimes;
    for (const File& f : files_) {
        SavePart p{SavePart::Source::file, f.name.toStdString(), {}, {}, {}, {}, {}, 0};
        const QString mime = mimes.mimeTypeForFile(f.path).name();
        p.mime = mime.toStdString();
        p.kind = kind_for_mime(mime);
        p.title = (title.isEmpty() ? f.name : title).toStdString();
        p.path = QFile::encodeName(f.path).toStdString();
        p.size = static_cast<std::uint64_t>(f.size);
        total += p.size;
        parts->push_back(std::move(p));
    }
    int take = 0;
    for (auto& wav : recorder_->takeRecordings()) {
        ++take;
        SavePart p{
            SavePart::Source::recording,
            QStringLiteral("recording-%1.wav").arg(take).toStdString(),
            "audio/wav",
            core::ItemKind::audio,
            (title.isEmpty() ? tr("Recorded account of %1").arg(witness) : title).toStdString(),
            {},
            std::move(wav),
            0};
        p.size = p.bytes.size();
        total += p.size;
        parts->push_back(std::move(p));
    }
    // The written account goes first, so a cancelled import keeps it.
    if (has_statement) {
        SavePart p{SavePart::Source::statement,
                   {},
                   {},
                   core::ItemKind::testimony,
                   (title.isEmpty() ? tr("Testimony of %1").arg(witness) : title).toStdString(),
                   {},
                   {},
                   0};
        parts->insert(parts->begin(), std::move(p));
    }
    const std::string statement = statement_.toStdString();
    const std::string case_id = case_id_.toStdString();

    setError({});
    setBusy(true);
    setProgress(0, tr("Saving…"));
    cancel_ = std::make_shared<std::atomic<bool>>(false);
    const bool queued = vault_->submit(
        this,
        [this, parts, base, statement, case_id, total](core::Vault& vault,
                                                       const core::Progress& progress) {
            auto outcome = std::make_shared<SaveOutcome>();
            std::uint64_t before = 0;
            for (SavePart& part : *parts) {
                if (progress.cancelled()) {
                    outcome->error = make_error(Errc::cancelled, "cancelled");
                    break;
                }
                core::ItemFields fields = base;
                fields.kind = part.kind;
                fields.title = part.title;
                // Each part reports its bytes on top of the parts before it.
                core::Progress step;
                step.cancel = progress.cancel;
                step.report = [&progress, before, total](std::uint64_t done, std::uint64_t) {
                    progress(before + done, total);
                };
                Result<core::ItemId> made = make_error(Errc::internal, {});
                if (part.source == SavePart::Source::statement) {
                    made = vault.add_testimony(case_id, statement, fields);
                } else if (part.source == SavePart::Source::recording) {
                    crypto::MemorySource source(part.bytes);
                    made = vault.ingest(case_id, source, part.name, part.mime, fields, step);
                    if (made) crypto::wipe(part.bytes);
                } else {
                    const int fd = ::open(part.path.c_str(), O_RDONLY | O_CLOEXEC);
                    if (fd < 0) {
                        made = make_error(Errc::io, "cannot open " + part.name);
                    } else {
                        crypto::FdSource source(fd);
                        made = vault.ingest(case_id, source, part.name, part.mime, fields, step);
                        ::close(fd);
                    }
                }
                if (!made) {
                    outcome->error = std::move(made).error();
                    break;
                }
                if (outcome->saved == 0) outcome->first_id = QString::fromStdString(*made);
                ++outcome->saved;
                before += part.size;
                progress(before, total);
            }
            return [this, outcome, parts] {
                setBusy(false);
                cancel_.reset();
                vault_->notifyContentChanged();
                if (outcome->error) {
                    // What was saved stays saved (items are immutable); only
                    // the rest is left on the form to try again.
                    int done = outcome->saved;
                    for (std::size_t i = 0; i < parts->size() && done > 0; ++i, --done) {
                        const SavePart& p = (*parts)[i];
                        if (p.source == SavePart::Source::statement) {
                            statement_.fill(QLatin1Char(' '));
                            statement_.clear();
                            Q_EMIT fieldsChanged();
                        } else if (p.source == SavePart::Source::file && !files_.empty()) {
                            files_.erase(files_.begin());
                            Q_EMIT filesChanged();
                        }
                    }
                    std::vector<std::vector<std::uint8_t>> unsaved;
                    for (std::size_t i = static_cast<std::size_t>(outcome->saved);
                         i < parts->size(); ++i)
                        if ((*parts)[i].source == SavePart::Source::recording)
                            unsaved.push_back(std::move((*parts)[i].bytes));
                    recorder_->returnRecordings(std::move(unsaved));
                    QString message = describe_error(*outcome->error);
                    if (outcome->saved > 0)
                        message = tr("%n part(s) saved. ", nullptr, outcome->saved) + message;
                    setError(message);
                    setProgress(0, {});
                    return;
                }
                setProgress(1, tr("Saved"));
                const int count = outcome->saved;
                const QString first = outcome->first_id;
                reset();
                Q_EMIT saved(count, first);
            };
        },
        [this](std::uint64_t done, std::uint64_t total_bytes) {
            const double value = total_bytes == 0
                                     ? 1.0
                                     : static_cast<double>(done) / static_cast<double>(total_bytes);
            setProgress(value, tr("Encrypting and signing… %1%").arg(qRound(value * 100)));
        },
        cancel_);
    if (!queued) {
        setBusy(false);
        setError(tr("The vault is locked."));
    }
}

void NewTestimonyModel::setBusy(bool busy) {
    if (busy_ == busy) return;
    busy_ = busy;
    Q_EMIT busyChanged();
}

void NewTestimonyModel::setProgress(double value, const QString& text) {
    progress_ = value;
    progress_text_ = text;
    Q_EMIT progressChanged();
}

void NewTestimonyModel::setError(const QString& message) {
    if (error_ == message) return;
    error_ = message;
    Q_EMIT errorMessageChanged();
}

}  // namespace custodia::desktop
