// An enrolment code as a QR code on a terminal, for a phone to scan from the
// administrator's screen instead of the code travelling over a network.
#pragma once

#include <string>
#include <string_view>

namespace custodia::intake {

// Two modules per character cell ("▀" with explicit ANSI black and white, so
// it scans on light and dark terminals alike), with the 4-module quiet zone.
// Empty when the text does not fit in a QR code.
std::string render_terminal_qr(std::string_view text);

}  // namespace custodia::intake
