// One item: the capture signature first, then what was recorded, the
// SHA-256 a court can recompute, the custody timeline, and the content
// decrypted into memory when asked for.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Custodia

Page {
    id: page

    required property VaultModel vault
    required property string itemId
    property alias item: item

    title: item.title !== "" ? item.title : qsTr("Item")

    ItemModel {
        id: item
        vault: page.vault
        itemId: page.itemId
    }

    component Field: ColumnLayout {
        property string label
        property string value
        Layout.fillWidth: true
        visible: value !== ""
        spacing: 0
        Label {
            text: parent.label
            font.pixelSize: 12
            opacity: 0.7
        }
        Label {
            Layout.fillWidth: true
            text: parent.value
            wrapMode: Text.Wrap
            Accessible.name: parent.label + ": " + parent.value
        }
    }

    FormColumn {
        anchors.fill: parent
        visible: item.loaded

        Frame {
            Layout.fillWidth: true
            background: Rectangle {
                radius: 6
                color: item.signatureValid ? "#e6f4ea" : "#fce8e6"
                border.color: item.signatureValid ? "#1e8e3e" : "#b3261e"
            }
            Label {
                objectName: "signatureLabel"
                width: parent.width
                wrapMode: Text.Wrap
                color: item.signatureValid ? "#0d652d" : "#8c1d18"
                text: item.signatureValid
                      ? qsTr("✓ Signature valid: this device signed this SHA-256, time and place at capture.")
                      : qsTr("✗ The capture signature does not verify. Do not rely on this item.")
                Accessible.role: Accessible.StaticText
                Accessible.name: text
            }
        }

        Label {
            Layout.fillWidth: true
            visible: item.shredded
            wrapMode: Text.Wrap
            text: qsTr("Consent was withdrawn: the content was destroyed. The record below remains.")
            color: "#8c1d18"
        }

        Field { label: qsTr("Kind"); value: item.kind }
        Field { label: qsTr("Captured (device time)"); value: item.capturedLocal }
        Field { label: qsTr("Captured (UTC)"); value: item.capturedUtc + "  ·  " + qsTr("clock: %1").arg(item.clockSource) }
        Field { label: qsTr("Investigator"); value: item.investigator }
        Field { label: qsTr("Witness"); value: item.witness }
        Field { label: qsTr("Consent"); value: item.consent }
        Field { label: qsTr("Location"); value: item.location }
        Field { label: qsTr("Language"); value: item.language }
        Field { label: qsTr("Tags"); value: item.tags }
        Field { label: qsTr("File"); value: item.originalName !== "" ? item.originalName + "  ·  " + item.mimeType + "  ·  " + item.size : "" }

        Label {
            text: qsTr("SHA-256 of the original")
            font.pixelSize: 12
            opacity: 0.7
        }
        TextEdit {
            objectName: "sha256Text"
            Layout.fillWidth: true
            readOnly: true
            selectByMouse: true
            wrapMode: TextEdit.WrapAnywhere
            font.family: "monospace"
            text: item.sha256
            color: palette.text
            Accessible.name: qsTr("SHA-256")
            Accessible.description: text
        }

        Label {
            text: qsTr("Content")
            font.bold: true
        }
        Label {
            Layout.fillWidth: true
            visible: item.canPreview && item.previewKind === ""
            wrapMode: Text.Wrap
            opacity: 0.8
            text: qsTr("Showing the content decrypts it into memory only. The custody log records that it was viewed.")
        }
        Button {
            objectName: "previewButton"
            visible: item.canPreview && item.previewKind === ""
            enabled: !item.previewLoading
            text: item.previewLoading ? qsTr("Decrypting…") : qsTr("Show content")
            onClicked: item.loadPreview()
            Accessible.name: qsTr("Show content")
        }
        Label {
            Layout.fillWidth: true
            visible: !item.canPreview && !item.shredded
            wrapMode: Text.Wrap
            opacity: 0.8
            text: qsTr("This kind of file cannot be shown in Custodia.")
        }
        Image {
            id: preview
            objectName: "previewImage"
            Layout.fillWidth: true
            Layout.preferredHeight: visible && implicitWidth > 0
                                    ? Math.min(480, width * implicitHeight / implicitWidth) : 0
            visible: item.previewKind === "image"
            source: item.previewSource
            fillMode: Image.PreserveAspectFit
            cache: false
            asynchronous: false
            Accessible.role: Accessible.Graphic
            Accessible.name: qsTr("Preview of %1").arg(item.originalName)
        }
        Frame {
            Layout.fillWidth: true
            visible: item.previewKind === "text"
            Label {
                objectName: "previewText"
                width: parent.width
                wrapMode: Text.Wrap
                text: item.previewText
                textFormat: Text.PlainText
                Accessible.name: qsTr("Content")
                Accessible.description: text
            }
        }
        Button {
            objectName: "hidePreviewButton"
            visible: item.previewKind !== ""
            text: qsTr("Hide content")
            onClicked: item.closePreview()
            Accessible.name: text
        }

        Label {
            text: qsTr("Chain of custody")
            font.bold: true
        }
        Repeater {
            objectName: "timeline"
            model: item.timeline
            delegate: RowLayout {
                required property var modelData
                Layout.fillWidth: true
                spacing: 12
                Rectangle {
                    Layout.alignment: Qt.AlignTop
                    Layout.topMargin: 6
                    width: 8
                    height: 8
                    radius: 4
                    color: "#00796b"
                }
                ColumnLayout {
                    Layout.fillWidth: true
                    spacing: 0
                    Label {
                        text: modelData.event
                        font.bold: true
                    }
                    Label {
                        Layout.fillWidth: true
                        text: qsTr("%1 · log entry %2").arg(modelData.time).arg(modelData.index)
                        font.pixelSize: 12
                        opacity: 0.75
                        wrapMode: Text.Wrap
                    }
                }
                Accessible.name: modelData.event + ", " + modelData.time
            }
        }
    }

    BusyIndicator {
        anchors.centerIn: parent
        running: item.loading && !item.loaded
        Accessible.name: qsTr("Loading")
    }
    Label {
        anchors.centerIn: parent
        width: parent.width - 32
        visible: item.errorMessage !== "" && !item.loaded
        text: item.errorMessage
        wrapMode: Text.Wrap
        color: "#b3261e"
        Accessible.role: Accessible.AlertMessage
        Accessible.name: text
    }
}
