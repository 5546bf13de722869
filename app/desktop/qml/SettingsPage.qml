// Settings that exist today: auto-lock and locking now; what this device
// signs with, for the organisation that will verify its evidence.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Custodia

Page {
    id: page

    required property VaultModel vault

    title: qsTr("Settings")

    FormColumn {
        anchors.fill: parent

        Label {
            text: qsTr("Auto-lock")
            font.bold: true
        }
        RowLayout {
            Layout.fillWidth: true
            Label {
                Layout.fillWidth: true
                wrapMode: Text.Wrap
                text: qsTr("Lock the vault after this many minutes without use")
            }
            SpinBox {
                objectName: "autoLockSpin"
                from: 1
                to: 120
                value: page.vault.autoLockMinutes
                editable: true
                onValueModified: page.vault.autoLockMinutes = value
                Accessible.name: qsTr("Minutes before auto-lock")
            }
        }
        Button {
            objectName: "lockNowButton"
            text: qsTr("Lock now")
            onClicked: page.vault.lock()
            Accessible.name: qsTr("Lock the vault now")
        }

        Label {
            Layout.topMargin: 12
            text: qsTr("This device")
            font.bold: true
        }
        Label {
            text: qsTr("Investigator")
            font.pixelSize: 12
            opacity: 0.7
        }
        Label {
            Layout.fillWidth: true
            text: page.vault.investigator
            wrapMode: Text.Wrap
            Accessible.name: qsTr("Investigator: %1").arg(text)
        }
        Label {
            text: qsTr("Device signing key (minisign public key)")
            font.pixelSize: 12
            opacity: 0.7
        }
        TextEdit {
            objectName: "deviceKeyText"
            Layout.fillWidth: true
            readOnly: true
            selectByMouse: true
            wrapMode: TextEdit.WrapAnywhere
            font.family: "monospace"
            text: page.vault.deviceKey
            color: palette.text
            Accessible.name: qsTr("Device signing key")
            Accessible.description: text
        }
        Label {
            text: qsTr("Vault folder")
            font.pixelSize: 12
            opacity: 0.7
        }
        Label {
            Layout.fillWidth: true
            text: page.vault.vaultPath
            wrapMode: Text.WrapAnywhere
            Accessible.name: qsTr("Vault folder: %1").arg(text)
        }
    }
}
