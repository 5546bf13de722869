// The desktop app, driven offscreen through its real screens as a person
// would: first run (the recovery key is shown), a case, a written testimony
// with a photo, the testimony and the photo's preview on screen, then lock.
// Once locked it says "probe-locked" on stdout and waits, alive, until its
// stdin closes, so that tests/security/desktop_memory_gcore.cpp can dump its
// memory with gcore and search it.
//
// The probe must not itself hold what the dump is searched for, or the
// search would find the test and not the app:
//   - `--make-photo DIR`, run first as a separate process, makes the photo
//     (DIR/photo.png, random pixels) and its decoded pixel rows
//     (DIR/photo.rows, as QImage holds them), so that this process only ever
//     sees the photo through the app's import and preview;
//   - the passphrase and the testimony text come in PROBE_DIR/secrets (two
//     lines), read with read(2) into a buffer that is wiped, the file then
//     removed; the QStrings typed from are wiped once typed;
//   - the recovery key, as the first-run screen shows it, goes out to
//     PROBE_DIR/recovery.key through a buffer that is wiped.
// A test program, never shipped.
#include <QtQml/qqmlextensionplugin.h>
#include <fcntl.h>
#include <unistd.h>

#include <QFile>
#include <QGuiApplication>
#include <QImage>
#include <QQmlApplicationEngine>
#include <QQuickItem>
#include <QQuickWindow>
#include <QRandomGenerator>
#include <QtTest/QtTest>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>

#include "app_setup.h"
#include "gui_test_support.h"
#include "vault_model.h"

Q_IMPORT_QML_PLUGIN(CustodiaPlugin)

using custodia::desktop::VaultModel;

#define STEP(call)                              \
    do {                                        \
        call;                                   \
        if (QTest::currentTestFailed()) return; \
    } while (false)

class MemoryProbe : public QObject {
    Q_OBJECT

  private Q_SLOTS:
    void unlock_show_and_lock();

  private:
    QQuickItem* page() const { return stack_->property("currentItem").value<QQuickItem*>(); }
    QString pageTitle() const { return page() ? page()->property("title").toString() : QString(); }
    QQuickItem* find(const char* name) const {
        QQuickItem* current = page();
        if (current == nullptr) return nullptr;
        if (auto* item = current->findChild<QQuickItem*>(QString::fromLatin1(name))) return item;
        return window_->findChild<QQuickItem*>(QString::fromLatin1(name));
    }
    void waitIdle() {
        QTRY_VERIFY_WITH_TIMEOUT(!stack_->property("busy").toBool(), 5000);
        QTest::qWait(50);
    }
    void ensureVisible(QQuickItem* item) {
        for (QQuickItem* p = item->parentItem(); p != nullptr; p = p->parentItem()) {
            if (!p->inherits("QQuickFlickable")) continue;
            auto* content = p->property("contentItem").value<QQuickItem*>();
            const qreal y = item->mapToItem(content, QPointF(0, 0)).y();
            const qreal view = p->height();
            const qreal max_y = std::max<qreal>(0, p->property("contentHeight").toReal() - view);
            const qreal top = p->property("contentY").toReal();
            if (y < top || y + item->height() > top + view)
                p->setProperty("contentY", std::clamp<qreal>(y - view / 3, 0, max_y));
            break;
        }
        QTest::qWait(30);
    }
    void click(QQuickItem* item) {
        QVERIFY(item != nullptr);
        QVERIFY(item->isVisible());
        QTest::qWait(150);  // layouts settle (a list that just grew moves what follows it)
        ensureVisible(item);
        QTest::qWait(50);
        const QPointF centre = item->mapToScene(QPointF(item->width() / 2, item->height() / 2));
        QTest::mouseClick(window_, Qt::LeftButton, {}, centre.toPoint());
    }
    void typeInto(const char* name, const QString& text) {
        QQuickItem* field = find(name);
        QVERIFY2(field != nullptr, name);
        click(field);
        QTRY_VERIFY(field->hasActiveFocus());
        for (const QChar c : text) QTest::keyClick(window_, c.toLatin1());
    }
    QQuickItem* delegateAt(const char* list, int row) {
        QQuickItem* view = find(list);
        if (view == nullptr) return nullptr;
        QQuickItem* item = nullptr;
        QMetaObject::invokeMethod(view, "itemAtIndex", Q_RETURN_ARG(QQuickItem*, item),
                                  Q_ARG(int, row));
        return item;
    }

    std::unique_ptr<custodia::testing::GuiTestSupport> support_;
    std::unique_ptr<QQmlApplicationEngine> engine_;
    VaultModel* vault_ = nullptr;
    QQuickWindow* window_ = nullptr;
    QQuickItem* stack_ = nullptr;
};

void MemoryProbe::unlock_show_and_lock() {
    // What the app does first thing in main().
    custodia::desktop::harden_process();
    const QString dir = qEnvironmentVariable("PROBE_DIR");
    QVERIFY(!dir.isEmpty());
    QString passphrase;
    QString marker;
    {
        const std::string path = dir.toStdString() + "/secrets";
        char buffer[1024];
        std::size_t used = 0;
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        QVERIFY(fd >= 0);
        for (ssize_t n; (n = ::read(fd, buffer + used, sizeof buffer - used)) > 0;)
            used += static_cast<std::size_t>(n);
        ::close(fd);
        ::unlink(path.c_str());
        const char* end = buffer + used;
        const char* newline = static_cast<const char*>(std::memchr(buffer, '\n', used));
        QVERIFY(newline != nullptr);
        passphrase = QString::fromLatin1(buffer, newline - buffer);
        const char* second = newline + 1;
        const char* last = static_cast<const char*>(std::memchr(second, '\n', end - second));
        marker = QString::fromLatin1(second, (last != nullptr ? last : end) - second);
        ::explicit_bzero(buffer, sizeof buffer);
    }
    QVERIFY(!passphrase.isEmpty() && !marker.isEmpty());
    const auto wipe = [](QString& text) {
        std::memset(static_cast<void*>(text.data()), 0,
                    static_cast<std::size_t>(text.size()) * sizeof(QChar));
        text.clear();
    };

    support_ = std::make_unique<custodia::testing::GuiTestSupport>();
    vault_ = support_->newVault();
    engine_ = std::make_unique<QQmlApplicationEngine>();
    custodia::desktop::prepare_engine(*engine_, *vault_);
    engine_->setInitialProperties({{QStringLiteral("vault"), QVariant::fromValue(vault_)}});
    engine_->load(QUrl(QStringLiteral("qrc:/qt/qml/Custodia/Main.qml")));
    QVERIFY(!engine_->rootObjects().isEmpty());
    window_ = qobject_cast<QQuickWindow*>(engine_->rootObjects().constFirst());
    QVERIFY(window_ != nullptr);
    window_->resize(QSize(360, 740));  // phone width, as the end-to-end test
    QVERIFY(QTest::qWaitForWindowExposed(window_));
    stack_ = window_->findChild<QQuickItem*>(QStringLiteral("stack"));
    QVERIFY(stack_ != nullptr);

    const QString photo = dir + QStringLiteral("/photo.png");
    QVERIFY(QFile::exists(photo));

    // ---- First run: the recovery key is shown once ---------------------------------------
    STEP(waitIdle());
    STEP(typeInto("investigatorField", QStringLiteral("Probe")));
    STEP(typeInto("passphraseField", passphrase));
    STEP(typeInto("confirmationField", passphrase));
    wipe(passphrase);
    STEP(click(find("createButton")));
    QTRY_VERIFY_WITH_TIMEOUT(!vault_->recoveryKey().isEmpty(), 20000);
    {
        QFile key(dir + QStringLiteral("/recovery.key"));
        QVERIFY(key.open(QIODevice::WriteOnly));
        QByteArray text = vault_->recoveryKey().toLatin1();
        key.write(text);
        ::explicit_bzero(text.data(), static_cast<std::size_t>(text.size()));
    }
    QTest::qWait(200);  // drawn on screen
    STEP(click(find("writtenDownButton")));
    QTRY_COMPARE(pageTitle(), QStringLiteral("Cases"));

    // ---- A case, a testimony and a photo -------------------------------------------------
    STEP(waitIdle());
    STEP(typeInto("caseTitleField", QStringLiteral("Probe case")));
    STEP(click(find("createCaseButton")));
    QTRY_VERIFY_WITH_TIMEOUT(delegateAt("casesList", 0) != nullptr, 10000);
    STEP(click(delegateAt("casesList", 0)));
    QTRY_COMPARE(pageTitle(), QStringLiteral("Probe case"));
    STEP(waitIdle());
    STEP(click(find("newTestimonyButton")));
    QTRY_COMPARE(pageTitle(), QStringLiteral("New testimony"));
    STEP(waitIdle());
    STEP(typeInto("witnessField", QStringLiteral("W-1")));
    STEP(click(find("courtsCheck")));
    STEP(typeInto("statementArea", marker));
    wipe(marker);
    auto* testimony = page()->property("testimony").value<QObject*>();
    QVERIFY(testimony != nullptr);
    QVERIFY(QMetaObject::invokeMethod(testimony, "addFile", Q_ARG(QVariant, QVariant(photo))));
    STEP(click(find("saveButton")));
    // Saved: the app opens the written account, whose text is on screen.
    QTRY_VERIFY_WITH_TIMEOUT(!page()->property("itemId").toString().isEmpty(), 20000);
    QTRY_VERIFY_WITH_TIMEOUT(find("signatureLabel") && find("signatureLabel")->isVisible(), 10000);
    STEP(waitIdle());
    if (QQuickItem* button = find("previewButton"); button && button->isVisible()) {
        STEP(click(button));
        QTest::qWait(300);
    }
    STEP(click(find("backButton")));
    QTRY_COMPARE(pageTitle(), QStringLiteral("Probe case"));
    STEP(waitIdle());
    QTRY_VERIFY_WITH_TIMEOUT(delegateAt("itemsList", 1) != nullptr, 10000);

    // ---- The photo's preview --------------------------------------------------------------
    QQuickItem* photo_row = nullptr;
    for (int row = 0; row < 2; ++row)
        if (delegateAt("itemsList", row)->property("kind").toString() == QStringLiteral("Photo"))
            photo_row = delegateAt("itemsList", row);
    QVERIFY(photo_row != nullptr);
    STEP(click(photo_row));
    QTRY_VERIFY2_WITH_TIMEOUT(find("signatureLabel") && find("signatureLabel")->isVisible(),
                              qPrintable(pageTitle()), 10000);
    STEP(waitIdle());
    STEP(click(find("previewButton")));
    QQuickItem* preview = find("previewImage");
    QVERIFY(preview != nullptr);
    QTRY_COMPARE_WITH_TIMEOUT(preview->property("status").toInt(), 1, 10000);  // Image.Ready
    STEP(ensureVisible(preview));
    QTest::qWait(300);
    (void)window_->grabWindow();  // a frame with the photo in it was rendered

    // ---- Lock, as the tool bar's button does ----------------------------------------------
    STEP(click(find("lockButton")));
    QTRY_COMPARE_WITH_TIMEOUT(pageTitle(), QStringLiteral("Custodia is locked"), 10000);
    QVERIFY(vault_->state() == VaultModel::State::Locked);
    STEP(waitIdle());
    QTest::qWait(500);
    (void)window_->grabWindow();  // the locked screen is what is drawn now

    std::cout << "probe-locked" << std::endl;
    std::string line;
    std::getline(std::cin, line);  // the caller dumps us meanwhile, then closes stdin
}

namespace {

// Random opaque pixels no other process has, saved as PNG, and the rows a
// QImage decoding that PNG holds.
int make_photo(const QString& dir) {
    QImage image(320, 200, QImage::Format_RGB32);
    for (int y = 0; y < image.height(); ++y) {
        auto* row = reinterpret_cast<quint32*>(image.scanLine(y));
        for (int x = 0; x < image.width(); ++x)
            row[x] = 0xff000000u | (QRandomGenerator::system()->generate() & 0xffffffu);
    }
    if (!image.save(dir + QStringLiteral("/photo.png"))) return 1;
    const QImage decoded =
        QImage(dir + QStringLiteral("/photo.png")).convertToFormat(QImage::Format_RGB32);
    QFile rows(dir + QStringLiteral("/photo.rows"));
    if (decoded.isNull() || !rows.open(QIODevice::WriteOnly)) return 1;
    for (int y = 0; y < decoded.height(); ++y)
        rows.write(reinterpret_cast<const char*>(decoded.constScanLine(y)), decoded.width() * 4);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc == 3 && std::strcmp(argv[1], "--make-photo") == 0)
        return make_photo(QString::fromLocal8Bit(argv[2]));
    QGuiApplication app(argc, argv);
    MemoryProbe probe;
    return QTest::qExec(&probe, argc, argv);
}
#include "desktop_memory_probe.moc"
