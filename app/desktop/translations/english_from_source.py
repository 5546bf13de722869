#!/usr/bin/env python3
"""Fills the English .ts that lupdate extracted from the sources.

The screens are written in English, so every English translation is its
source text, except for plurals: a "(s)" in a %n message becomes nothing in
the singular form and "s" in the plural form ("%n item(s)" -> "1 item",
"2 items"). The result is a complete English translation that lrelease turns
into the .qm the app ships.

  english_from_source.py IN.ts OUT.ts
"""
import sys
import xml.etree.ElementTree as ET


def main(source_ts: str, out_ts: str) -> int:
    tree = ET.parse(source_ts)
    root = tree.getroot()
    root.set("language", "en")
    messages = 0
    for message in root.iter("message"):
        source = message.findtext("source")
        translation = message.find("translation")
        if source is None or translation is None:
            continue
        translation.attrib.pop("type", None)  # no longer "unfinished"
        if message.get("numerus") == "yes":
            for form in list(translation):
                translation.remove(form)
            translation.text = None
            for replacement in ("", "s"):  # English: one, other
                form = ET.SubElement(translation, "numerusform")
                form.text = source.replace("(s)", replacement)
        else:
            translation.text = source
        messages += 1
    if messages == 0:
        print("english_from_source: no messages in " + source_ts, file=sys.stderr)
        return 1
    tree.write(out_ts, encoding="utf-8", xml_declaration=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
