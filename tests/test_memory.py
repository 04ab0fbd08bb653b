"""Memory of long documents: a document's PDF is assembled without holding its pages.

A 1,000-page scan is one document when it has no separator sheets; its page PDFs
(page image + text layer, 200-500 kB each at 300 dpi) must be joined
without reading them all into memory, and without a file descriptor per page.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pikepdf
import pytest

from chartclerk.errors import ArchiveError
from chartclerk.store import PdfMetadata, assemble_pdf, make_page_pdf

PDFTOTEXT = shutil.which("pdftotext")

# Run in a fresh process, so that its peak RSS is the assembly's alone. The file descriptor
# limit is far below the page count: a part must not stay open until the document is saved.
_CHILD = """
import json, re, resource, sys
from pathlib import Path

_, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (48, hard))
import pikepdf
from chartclerk.store.pdf import PdfMetadata, assemble_pdf

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


def _assemble_in_child(pages: list[Path], out: Path) -> int:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(out), *map(str, pages)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
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


@pytest.mark.skipif(PDFTOTEXT is None, reason="needs pdftotext")
def test_assembled_pages_keep_their_order_and_text(tmp_path: Path) -> None:
    assert PDFTOTEXT is not None
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
    assert digest == hashlib.sha256(out.read_bytes()).hexdigest()
    assert [p.name for p in out.parent.iterdir()] == ["doc.pdf"]
    text = subprocess.run(
        [PDFTOTEXT, str(out), "-"], check=True, capture_output=True, text=True, timeout=60
    ).stdout
    assert [t.split() for t in text.split("\f")[: len(pages)]] == [
        [f"marker{i:03d}"] for i in range(1, len(pages) + 1)
    ]
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
