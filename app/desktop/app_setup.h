// What the app does before it shows anything, shared by main() and the
// end-to-end test so that the test drives the same app.
#pragma once

#include <filesystem>

class QCoreApplication;
class QQmlEngine;

namespace custodia::desktop {

class VaultModel;

// No core dumps (RLIMIT_CORE 0) and not dumpable (PR_SET_DUMPABLE 0): a crash
// must not write the master key or a witness's words to disk, and another
// process of the same user cannot ptrace us to read them.
void harden_process();

// Qt and QML warnings can quote property values, and so user data. Release
// builds print only the severity, category and source location; debug
// builds also print the text, for developers.
void install_message_handler();

// The translation for the system's language from :/i18n (built by lupdate and
// lrelease, app/desktop/CMakeLists.txt), English when there is none for it.
// False when not even English loads.
bool install_translation(QCoreApplication& app);

// The QML module's import path, the preview image provider and the style.
void prepare_engine(QQmlEngine& engine, VaultModel& vault);

// $XDG_DATA_HOME/custodia/vault (~/.local/share/custodia/vault).
std::filesystem::path default_vault_dir();

}  // namespace custodia::desktop
