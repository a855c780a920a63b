"""Build the extraction-fidelity fixture: known Korean text rendered to PDF by LibreOffice.

Source text: chapter 1 of the Korean Debian FAQ (Debian package `debian-faq-ko`, file
usr/share/doc/debian/FAQ/debian-faq.ko.txt.gz; verbatim-copy licence, see data/SOURCES.md).
The PDF is produced by a real third-party producer (LibreOffice Writer, NanumMyeongjo from
`fonts-nanum`) with a running header and page-number footer, so ingest's header/footer removal
is exercised too. Output is committed under tests/fixtures/fidelity/ so tests need neither
LibreOffice nor the Debian package.

    apt-get install libreoffice-writer-nogui fonts-nanum
    apt-get download debian-faq-ko && dpkg -x debian-faq-ko_*.deb faq
    python benchmarks/make_fidelity_pdf.py faq/usr/share/doc/debian/FAQ/debian-faq.ko.txt.gz
"""

from __future__ import annotations

import argparse
import gzip
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from xml.sax.saxutils import escape

OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "fidelity"

FODT = """<?xml version="1.0" encoding="UTF-8"?>
<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"
 xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0"
 office:version="1.3" office:mimetype="application/vnd.oasis.opendocument.text">
 <office:font-face-decls>
  <style:font-face style:name="NanumMyeongjo" svg:font-family="NanumMyeongjo"
   xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0"/>
 </office:font-face-decls>
 <office:styles>
  <style:default-style style:family="paragraph">
   <style:paragraph-properties fo:margin-bottom="0.2cm" fo:text-align="justify"/>
   <style:text-properties style:font-name="NanumMyeongjo" style:font-name-asian="NanumMyeongjo"
    fo:font-size="11pt" style:font-size-asian="11pt" fo:language="ko" fo:country="KR"
    style:language-asian="ko" style:country-asian="KR"/>
  </style:default-style>
  <style:style style:name="Heading" style:family="paragraph">
   <style:paragraph-properties fo:margin-top="0.4cm" fo:text-align="start"/>
   <style:text-properties fo:font-size="14pt" style:font-size-asian="14pt" fo:font-weight="bold"
    style:font-weight-asian="bold"/>
  </style:style>
 </office:styles>
 <office:automatic-styles>
  <style:page-layout style:name="pm1">
   <style:page-layout-properties fo:page-width="21cm" fo:page-height="29.7cm"
    fo:margin-top="2cm" fo:margin-bottom="2cm" fo:margin-left="2.5cm" fo:margin-right="2.5cm"/>
  </style:page-layout>
 </office:automatic-styles>
 <office:master-styles>
  <style:master-page style:name="Standard" style:page-layout-name="pm1">
   <style:header><text:p>Debian GNU/Linux FAQ — 1장. 정의 및 개관</text:p></style:header>
   <style:footer><text:p>- <text:page-number text:select-page="current">1</text:page-number> -</text:p></style:footer>
  </style:master-page>
 </office:master-styles>
 <office:body><office:text>
{body}
 </office:text></office:body>
</office:document>
"""


def chapter_one(faq_txt: str) -> list[tuple[str, str]]:
    """(kind, text) blocks of chapter 1: headings and reflowed paragraphs/bullets."""
    lines = faq_txt.splitlines()
    start = lines.index("1장. 정의 및 개관")
    end = next(i for i in range(start + 1, len(lines)) if re.match(r"^2장\. ", lines[i]))
    blocks: list[tuple[str, str]] = []
    current: list[str] = []

    def flush() -> None:
        if current:
            blocks.append(("p", " ".join(current)))
            current.clear()

    for line in lines[start:end]:
        stripped = line.strip()
        if not stripped:
            flush()
        elif not line.startswith(" "):
            flush()
            blocks.append(("h", stripped))
        elif stripped.startswith("* "):
            flush()
            current.append(stripped[2:])
        else:
            current.append(stripped)
    flush()
    return blocks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("faq", type=Path, help="debian-faq.ko.txt.gz")
    args = parser.parse_args()
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if not soffice:
        raise SystemExit(
            "LibreOffice not found: apt-get install libreoffice-writer-nogui fonts-nanum"
        )
    blocks = chapter_one(gzip.decompress(args.faq.read_bytes()).decode("utf-8"))
    body = "\n".join(
        f'<text:p text:style-name="{"Heading" if kind == "h" else "Standard"}">{escape(text)}</text:p>'
        for kind, text in blocks
    )
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "faq-ko-ch1.txt").write_text("\n".join(t for _, t in blocks) + "\n", encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "faq-ko-ch1.fodt"
        src.write_text(FODT.replace("{body}", body), encoding="utf-8")
        subprocess.run(
            [soffice, "--headless", f"-env:UserInstallation=file://{tmp}/profile",
             "--convert-to", "pdf", "--outdir", str(OUT), str(src)],
            check=True, capture_output=True, timeout=300,
        )  # fmt: skip
    print(f"wrote {OUT / 'faq-ko-ch1.pdf'} and faq-ko-ch1.txt ({len(blocks)} blocks)")


if __name__ == "__main__":
    main()
