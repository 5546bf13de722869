// The whole app, driven as a person would through mouse clicks and key
// presses, offscreen: first run → a case → a testimony with an imported
// photo → lock → a wrong and then the right passphrase → the photo shows,
// with its capture signature verified (✓) → the case sent to an age key in a
// folder, opened by Debian's age → enrolment with a real intake server and
// the same case sent through the outbox to a verified receipt → the security settings, a panic wipe
// cancelled in its countdown, then a real one → first run again.
//
// Every main screen is saved, at phone and at desktop width, into
// CUSTODIA_SCREENSHOT_DIR, and each screenshot must not be blank.
#include <QtQml/qqmlextensionplugin.h>

#include <QAccessible>
#include <QDir>
#include <QHash>
#include <QImage>
#include <QQmlApplicationEngine>
#include <QQuickItem>
#include <QQuickWindow>
#include <QSignalSpy>
#include <QtTest/QtTest>
#include <cmath>
#include <memory>

#include "app_setup.h"
#include "gui_test_support.h"
#include "vault_model.h"

Q_IMPORT_QML_PLUGIN(CustodiaPlugin)

using custodia::desktop::VaultModel;

namespace {

constexpr QSize kPhone(360, 740);  // the narrowest the app supports
constexpr QSize kDesktop(1100, 760);

// The share of pixels that differ from the most common colour (the
// background): a blank or single-colour frame scores 0.
double non_background_share(const QImage& image) {
    QHash<QRgb, int> counts;
    int n = 0;
    for (int y = 0; y < image.height(); y += 2)
        for (int x = 0; x < image.width(); x += 2, ++n) ++counts[image.pixel(x, y)];
    int background = 0;
    for (const int c : std::as_const(counts)) background = std::max(background, c);
    return n == 0 ? 0.0 : 1.0 - static_cast<double>(background) / n;
}

}  // namespace

// QVERIFY in a helper only leaves the helper: stop the scenario there too.
#define STEP(call)                              \
    do {                                        \
        call;                                   \
        if (QTest::currentTestFailed()) return; \
    } while (false)

class EndToEnd : public QObject {
    Q_OBJECT

  private Q_SLOTS:
    void initTestCase();
    void first_run_to_a_verified_photo();
    void cleanupTestCase();

  private:
    QQuickItem* page() const;
    QQuickItem* find(const char* name) const;
    QString pageTitle() const { return page() ? page()->property("title").toString() : QString(); }
    void waitIdle();
    void ensureVisible(QQuickItem* item);
    void click(QQuickItem* item);
    void typeInto(const char* name, const QString& text);
    QQuickItem* delegateAt(const char* list, int row);
    void shoot(const QString& name);
    void checkAccessibleNames(const QString& screen);

    std::unique_ptr<custodia::testing::GuiTestSupport> support_;
    std::unique_ptr<QQmlApplicationEngine> engine_;
    VaultModel* vault_ = nullptr;
    QQuickWindow* window_ = nullptr;
    QQuickItem* stack_ = nullptr;
    QDir shots_;
};

void EndToEnd::initTestCase() {
    custodia::desktop::harden_process();
    QVERIFY(custodia::desktop::install_translation(*QCoreApplication::instance()));
    support_ = std::make_unique<custodia::testing::GuiTestSupport>();
    vault_ = support_->newVault();
    QVERIFY(vault_->state() == VaultModel::State::NoVault);

    engine_ = std::make_unique<QQmlApplicationEngine>();
    custodia::desktop::prepare_engine(*engine_, *vault_);
    engine_->setInitialProperties({{QStringLiteral("vault"), QVariant::fromValue(vault_)}});
    engine_->load(QUrl(QStringLiteral("qrc:/qt/qml/Custodia/Main.qml")));
    QVERIFY(!engine_->rootObjects().isEmpty());
    window_ = qobject_cast<QQuickWindow*>(engine_->rootObjects().constFirst());
    QVERIFY(window_ != nullptr);
    window_->resize(kPhone);
    QVERIFY(QTest::qWaitForWindowExposed(window_));
    stack_ = window_->findChild<QQuickItem*>(QStringLiteral("stack"));
    QVERIFY(stack_ != nullptr);

    shots_ = QDir(QStringLiteral(CUSTODIA_SCREENSHOT_DIR));
    QVERIFY(shots_.mkpath(QStringLiteral(".")));
}

void EndToEnd::cleanupTestCase() {
    engine_.reset();
    support_.reset();
}

QQuickItem* EndToEnd::page() const {
    return stack_->property("currentItem").value<QQuickItem*>();
}

QQuickItem* EndToEnd::find(const char* name) const {
    QQuickItem* current = page();
    if (current == nullptr) return nullptr;
    if (auto* item = current->findChild<QQuickItem*>(QString::fromLatin1(name))) return item;
    // The tool bar is the window's, not the page's.
    return window_->findChild<QQuickItem*>(QString::fromLatin1(name));
}

void EndToEnd::waitIdle() {
    QTRY_VERIFY_WITH_TIMEOUT(!stack_->property("busy").toBool(), 5000);  // transitions done
    QTest::qWait(50);
}

void EndToEnd::ensureVisible(QQuickItem* item) {
    // Scroll the enclosing Flickable so the item is on screen, as a person would.
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

void EndToEnd::click(QQuickItem* item) {
    QVERIFY(item != nullptr);
    QVERIFY(item->isVisible());
    ensureVisible(item);
    const QPointF centre = item->mapToScene(QPointF(item->width() / 2, item->height() / 2));
    QVERIFY2(window_->contentItem()->contains(window_->contentItem()->mapFromScene(centre)),
             "the control is inside the window");
    QTest::mouseClick(window_, Qt::LeftButton, {}, centre.toPoint());
}

void EndToEnd::typeInto(const char* name, const QString& text) {
    QQuickItem* field = find(name);
    QVERIFY2(field != nullptr, name);
    click(field);
    QTRY_VERIFY(field->hasActiveFocus());
    // QTest has keyClicks for widgets only; a window gets one key at a time.
    for (const QChar c : text) QTest::keyClick(window_, c.toLatin1());
    QCOMPARE(field->property("text").toString(), text);
}

QQuickItem* EndToEnd::delegateAt(const char* list, int row) {
    QQuickItem* view = find(list);
    if (view == nullptr) return nullptr;
    QQuickItem* item = nullptr;
    QMetaObject::invokeMethod(view, "itemAtIndex", Q_RETURN_ARG(QQuickItem*, item),
                              Q_ARG(int, row));
    return item;
}

void EndToEnd::checkAccessibleNames(const QString& screen) {
    // Every control a person can operate says what it is to a screen reader.
    QStringList unnamed;
    QList<QQuickItem*> items = page()->findChildren<QQuickItem*>();
    if (auto* bar = window_->findChild<QQuickItem*>(QStringLiteral("lockButton"))) items << bar;
    for (QQuickItem* item : items) {
        if (!item->isVisible() || !item->isEnabled()) continue;
        const bool control = item->inherits("QQuickAbstractButton") ||
                             item->inherits("QQuickTextField") ||
                             item->inherits("QQuickComboBox") || item->inherits("QQuickSpinBox");
        if (!control) continue;
        QAccessibleInterface* a11y = QAccessible::queryAccessibleInterface(item);
        // Qt 6.4 reports no name for a password edit, whatever QML sets:
        // those fields are exempt here (each sets Accessible.name in QML).
        if (a11y != nullptr && a11y->state().passwordEdit) continue;
        if (a11y == nullptr || a11y->text(QAccessible::Name).trimmed().isEmpty())
            unnamed << QStringLiteral("%1 %2").arg(
                QString::fromLatin1(item->metaObject()->className()), item->objectName());
    }
    QVERIFY2(unnamed.isEmpty(), qPrintable(QStringLiteral("%1: no accessible name: %2")
                                               .arg(screen, unnamed.join(QStringLiteral(", ")))));
}

void EndToEnd::shoot(const QString& name) {
    STEP(checkAccessibleNames(name));
    for (const QSize& size : {kDesktop, kPhone}) {
        window_->resize(size);
        waitIdle();
        QTRY_COMPARE(window_->width(), size.width());
        QTest::qWait(150);  // layouts settle and a frame is drawn
        const QImage image = window_->grabWindow();
        QVERIFY(!image.isNull());
        const QString file = shots_.filePath(
            QStringLiteral("%1-%2.png")
                .arg(name, size == kPhone ? QStringLiteral("phone") : QStringLiteral("desktop")));
        QVERIFY(image.save(file));
        // Even the sparest screen (unlock) has its tool bar, text and field.
        const double share = non_background_share(image);
        QVERIFY2(
            share > 0.02,
            qPrintable(QStringLiteral("%1 looks blank (%2% drawn)").arg(file).arg(share * 100)));
    }
}

void EndToEnd::first_run_to_a_verified_photo() {
    const QString passphrase = QStringLiteral("river stone lantern 42");

    // ---- First run ----------------------------------------------------------------------
    STEP(waitIdle());
    QCOMPARE(pageTitle(), QStringLiteral("Set up Custodia"));
    STEP(typeInto("investigatorField", QStringLiteral("Amina K.")));
    STEP(typeInto("passphraseField", passphrase));
    STEP(typeInto("confirmationField", passphrase));
    QCOMPARE(find("strengthLabel")->property("text").toString(), QStringLiteral("Strong"));
    STEP(shoot(QStringLiteral("01-first-run")));
    STEP(click(find("createButton")));
    QCOMPARE(find("passphraseField")->property("text").toString(), QString());
    QTRY_VERIFY_WITH_TIMEOUT(!vault_->recoveryKey().isEmpty(), 20000);
    QCOMPARE(pageTitle(), QStringLiteral("Your recovery key"));
    QCOMPARE(find("recoveryKeyLabel")->property("text").toString(), vault_->recoveryKey());
    STEP(shoot(QStringLiteral("02-recovery-key")));
    STEP(click(find("writtenDownButton")));
    QTRY_COMPARE(pageTitle(), QStringLiteral("Cases"));
    QVERIFY(vault_->recoveryKey().isEmpty());

    // ---- A case -------------------------------------------------------------------------
    STEP(waitIdle());
    STEP(typeInto("caseTitleField", QStringLiteral("Market square, 3 May")));
    STEP(typeInto("caseDescriptionField", QStringLiteral("Arrests during the protest")));
    STEP(click(find("createCaseButton")));
    QTRY_VERIFY_WITH_TIMEOUT(delegateAt("casesList", 0) != nullptr, 10000);
    STEP(shoot(QStringLiteral("03-cases")));
    STEP(click(delegateAt("casesList", 0)));
    QTRY_COMPARE(pageTitle(), QStringLiteral("Market square, 3 May"));

    // ---- A testimony with an imported photo --------------------------------------------
    STEP(waitIdle());
    STEP(click(find("newTestimonyButton")));
    QTRY_COMPARE(pageTitle(), QStringLiteral("New testimony"));
    STEP(waitIdle());
    STEP(typeInto("witnessField", QStringLiteral("Vendor-3")));
    STEP(click(find("courtsCheck")));
    STEP(typeInto("statementArea",
                  QStringLiteral("They closed the square at noon and took my brother.")));
    const QString photo = support_->makePng(480, 320, QStringLiteral("#cc6633"));
    QVERIFY(!photo.isEmpty());
    // The file dialog is the platform's; the page hands what it picks to this call.
    auto* testimony = page()->property("testimony").value<QObject*>();
    QVERIFY(testimony != nullptr);
    QVERIFY(QMetaObject::invokeMethod(testimony, "addFile", Q_ARG(QVariant, QVariant(photo))));
    STEP(shoot(QStringLiteral("04-new-testimony")));
    STEP(click(find("saveButton")));
    // Saved: the app opens the first new item (the written account).
    QTRY_VERIFY_WITH_TIMEOUT(!page()->property("itemId").toString().isEmpty(), 20000);
    QTRY_VERIFY_WITH_TIMEOUT(find("signatureLabel") && find("signatureLabel")->isVisible(), 10000);
    STEP(shoot(QStringLiteral("05-item-testimony")));
    STEP(click(find("backButton")));
    QTRY_COMPARE(pageTitle(), QStringLiteral("Market square, 3 May"));
    QTRY_VERIFY_WITH_TIMEOUT(delegateAt("itemsList", 1) != nullptr, 10000);
    STEP(shoot(QStringLiteral("06-case")));
    QVERIFY2(!support_->vaultContainsFileBytes(vault_, photo), "no plaintext photo on disk");

    // ---- Lock, a wrong passphrase, the right one ----------------------------------------
    STEP(click(find("lockButton")));
    QTRY_COMPARE(pageTitle(), QStringLiteral("Custodia is locked"));
    QVERIFY(vault_->state() == VaultModel::State::Locked);
    STEP(waitIdle());
    STEP(shoot(QStringLiteral("07-unlock")));
    STEP(typeInto("passphraseField", QStringLiteral("river stone lantern 43")));
    QTest::keyClick(window_, Qt::Key_Return);
    QTRY_COMPARE_WITH_TIMEOUT(find("errorLabel")->property("text").toString(),
                              QStringLiteral("That passphrase does not open this vault."), 10000);
    STEP(shoot(QStringLiteral("08-unlock-wrong")));
    STEP(typeInto("passphraseField", passphrase));
    STEP(click(find("unlockButton")));
    QTRY_COMPARE_WITH_TIMEOUT(pageTitle(), QStringLiteral("Cases"), 10000);

    // ---- The photo, with its signature verified -----------------------------------------
    STEP(waitIdle());
    QTRY_VERIFY_WITH_TIMEOUT(delegateAt("casesList", 0) != nullptr, 10000);
    STEP(click(delegateAt("casesList", 0)));
    QTRY_COMPARE(pageTitle(), QStringLiteral("Market square, 3 May"));
    STEP(waitIdle());
    QTRY_VERIFY_WITH_TIMEOUT(delegateAt("itemsList", 1) != nullptr, 10000);
    QQuickItem* photo_row = nullptr;
    for (int row = 0; row < 2; ++row)
        if (delegateAt("itemsList", row)->property("kind").toString() == QStringLiteral("Photo"))
            photo_row = delegateAt("itemsList", row);
    QVERIFY2(photo_row != nullptr, "the photo is listed after unlocking");
    STEP(click(photo_row));
    QTRY_VERIFY_WITH_TIMEOUT(find("signatureLabel") && find("signatureLabel")->isVisible(), 10000);
    STEP(waitIdle());
    auto* item = page()->property("item").value<QObject*>();
    QVERIFY(item->property("signatureValid").toBool());
    QVERIFY(find("signatureLabel")->property("text").toString().startsWith(QStringLiteral("✓")));
    QCOMPARE(item->property("sha256").toString(), support_->sha256OfFile(photo));
    STEP(click(find("previewButton")));
    QTRY_COMPARE_WITH_TIMEOUT(item->property("previewKind").toString(), QStringLiteral("image"),
                              10000);
    QQuickItem* preview = find("previewImage");
    QTRY_COMPARE(preview->property("status").toInt(), 1);  // Image.Ready
    STEP(shoot(QStringLiteral("09-item-photo")));
    {
        // The decrypted photo is what is on screen: its colour, at its place.
        STEP(ensureVisible(preview));
        QTest::qWait(100);
        const QImage frame = window_->grabWindow();
        const QPointF at =
            preview->mapToScene(QPointF(preview->width() / 2 + 20, preview->height() / 4));
        const QColor seen = frame.pixelColor((at * window_->effectiveDevicePixelRatio()).toPoint());
        QVERIFY2(std::abs(seen.red() - 0xcc) < 8 && std::abs(seen.green() - 0x66) < 8 &&
                     std::abs(seen.blue() - 0x33) < 8,
                 qPrintable(seen.name()));
    }

    // ---- Send the case to an organisation's age key, onto a "USB stick" ---------------
    STEP(click(find("backButton")));
    QTRY_COMPARE(pageTitle(), QStringLiteral("Market square, 3 May"));
    STEP(waitIdle());
    STEP(click(find("sendButton")));
    QTRY_COMPARE(pageTitle(), QStringLiteral("Send “Market square, 3 May”"));
    STEP(waitIdle());
    const QVariantMap key = support_->ageKeygen();
    const QString recipient = key.value(QStringLiteral("recipient")).toString();
    QVERIFY2(recipient.startsWith(QStringLiteral("age1")), "age-keygen made a key");
    STEP(typeInto("otherKeyField", recipient));
    STEP(click(find("addKeyButton")));
    const QString usb = support_->makeDir(QStringLiteral("usb"));
    STEP(typeInto("folderField", usb));
    STEP(shoot(QStringLiteral("11-send")));
    STEP(click(find("sendButton")));
    QTRY_VERIFY_WITH_TIMEOUT(!find("doneLabel")->property("text").toString().isEmpty(), 20000);
    QCOMPARE(find("errorLabel")->property("text").toString(), QString());
    STEP(shoot(QStringLiteral("12-sent")));
    {
        const QStringList files = support_->filesIn(usb);
        QCOMPARE(files.size(), 2);
        const QString listing = support_->listBundleWithAge(
            usb + QLatin1Char('/') + files.at(0), key.value(QStringLiteral("keyFile")).toString());
        QVERIFY2(listing.contains(QStringLiteral("testimony.txt")), qPrintable(listing));
        QVERIFY2(listing.contains(QStringLiteral(".png")), qPrintable(listing));
    }

    // ---- Enrol with an intake server, queue the case, receive a receipt ---------------
    STEP(click(find("settingsButton")));
    QTRY_COMPARE(pageTitle(), QStringLiteral("Settings"));
    STEP(shoot(QStringLiteral("10-settings")));
    QVERIFY(!support_->startIntakeServer().isEmpty());
    const QString code = support_->intakeEnrolmentCode();
    QVERIFY(code.startsWith(QStringLiteral("custodia-enroll:v1:")));
    STEP(typeInto("enrolmentCodeField", code));
    STEP(click(find("enrolButton")));
    QTRY_VERIFY_WITH_TIMEOUT(
        find("serverDoneLabel")->property("text").toString().startsWith(QStringLiteral("Enrolled")),
        30000);
    STEP(click(find("backButton")));
    QTRY_COMPARE(pageTitle(), QStringLiteral("Send “Market square, 3 May”"));
    STEP(waitIdle());
    QTRY_VERIFY_WITH_TIMEOUT(find("queueButton")->isVisible(), 10000);
    STEP(click(find("queueButton")));
    QTRY_VERIFY_WITH_TIMEOUT(
        find("doneLabel")->property("text").toString().contains(QStringLiteral("queued")), 20000);
    STEP(click(find("openOutboxButton")));
    QTRY_COMPARE(pageTitle(), QStringLiteral("Outbox"));
    STEP(waitIdle());
    STEP(click(find("sendNowButton")));
    QTRY_COMPARE_WITH_TIMEOUT(find("doneLabel")->property("text").toString(),
                              QStringLiteral("1 bundle received, each with a verified receipt."),
                              60000);
    QCOMPARE(support_->intakeBundleCount(), 1);
    STEP(shoot(QStringLiteral("18-outbox")));
    STEP(click(find("backButton")));
    QTRY_COMPARE(pageTitle(), QStringLiteral("Send “Market square, 3 May”"));
    STEP(waitIdle());

    // ---- The security screens -------------------------------------------------------------
    STEP(click(find("settingsButton")));
    QTRY_COMPARE(pageTitle(), QStringLiteral("Settings"));
    STEP(waitIdle());
    STEP(click(find("changePassphraseButton")));
    QTRY_COMPARE(pageTitle(), QStringLiteral("Change passphrase"));
    STEP(shoot(QStringLiteral("13-change-passphrase")));
    STEP(click(find("backButton")));
    QTRY_COMPARE(pageTitle(), QStringLiteral("Settings"));
    STEP(waitIdle());
    STEP(click(find("duressButton")));
    QTRY_COMPARE(pageTitle(), QStringLiteral("Duress passphrase"));
    STEP(shoot(QStringLiteral("14-duress-passphrase")));
    STEP(click(find("backButton")));
    QTRY_COMPARE(pageTitle(), QStringLiteral("Settings"));
    STEP(waitIdle());
    STEP(click(find("panicWipeButton")));
    QTRY_COMPARE(pageTitle(), QStringLiteral("Panic wipe"));
    STEP(waitIdle());
    STEP(shoot(QStringLiteral("15-panic-wipe")));
    // Armed, then cancelled during the countdown: nothing is erased.
    STEP(typeInto("currentField", passphrase));
    STEP(click(find("wipeButton")));
    QTRY_VERIFY_WITH_TIMEOUT(find("countdownLabel")->isVisible(), 10000);
    STEP(shoot(QStringLiteral("16-wipe-countdown")));
    STEP(click(find("cancelWipeButton")));
    QTRY_VERIFY(!find("countdownLabel")->isVisible());
    QTest::qWait(5500);
    QVERIFY(vault_->state() == VaultModel::State::Unlocked);
    STEP(click(find("backButton")));
    QTRY_COMPARE(pageTitle(), QStringLiteral("Settings"));
    STEP(waitIdle());
    STEP(click(find("lockNowButton")));
    QTRY_COMPARE(pageTitle(), QStringLiteral("Custodia is locked"));

    // ---- Panic wipe for real: back to first run ------------------------------------------
    STEP(waitIdle());
    STEP(typeInto("passphraseField", passphrase));
    STEP(click(find("unlockButton")));
    QTRY_COMPARE_WITH_TIMEOUT(pageTitle(), QStringLiteral("Cases"), 10000);
    STEP(waitIdle());
    STEP(click(find("settingsButton")));
    QTRY_COMPARE(pageTitle(), QStringLiteral("Settings"));
    STEP(waitIdle());
    STEP(click(find("panicWipeButton")));
    QTRY_COMPARE(pageTitle(), QStringLiteral("Panic wipe"));
    STEP(waitIdle());
    STEP(typeInto("currentField", passphrase));
    QTest::keyClick(window_, Qt::Key_Return);
    QTRY_COMPARE_WITH_TIMEOUT(pageTitle(), QStringLiteral("Set up Custodia"), 20000);
    QVERIFY(vault_->state() == VaultModel::State::NoVault);
    QVERIFY(support_->vaultFiles(vault_).isEmpty());
    STEP(shoot(QStringLiteral("17-after-wipe")));
}

QTEST_MAIN(EndToEnd)

#include "e2e_test.moc"
