// Changing the passphrase: the current one again, then the new one twice.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Custodia

Page {
    id: page

    required property VaultModel vault
    property alias security: security

    signal done()

    title: qsTr("Change passphrase")

    StackView.onActivated: current.forceActiveFocus()

    SecuritySettingsModel {
        id: security
        vault: page.vault
        onChanged: (what) => page.done()
    }

    function submit() {
        security.changePassphrase(current.text, next.text, confirmation.text);
        current.clear();
        next.clear();
        confirmation.clear();
    }

    FormColumn {
        anchors.fill: parent
        enabled: !security.busy

        Label {
            Layout.fillWidth: true
            wrapMode: Text.Wrap
            text: qsTr("The vault's contents stay as they are; only the passphrase that opens "
                       + "it changes. Your recovery key keeps working.")
        }
        Label {
            text: qsTr("Current passphrase")
        }
        PassphraseField {
            id: current
            objectName: "currentField"
            focus: true
            Accessible.name: qsTr("Current passphrase")
            KeyNavigation.tab: next
        }
        Label {
            text: qsTr("New passphrase")
        }
        PassphraseField {
            id: next
            objectName: "newField"
            placeholderText: qsTr("At least %1 characters; several words are easiest")
                             .arg(page.vault.minimumPassphraseLength)
            Accessible.name: qsTr("New passphrase")
            KeyNavigation.tab: confirmation
        }
        StrengthMeter {
            vault: page.vault
            candidate: next.text
        }
        Label {
            text: qsTr("Type the new passphrase again")
        }
        PassphraseField {
            id: confirmation
            objectName: "confirmationField"
            Accessible.name: qsTr("Confirm new passphrase")
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
        RowLayout {
            visible: security.busy
            BusyIndicator {
                running: security.busy
                Accessible.name: qsTr("Working")
            }
            Label {
                Layout.fillWidth: true
                wrapMode: Text.Wrap
                text: qsTr("Checking the current passphrase and protecting the new one…")
            }
        }
        PrimaryButton {
            objectName: "changeButton"
            Layout.alignment: Qt.AlignRight
            text: qsTr("Change passphrase")
            onClicked: page.submit()
        }
    }
}
