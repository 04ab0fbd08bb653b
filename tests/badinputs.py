"""A corpus of hostile and broken inputs, generated on the spot (shared by
tests/test_reliability.py and bench/chaos.py).

Each entry says what must become of it when dropped into the inbox: ``archived`` (the
damage is recoverable, or the file is odd but valid: the original is kept as it is; we
only ever rasterize pages, so JavaScript and embedded files are never run or opened) or
``failed`` with words its one-line reason must contain.
"""

from __future__ import annotations

import os
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pikepdf
from PIL import Image

from chartclerk.tests.chaos import DPI, tiny_page
from chartclerk.tests.scans import write_jpeg, write_pdf, write_png


@dataclass(frozen=True, slots=True)
class BadInput:
    kind: str  # what it is, for reports
    path: Path  # as dropped in the inbox
    outcome: Literal["archived", "failed"]
    words: str = ""  # the reason must contain these (failed only)
    outside: Path | None = None  # a symlink's target, which must stay untouched


def write_bad_inputs(inbox: Path, outside: Path) -> list[BadInput]:
    """Write the corpus into ``inbox``; ``outside`` is a folder outside it (symlink targets)."""
    inbox.mkdir(parents=True, exist_ok=True)
    outside.mkdir(parents=True, exist_ok=True)
    good = outside / "good.pdf"
    write_pdf(good, [tiny_page(7)], dpi=DPI)
    data = good.read_bytes()
    out: list[BadInput] = []

    def add(
        kind: str, name: str | bytes, make: Callable[[Path], object], outcome: str, words: str = ""
    ) -> None:
        path = inbox / (os.fsdecode(name) if isinstance(name, bytes) else name)
        make(path)
        out.append(BadInput(kind, path, outcome, words))  # type: ignore[arg-type]

    add("zero-byte file", "empty.pdf", lambda p: p.write_bytes(b""), "failed", "empty file")
    add(
        "truncated PDF",
        "truncated.pdf",
        lambda p: p.write_bytes(data[: len(data) // 3]),
        "failed",
        "corrupt PDF",
    )
    startxref = data.rfind(b"startxref")
    add(
        "PDF with a broken xref (recovered)",
        "broken-xref.pdf",
        lambda p: p.write_bytes(data[:startxref] + b"startxref\n99999\n%%EOF\n"),
        "archived",
    )
    add(
        "encrypted PDF, user password",
        "locked.pdf",
        lambda p: _encrypt(good, p, user="secret"),
        "failed",
        "encrypted PDF",
    )
    add(
        "encrypted PDF, owner password only",
        "owner-locked.pdf",
        lambda p: _encrypt(good, p, user=""),
        "archived",
    )
    add("PDF with JavaScript", "javascript.pdf", lambda p: _with_javascript(good, p), "archived")
    add("PDF with an embedded file", "attachment.pdf", lambda p: _with_attachment(good, p), "archived")
    add("PDF of 10,000 pages", "ten-thousand.pdf", _many_pages, "failed", "too many pages")
    add("PDF without pages", "no-pages.pdf", lambda p: pikepdf.new().save(p), "failed", "no pages")
    add("PDF page of 200 x 200 inches", "huge-page.pdf", _huge_page, "failed", "too large")
    add("decompression-bomb PNG", "bomb.png", _bomb, "failed", "too large")
    add("1x1 image", "dot.png", lambda p: Image.new("L", (1, 1), 255).save(p), "failed", "too small")
    add(
        "all-black page",
        "black.png",
        lambda p: write_png(p, np.zeros((160, 400), np.uint8), dpi=DPI),
        "archived",
    )
    add(
        "all-white page",
        "white.png",
        lambda p: write_png(p, np.full((160, 400), 255, np.uint8), dpi=DPI),
        "archived",
    )
    add(
        "CMYK TIFF",
        "cmyk.tif",
        lambda p: Image.fromarray(tiny_page(8)).convert("CMYK").save(p, dpi=(DPI, DPI)),
        "archived",
    )
    add("16-bit TIFF", "sixteen.tif", _sixteen_bit, "archived")
    add("JPEG named .pdf", "photo.pdf", lambda p: write_jpeg(p, tiny_page(9), dpi=DPI), "archived")
    add("truncated PNG", "cut.png", _truncated_png, "failed", "corrupt image")
    add("truncated JPEG", "cut.jpg", _truncated_jpeg, "failed", "corrupt image")
    add(
        "GIF image",
        "anim.gif",
        lambda p: Image.new("L", (64, 64), 255).save(p, format="GIF"),
        "failed",
        "GIF",
    )
    add("Word document", "letter.docx", _docx, "failed", "ZIP or Office")
    add(
        "text file",
        "notes.txt",
        lambda p: p.write_text("not a scan\n", encoding="utf-8"),
        "failed",
        "text file",
    )
    add("directory named like a file", "folder.pdf", lambda p: p.mkdir(), "failed", "a folder")
    add(
        "non-UTF-8 file name",
        b"scan-\xff\xfe-\xe9.png",
        lambda p: write_png(p, tiny_page(10), dpi=DPI),
        "archived",
    )
    add(
        "non-UTF-8 name, bad content",
        b"bad-\xff.pdf",
        lambda p: p.write_bytes(b"%PDF-1.4 junk"),
        "failed",
        "corrupt PDF",
    )
    add("very long file name", "n" * 240 + ".png", lambda p: write_png(p, tiny_page(11), dpi=DPI), "archived")
    add(
        "very long name, bad content",
        "x" * 246 + ".pdf",
        lambda p: p.write_bytes(b"%PDF-1.4 junk"),
        "failed",
        "corrupt PDF",
    )
    target = outside / "secret.png"
    write_png(target, tiny_page(12), dpi=DPI)
    link = inbox / "link-out.png"
    link.symlink_to(target)
    out.append(
        BadInput("symlink pointing outside the inbox", link, "failed", "symbolic link", outside=target)
    )
    good.unlink()
    return out


def write_bad_roster(path: Path) -> tuple[int, int]:
    """A roster CSV with good and bad rows; returns (good rows, bad rows)."""
    path.write_text(
        "mrn,last,first,dob,sex\n"
        "00012345,DOE,JANE,1970-01-02,F\n"
        ",NOMRN,ANN,1970-01-02,F\n"  # no MRN
        "00012346,ROE,RICHARD,02/03/1961,M\n"  # not an ISO date
        "00012347,POE,EDGAR\n"  # too few fields
        "00012345,DOE,JANE,1970-01-02,F\n"  # the same MRN again
        "00012349,LAST,ROW,1990-05-05,F\n"
        '00012348,"UNCLOSED,QUOTE,1990-05-05,F\n',  # broken quoting
        encoding="utf-8",
    )
    return 2, 5


def _encrypt(source: Path, out: Path, *, user: str) -> None:
    with pikepdf.open(source) as pdf:
        pdf.save(out, encryption=pikepdf.Encryption(user=user, owner="owner-secret"))


def _with_javascript(source: Path, out: Path) -> None:
    with pikepdf.open(source) as pdf:
        pdf.Root.OpenAction = pikepdf.Dictionary(
            S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert('never run');")
        )
        pdf.save(out)


def _with_attachment(source: Path, out: Path) -> None:
    with pikepdf.open(source) as pdf:
        pdf.attachments["payload.exe"] = pikepdf.AttachedFileSpec(pdf, b"MZ not run", mime_type="x/y")
        pdf.save(out)


def _many_pages(out: Path) -> None:
    with pikepdf.new() as pdf:
        for _ in range(10_000):
            pdf.add_blank_page(page_size=(288, 115))
        pdf.save(out)


def _huge_page(out: Path) -> None:
    with pikepdf.new() as pdf:
        pdf.add_blank_page(page_size=(200 * 72, 200 * 72))
        pdf.save(out)


def _bomb(out: Path) -> None:
    """A real PNG of 30,000 x 30,000 one-bit pixels (900 megapixels) in about 0.5 MB."""
    width = height = 30_000
    packer = zlib.compressobj(1)
    row = b"\x00" + bytes(width // 8)  # filter byte + one row of black
    data = b"".join(packer.compress(row * 1000) for _ in range(height // 1000)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    out.write_bytes(
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _sixteen_bit(out: Path) -> None:
    wide = tiny_page(13).astype(np.uint16) * 257
    Image.fromarray(wide).save(out, dpi=(DPI, DPI))


def _truncated_png(out: Path) -> None:
    write_png(out, tiny_page(14), dpi=DPI)
    out.write_bytes(out.read_bytes()[:300])


def _truncated_jpeg(out: Path) -> None:
    write_jpeg(out, tiny_page(15), dpi=DPI)
    out.write_bytes(out.read_bytes()[:400])


def _docx(out: Path) -> None:
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("word/document.xml", "<w:document/>")
