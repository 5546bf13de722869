// The vault's cases, and a short form to open a new one.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Custodia

Page {
    id: page

    required property VaultModel vault
    property alias cases: cases

    signal openCase(string caseId, string caseTitle)

    title: qsTr("Cases")

    CasesModel {
        id: cases
        vault: page.vault
        onCaseCreated: (caseId) => {
            newTitle.clear();
            newDescription.clear();
        }
    }

    ColumnLayout {
        anchors.fill: parent
        anchors.margins: 16
        spacing: 12

        Frame {
            Layout.fillWidth: true
            Layout.maximumWidth: 640
            Layout.alignment: Qt.AlignHCenter

            ColumnLayout {
                anchors.fill: parent
                Label {
                    text: qsTr("New case")
                    font.bold: true
                }
                TextField {
                    id: newTitle
                    objectName: "caseTitleField"
                    Layout.fillWidth: true
                    placeholderText: qsTr("Title, e.g. where and when it happened")
                    Accessible.name: qsTr("New case title")
                    onAccepted: cases.createCase(newTitle.text, newDescription.text)
                }
                TextField {
                    id: newDescription
                    objectName: "caseDescriptionField"
                    Layout.fillWidth: true
                    placeholderText: qsTr("Description (optional)")
                    Accessible.name: qsTr("New case description")
                }
                Button {
                    objectName: "createCaseButton"
                    Layout.alignment: Qt.AlignRight
                    text: qsTr("Create case")
                    onClicked: cases.createCase(newTitle.text, newDescription.text)
                    Accessible.name: text
                }
                Label {
                    objectName: "errorLabel"
                    Layout.fillWidth: true
                    visible: text !== ""
                    text: cases.errorMessage
                    color: "#b3261e"
                    wrapMode: Text.Wrap
                    Accessible.role: Accessible.AlertMessage
                    Accessible.name: text
                }
            }
        }

        ListView {
            id: list
            objectName: "casesList"
            Layout.fillWidth: true
            Layout.fillHeight: true
            Layout.maximumWidth: 640
            Layout.alignment: Qt.AlignHCenter
            clip: true
            model: cases
            Accessible.name: qsTr("Cases")
            Accessible.role: Accessible.List

            delegate: ItemDelegate {
                required property string caseId
                required property string title
                required property string description
                required property string created

                width: ListView.view.width
                Accessible.name: title
                Accessible.description: description
                onClicked: page.openCase(caseId, title)

                contentItem: ColumnLayout {
                    spacing: 2
                    Label {
                        Layout.fillWidth: true
                        text: title
                        font.bold: true
                        elide: Text.ElideRight
                    }
                    Label {
                        Layout.fillWidth: true
                        visible: description !== ""
                        text: description
                        elide: Text.ElideRight
                        opacity: 0.8
                    }
                    Label {
                        text: qsTr("Opened %1").arg(created)
                        font.pixelSize: 12
                        opacity: 0.7
                    }
                }
            }

            Label {
                anchors.centerIn: parent
                width: parent.width - 32
                horizontalAlignment: Text.AlignHCenter
                wrapMode: Text.Wrap
                visible: cases.count === 0 && !cases.loading
                text: qsTr("No cases yet. Open one for each situation you document.")
                opacity: 0.7
            }
        }
    }
}
