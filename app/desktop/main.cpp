// custodia: the field investigator's app (DESIGN.md §8).
//
//   custodia [--vault DIR] [--measure-startup]
//
// --measure-startup prints the milliseconds from entering main() to the first
// frame on screen, then quits (tests/bench/desktop_bench.sh).
#include <QtQml/qqmlextensionplugin.h>

#include <QCommandLineParser>
#include <QElapsedTimer>
#include <QGuiApplication>
#include <QQmlApplicationEngine>
#include <QQuickWindow>
#include <QSettings>
#include <QUrl>
#include <cstdio>
#include <filesystem>
#include <system_error>

#include "app_setup.h"
#include "vault_model.h"

Q_IMPORT_QML_PLUGIN(CustodiaPlugin)

int main(int argc, char** argv) {
    QElapsedTimer since_start;
    since_start.start();
    custodia::desktop::harden_process();
    custodia::desktop::install_message_handler();

    QGuiApplication app(argc, argv);
    QGuiApplication::setOrganizationName(QStringLiteral("Custodia"));
    QGuiApplication::setApplicationName(QStringLiteral("custodia"));
    QGuiApplication::setApplicationDisplayName(QStringLiteral("Custodia"));
    (void)custodia::desktop::install_translation(app);

    QCommandLineParser options;
    options.setApplicationDescription(
        QCoreApplication::translate("main", "Record and keep evidence in an encrypted vault."));
    options.addHelpOption();
    const QCommandLineOption vault_option(
        QStringLiteral("vault"), QCoreApplication::translate("main", "The vault directory."),
        QStringLiteral("dir"));
    const QCommandLineOption measure_option(
        QStringLiteral("measure-startup"),
        QCoreApplication::translate("main", "Print the time to the first frame and quit."));
    options.addOption(vault_option);
    options.addOption(measure_option);
    options.process(app);

    std::filesystem::path dir =
        options.isSet(vault_option)
            ? std::filesystem::path(options.value(vault_option).toStdString())
            : custodia::desktop::default_vault_dir();
    // The vault makes its own directory (mode 0700); its parent must exist.
    std::error_code ec;
    std::filesystem::create_directories(dir.parent_path(), ec);

    custodia::desktop::VaultModel vault(dir);
    // Only the auto-lock delay is kept outside the vault: it is no secret.
    QSettings settings;
    vault.setAutoLockMinutes(settings.value(QStringLiteral("autoLockMinutes"), 5).toInt());
    QObject::connect(&vault, &custodia::desktop::VaultModel::autoLockMinutesChanged, &vault, [&] {
        settings.setValue(QStringLiteral("autoLockMinutes"), vault.autoLockMinutes());
    });

    QQmlApplicationEngine engine;
    custodia::desktop::prepare_engine(engine, vault);
    engine.setInitialProperties({{QStringLiteral("vault"), QVariant::fromValue(&vault)}});
    engine.load(QUrl(QStringLiteral("qrc:/qt/qml/Custodia/Main.qml")));
    if (engine.rootObjects().isEmpty()) return 1;

    if (options.isSet(measure_option)) {
        auto* window = qobject_cast<QQuickWindow*>(engine.rootObjects().constFirst());
        if (window == nullptr) return 1;
        QObject::connect(
            window, &QQuickWindow::frameSwapped, &app,
            [&] {
                std::printf("first-frame-ms %lld\n", static_cast<long long>(since_start.elapsed()));
                std::fflush(stdout);
                QCoreApplication::quit();
            },
            Qt::QueuedConnection);
    }
    return app.exec();
}
