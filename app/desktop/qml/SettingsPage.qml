// Settings. Security settings (auto-lock, passphrase, duress passphrase,
// panic wipe) ask for the current passphrase again; the recipients a case
// can be sent to; what this device signs with.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Custodia

Page {
    id: page

    required property VaultModel vault
    property alias security: security
    property alias savedRecipients: savedRecipients
    property alias servers: servers

    // "passphrase", "duress" or "wipe"
    signal openSecurityPage(string which)
    signal openOutbox()

    title: qsTr("Settings")

    SecuritySettingsModel {
        id: security
        vault: page.vault
        onChanged: (what) => {
            if (what === "autoLock")
                autoLockSpin.value = page.vault.autoLockMinutes;
            else if (what === "sync")
                servers.reload();
        }
    }
    RecipientsModel {
        id: savedRecipients
        vault: page.vault
    }
    ServersModel {
        id: servers
        vault: page.vault
        onEnrolled: serverName.clear()
    }

    function addRecipient() {
        if (savedRecipients.add(recipientName.text, recipientKey.text)) {
            recipientName.clear();
            recipientKey.clear();
        }
    }

    function enrol() {
        servers.enrol(enrolmentCode.text, serverName.text);
        // The code's token is a one-time secret: the field forgets it.
        enrolmentCode.clear();
    }

    function applyTor() {
        security.changeSyncSettings(torPassphrase.text, proxyField.text, requireTor.checked);
        torPassphrase.clear();
    }

    function applyAutoLock() {
        security.changeAutoLock(autoLockPassphrase.text, autoLockSpin.value);
        autoLockPassphrase.clear();
    }

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
                id: autoLockSpin
                objectName: "autoLockSpin"
                from: 1
                to: 120
                value: page.vault.autoLockMinutes
                editable: true
                Accessible.name: qsTr("Minutes before auto-lock")
            }
        }
        ColumnLayout {
            Layout.fillWidth: true
            visible: autoLockSpin.value !== page.vault.autoLockMinutes
            Label {
                Layout.fillWidth: true
                wrapMode: Text.Wrap
                text: qsTr("Type your passphrase to change the auto-lock time.")
            }
            RowLayout {
                Layout.fillWidth: true
                PassphraseField {
                    id: autoLockPassphrase
                    objectName: "autoLockPassphraseField"
                    enabled: !security.busy
                    placeholderText: qsTr("Current passphrase")
                    Accessible.name: qsTr("Current passphrase, to change the auto-lock time")
                    onAccepted: page.applyAutoLock()
                }
                Button {
                    objectName: "applyAutoLockButton"
                    enabled: !security.busy
                    text: qsTr("Apply")
                    onClicked: page.applyAutoLock()
                    Accessible.name: qsTr("Apply the auto-lock time")
                }
            }
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
            wrapMode: Text.Wrap
            Accessible.name: text
        }
        Button {
            objectName: "lockNowButton"
            text: qsTr("Lock now")
            onClicked: page.vault.lock()
            Accessible.name: qsTr("Lock the vault now")
        }

        Label {
            Layout.topMargin: 12
            text: qsTr("Security")
            font.bold: true
        }
        Flow {
            Layout.fillWidth: true
            spacing: 8
            Button {
                objectName: "changePassphraseButton"
                text: qsTr("Change passphrase…")
                onClicked: page.openSecurityPage("passphrase")
                Accessible.name: qsTr("Change passphrase")
            }
            Button {
                objectName: "duressButton"
                text: qsTr("Duress passphrase…")
                onClicked: page.openSecurityPage("duress")
                Accessible.name: qsTr("Duress passphrase")
            }
            Button {
                objectName: "panicWipeButton"
                text: qsTr("Panic wipe…")
                onClicked: page.openSecurityPage("wipe")
                Accessible.name: qsTr("Panic wipe")
            }
        }

        Label {
            Layout.topMargin: 12
            text: qsTr("Recipients")
            font.bold: true
        }
        Label {
            Layout.fillWidth: true
            wrapMode: Text.Wrap
            text: qsTr("The organisations you send cases to, by their public key (age1…). "
                       + "Only public keys are kept here; a panic wipe removes them too.")
        }
        Repeater {
            objectName: "recipientsRepeater"
            model: savedRecipients.recipients
            delegate: RowLayout {
                required property var modelData
                required property int index
                Layout.fillWidth: true
                ColumnLayout {
                    Layout.fillWidth: true
                    spacing: 0
                    Label {
                        Layout.fillWidth: true
                        text: modelData.name
                        font.bold: true
                        elide: Text.ElideRight
                    }
                    Label {
                        Layout.fillWidth: true
                        text: modelData.key
                        font.family: "monospace"
                        font.pixelSize: 12
                        elide: Text.ElideMiddle
                    }
                }
                ToolButton {
                    text: "✕"
                    onClicked: savedRecipients.remove(index)
                    Accessible.name: qsTr("Remove recipient %1").arg(modelData.name)
                }
            }
        }
        TextField {
            id: recipientName
            objectName: "recipientNameField"
            Layout.fillWidth: true
            placeholderText: qsTr("Name, e.g. the organisation")
            Accessible.name: qsTr("Recipient name")
            KeyNavigation.tab: recipientKey
        }
        TextField {
            id: recipientKey
            objectName: "recipientKeyField"
            Layout.fillWidth: true
            placeholderText: qsTr("Public key: age1…")
            font.family: "monospace"
            inputMethodHints: Qt.ImhNoPredictiveText | Qt.ImhNoAutoUppercase
            Accessible.name: qsTr("Recipient public key")
            onAccepted: page.addRecipient()
        }
        ErrorLabel {
            objectName: "recipientErrorLabel"
            text: savedRecipients.errorMessage
        }
        Button {
            objectName: "addRecipientButton"
            Layout.alignment: Qt.AlignRight
            text: qsTr("Save recipient")
            onClicked: page.addRecipient()
            Accessible.name: text
        }

        Label {
            Layout.topMargin: 12
            text: qsTr("Servers")
            font.bold: true
        }
        Label {
            Layout.fillWidth: true
            wrapMode: Text.Wrap
            text: qsTr("Your organisation's intake server receives sealed bundles and signs "
                       + "a receipt. Paste the enrolment code it gave you to connect this device.")
        }
        Repeater {
            objectName: "serversRepeater"
            model: servers.servers
            delegate: RowLayout {
                required property var modelData
                Layout.fillWidth: true
                ColumnLayout {
                    Layout.fillWidth: true
                    spacing: 0
                    Label {
                        Layout.fillWidth: true
                        text: modelData.name
                        font.bold: true
                        elide: Text.ElideRight
                    }
                    Label {
                        Layout.fillWidth: true
                        text: modelData.url
                        font.pixelSize: 12
                        elide: Text.ElideMiddle
                    }
                }
                ToolButton {
                    text: "✕"
                    onClicked: servers.remove(modelData.name)
                    Accessible.name: qsTr("Remove server %1").arg(modelData.name)
                }
            }
        }
        TextField {
            id: enrolmentCode
            objectName: "enrolmentCodeField"
            Layout.fillWidth: true
            enabled: !servers.busy
            placeholderText: qsTr("Enrolment code: custodia-enroll:v1:…")
            inputMethodHints: Qt.ImhSensitiveData | Qt.ImhNoPredictiveText | Qt.ImhNoAutoUppercase
            Accessible.name: qsTr("Enrolment code")
            KeyNavigation.tab: serverName
        }
        TextField {
            id: serverName
            objectName: "serverNameField"
            Layout.fillWidth: true
            enabled: !servers.busy
            placeholderText: qsTr("Name for it (optional)")
            Accessible.name: qsTr("Server name")
            onAccepted: page.enrol()
        }
        ErrorLabel {
            objectName: "serverErrorLabel"
            text: servers.errorMessage
        }
        Label {
            objectName: "serverDoneLabel"
            Layout.fillWidth: true
            visible: text !== ""
            text: servers.doneMessage
            wrapMode: Text.Wrap
            Accessible.name: text
        }
        RowLayout {
            Layout.fillWidth: true
            BusyIndicator {
                visible: servers.busy
                running: servers.busy
                Accessible.name: qsTr("Contacting the server")
            }
            Item {
                Layout.fillWidth: true
            }
            Button {
                objectName: "openOutboxButton"
                text: qsTr("Outbox…")
                onClicked: page.openOutbox()
                Accessible.name: qsTr("Open the outbox")
            }
            Button {
                objectName: "enrolButton"
                enabled: !servers.busy
                text: qsTr("Enrol")
                onClicked: page.enrol()
                Accessible.name: qsTr("Enrol with this server")
            }
        }

        Label {
            Layout.topMargin: 12
            text: qsTr("Tor")
            font.bold: true
        }
        Label {
            Layout.fillWidth: true
            wrapMode: Text.Wrap
            text: qsTr("Send through Tor so that the network cannot see which server you send "
                       + "to. Requiring it means nothing is sent when Tor is not running.")
        }
        TextField {
            id: proxyField
            objectName: "proxyField"
            Layout.fillWidth: true
            text: servers.proxy
            placeholderText: qsTr("Tor proxy, e.g. socks5h://127.0.0.1:9050")
            inputMethodHints: Qt.ImhNoPredictiveText | Qt.ImhNoAutoUppercase | Qt.ImhUrlCharactersOnly
            Accessible.name: qsTr("Tor proxy address")
        }
        WrappingCheckBox {
            id: requireTor
            objectName: "requireTorCheck"
            text: qsTr("Require Tor: never send without it")
            checked: servers.requireProxy
        }
        RowLayout {
            Layout.fillWidth: true
            visible: proxyField.text !== servers.proxy || requireTor.checked !== servers.requireProxy
            PassphraseField {
                id: torPassphrase
                objectName: "torPassphraseField"
                enabled: !security.busy
                placeholderText: qsTr("Current passphrase")
                Accessible.name: qsTr("Current passphrase, to change the Tor settings")
                onAccepted: page.applyTor()
            }
            Button {
                objectName: "applyTorButton"
                enabled: !security.busy
                text: qsTr("Save")
                onClicked: page.applyTor()
                Accessible.name: qsTr("Save the Tor settings")
            }
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
