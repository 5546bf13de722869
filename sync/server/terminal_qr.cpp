#include "terminal_qr.h"

#include <qrencode.h>

#include <memory>

namespace custodia::intake {

std::string render_terminal_qr(std::string_view text) {
    const std::string input(text);
    // Level M: a quarter of the code can be smudged or glared and still scan.
    std::unique_ptr<QRcode, decltype(&QRcode_free)> qr(
        QRcode_encodeString8bit(input.c_str(), 0, QR_ECLEVEL_M), &QRcode_free);
    if (!qr) return {};
    constexpr int kQuiet = 4;
    const int width = qr->width;
    const int size = width + 2 * kQuiet;
    auto dark = [&](int x, int y) {
        x -= kQuiet;
        y -= kQuiet;
        if (x < 0 || y < 0 || x >= width || y >= width) return false;
        return (qr->data[y * width + x] & 1) != 0;
    };
    std::string out;
    for (int y = 0; y < size; y += 2) {
        for (int x = 0; x < size; ++x) {
            // Foreground paints the upper module, background the lower one.
            out += dark(x, y) ? "\x1b[30m" : "\x1b[97m";
            out += dark(x, y + 1) ? "\x1b[40m" : "\x1b[107m";
            out += "\xE2\x96\x80";  // U+2580 UPPER HALF BLOCK
        }
        out += "\x1b[0m\n";
    }
    return out;
}

}  // namespace custodia::intake
