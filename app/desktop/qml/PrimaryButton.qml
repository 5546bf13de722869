// The one action a screen leads to: accent background, white text
// (Universal's highlighted button keeps black text, too faint on the accent).
import QtQuick
import QtQuick.Controls
import QtQuick.Controls.Universal

Button {
    highlighted: true
    Universal.foreground: enabled ? "white" : "black"
    Accessible.name: text
}
