// Unlock: one passphrase field. Wrong passphrases and the growing wait after
// repeated failures are explained in plain words.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Custodia

Page {
    id: page

    required property VaultModel vault

    title: qsTr("Custodia is locked")

    StackView.onActivated: passphrase.forceActiveFocus()

    function unlock() {
        vault.unlock(passphrase.text);
        passphrase.clear();
    }

    FormColumn {
        anchors.fill: parent
        maximumWidth: 420

        Item {
            Layout.preferredHeight: 24
        }
        Label {
            Layout.fillWidth: true
            wrapMode: Text.Wrap
            text: qsTr("Type your passphrase to open the vault.")
        }
        TextField {
            id: passphrase
            objectName: "passphraseField"
            Layout.fillWidth: true
            focus: true
            enabled: !page.vault.busy && page.vault.waitSeconds === 0
            echoMode: TextInput.Password
            inputMethodHints: Qt.ImhSensitiveData | Qt.ImhNoPredictiveText | Qt.ImhHiddenText
            placeholderText: qsTr("Passphrase")
            Accessible.name: qsTr("Passphrase")
            Accessible.passwordEdit: true
            onAccepted: page.unlock()
        }
        PrimaryButton {
            objectName: "unlockButton"
            text: qsTr("Unlock")
            Layout.fillWidth: true
            enabled: !page.vault.busy && page.vault.waitSeconds === 0
            onClicked: page.unlock()
            Accessible.name: text
        }
        RowLayout {
            visible: page.vault.busy
            BusyIndicator {
                running: page.vault.busy
                Accessible.name: qsTr("Working")
            }
            Label {
                text: qsTr("Checking the passphrase…")
            }
        }
        Label {
            objectName: "errorLabel"
            Layout.fillWidth: true
            visible: text !== ""
            text: page.vault.errorMessage
            color: "#b3261e"
            wrapMode: Text.Wrap
            Accessible.role: Accessible.AlertMessage
            Accessible.name: text
        }
        Label {
            objectName: "waitLabel"
            Layout.fillWidth: true
            visible: page.vault.waitSeconds > 0
            text: qsTr("You can try again in %n second(s).", "", page.vault.waitSeconds)
            wrapMode: Text.Wrap
            Accessible.name: text
        }
    }
}
