#include "app_setup.h"

#include <malloc.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <QCoreApplication>
#include <QLocale>
#include <QQmlEngine>
#include <QQuickStyle>
#include <QStandardPaths>
#include <QString>
#include <QTranslator>
#include <QtGlobal>
#include <cstdio>
#include <cstdlib>

#include "item_model.h"
#include "vault_model.h"

namespace custodia::desktop {
namespace {

const char* severity(QtMsgType type) {
    switch (type) {
        case QtDebugMsg:
            return "debug";
        case QtInfoMsg:
            return "info";
        case QtWarningMsg:
            return "warning";
        case QtCriticalMsg:
            return "critical";
        case QtFatalMsg:
            return "fatal";
    }
    return "message";
}

void redacting_handler(QtMsgType type, const QMessageLogContext& context, const QString& text) {
    const char* category = context.category != nullptr ? context.category : "default";
    const char* file = context.file != nullptr ? context.file : "?";
#ifdef QT_NO_DEBUG
    Q_UNUSED(text);
    std::fprintf(stderr, "custodia: %s [%s] %s:%d\n", severity(type), category, file, context.line);
#else
    std::fprintf(stderr, "custodia: %s [%s] %s:%d: %s\n", severity(type), category, file,
                 context.line, text.toLocal8Bit().constData());
#endif
    if (type == QtFatalMsg) std::abort();
}

}  // namespace

void harden_process() {
    const rlimit none{0, 0};
    (void)setrlimit(RLIMIT_CORE, &none);
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    // glibc overwrites every block it frees (those its per-thread cache
    // keeps aside, of 1 KiB or less, excepted): decoders (libpng, zlib) and
    // Qt's string copies free decrypted bytes we cannot reach to wipe.
    // docs/THREAT_MODEL.md, tests/security/desktop_memory_gcore.cpp.
    (void)mallopt(M_PERTURB, 0xa5);
}

void install_message_handler() {
    qInstallMessageHandler(redacting_handler);
}

bool install_translation(QCoreApplication& app) {
    auto* translator = new QTranslator(&app);
    if (translator->load(QLocale(), QStringLiteral("custodia"), QStringLiteral("_"),
                         QStringLiteral(":/i18n")) ||
        translator->load(QStringLiteral(":/i18n/custodia_en.qm"))) {
        QCoreApplication::installTranslator(translator);
        return true;
    }
    delete translator;
    return false;
}

void prepare_engine(QQmlEngine& engine, VaultModel& vault) {
    // Universal: flat, touch-sized, high-contrast controls drawn without
    // shader effects, so they look the same on the software renderer that
    // machines without a GPU fall back to (Material's shadows vanish there).
    QQuickStyle::setStyle(QStringLiteral("Universal"));
    engine.addImportPath(QStringLiteral("qrc:/qt/qml"));
    // The engine owns the provider; the store it reads outlives both.
    engine.addImageProvider(QStringLiteral("custodia"), new PreviewImageProvider(vault.previews()));
}

std::filesystem::path default_vault_dir() {
    const QString base = QStandardPaths::writableLocation(QStandardPaths::GenericDataLocation);
    // The same folder custodia-cli uses, so both tools open one vault.
    return std::filesystem::path(base.toStdString()) / "custodia";
}

}  // namespace custodia::desktop
