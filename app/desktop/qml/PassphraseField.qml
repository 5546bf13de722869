// A passphrase text field: hidden, no prediction, no suggestions, nothing
// an input method could learn or keep.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

TextField {
    Layout.fillWidth: true
    echoMode: TextInput.Password
    inputMethodHints: Qt.ImhSensitiveData | Qt.ImhNoPredictiveText | Qt.ImhHiddenText
    Accessible.passwordEdit: true
}
