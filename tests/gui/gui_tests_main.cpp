// Runs the Qt Quick Test cases in tst_*.qml (one file per CTest test, given
// with -input). Each file gets `support` (gui_test_support.h) and the same
// engine setup as the app, so the screens under test are the app's own.
#include <QtQml/qqmlextensionplugin.h>
#include <QtQuickTest/quicktest.h>

#include <QCoreApplication>
#include <QQmlContext>
#include <QQmlEngine>
#include <QQuickStyle>

#include "app_setup.h"
#include "gui_test_support.h"
#include "item_model.h"

Q_IMPORT_QML_PLUGIN(CustodiaPlugin)

class GuiTestSetup : public QObject {
    Q_OBJECT

  public Q_SLOTS:
    void qmlEngineAvailable(QQmlEngine* engine) {
        support_ = new custodia::testing::GuiTestSupport(engine);
        // The screens show what the app shows: its English translation.
        if (!translation_installed_)
            translation_installed_ =
                custodia::desktop::install_translation(*QCoreApplication::instance());
        QQuickStyle::setStyle(QStringLiteral("Universal"));  // as prepare_engine() does
        engine->addImportPath(QStringLiteral("qrc:/qt/qml"));
        engine->addImageProvider(QStringLiteral("custodia"),
                                 new custodia::desktop::PreviewImageProvider(support_->previews()));
        engine->rootContext()->setContextProperty(QStringLiteral("support"), support_);
    }

  private:
    custodia::testing::GuiTestSupport* support_ = nullptr;
    bool translation_installed_ = false;
};

QUICK_TEST_MAIN_WITH_SETUP(custodia_gui, GuiTestSetup)

#include "gui_tests_main.moc"
