// A new testimony: who (a pseudonym), their consent, where, the account in
// words, recorded audio and imported files. Saving signs and encrypts each
// part; nothing is written outside the vault.
import QtQuick
import QtQuick.Controls
import QtQuick.Dialogs
import QtQuick.Layouts
import Custodia

Page {
    id: page

    required property VaultModel vault
    required property string caseId
    property alias testimony: testimony

    signal done(string firstItemId)

    title: qsTr("New testimony")

    NewTestimonyModel {
        id: testimony
        vault: page.vault
        caseId: page.caseId
        onSaved: (count, firstItemId) => page.done(firstItemId)
    }

    FileDialog {
        id: fileDialog
        title: qsTr("Add files to this testimony")
        fileMode: FileDialog.OpenFiles
        onAccepted: {
            for (let i = 0; i < selectedFiles.length; ++i)
                testimony.addFile(selectedFiles[i]);
        }
    }

    FormColumn {
        anchors.fill: parent
        enabled: !testimony.busy

        Label {
            text: qsTr("Witness")
            font.bold: true
        }
        TextField {
            objectName: "witnessField"
            Layout.fillWidth: true
            text: testimony.witness
            onTextEdited: testimony.witness = text
            placeholderText: qsTr("A pseudonym, never the real name")
            Accessible.name: qsTr("Witness pseudonym")
        }
        TextField {
            objectName: "titleField"
            Layout.fillWidth: true
            text: testimony.title
            onTextEdited: testimony.title = text
            placeholderText: qsTr("Title (optional)")
            Accessible.name: qsTr("Title")
        }

        Label {
            text: qsTr("Consent")
            font.bold: true
        }
        ComboBox {
            objectName: "consentCombo"
            Layout.fillWidth: true
            model: testimony.consentTypes
            currentIndex: testimony.consentType
            onActivated: (index) => testimony.consentType = index
            Accessible.name: qsTr("Type of consent")
        }
        Label {
            visible: testimony.consentType !== 2
            text: qsTr("The witness agreed it may be shared with:")
        }
        Flow {
            Layout.fillWidth: true
            visible: testimony.consentType !== 2
            spacing: 8
            CheckBox {
                objectName: "courtsCheck"
                text: qsTr("Courts")
                checked: testimony.shareWithCourts
                onToggled: testimony.shareWithCourts = checked
                Accessible.name: qsTr("May be shared with courts")
            }
            CheckBox {
                objectName: "publicCheck"
                text: qsTr("The public")
                checked: testimony.shareWithPublic
                onToggled: testimony.shareWithPublic = checked
                Accessible.name: qsTr("May be made public")
            }
        }
        TextField {
            objectName: "organisationsField"
            Layout.fillWidth: true
            visible: testimony.consentType !== 2
            text: testimony.shareWithOrganisations
            onTextEdited: testimony.shareWithOrganisations = text
            placeholderText: qsTr("Organisations, separated by commas")
            Accessible.name: qsTr("Organisations the witness agreed to share with")
        }

        Label {
            text: qsTr("Place")
            font.bold: true
        }
        Switch {
            objectName: "locationSwitch"
            text: qsTr("Record a location")
            checked: testimony.locationKnown
            onToggled: testimony.locationKnown = checked
            Accessible.name: qsTr("Record a location")
        }
        GridLayout {
            Layout.fillWidth: true
            visible: testimony.locationKnown
            columns: page.width > 520 ? 3 : 1
            TextField {
                objectName: "latitudeField"
                Layout.fillWidth: true
                text: testimony.latitude
                onTextEdited: testimony.latitude = text
                placeholderText: qsTr("Latitude, e.g. 48.8566")
                inputMethodHints: Qt.ImhFormattedNumbersOnly
                Accessible.name: qsTr("Latitude")
            }
            TextField {
                objectName: "longitudeField"
                Layout.fillWidth: true
                text: testimony.longitude
                onTextEdited: testimony.longitude = text
                placeholderText: qsTr("Longitude, e.g. 2.3522")
                inputMethodHints: Qt.ImhFormattedNumbersOnly
                Accessible.name: qsTr("Longitude")
            }
            TextField {
                objectName: "accuracyField"
                Layout.fillWidth: true
                text: testimony.accuracy
                onTextEdited: testimony.accuracy = text
                placeholderText: qsTr("Accuracy in metres (optional)")
                inputMethodHints: Qt.ImhFormattedNumbersOnly
                Accessible.name: qsTr("Location accuracy in metres")
            }
        }

        RowLayout {
            Layout.fillWidth: true
            TextField {
                objectName: "languageField"
                Layout.preferredWidth: 120
                text: testimony.language
                onTextEdited: testimony.language = text
                placeholderText: qsTr("Language")
                Accessible.name: qsTr("Language of the account")
            }
            TextField {
                objectName: "tagsField"
                Layout.fillWidth: true
                text: testimony.tags
                onTextEdited: testimony.tags = text
                placeholderText: qsTr("Tags, separated by commas")
                Accessible.name: qsTr("Tags")
            }
        }

        Label {
            text: qsTr("The account")
            font.bold: true
        }
        TextArea {
            objectName: "statementArea"
            Layout.fillWidth: true
            Layout.minimumHeight: 140
            wrapMode: TextEdit.Wrap
            text: testimony.statement
            onTextChanged: if (text !== testimony.statement) testimony.statement = text
            placeholderText: qsTr("What the witness said, in their words")
            Accessible.name: qsTr("Written account")
        }

        Label {
            text: qsTr("Recording")
            font.bold: true
        }
        Label {
            objectName: "noMicrophoneLabel"
            Layout.fillWidth: true
            visible: !testimony.recorder.available
            wrapMode: Text.Wrap
            text: qsTr("No microphone was found on this device, so audio cannot be recorded here. "
                       + "You can import a recording made elsewhere as a file.")
            Accessible.name: text
        }
        RowLayout {
            Layout.fillWidth: true
            visible: testimony.recorder.available
            Button {
                objectName: "recordButton"
                text: testimony.recorder.recording ? qsTr("Stop") : qsTr("Record")
                onClicked: testimony.recorder.recording ? testimony.recorder.stop()
                                                        : testimony.recorder.start()
                Accessible.name: testimony.recorder.recording ? qsTr("Stop recording")
                                                              : qsTr("Start recording")
            }
            ProgressBar {
                Layout.fillWidth: true
                value: testimony.recorder.level
                Accessible.name: qsTr("Sound level")
            }
            Label {
                text: {
                    const s = testimony.recorder.seconds;
                    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
                }
                Accessible.name: qsTr("Recording length")
            }
        }
        Label {
            Layout.fillWidth: true
            visible: testimony.recorder.takes > 0
            text: qsTr("%n recording(s) held in memory until you save.", "",
                       testimony.recorder.takes)
        }
        Label {
            Layout.fillWidth: true
            visible: testimony.recorder.errorMessage !== ""
            text: testimony.recorder.errorMessage
            color: "#b3261e"
            wrapMode: Text.Wrap
            Accessible.role: Accessible.AlertMessage
            Accessible.name: text
        }

        Label {
            text: qsTr("Files")
            font.bold: true
        }
        Repeater {
            model: testimony.files
            delegate: RowLayout {
                required property var modelData
                required property int index
                Layout.fillWidth: true
                Label {
                    Layout.fillWidth: true
                    text: qsTr("%1 (%2)").arg(modelData.name).arg(modelData.size)
                    elide: Text.ElideMiddle
                }
                ToolButton {
                    text: "✕"
                    onClicked: testimony.removeFile(index)
                    Accessible.name: qsTr("Remove %1").arg(modelData.name)
                }
            }
        }
        Button {
            objectName: "addFilesButton"
            text: qsTr("Add files…")
            onClicked: fileDialog.open()
            Accessible.name: qsTr("Add files")
        }

        Label {
            objectName: "errorLabel"
            Layout.fillWidth: true
            visible: text !== ""
            text: testimony.errorMessage
            color: "#b3261e"
            wrapMode: Text.Wrap
            Accessible.role: Accessible.AlertMessage
            Accessible.name: text
        }

        PrimaryButton {
            objectName: "saveButton"
            Layout.alignment: Qt.AlignRight
            text: qsTr("Save testimony")
            onClicked: testimony.save()
            Accessible.name: text
        }
    }

    // Outside the form so that Cancel stays usable while it is disabled.
    footer: Pane {
        visible: testimony.busy
        RowLayout {
            anchors.fill: parent
            ProgressBar {
                objectName: "saveProgress"
                Layout.fillWidth: true
                value: testimony.progress
                Accessible.name: qsTr("Saving progress")
            }
            Label {
                text: testimony.progressText
            }
            Button {
                objectName: "cancelButton"
                text: qsTr("Cancel")
                onClicked: testimony.cancel()
                Accessible.name: qsTr("Cancel saving")
            }
        }
    }
}
