// How hard a new passphrase looks to guess: a bar and a word (first run,
// passphrase change and duress passphrase use the same one).
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Custodia

RowLayout {
    id: meter

    required property VaultModel vault
    property string candidate
    readonly property int strength: vault.passphraseStrength(candidate)

    Layout.fillWidth: true

    ProgressBar {
        objectName: "strengthMeter"
        Layout.fillWidth: true
        from: 0
        to: 4
        value: meter.strength
        Accessible.name: qsTr("Passphrase strength")
        Accessible.description: strengthLabel.text
    }
    Label {
        id: strengthLabel
        objectName: "strengthLabel"
        Layout.minimumWidth: 72
        text: meter.vault.strengthLabel(meter.strength)
    }
}
