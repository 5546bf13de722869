// The duress passphrase: what it does, in words, before it is set.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Custodia

Page {
    id: page

    required property VaultModel vault
    property alias security: security

    signal done()

    title: qsTr("Duress passphrase")

    StackView.onActivated: current.forceActiveFocus()

    SecuritySettingsModel {
        id: security
        vault: page.vault
        onChanged: (what) => page.done()
    }

    function submit() {
        security.setDuressPassphrase(current.text, duress.text, confirmation.text);
        current.clear();
        duress.clear();
        confirmation.clear();
    }

    FormColumn {
        anchors.fill: parent
        enabled: !security.busy

        Label {
            objectName: "explanation"
            Layout.fillWidth: true
            wrapMode: Text.Wrap
            text: qsTr("A second passphrase to give if someone forces you to open Custodia. "
                       + "Typed at the lock screen, it silently and permanently erases "
                       + "everything in this vault and opens a new, empty one, as if you had "
                       + "never recorded anything. It cannot be undone.")
        }
        Label {
            Layout.fillWidth: true
            wrapMode: Text.Wrap
            text: qsTr("Choose one that looks like a real passphrase and that you will never "
                       + "type by mistake. Setting a new one replaces the old one.")
        }
        Label {
            text: qsTr("Your current passphrase")
        }
        PassphraseField {
            id: current
            objectName: "currentField"
            focus: true
            Accessible.name: qsTr("Current passphrase")
            KeyNavigation.tab: duress
        }
        Label {
            text: qsTr("Duress passphrase")
        }
        PassphraseField {
            id: duress
            objectName: "duressField"
            Accessible.name: qsTr("Duress passphrase")
            KeyNavigation.tab: confirmation
        }
        StrengthMeter {
            vault: page.vault
            candidate: duress.text
        }
        Label {
            text: qsTr("Type the duress passphrase again")
        }
        PassphraseField {
            id: confirmation
            objectName: "confirmationField"
            Accessible.name: qsTr("Confirm duress passphrase")
            onAccepted: page.submit()
        }
        ErrorLabel {
            objectName: "errorLabel"
            text: security.errorMessage
        }
        Label {
            objectName: "doneLabel"
            Layout.fillWidth: true
            visible: text !== ""
            text: security.doneMessage
            font.bold: true
            wrapMode: Text.Wrap
            Accessible.role: Accessible.AlertMessage
            Accessible.name: text
        }
        BusyIndicator {
            visible: security.busy
            running: security.busy
            Accessible.name: qsTr("Working")
        }
        PrimaryButton {
            objectName: "setDuressButton"
            Layout.alignment: Qt.AlignRight
            text: qsTr("Set duress passphrase")
            onClicked: page.submit()
        }
    }
}
