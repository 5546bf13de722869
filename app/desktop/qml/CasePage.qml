// One case: its items, newest capture last, and a search over them.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Custodia

Page {
    id: page

    required property VaultModel vault
    required property string caseId
    required property string caseTitle
    property alias items: items

    signal openItem(string itemId)
    signal newTestimony()
    signal send()

    title: caseTitle

    ItemsModel {
        id: items
        vault: page.vault
        caseId: page.caseId
    }

    ColumnLayout {
        anchors.fill: parent
        anchors.margins: 16
        spacing: 12

        RowLayout {
            Layout.fillWidth: true
            Layout.maximumWidth: 640
            Layout.alignment: Qt.AlignHCenter

            TextField {
                id: search
                objectName: "searchField"
                Layout.fillWidth: true
                placeholderText: qsTr("Search this case")
                inputMethodHints: Qt.ImhNoPredictiveText
                Accessible.name: qsTr("Search this case")
                Accessible.role: Accessible.EditableText
                onTextChanged: items.query = text
            }
        }
        RowLayout {
            Layout.fillWidth: true
            Layout.maximumWidth: 640
            Layout.alignment: Qt.AlignHCenter

            Item {
                Layout.fillWidth: true
            }
            Button {
                objectName: "sendButton"
                text: qsTr("Send…")
                enabled: items.count > 0
                onClicked: page.send()
                Accessible.name: qsTr("Send this case")
            }
            PrimaryButton {
                objectName: "newTestimonyButton"
                text: qsTr("New testimony")
                onClicked: page.newTestimony()
                Accessible.name: text
            }
        }

        Label {
            objectName: "errorLabel"
            Layout.fillWidth: true
            visible: text !== ""
            text: items.errorMessage
            color: "#b3261e"
            wrapMode: Text.Wrap
            Accessible.role: Accessible.AlertMessage
            Accessible.name: text
        }

        ListView {
            id: list
            objectName: "itemsList"
            Layout.fillWidth: true
            Layout.fillHeight: true
            Layout.maximumWidth: 640
            Layout.alignment: Qt.AlignHCenter
            clip: true
            model: items
            spacing: 4
            Accessible.name: qsTr("Items in this case")
            Accessible.role: Accessible.List

            delegate: ItemDelegate {
                required property string itemId
                required property string kind
                required property string title
                required property string captured
                required property string witness
                required property string consent
                required property string syncState
                required property bool shredded

                width: ListView.view.width
                Accessible.name: qsTr("%1: %2").arg(kind).arg(title)
                Accessible.description: qsTr("Captured %1, witness %2").arg(captured).arg(witness)
                onClicked: page.openItem(itemId)

                contentItem: ColumnLayout {
                    spacing: 2
                    RowLayout {
                        Layout.fillWidth: true
                        Label {
                            Layout.fillWidth: true
                            text: title
                            font.bold: true
                            elide: Text.ElideRight
                            font.strikeout: shredded
                        }
                        Label {
                            text: syncState
                            font.pixelSize: 12
                            opacity: 0.7
                        }
                    }
                    Label {
                        Layout.fillWidth: true
                        text: qsTr("%1 · %2").arg(kind).arg(captured)
                        elide: Text.ElideRight
                        font.pixelSize: 13
                    }
                    Label {
                        Layout.fillWidth: true
                        text: qsTr("Witness %1 · %2").arg(witness).arg(consent)
                        elide: Text.ElideRight
                        font.pixelSize: 13
                        opacity: 0.75
                    }
                }
            }

            Label {
                anchors.centerIn: parent
                width: parent.width - 32
                horizontalAlignment: Text.AlignHCenter
                wrapMode: Text.Wrap
                visible: items.count === 0 && !items.loading
                text: search.text === "" ? qsTr("Nothing recorded in this case yet.")
                                         : qsTr("Nothing matches “%1”.").arg(search.text)
                opacity: 0.7
            }
        }
    }
}
