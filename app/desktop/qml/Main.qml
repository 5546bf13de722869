// The window and its navigation. Which screen shows follows the vault's
// state: no vault → first run, locked → unlock, unlocked → cases.
import QtQuick
import QtQuick.Controls
import QtQuick.Controls.Universal
import QtQuick.Layouts
import Custodia

ApplicationWindow {
    id: window

    required property VaultModel vault

    width: 960
    height: 720
    minimumWidth: 360
    minimumHeight: 480
    visible: true
    title: qsTr("Custodia")

    Universal.theme: Universal.Light
    Universal.accent: "#00796b"  // a calm teal, 5.3:1 against white

    function showStart() {
        if (vault.state === VaultModel.NoVault) {
            stack.replace(null, firstRunPage, { vault: vault });
        } else if (vault.state === VaultModel.Locked) {
            stack.replace(null, unlockPage, { vault: vault });
        } else if (vault.recoveryKey === "") {
            stack.replace(null, casesPage, { vault: vault });
        }
        // Unlocked with a recovery key still to show: the first-run page
        // stays until the investigator confirms it is written down.
    }

    Component.onCompleted: showStart()

    Connections {
        target: window.vault
        function onStateChanged() { window.showStart() }
        function onRecoveryKeyChanged() {
            if (window.vault.recoveryKey === "" && window.vault.state === VaultModel.Unlocked)
                window.showStart()
        }
    }

    header: ToolBar {
        RowLayout {
            anchors.fill: parent
            spacing: 0

            ToolButton {
                objectName: "backButton"
                text: "‹"
                font.pixelSize: 24
                visible: stack.depth > 1
                onClicked: stack.pop()
                Accessible.name: qsTr("Back")
                ToolTip.visible: hovered
                ToolTip.text: qsTr("Back")
            }
            Label {
                Layout.fillWidth: true
                Layout.leftMargin: stack.depth > 1 ? 0 : 16
                text: stack.currentItem ? stack.currentItem.title : ""
                elide: Label.ElideRight
                font.pixelSize: 18
                Accessible.role: Accessible.TitleBar
                Accessible.name: text
            }
            ToolButton {
                objectName: "settingsButton"
                text: qsTr("Settings")
                visible: window.vault.state === VaultModel.Unlocked
                         && window.vault.recoveryKey === ""
                         && !(stack.currentItem instanceof SettingsPage)
                onClicked: stack.push(settingsPage, { vault: window.vault })
                Accessible.name: qsTr("Settings")
            }
            ToolButton {
                objectName: "lockButton"
                text: qsTr("Lock")
                // Not while the recovery key is shown: it would be lost.
                visible: window.vault.state === VaultModel.Unlocked
                         && window.vault.recoveryKey === ""
                onClicked: window.vault.lock()
                Accessible.name: qsTr("Lock the vault now")
            }
        }
    }

    StackView {
        id: stack
        objectName: "stack"
        anchors.fill: parent
    }

    Component {
        id: firstRunPage
        FirstRunPage {}
    }
    Component {
        id: unlockPage
        UnlockPage {}
    }
    Component {
        id: casesPage
        CasesPage {
            onOpenCase: (caseId, caseTitle) => stack.push(casePage, {
                vault: window.vault, caseId: caseId, caseTitle: caseTitle })
        }
    }
    Component {
        id: casePage
        CasePage {
            onOpenItem: (itemId) => stack.push(itemPage, { vault: window.vault, itemId: itemId })
            onNewTestimony: stack.push(newTestimonyPage, { vault: window.vault, caseId: caseId })
            onSend: stack.push(sendPage, { vault: window.vault, caseId: caseId,
                                           caseTitle: caseTitle })
        }
    }
    Component {
        id: newTestimonyPage
        NewTestimonyPage {
            onDone: (firstItemId) => {
                stack.pop();
                if (firstItemId !== "")
                    stack.push(itemPage, { vault: window.vault, itemId: firstItemId });
            }
        }
    }
    Component {
        id: itemPage
        ItemPage {}
    }
    Component {
        id: settingsPage
        SettingsPage {
            onOpenOutbox: stack.push(outboxPage, { vault: window.vault })
            onOpenSecurityPage: (which) => {
                const pages = { passphrase: changePassphrasePage, duress: duressPage,
                                wipe: panicWipePage };
                stack.push(pages[which], { vault: window.vault });
            }
        }
    }
    Component {
        id: sendPage
        SendPage {
            onOpenOutbox: stack.push(outboxPage, { vault: window.vault })
        }
    }
    Component {
        id: outboxPage
        OutboxPage {}
    }
    Component {
        id: changePassphrasePage
        ChangePassphrasePage {}
    }
    Component {
        id: duressPage
        DuressPassphrasePage {}
    }
    Component {
        id: panicWipePage
        PanicWipePage {}
    }
}
