"""Memory of long documents: a document's PDF is assembled without holding its pages.

A 1,000-page scan is one document when it has no separator sheets; its page PDFs
(page image + text layer, 200-500 kB each at 300 dpi) must be joined
without reading them all into memory, and without a file descriptor per page.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pikepdf
import pytest

from chartclerk.errors import ArchiveError
from chartclerk.ocr.tesseract import ocr_image
from chartclerk.settings import OcrSettings
from chartclerk.store import PdfMetadata, assemble_pdf, make_page_pdf
from chartclerk.store import pdf as pdf_module
from chartclerk.tests.scans import make_roster, render_document

PDFTOTEXT = shutil.which("pdftotext")
TESSERACT = shutil.which("tesseract")

# Run in a fresh process, so that its peak RSS is the assembly's alone. The file descriptor
# limit is far below the page count: a part must not stay open until the document is saved.
_CHILD = """
import json, os, re, resource, sys
from pathlib import Path

_, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (48, hard))
import pikepdf
from chartclerk.store import pdf as module
from chartclerk.store.pdf import PdfMetadata, assemble_pdf

module.JOIN_PART_PAGES = int(os.environ.get("JOIN_PART_PAGES", module.JOIN_PART_PAGES))

def kib(field):
    with open("/proc/self/status") as f:
        return int(re.search(field + r":\\s+(\\d+)", f.read()).group(1))

out, pages = Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]]
meta = PdfMetadata("t", "other", None, None, "s.pdf", (1, len(pages)))
assemble_pdf(pages[:1], out.with_name("warm-up.pdf"), meta)  # lazy imports, XMP
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset the peak (VmHWM) to the current RSS
before = kib("VmRSS")
assemble_pdf(pages, out, meta)
print(json.dumps({"growth_bytes": (kib("VmHWM") - before) * 1024}))
"""


def _metadata(pages: int) -> PdfMetadata:
    return PdfMetadata("Progress note (scan.pdf)", "progress_note", None, None, "scan.pdf", (1, pages))


def _text_layer(words: str, width_pt: float, height_pt: float) -> bytes:
    """A one-page PDF with ``words`` as invisible text, like tesseract's text-only PDF."""
    with pikepdf.new() as pdf:
        pdf.add_blank_page(page_size=(width_pt, height_pt))
        page = pdf.pages[0]
        font = pdf.make_indirect(
            pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont="/Helvetica")
        )
        page.obj.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
        page.obj.Contents = pdf.make_stream(f"BT /F1 10 Tf 3 Tr 10 10 Td ({words}) Tj ET".encode("ascii"))
        buffer = io.BytesIO()
        pdf.save(buffer)
        return buffer.getvalue()


def _noise_page(folder: Path, side: int = 512) -> Path:
    """A page PDF whose JPEG does not compress (about 250 kB), so that holding every page
    in memory would show."""
    image = np.random.default_rng(0).integers(0, 256, (side, side), dtype=np.uint8)
    path = folder / "noise.pdf"
    path.write_bytes(make_page_pdf(image, 100.0, b"", jpeg_quality=95))
    return path


def _assemble_in_child(pages: list[Path], out: Path, part_pages: int | None = None) -> int:
    env = {**os.environ, "JOIN_PART_PAGES": str(part_pages)} if part_pages else None
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(out), *map(str, pages)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    growth: int = json.loads(done.stdout)["growth_bytes"]
    return growth


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")
def test_assembly_does_not_hold_the_page_images(tmp_path: Path) -> None:
    page = _noise_page(tmp_path)
    parts = tmp_path / "parts"
    parts.mkdir()
    pages = []
    for i in range(200):
        pages.append(parts / f"{i:05d}.pdf")
        shutil.copyfile(page, pages[-1])
    few, many = pages[:20], pages
    size = page.stat().st_size
    growth_few = _assemble_in_child(few, tmp_path / "few.pdf")
    growth_many = _assemble_in_child(many, tmp_path / "many.pdf")

    # Holding the parts would take at least their size (180 x 250 kB more for `many`);
    # what is held per page (its objects, not its image) is a few kB.
    assert growth_many - growth_few < 0.15 * size * (len(many) - len(few)), (growth_few, growth_many)
    assert growth_many < 0.25 * size * len(many), growth_many
    with pikepdf.open(tmp_path / "many.pdf") as pdf:
        assert len(pdf.pages) == len(many)
        assert str(pdf.docinfo["/Title"]) == "t"


def _check_joined(out: Path, digest: str, pages: int) -> None:
    """``out`` is the only file in its folder, has ``digest`` and shows marker001... in order."""
    assert PDFTOTEXT is not None
    assert digest == hashlib.sha256(out.read_bytes()).hexdigest()
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # nothing left behind
    text = subprocess.run(
        [PDFTOTEXT, str(out), "-"], check=True, capture_output=True, text=True, timeout=60
    ).stdout
    assert [t.split() for t in text.split("\f")[:pages]] == [[f"marker{i:03d}"] for i in range(1, pages + 1)]


@pytest.mark.skipif(PDFTOTEXT is None, reason="needs pdftotext")
def test_assembled_pages_keep_their_order_and_text(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    pages = []
    for i in range(1, 31):
        height, width = int(rng.integers(60, 120)), int(rng.integers(40, 90))  # pages differ in size
        image = np.full((height, width), 255 - i, np.uint8)
        path = tmp_path / f"part-{i:03d}.pdf"
        path.write_bytes(make_page_pdf(image, 10.0, _text_layer(f"marker{i:03d}", width * 7.2, height * 7.2)))
        pages.append((path, (width * 7.2, height * 7.2)))
    out = tmp_path / "docs" / "doc.pdf"
    digest = assemble_pdf([path for path, _ in pages], out, _metadata(len(pages)))
    _check_joined(out, digest, len(pages))
    with pikepdf.open(out) as pdf:
        assert len(pdf.pages) == len(pages)
        for page, (_, size) in zip(pdf.pages, pages, strict=True):
            box = [float(v) for v in page.mediabox]
            assert box == pytest.approx([0, 0, *size])
        assert str(pdf.docinfo["/Subject"]) == "progress_note"
        assert "scan.pdf pages 1-30" in str(pdf.docinfo["/Keywords"])
        assert pdf.open_metadata()["dc:title"] == "Progress note (scan.pdf)"


def test_unreadable_part_is_an_archive_error_naming_the_file(tmp_path: Path) -> None:
    good = tmp_path / "part-001.pdf"
    good.write_bytes(make_page_pdf(np.full((60, 40), 255, np.uint8), 10.0, b""))
    bad = tmp_path / "part-002.pdf"
    bad.write_bytes(b"not a pdf at all")
    out = tmp_path / "doc.pdf"
    for parts in ([good, bad], [good, tmp_path / "part-003.pdf"]):
        with pytest.raises(ArchiveError) as caught:
            assemble_pdf(parts, out, _metadata(2))
        assert parts[1].name in caught.value.message
        assert str(tmp_path) not in caught.value.message
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["part-001.pdf", "part-002.pdf"]


def _font_objects(pdf: pikepdf.Pdf) -> int:
    return sum(
        1
        for obj in pdf.objects
        if isinstance(obj, pikepdf.Dictionary) and obj.get("/Type") == pikepdf.Name.Font
    )


def _marker_pages(folder: Path, count: int, font: str = "/Helvetica") -> list[Path]:
    pages = []
    for i in range(1, count + 1):
        path = folder / f"part-{i:03d}.pdf"
        layer = _text_layer(f"marker{i:03d}", 40 * 7.2, 60 * 7.2).replace(b"/Helvetica", font.encode())
        path.write_bytes(make_page_pdf(np.full((60, 40), 255 - i, np.uint8), 10.0, layer))
        pages.append(path)
    return pages


@pytest.mark.skipif(PDFTOTEXT is None, reason="needs pdftotext")
def test_long_document_is_joined_in_parts_keeping_order_text_and_one_font(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pdf_module, "JOIN_PART_PAGES", 4)
    pages = _marker_pages(tmp_path, 11)  # parts of 4, 4 and 3 pages
    out = tmp_path / "docs" / "doc.pdf"
    digest = assemble_pdf(pages, out, _metadata(len(pages)))
    _check_joined(out, digest, len(pages))
    with pikepdf.open(out) as pdf:
        assert len(pdf.pages) == len(pages)
        assert _font_objects(pdf) == 1  # every page's identical font is written once
        assert "scan.pdf pages 1-11" in str(pdf.docinfo["/Keywords"])


def _page_fonts(page: pikepdf.Page) -> list[str]:
    forms = [x for x in page.Resources.XObject.values() if x.get("/Subtype") == pikepdf.Name.Form]
    return [str(font.BaseFont) for form in forms for font in form.Resources.Font.values()]


def test_fonts_that_differ_are_not_shared(tmp_path: Path) -> None:
    (tmp_path / "h").mkdir()
    (tmp_path / "c").mkdir()
    helvetica = _marker_pages(tmp_path / "h", 2)
    courier = _marker_pages(tmp_path / "c", 1, font="/Courier")
    out = tmp_path / "doc.pdf"
    assemble_pdf([helvetica[0], courier[0], helvetica[1]], out, _metadata(3))
    with pikepdf.open(out) as pdf:
        assert _font_objects(pdf) == 2
        assert [_page_fonts(page) for page in pdf.pages] == [["/Helvetica"], ["/Courier"], ["/Helvetica"]]


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")
@pytest.mark.skipif(TESSERACT is None, reason="needs tesseract")
def test_long_document_joined_in_parts_holds_half_the_objects(tmp_path: Path) -> None:
    """Each page carries tesseract's own text layer (its GlyphLessFont is six objects); joined
    directly, qpdf holds all of them until the file is written."""
    roster = make_roster(1, seed=3)
    scan = render_document("progress_note", roster[0], seed=3, dpi=300, body_lines=2).pages[0]
    layer = ocr_image(scan, 300, OcrSettings()).text_layer_pdf
    page = tmp_path / "page.pdf"
    page.write_bytes(make_page_pdf(np.full((60, 40), 255, np.uint8), 10.0, layer))  # small image
    (tmp_path / "parts").mkdir()
    pages = [tmp_path / "parts" / f"{i:05d}.pdf" for i in range(600)]
    for path in pages:
        shutil.copyfile(page, path)
    directly = _assemble_in_child(pages, tmp_path / "direct.pdf", part_pages=len(pages))
    in_parts = _assemble_in_child(pages, tmp_path / "parts.pdf", part_pages=100)
    # Measured: 53 kB a page directly, 27 kB in parts.
    assert in_parts < 0.7 * directly, (directly, in_parts)
    with pikepdf.open(tmp_path / "parts.pdf") as pdf:
        assert len(pdf.pages) == len(pages)
        assert _font_objects(pdf) == 2  # one GlyphLessFont: its Type0 font and its CID font
