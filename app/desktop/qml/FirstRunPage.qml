// First run: make the vault, then show the recovery key exactly once.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Custodia

Page {
    id: page

    required property VaultModel vault
    readonly property bool showingRecoveryKey: vault.recoveryKey !== ""

    title: showingRecoveryKey ? qsTr("Your recovery key") : qsTr("Set up Custodia")

    StackView.onActivated: investigator.forceActiveFocus()

    function create() {
        vault.create(passphrase.text, confirmation.text, investigator.text);
        // The passphrase now lives in locked memory in C++; the fields forget it.
        passphrase.clear();
        confirmation.clear();
    }

    FormColumn {
        anchors.fill: parent
        visible: !page.showingRecoveryKey
        enabled: !page.vault.busy

        Label {
            Layout.fillWidth: true
            wrapMode: Text.Wrap
            text: qsTr("Custodia keeps what you record in an encrypted vault on this device. "
                       + "Choose a passphrase that you can remember and that nobody can guess. "
                       + "Without it, nobody can read the vault — not even you, unless you keep "
                       + "the recovery key shown next.")
        }

        Label {
            text: qsTr("Your name, as the custody log should record it")
        }
        TextField {
            id: investigator
            objectName: "investigatorField"
            Layout.fillWidth: true
            placeholderText: qsTr("e.g. your name or staff number")
            Accessible.name: qsTr("Investigator name")
        }

        Label {
            text: qsTr("Passphrase")
        }
        TextField {
            id: passphrase
            objectName: "passphraseField"
            Layout.fillWidth: true
            echoMode: TextInput.Password
            inputMethodHints: Qt.ImhSensitiveData | Qt.ImhNoPredictiveText | Qt.ImhHiddenText
            placeholderText: qsTr("At least %1 characters; several words are easiest")
                             .arg(page.vault.minimumPassphraseLength)
            Accessible.name: qsTr("Passphrase")
            Accessible.passwordEdit: true
        }
        StrengthMeter {
            vault: page.vault
            candidate: passphrase.text
        }

        Label {
            text: qsTr("Type the passphrase again")
        }
        TextField {
            id: confirmation
            objectName: "confirmationField"
            Layout.fillWidth: true
            echoMode: TextInput.Password
            inputMethodHints: Qt.ImhSensitiveData | Qt.ImhNoPredictiveText | Qt.ImhHiddenText
            Accessible.name: qsTr("Confirm passphrase")
            Accessible.passwordEdit: true
            onAccepted: page.create()
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

        PrimaryButton {
            objectName: "createButton"
            text: qsTr("Create the vault")
            Layout.alignment: Qt.AlignRight
            onClicked: page.create()
            Accessible.name: text
        }

        RowLayout {
            visible: page.vault.busy
            BusyIndicator {
                running: page.vault.busy
                Accessible.name: qsTr("Working")
            }
            Label {
                Layout.fillWidth: true
                wrapMode: Text.Wrap
                text: qsTr("Creating the vault. Making the passphrase slow to guess takes a few seconds…")
            }
        }
    }

    FormColumn {
        anchors.fill: parent
        visible: page.showingRecoveryKey

        Label {
            Layout.fillWidth: true
            wrapMode: Text.Wrap
            font.bold: true
            text: qsTr("Write this key on paper now.")
        }
        Label {
            Layout.fillWidth: true
            wrapMode: Text.Wrap
            text: qsTr("It opens the vault if you forget your passphrase. It is shown only this "
                       + "once and Custodia does not keep it. Keep the paper apart from this "
                       + "device, and never photograph it or type it into another app.")
        }
        Frame {
            Layout.fillWidth: true
            Label {
                objectName: "recoveryKeyLabel"
                width: parent.width
                text: page.vault.recoveryKey
                font.family: "monospace"
                font.pixelSize: 18
                wrapMode: Text.Wrap  // between groups, never inside one
                Accessible.name: qsTr("Recovery key")
                Accessible.description: text
            }
        }
        PrimaryButton {
            objectName: "writtenDownButton"
            text: qsTr("I have written it down")
            Layout.alignment: Qt.AlignRight
            onClicked: page.vault.acknowledgeRecoveryKey()
            Accessible.name: text
        }
    }
}
