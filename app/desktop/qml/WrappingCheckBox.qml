// A check box whose text wraps instead of being cut off on a narrow screen.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

CheckBox {
    id: box

    Layout.fillWidth: true
    Accessible.name: text

    contentItem: Label {
        text: box.text
        font: box.font
        wrapMode: Text.Wrap
        verticalAlignment: Text.AlignVCenter
        leftPadding: box.indicator.width + box.spacing
    }
}
