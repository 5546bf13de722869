// The recording path through a real Qt Multimedia pipeline: a PulseAudio
// server started by this test (no session bus, no sound card: a sine-wave
// source and a null sink, on a private socket in a temporary directory),
// Qt's PulseAudio backend, AudioRecorder, NewTestimonyModel::save() and the
// vault. The stored item must be a WAV file whose header matches its data
// and whose samples carry the 440 Hz tone the server produced.
//
// Where the machine has no pulseaudio, or the server or the input cannot
// start, the case is skipped with the reason (a counted QSKIP).
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <QElapsedTimer>
#include <QGuiApplication>
#include <QSignalSpy>
#include <QtEndian>
#include <QtTest/QtTest>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "gui_test_support.h"
#include "testimony_model.h"
#include "vault_model.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;

// A PulseAudio daemon of this test's own, stopped by pid.
class PulseServer {
  public:
    ~PulseServer() { stop(); }

    // Empty on success, else why it could not start.
    std::string start() {
        const char* base = std::getenv("TMPDIR");
        std::string tmpl = std::string(base && *base ? base : "/tmp") + "/custodia-pulse-XXXXXX";
        if (mkdtemp(tmpl.data()) == nullptr) return "mkdtemp failed";
        dir_ = tmpl;
        fs::create_directories(dir_ / "run");
        fs::create_directories(dir_ / "state");
        const std::string socket = (dir_ / "native").string();
        // Its own HOME and runtime paths, so that nothing of the machine's
        // user (cookie, config, a running daemon) is read or touched.
        setenv("HOME", dir_.c_str(), 1);
        setenv("XDG_RUNTIME_DIR", dir_.c_str(), 1);
        setenv("PULSE_RUNTIME_PATH", (dir_ / "run").c_str(), 1);
        setenv("PULSE_STATE_PATH", (dir_ / "state").c_str(), 1);
        unsetenv("DBUS_SESSION_BUS_ADDRESS");

        const std::string protocol =
            "module-native-protocol-unix socket=" + socket + " auth-anonymous=1";
        std::vector<std::string> args = {"pulseaudio",
                                         "-n",
                                         "--daemonize=no",
                                         "--exit-idle-time=-1",
                                         "--use-pid-file=no",
                                         "--disable-shm=yes",
                                         "--log-target=file:" + (dir_ / "log").string(),
                                         "-L",
                                         protocol,
                                         "-L",
                                         "module-null-sink sink_name=custodia_test_sink",
                                         "-L",
                                         "module-sine-source source_name=custodia_test_tone "
                                         "frequency=440"};
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        if (posix_spawnp(&pid_, "pulseaudio", nullptr, nullptr, argv.data(), environ) != 0) {
            pid_ = -1;
            return "pulseaudio is not installed (packaging/install-deps.sh installs it)";
        }
        // Ready when its socket answers.
        QElapsedTimer waited;
        waited.start();
        while (!waited.hasExpired(10000)) {
            int status = 0;
            if (waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                return "pulseaudio exited at start (see its log): " + log_tail();
            }
            if (fs::exists(socket)) {
                setenv("PULSE_SERVER", ("unix:" + socket).c_str(), 1);
                return {};
            }
            usleep(50 * 1000);
        }
        return "pulseaudio did not open its socket within 10 s";
    }

    void stop() {
        if (pid_ > 0) {
            kill(pid_, SIGTERM);
            int status = 0;
            waitpid(pid_, &status, 0);
            pid_ = -1;
        }
        if (!dir_.empty()) {
            std::error_code ec;
            fs::remove_all(dir_, ec);
            dir_.clear();
        }
    }

  private:
    std::string log_tail() const {
        FILE* f = std::fopen((dir_ / "log").c_str(), "r");
        if (f == nullptr) return {};
        std::string text(4096, '\0');
        text.resize(std::fread(text.data(), 1, text.size(), f));
        std::fclose(f);
        return text;
    }

    fs::path dir_;
    pid_t pid_ = -1;
};

PulseServer* g_pulse = nullptr;
std::string g_pulse_problem;

std::uint32_t le32(const QByteArray& b, int at) {
    return qFromLittleEndian<quint32>(b.constData() + at);
}
std::uint16_t le16(const QByteArray& b, int at) {
    return qFromLittleEndian<quint16>(b.constData() + at);
}

}  // namespace

using custodia::desktop::AudioRecorder;
using custodia::desktop::NewTestimonyModel;

class AudioRecordTest : public QObject {
    Q_OBJECT

  private Q_SLOTS:
    void records_a_tone_into_the_vault_as_wav() {
        if (!g_pulse_problem.empty())
            QSKIP(qPrintable(
                QStringLiteral("no audio input: %1").arg(QString::fromStdString(g_pulse_problem))));
        custodia::testing::GuiTestSupport support;
        auto* vault = support.unlockedVault(QStringLiteral("audio passphrase 1"));
        const QString case_id = support.addCase(vault, QStringLiteral("Recorded"));
        QVERIFY(!case_id.isEmpty());

        NewTestimonyModel testimony;
        testimony.setVault(vault);
        testimony.setProperty("caseId", case_id);
        testimony.setProperty("witness", QStringLiteral("W-audio"));
        AudioRecorder* recorder = testimony.recorder();
        if (!recorder->available())
            QSKIP("PulseAudio started, but Qt Multimedia sees no audio input");
        QCOMPARE(recorder->deviceName().isEmpty(), false);

        recorder->start();
        QVERIFY2(recorder->recording(), qPrintable(recorder->errorMessage()));
        // The level meter moves: the tone reaches the recorder.
        QTRY_VERIFY_WITH_TIMEOUT(recorder->level() > 0.1, 5000);
        QTRY_VERIFY_WITH_TIMEOUT(recorder->seconds() >= 2, 10000);
        recorder->stop();
        QCOMPARE(recorder->takes(), 1);

        QSignalSpy saved(&testimony, &NewTestimonyModel::saved);
        testimony.save();
        QVERIFY(saved.wait(20000));
        QCOMPARE(saved.at(0).at(0).toInt(), 1);
        const QString item = saved.at(0).at(1).toString();
        QCOMPARE(support.itemMimeType(vault, item), QStringLiteral("audio/wav"));

        const QByteArray wav = support.extractItem(vault, item);
        QVERIFY(wav.size() > 44);
        QCOMPARE(wav.left(4), QByteArray("RIFF"));
        QCOMPARE(le32(wav, 4), static_cast<std::uint32_t>(wav.size() - 8));
        QCOMPARE(wav.mid(8, 8), QByteArray("WAVEfmt "));
        QCOMPARE(le32(wav, 16), 16u);
        const std::uint16_t format = le16(wav, 20);
        const std::uint16_t channels = le16(wav, 22);
        const std::uint32_t rate = le32(wav, 24);
        const std::uint16_t bits = le16(wav, 34);
        QVERIFY(format == 1 || format == 3);
        QVERIFY(channels >= 1);
        QVERIFY(rate >= 8000);
        QCOMPARE(le32(wav, 28), rate * channels * (bits / 8u));
        QCOMPARE(wav.mid(36, 4), QByteArray("data"));
        const std::uint32_t data_size = le32(wav, 40);
        QCOMPARE(data_size, static_cast<std::uint32_t>(wav.size() - 44));
        const double seconds = static_cast<double>(data_size) / (rate * channels * (bits / 8.0));
        QVERIFY2(seconds >= 1.5 && seconds < 30, qPrintable(QString::number(seconds)));

        // The tone: count sign changes of the first channel over the data.
        // 440 Hz crosses zero 880 times a second.
        std::vector<double> samples;
        const int step = channels * (bits / 8);
        for (int at = 44; at + step <= wav.size(); at += step) {
            if (format == 1 && bits == 16)
                samples.push_back(qFromLittleEndian<qint16>(wav.constData() + at) / 32768.0);
            else if (format == 3 && bits == 32) {
                float f = 0;
                std::memcpy(&f, wav.constData() + at, 4);
                samples.push_back(f);
            }
        }
        QVERIFY2(!samples.empty(), "a sample format this test reads (16-bit or float)");
        int crossings = 0;
        double peak = 0;
        for (std::size_t i = 1; i < samples.size(); ++i) {
            if ((samples[i - 1] < 0) != (samples[i] < 0)) ++crossings;
            peak = std::max(peak, std::abs(samples[i]));
        }
        QVERIFY2(peak > 0.1, qPrintable(QStringLiteral("peak %1").arg(peak)));
        const double hz = crossings / 2.0 / seconds;
        QVERIFY2(std::abs(hz - 440) < 30, qPrintable(QStringLiteral("%1 Hz").arg(hz)));

        // The witness's voice never touched the disk in the clear.
        QVERIFY(!support.vaultContainsBytes(vault, wav.mid(wav.size() / 2, 64)));
    }
};

int main(int argc, char** argv) {
    // The server and PULSE_SERVER come before Qt Multimedia first looks for
    // devices, which it does once per process.
    PulseServer pulse;
    g_pulse_problem = pulse.start();
    g_pulse = &pulse;
    if (!g_pulse_problem.empty())
        std::fprintf(stderr, "audio_record_test: skipping: %s\n", g_pulse_problem.c_str());
    int result = 0;
    {
        QGuiApplication app(argc, argv);
        AudioRecordTest test;
        result = QTest::qExec(&test, argc, argv);
    }
    pulse.stop();
    return result;
}

#include "audio_record_test.moc"
