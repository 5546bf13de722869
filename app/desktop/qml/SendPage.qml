// Sending a case: to whom (age public keys), where to save the sealed
// bundle (a USB stick, say), then sealing it with progress and a way to
// cancel. Only the recipients can open the bundle.
import QtQuick
import QtQuick.Controls
import QtQuick.Dialogs
import QtQuick.Layouts
import Custodia

Page {
    id: page

    required property VaultModel vault
    required property string caseId
    required property string caseTitle
    property alias send: send
    property alias savedRecipients: savedRecipients

    signal openOutbox()

    title: qsTr("Send “%1”").arg(caseTitle)

    // Back from Settings, where a server may have been enrolled.
    StackView.onActivated: send.loadServers()

    SendModel {
        id: send
        vault: page.vault
        caseId: page.caseId
        caseTitle: page.caseTitle
    }
    RecipientsModel {
        id: savedRecipients
        vault: page.vault
    }

    FolderDialog {
        id: folderDialog
        title: qsTr("Where to save the sealed bundle")
        onAccepted: {
            send.setFolderUrl(selectedFolder);
            folderField.text = send.folder;
        }
    }

    FormColumn {
        anchors.fill: parent
        enabled: !send.busy

        Label {
            Layout.fillWidth: true
            wrapMode: Text.Wrap
            text: qsTr("Custodia seals everything in this case that may be shared into one "
                       + "encrypted, signed bundle. Only the recipients you choose can open it, "
                       + "so it is safe to carry on a USB stick.")
        }

        Label {
            text: qsTr("Recipients")
            font.bold: true
        }
        Label {
            Layout.fillWidth: true
            visible: savedRecipients.count === 0
            wrapMode: Text.Wrap
            opacity: 0.75
            text: qsTr("No saved recipients yet: save them in Settings, or paste a key below.")
        }
        Repeater {
            model: savedRecipients.recipients
            delegate: WrappingCheckBox {
                required property var modelData
                Layout.fillWidth: true
                objectName: "recipientCheck_" + modelData.key
                text: modelData.name
                checked: send.recipients.indexOf(modelData.key) >= 0
                onToggled: checked ? send.addRecipient(modelData.key)
                                   : send.removeRecipient(modelData.key)
                Accessible.name: qsTr("Send to %1").arg(modelData.name)
                Accessible.checkable: true
            }
        }
        RowLayout {
            Layout.fillWidth: true
            TextField {
                id: otherKey
                objectName: "otherKeyField"
                Layout.fillWidth: true
                placeholderText: qsTr("Another public key: age1…")
                font.family: "monospace"
                inputMethodHints: Qt.ImhNoPredictiveText | Qt.ImhNoAutoUppercase
                Accessible.name: qsTr("Another recipient's public key")
                onAccepted: if (send.addRecipient(text)) clear()
            }
            Button {
                objectName: "addKeyButton"
                text: qsTr("Add")
                onClicked: if (send.addRecipient(otherKey.text)) otherKey.clear()
                Accessible.name: qsTr("Add this recipient")
            }
        }
        Repeater {
            // Keys pasted for this bundle only (saved ones show as checked boxes).
            model: send.recipients
            delegate: RowLayout {
                required property string modelData
                Layout.fillWidth: true
                visible: {
                    const saved = savedRecipients.recipients;
                    for (let i = 0; i < saved.length; ++i)
                        if (saved[i].key === modelData) return false;
                    return true;
                }
                Label {
                    Layout.fillWidth: true
                    text: modelData
                    font.family: "monospace"
                    font.pixelSize: 12
                    elide: Text.ElideMiddle
                }
                ToolButton {
                    text: "✕"
                    onClicked: send.removeRecipient(modelData)
                    Accessible.name: qsTr("Remove recipient %1").arg(modelData)
                }
            }
        }

        Label {
            Layout.topMargin: 8
            text: qsTr("Save to")
            font.bold: true
        }
        RowLayout {
            Layout.fillWidth: true
            TextField {
                id: folderField
                objectName: "folderField"
                Layout.fillWidth: true
                placeholderText: qsTr("Folder, e.g. /media/usb")
                inputMethodHints: Qt.ImhNoPredictiveText | Qt.ImhNoAutoUppercase
                Accessible.name: qsTr("Folder to save the bundle in")
                onTextEdited: send.folder = text
            }
            Button {
                objectName: "chooseFolderButton"
                text: qsTr("Choose…")
                onClicked: folderDialog.open()
                Accessible.name: qsTr("Choose a folder")
            }
        }

        WrappingCheckBox {
            objectName: "identitiesCheck"
            Layout.fillWidth: true
            text: qsTr("Include witnesses' identities (only if the recipient needs them)")
            checked: send.includeWitnessIdentities
            onToggled: send.includeWitnessIdentities = checked
            Accessible.name: text
        }
        WrappingCheckBox {
            objectName: "withoutConsentCheck"
            Layout.fillWidth: true
            text: qsTr("Also send items without documented consent")
            checked: send.allowWithoutConsent
            onToggled: send.allowWithoutConsent = checked
            Accessible.name: text
        }

        ErrorLabel {
            objectName: "errorLabel"
            text: send.errorMessage
        }
        Label {
            objectName: "doneLabel"
            Layout.fillWidth: true
            visible: text !== ""
            text: send.doneMessage
            wrapMode: Text.Wrap
            Accessible.name: text
        }
        PrimaryButton {
            objectName: "sendButton"
            Layout.alignment: Qt.AlignRight
            text: qsTr("Seal and save the bundle")
            onClicked: send.send()
        }

        Label {
            Layout.topMargin: 8
            text: qsTr("Or send over the internet")
            font.bold: true
        }
        Label {
            Layout.fillWidth: true
            visible: send.servers.length === 0
            wrapMode: Text.Wrap
            opacity: 0.75
            text: qsTr("Enrol with your organisation's server in Settings to send from here.")
        }
        RowLayout {
            Layout.fillWidth: true
            visible: send.servers.length > 0
            ComboBox {
                id: serverCombo
                objectName: "serverCombo"
                Layout.fillWidth: true
                model: send.servers
                Accessible.name: qsTr("Server to send to")
            }
            Button {
                objectName: "queueButton"
                text: qsTr("Queue for upload")
                onClicked: send.queueForUpload(serverCombo.currentText)
                Accessible.name: text
            }
        }
        Button {
            objectName: "openOutboxButton"
            Layout.alignment: Qt.AlignRight
            visible: send.servers.length > 0
            text: qsTr("Open the outbox")
            onClicked: page.openOutbox()
            Accessible.name: text
        }
    }

    // Outside the form so that Cancel stays usable while it is disabled.
    footer: Pane {
        visible: send.busy
        RowLayout {
            anchors.fill: parent
            ProgressBar {
                objectName: "sendProgress"
                Layout.fillWidth: true
                value: send.progress
                Accessible.name: qsTr("Sealing progress")
            }
            Label {
                text: send.progressText
            }
            Button {
                objectName: "cancelSendButton"
                text: qsTr("Cancel")
                onClicked: send.cancel()
                Accessible.name: qsTr("Cancel sending")
            }
        }
    }
}
