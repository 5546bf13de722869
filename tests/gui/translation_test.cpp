// The app's strings are translatable and its English translation ships:
// - lupdate's extraction (custodia_en.ts, made at build time) holds the main
//   screens' strings, under the screens' own contexts;
// - no QML screen shows a bare string literal that bypasses qsTr();
// - :/i18n/custodia_en.qm is in the app, loads, and gives English plurals.
#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QRegularExpression>
#include <QTranslator>
#include <QXmlStreamReader>
#include <QtTest/QtTest>
#include <map>
#include <set>

#include "app_setup.h"

namespace {

// context -> source texts, as lupdate wrote them.
std::map<QString, std::set<QString>> read_ts(const QString& path) {
    std::map<QString, std::set<QString>> out;
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) return out;
    QXmlStreamReader xml(&file);
    QString context;
    while (!xml.atEnd()) {
        xml.readNext();
        if (!xml.isStartElement()) continue;
        if (xml.name() == QLatin1String("name"))
            context = xml.readElementText();
        else if (xml.name() == QLatin1String("source"))
            out[context].insert(xml.readElementText());
    }
    return out;
}

}  // namespace

class TranslationTest : public QObject {
    Q_OBJECT

  private Q_SLOTS:
    void ts_holds_the_main_screens_strings() {
        const auto ts = read_ts(QStringLiteral(CUSTODIA_TS_FILE));
        QVERIFY2(!ts.empty(), CUSTODIA_TS_FILE);
        const std::pair<const char*, const char*> expected[] = {
            {"FirstRunPage", "Create the vault"},
            {"UnlockPage", "Type your passphrase to open the vault."},
            {"CasesPage", "Create case"},
            {"CasePage", "Send…"},
            {"NewTestimonyPage", "Save testimony"},
            {"SettingsPage", "Lock now"},
            {"SettingsPage", "Type your passphrase to change the auto-lock time."},
            {"SendPage", "Seal and save the bundle"},
            {"ChangePassphrasePage", "Change passphrase"},
            {"DuressPassphrasePage", "Set duress passphrase"},
            {"PanicWipePage", "Wiping in %n second(s)…"},
            {"Main", "Lock the vault now"},
            {"VaultModel", "That passphrase does not open this vault."},
            {"SecuritySettingsModel", "Panic wipe cancelled. Nothing was erased."},
            {"custodia::desktop::SendModel", "Sending cancelled. No bundle was written."},
        };
        for (const auto& [context, text] : expected) {
            // C++ contexts are the class name, with or without namespace.
            QString found_in;
            for (const auto& [name, sources] : ts)
                if ((name == QLatin1String(context) ||
                     name.endsWith(QStringLiteral("::") + QString::fromLatin1(context).section(
                                                              QStringLiteral("::"), -1))) &&
                    sources.count(QString::fromUtf8(text)))
                    found_in = name;
            QVERIFY2(!found_in.isEmpty(),
                     qPrintable(QStringLiteral("%1: \"%2\" not in the .ts")
                                    .arg(QLatin1String(context), QString::fromUtf8(text))));
        }
    }

    // A property that shows words to a person takes qsTr(...), never a bare
    // "literal": lupdate would not see it and no translation could reach it.
    void qml_has_no_untranslated_literals() {
        const QDir dir(QStringLiteral(CUSTODIA_QML_DIR));
        const QStringList files = dir.entryList({QStringLiteral("*.qml")}, QDir::Files);
        QVERIFY(files.size() >= 10);
        static const QRegularExpression bare(
            QStringLiteral("^\\s*(text|title|placeholderText|Accessible\\.name|"
                           "Accessible\\.description|ToolTip\\.text)\\s*:\\s*\"([^\"]*)\""));
        static const QRegularExpression letters(QStringLiteral("[A-Za-z]"));
        QStringList offenders;
        for (const QString& name : files) {
            QFile file(dir.filePath(name));
            QVERIFY(file.open(QIODevice::ReadOnly));
            int line_number = 0;
            while (!file.atEnd()) {
                const QString line = QString::fromUtf8(file.readLine());
                ++line_number;
                const auto m = bare.match(line);
                // Symbols such as ‹ and ✕ carry an Accessible.name instead.
                if (m.hasMatch() && m.captured(2).contains(letters))
                    offenders << QStringLiteral("%1:%2").arg(name).arg(line_number);
            }
        }
        QVERIFY2(offenders.isEmpty(), qPrintable(offenders.join(QStringLiteral(", "))));
    }

    void english_translation_loads_with_plurals() {
        QTranslator english;
        QVERIFY(english.load(QStringLiteral(":/i18n/custodia_en.qm")));
        QVERIFY(!english.isEmpty());
        // A message present in the .qm translates to itself; a missing one
        // would come back empty.
        QCOMPARE(english.translate("SettingsPage", "Lock now"), QStringLiteral("Lock now"));
        QCOMPARE(english.translate("PanicWipePage", "Wiping in %n second(s)…", nullptr, 1),
                 QStringLiteral("Wiping in %n second…"));
        QCOMPARE(english.translate("PanicWipePage", "Wiping in %n second(s)…", nullptr, 5),
                 QStringLiteral("Wiping in %n seconds…"));
        QCOMPARE(english.translate("SettingsPage", "no such string"), QString());

        // What the app installs at start-up gives the same.
        QVERIFY(custodia::desktop::install_translation(*QCoreApplication::instance()));
        QCOMPARE(
            QCoreApplication::translate("PanicWipePage", "Wiping in %n second(s)…", nullptr, 1),
            QStringLiteral("Wiping in 1 second…"));
    }
};

QTEST_GUILESS_MAIN(TranslationTest)

#include "translation_test.moc"
