// The outbox: sealed bundles queued for an intake server, what became of
// each (only a verified receipt counts as received), and sending them now.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Custodia

Page {
    id: page

    required property VaultModel vault
    property alias outbox: outbox

    title: qsTr("Outbox")

    OutboxModel {
        id: outbox
        vault: page.vault
    }

    FormColumn {
        anchors.fill: parent
        enabled: !outbox.busy

        Label {
            Layout.fillWidth: true
            wrapMode: Text.Wrap
            text: qsTr("Bundles are sealed before they wait here: the server stores them "
                       + "without being able to read them, and signs a receipt when it has "
                       + "all of it.")
        }
        Label {
            objectName: "emptyLabel"
            Layout.fillWidth: true
            visible: outbox.count === 0
            wrapMode: Text.Wrap
            opacity: 0.75
            text: qsTr("Nothing queued. Queue a case from its Send screen.")
        }
        Repeater {
            objectName: "entriesRepeater"
            model: outbox.entries
            delegate: Frame {
                required property var modelData
                Layout.fillWidth: true
                Accessible.role: Accessible.ListItem
                Accessible.name: qsTr("%1 to %2: %3").arg(modelData.caseTitle)
                                 .arg(modelData.server).arg(modelData.stateLabel)
                ColumnLayout {
                    anchors.fill: parent
                    spacing: 4
                    Label {
                        Layout.fillWidth: true
                        text: qsTr("%1 → %2").arg(modelData.caseTitle).arg(modelData.server)
                        font.bold: true
                        elide: Text.ElideRight
                    }
                    Label {
                        Layout.fillWidth: true
                        text: modelData.stateLabel
                        wrapMode: Text.Wrap
                        color: modelData.received ? "#1b5e20" : palette.text
                    }
                    ProgressBar {
                        Layout.fillWidth: true
                        visible: !modelData.received
                        value: modelData.progress
                        Accessible.name: qsTr("Part the server confirmed holding")
                    }
                    ErrorLabel {
                        text: modelData.error
                    }
                    Label {
                        Layout.fillWidth: true
                        text: qsTr("%1 · queued %2").arg(modelData.sizeText).arg(modelData.queued)
                        font.pixelSize: 12
                        opacity: 0.7
                        elide: Text.ElideRight
                    }
                }
            }
        }
        ErrorLabel {
            objectName: "errorLabel"
            text: outbox.errorMessage
        }
        Label {
            objectName: "doneLabel"
            Layout.fillWidth: true
            visible: text !== ""
            text: outbox.doneMessage
            wrapMode: Text.Wrap
            Accessible.name: text
        }
        PrimaryButton {
            objectName: "sendNowButton"
            Layout.alignment: Qt.AlignRight
            enabled: outbox.waiting > 0
            text: qsTr("Send now")
            onClicked: outbox.sendNow()
        }
    }

    footer: Pane {
        visible: outbox.busy
        RowLayout {
            anchors.fill: parent
            ProgressBar {
                objectName: "pushProgress"
                Layout.fillWidth: true
                value: outbox.progress
                Accessible.name: qsTr("Sending progress")
            }
            Label {
                text: outbox.progressText
            }
            Button {
                objectName: "cancelPushButton"
                text: qsTr("Stop")
                onClicked: outbox.cancel()
                Accessible.name: qsTr("Stop sending")
            }
        }
    }
}
