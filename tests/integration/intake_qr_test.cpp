// `custodia-intake enroll --qr` draws the enrolment code in the terminal for
// a phone to scan. The drawing is read back module by module (two modules per
// character: the foreground colour paints the upper half block, the
// background the lower one), rendered as an image and decoded by an
// independent QR reader, Debian's zbarimg: it must give back exactly the code
// printed on the last line, which must itself parse as an enrolment code.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "custodia/sync/enrolment.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace {

using custodia::testing::quote;
using custodia::testing::run_shell;

// Rows of modules (true = dark) from the terminal drawing.
std::vector<std::vector<bool>> modules_of(const std::string& drawing) {
    std::vector<std::vector<bool>> rows;
    std::istringstream lines(drawing);
    std::string line;
    const std::string block = "\xE2\x96\x80";
    while (std::getline(lines, line)) {
        if (line.find(block) == std::string::npos) continue;
        std::vector<bool> upper, lower;
        std::size_t at = 0;
        // Each cell: ESC[30m or ESC[97m, ESC[40m or ESC[107m, then the block.
        while ((at = line.find("\x1b[", at)) != std::string::npos) {
            const auto end = line.find('m', at);
            if (end == std::string::npos) break;
            const std::string code = line.substr(at + 2, end - at - 2);
            at = end + 1;
            if (code == "30") upper.push_back(true);
            if (code == "97") upper.push_back(false);
            if (code == "40") lower.push_back(true);
            if (code == "107") lower.push_back(false);
        }
        EXPECT_EQ(upper.size(), lower.size()) << "a cell without both halves";
        rows.push_back(upper);
        rows.push_back(lower);
    }
    return rows;
}

// A plain PGM image, `scale` pixels per module.
void write_pgm(const std::filesystem::path& path, const std::vector<std::vector<bool>>& rows,
               int scale) {
    const std::size_t width = rows.empty() ? 0 : rows.front().size();
    std::ofstream out(path);
    out << "P2\n" << width * scale << " " << rows.size() * scale << "\n255\n";
    for (const auto& row : rows)
        for (int sy = 0; sy < scale; ++sy) {
            for (const bool dark : row)
                for (int sx = 0; sx < scale; ++sx) out << (dark ? "0 " : "255 ");
            out << "\n";
        }
}

TEST(IntakeQr, TerminalQrCodeScansToTheEnrolmentCode) {
    custodia::testing::TempDir tmp;
    const auto dir = tmp / "srv";
    const std::string intake = std::string(CUSTODIA_INTAKE) + " --dir " + quote(dir.string());
    ASSERT_EQ(run_shell(intake + " init --name qr.test --url https://127.0.0.1:8443").exit_code, 0);
    const auto enrolled = run_shell(intake + " enroll --qr --name phone");
    ASSERT_EQ(enrolled.exit_code, 0) << enrolled.out;

    std::string text = enrolled.out;
    while (!text.empty() && text.back() == '\n') text.pop_back();
    const std::string code = text.substr(text.rfind('\n') + 1);
    ASSERT_TRUE(custodia::sync::EnrolmentCode::parse(code).ok()) << code;

    const auto rows = modules_of(text);
    ASSERT_GE(rows.size(), 21u + 8u) << "no QR drawing in the output";
    for (const auto& row : rows) ASSERT_EQ(row.size(), rows.front().size());
    const auto image = tmp / "code.pgm";
    write_pgm(image, rows, 4);

    const auto scanned = run_shell("zbarimg --raw -q " + quote(image.string()));
    ASSERT_EQ(scanned.exit_code, 0) << "zbarimg found no QR code: " << scanned.out;
    std::string decoded = scanned.out;
    while (!decoded.empty() && decoded.back() == '\n') decoded.pop_back();
    EXPECT_EQ(decoded, code);
}

}  // namespace
