// A scrolling column, centred and never wider than a comfortable reading
// width: one layout from a 360 px phone to a desktop window.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

ScrollView {
    id: root

    default property alias content: column.data
    property int maximumWidth: 640

    contentWidth: availableWidth
    clip: true

    ColumnLayout {
        id: column

        x: Math.max(16, (root.availableWidth - width) / 2)
        y: 16
        width: Math.min(root.availableWidth - 32, root.maximumWidth)
        spacing: 12
    }
    // Room below the last control so it never sits on the window's edge.
    contentHeight: column.implicitHeight + 48
}
