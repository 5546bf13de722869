// Panic wipe: the passphrase again, then a short countdown that can still be
// cancelled, then the vault is erased and the app starts from the beginning.
import QtQuick
import QtQuick.Controls
import QtQuick.Controls.Universal
import QtQuick.Layouts
import Custodia

Page {
    id: page

    required property VaultModel vault
    property alias security: security
    readonly property bool counting: security.wipeSecondsLeft > 0

    title: qsTr("Panic wipe")

    StackView.onActivated: current.forceActiveFocus()

    SecuritySettingsModel {
        id: security
        vault: page.vault
        onWipeSecondsLeftChanged: if (security.wipeSecondsLeft > 0) cancelButton.forceActiveFocus()
    }

    function arm() {
        security.armPanicWipe(current.text);
        current.clear();
    }

    FormColumn {
        anchors.fill: parent

        Label {
            Layout.fillWidth: true
            wrapMode: Text.Wrap
            font.bold: true
            text: qsTr("Erase everything in this vault, for good.")
        }
        Label {
            Layout.fillWidth: true
            wrapMode: Text.Wrap
            text: qsTr("The keys are overwritten first, so nothing can be read even if the "
                       + "rest is recovered from the device; then every file is removed. "
                       + "Evidence you have not sent is lost. Custodia then starts as on the "
                       + "first day.")
        }
        Label {
            visible: !page.counting
            text: qsTr("Your current passphrase")
        }
        PassphraseField {
            id: current
            objectName: "currentField"
            visible: !page.counting
            enabled: !security.busy
            focus: true
            Accessible.name: qsTr("Current passphrase")
            onAccepted: page.arm()
        }
        ErrorLabel {
            objectName: "errorLabel"
            text: security.errorMessage
        }
        Label {
            objectName: "doneLabel"
            Layout.fillWidth: true
            visible: text !== "" && !page.counting
            text: security.doneMessage
            wrapMode: Text.Wrap
            Accessible.name: text
        }
        BusyIndicator {
            visible: security.busy
            running: security.busy
            Accessible.name: qsTr("Checking the passphrase")
        }
        Button {
            objectName: "wipeButton"
            visible: !page.counting
            enabled: !security.busy
            Layout.alignment: Qt.AlignRight
            text: qsTr("Wipe the vault")
            // Red, and unlike the accent: this one destroys.
            Universal.foreground: enabled ? "white" : "black"
            background: Rectangle {
                implicitWidth: 32
                implicitHeight: 32
                color: !parent.enabled ? "#cccccc" : parent.down ? "#8c1d18" : "#b3261e"
                border.width: parent.visualFocus ? 2 : 0
                border.color: "black"
            }
            onClicked: page.arm()
            Accessible.name: qsTr("Wipe the vault after a %n second countdown", "",
                                  security.wipeCountdownSeconds)
        }

        Frame {
            Layout.fillWidth: true
            visible: page.counting
            ColumnLayout {
                anchors.fill: parent
                Label {
                    objectName: "countdownLabel"
                    Layout.fillWidth: true
                    wrapMode: Text.Wrap
                    font.pixelSize: 20
                    font.bold: true
                    color: "#b3261e"
                    text: qsTr("Wiping in %n second(s)…", "", security.wipeSecondsLeft)
                    Accessible.role: Accessible.AlertMessage
                    Accessible.name: text
                }
                ProgressBar {
                    Layout.fillWidth: true
                    from: 0
                    to: security.wipeCountdownSeconds
                    value: security.wipeSecondsLeft
                    Accessible.name: qsTr("Time left before the wipe")
                }
                PrimaryButton {
                    id: cancelButton
                    objectName: "cancelWipeButton"
                    Layout.fillWidth: true
                    text: qsTr("Cancel — keep my vault")
                    onClicked: security.cancelPanicWipe()
                    Keys.onEscapePressed: security.cancelPanicWipe()
                }
            }
        }
    }
}
