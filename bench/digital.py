"""Born-digital and scanned pages mixed in one backlog (issue 18).

    .venv/bin/python bench/digital.py [--digital 200] [--scanned 200] [--workers 2]

The pages come from the held-out template family (``bench/heldout.py``: its own titles,
labels, wording and layouts, none in the tests), written by generators the tests do not
use: reportlab with embedded TrueType fonts (Liberation Serif, Sans, Mono; DejaVu Serif and
Sans Condensed) and with the standard Type 1 fonts (Times, Courier), and a hand-written
content stream (pikepdf) that places every word with its own text matrix and kerns inside
words (as some EHR print drivers do). Layouts: one column with inline fields, fields with a
value column, a two-column body, tables at tab stops, and landscape pages stored with
/Rotate 90 (drawn turned, as "print to PDF" writes them). Scanned pages are the same family
rendered at 200 or 300 dpi, slightly skewed and speckled, one JPEG per page. Files are pure
digital, pure scanned, or mixed page by page.

It runs ``ingest_files`` once over the whole backlog with a process pool and measures:
- the text of each digital page against the file's own text (the strings the generator
  drew, in the order drawn, spaces normalised): character error rate, target 0;
- which pages were taken as text and which were read by OCR (every digital page should
  be taken, every scanned page read);
- the archive's PDF of each pure-digital file against the original, target within 2x;
- pages per second of worker time for each kind of page, side by side in the same run
  (each page's stage laps, summed), and per page of pure files with the document's own
  work (classify, PDF join, database) counted in; target digital at least 20x scanned.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pikepdf
from rapidfuzz.distance import Levenshtein
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from chartclerk.bench.heldout import BODIES, held_out_document
from chartclerk.classify import Patient
from chartclerk.classify.training.render import Block, render_pages, scan_like
from chartclerk.page_worker import PageOutcome
from chartclerk.pipeline import ingest_files
from chartclerk.settings import load_settings
from chartclerk.store import Archive
from chartclerk.tests.scans import make_roster, write_pdf
from chartclerk.workers import make_pool

_TT = Path("/usr/share/fonts/truetype")
TTF = {
    "LiberationSerif": _TT / "liberation/LiberationSerif-Regular.ttf",
    "LiberationSans": _TT / "liberation/LiberationSans-Regular.ttf",
    "LiberationMono": _TT / "liberation/LiberationMono-Regular.ttf",
    "DejaVuSerif": _TT / "dejavu/DejaVuSerif.ttf",
    "DejaVuSansCondensed": _TT / "dejavu/DejaVuSansCondensed.ttf",
}
TYPE1 = ("Times-Roman", "Courier", "Helvetica")
TABS = (0.0, 0.3, 0.55, 0.8)
LETTER = (612.0, 792.0)


@dataclass(frozen=True, slots=True)
class Drawn:
    """One string on a page: where (points from the top left of the page as shown) and in what."""

    x: float
    y: float  # baseline
    text: str


@dataclass(frozen=True, slots=True)
class DigitalPage:
    size: tuple[float, float]  # as shown
    font: str
    point: float
    items: tuple[Drawn, ...]  # in reading order

    @property
    def truth(self) -> str:
        return " ".join(" ".join(item.text for item in self.items).split())


# --------------------------------------------------------------------------- layouts


def layout_pages(
    blocks: Sequence[Block], rng: random.Random, font: str, landscape: bool
) -> list[DigitalPage]:
    """Pages of ``blocks`` in one of the held-out family's layouts."""
    size = (LETTER[1], LETTER[0]) if landscape else LETTER
    point = rng.choice((8.5, 9.0, 10.0, 13.0))
    margin = rng.choice((36.0, 54.0, 86.0))
    field_column = rng.choice((0.0, 0.4, 0.5))
    columns = 2 if rng.random() < 0.3 and not landscape else 1
    leading = point * rng.choice((1.25, 1.45, 1.7))
    width = size[0] - 2 * margin
    column_width = (width - 24) / columns if columns == 2 else width
    pages: list[DigitalPage] = []
    items: list[Drawn] = []
    column, y = 0, margin + point

    def place(x: float, text: str) -> None:
        items.append(Drawn(margin + column * (column_width + 24) + x, y, text))

    def advance(lines: float = 1.0) -> None:
        nonlocal column, y, items
        y += leading * lines
        if y > size[1] - margin:
            column += 1
            y = margin + point
            if column == columns:
                pages.append(DigitalPage(size, font, point, tuple(items)))
                items, column = [], 0

    for block in blocks:
        if block.style == "blank":
            advance(0.6)
        elif block.style == "row":  # cells at tab stops, pushed right where the one before is long
            x = 0.0
            for tab, cell in zip(TABS, block.cells, strict=False):
                if cell:
                    x = max(x, tab * column_width)
                    place(x, cell)
                    x += pdfmetrics.stringWidth(cell + "   ", font, point)
            advance()
        elif block.style == "field" and field_column and len(block.cells) == 2:
            place(0, f"{block.cells[0]}:")
            for part in _wrap(block.cells[1], font, point, column_width * (1 - field_column)):
                place(field_column * column_width, part)
                advance()
        else:
            for part in _wrap(block.text, font, point, column_width):
                place(0, part)
                advance()
    if items:
        pages.append(DigitalPage(size, font, point, tuple(items)))
    return pages


def _wrap(text: str, font: str, point: float, width: float) -> list[str]:
    words, lines, line = text.split(), [], ""
    for word in words:
        candidate = f"{line} {word}".strip()
        if line and pdfmetrics.stringWidth(candidate, font, point) > width:
            lines.append(line)
            line = word
        else:
            line = candidate
    return [*lines, line] if line else lines


# --------------------------------------------------------------------------- writers


def write_reportlab(path: Path, pages: Sequence[DigitalPage], rotate: int) -> None:
    """reportlab's canvas. With ``rotate`` 90 each page is then stored as "print to PDF" stores a
    landscape page: a portrait media box, the drawing turned a quarter counter-clockwise, and
    /Rotate 90 to show it upright."""
    c = canvas.Canvas(str(path), pagesize=LETTER, invariant=1)
    for page in pages:
        w, h = page.size
        c.setPageSize((w, h))
        c.setFont(page.font, page.point)
        for item in page.items:
            c.drawString(item.x, h - item.y, item.text)
        c.showPage()
    c.save()
    if rotate == 90:
        with pikepdf.open(path, allow_overwriting_input=True) as pdf:
            for stored in pdf.pages:
                w, h = (float(v) for v in stored.mediabox[2:])
                # shown (x, y) on the w x h landscape page -> drawn on the h x w portrait box
                stored.contents_add(pdf.make_stream(b"q 0 1 -1 0 %g 0 cm\n" % h), prepend=True)
                stored.contents_add(pdf.make_stream(b"\nQ\n"))
                stored.mediabox = pikepdf.Array([0, 0, h, w])
                stored.obj.Rotate = 90
            pdf.save(path)


def write_words(path: Path, pages: Sequence[DigitalPage]) -> None:
    """A content stream by hand: every word placed with its own text matrix, kerned inside."""
    with pikepdf.new() as pdf:
        for page in pages:
            w, h = page.size
            pdf.add_blank_page(page_size=(w, h))
            out = pdf.pages[-1]
            font = pdf.make_indirect(
                pikepdf.Dictionary(
                    Type=pikepdf.Name.Font,
                    Subtype=pikepdf.Name.Type1,
                    BaseFont=pikepdf.Name("/" + page.font),
                    Encoding=pikepdf.Name.WinAnsiEncoding,
                )
            )
            out.obj.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
            ops = [b"BT", b"/F1 %.2f Tf" % page.point]
            space = pdfmetrics.stringWidth(" ", page.font, page.point)
            for item in page.items:
                x = item.x
                for word in item.text.split(" "):
                    if word:
                        cut = max(1, len(word) // 2)
                        a, b = (_pdf_string(part) for part in (word[:cut], word[cut:]))
                        ops.append(b"1 0 0 1 %.3f %.3f Tm [%s -12 %s] TJ" % (x, h - item.y, a, b))
                        x += pdfmetrics.stringWidth(word, page.font, page.point) - 12 * page.point / 1000
                    x += space
            ops.append(b"ET")
            out.obj.Contents = pdf.make_stream(b"\n".join(ops))
        pdf.save(path)


def _pdf_string(text: str) -> bytes:
    raw = text.encode("cp1252").replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
    return b"(" + raw + b")"


# --------------------------------------------------------------------------- the backlog


@dataclass
class Truth:
    kind: str  # "digital" or "scanned" per page
    text: str  # digital pages: the file's own text


def make_backlog(
    folder: Path, digital: int, scanned: int, seed: int
) -> tuple[dict[str, list[Truth]], set[str]]:
    """Files of 5 pages: pure digital, pure scanned, and mixed (10 pages, alternating) for a
    quarter of each kind. Returns each file's pages and the names of pure-digital files."""
    rng = random.Random(seed)
    roster = make_roster(60, seed=seed)
    types = sorted(BODIES)
    for name, path in TTF.items():
        pdfmetrics.registerFont(TTFont(name, str(path)))
    digital_pages: list[DigitalPage] = []
    landscape: list[bool] = []
    n = 0
    while len(digital_pages) < digital:
        doc = held_out_document(
            types[n % len(types)], roster[n % len(roster)], seed * 1000 + n, rng.random() < 0.8
        )
        is_landscape = rng.random() < 0.15
        font = rng.choice([*TTF, *TYPE1])
        for page in layout_pages(doc.blocks, rng, font, is_landscape):
            digital_pages.append(page)
            landscape.append(is_landscape)
        n += 1
    scans: list[Path] = []  # one-page PDFs, written as soon as rendered (8 MB a page in memory)
    parts = folder.parent / "scanned-pages"
    parts.mkdir(exist_ok=True)
    while len(scans) < scanned:
        doc = held_out_document(types[n % len(types)], roster[n % len(roster)], seed * 1000 + n, True)
        dpi = rng.choice((200, 300))
        for image in render_pages(doc.blocks, doc.layout, dpi):
            tilt = rng.uniform(-2.0, 2.0)
            scans.append(parts / f"{len(scans):04d}.pdf")
            write_pdf(scans[-1], [scan_like(image, skew_degrees=tilt, noise=0.002, seed=n)], dpi=dpi)
        n += 1
    digital_pages, landscape, scans = digital_pages[:digital], landscape[:digital], scans[:scanned]

    files: dict[str, list[Truth]] = {}
    pure_digital: set[str] = set()
    mixed_digital, mixed_scanned = digital // 4, scanned // 4
    di = si = 0
    index = 0
    while di < digital - mixed_digital:  # pure digital files, 5 pages, one generator each
        pages = digital_pages[di : min(di + 5, digital - mixed_digital)]
        turned = landscape[di : di + len(pages)]
        name = f"digital-{index:03d}.pdf"
        _write_digital(folder / name, pages, turned, index)
        files[name] = [Truth("digital", p.truth) for p in pages]
        pure_digital.add(name)
        di += len(pages)
        index += 1
    while si < scanned - mixed_scanned:
        chunk = scans[si : min(si + 5, scanned - mixed_scanned)]
        name = f"scanned-{index:03d}.pdf"
        _join(chunk, folder / name)
        files[name] = [Truth("scanned", "") for _ in chunk]
        si += len(chunk)
        index += 1
    while di < digital or si < scanned:  # mixed files: digital and scanned pages alternating
        pages = digital_pages[di : di + 5]
        chunk = scans[si : si + 5]
        name = f"mixed-{index:03d}.pdf"
        _write_mixed(folder / name, pages, landscape[di : di + len(pages)], chunk, index)
        order = []
        for i in range(max(len(pages), len(chunk))):
            if i < len(pages):
                order.append(Truth("digital", pages[i].truth))
            if i < len(chunk):
                order.append(Truth("scanned", ""))
        files[name] = order
        di += len(pages)
        si += len(chunk)
        index += 1
    return files, pure_digital


def _write_digital(path: Path, pages: Sequence[DigitalPage], turned: Sequence[bool], index: int) -> None:
    """One generator per file: TrueType and Type 1 pages through reportlab, or word by word."""
    by_word = index % 3 == 2 and all(p.font in TYPE1 for p in pages)
    if by_word and not any(turned):
        write_words(path, pages)
        return
    parts = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (page, turn) in enumerate(zip(pages, turned, strict=True)):
            part = Path(tmp) / f"{i}.pdf"
            write_reportlab(part, [page], 90 if turn else 0)
            parts.append(part)
        _join(parts, path)


def _write_mixed(
    path: Path,
    pages: Sequence[DigitalPage],
    turned: Sequence[bool],
    scans: Sequence[Path],
    index: int,
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        parts = []
        for i in range(max(len(pages), len(scans))):
            if i < len(pages):
                part = Path(tmp) / f"d{i}.pdf"
                _write_digital(part, [pages[i]], [turned[i]], index)
                parts.append(part)
            if i < len(scans):
                parts.append(scans[i])
        _join(parts, path)


def _join(parts: Sequence[Path], out: Path) -> None:
    with pikepdf.new() as pdf:
        opened = [pikepdf.open(p) for p in parts]
        try:
            for part in opened:
                pdf.pages.extend(part.pages)
            pdf.save(out)
        finally:
            for part in opened:
                part.close()


# --------------------------------------------------------------------------- the run


class Recording(Executor):
    """Passes pages to ``inner`` and keeps each page's outcome with its file's name."""

    def __init__(self, inner: Executor) -> None:
        self.inner = inner
        self.outcomes: list[tuple[str, PageOutcome]] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future = self.inner.submit(fn, *args, **kwargs)
        name = args[0].source.name

        def keep(done: Future[Any]) -> None:
            if done.exception() is None:
                self.outcomes.append((name, done.result()))

        future.add_done_callback(keep)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.inner.shutdown(wait=wait, cancel_futures=cancel_futures)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digital", type=int, default=200, help="digital pages")
    parser.add_argument("--scanned", type=int, default=200, help="scanned pages")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=18)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="cc-digital-") as tmp:
        root = Path(tmp)
        inbox = root / "backlog"
        inbox.mkdir()
        started = time.perf_counter()
        files, pure_digital = make_backlog(inbox, args.digital, args.scanned, args.seed)
        print(
            f"backlog: {len(files)} files, {args.digital} digital and {args.scanned} scanned pages "
            f"(held-out family, bench/heldout.py), written in {time.perf_counter() - started:.0f} s"
        )
        config = root / "config.yaml"
        config.write_text(f"archive: {root / 'archive'}\ninbox: {root / 'inbox'}\nworkers: {args.workers}\n")
        settings = load_settings(config)
        pool = make_pool(args.workers)
        recording = Recording(pool)
        with Archive.open(settings) as archive:
            archive.import_patients(
                Patient(p.mrn, p.last, p.first, p.dob, p.sex) for p in make_roster(60, seed=args.seed)
            )
            started = time.perf_counter()
            outcomes = ingest_files(sorted(inbox.iterdir()), settings, archive, recording)
            wall = time.perf_counter() - started
            recording.shutdown()
            failed = [o for o in outcomes if o.status != "archived"]
            report(archive, files, pure_digital, outcomes, recording.outcomes, wall, args.workers)
            if failed:
                print(f"FAILED files: {[(o.path.name, o.error) for o in failed]}")
                return 1
    return 0


def report(
    archive: Archive,
    files: dict[str, list[Truth]],
    pure_digital: set[str],
    outcomes: Sequence[Any],
    pages: Sequence[tuple[str, PageOutcome]],
    wall: float,
    workers: int,
) -> None:
    by_page = {(name, p.number): p for name, p in pages}
    taken = {"digital": {"file": 0, "ocr": 0}, "scanned": {"file": 0, "ocr": 0}}
    errors = chars = exact = 0
    seconds: dict[str, list[float]] = {"digital": [], "scanned": []}
    for name, truths in files.items():
        for number, truth in enumerate(truths, start=1):
            outcome = by_page[(name, number)]
            taken[truth.kind][outcome.text_source] += 1
            seconds[truth.kind].append(sum(t for _, t in outcome.times))
            if truth.kind == "digital":
                got = " ".join(outcome.text.split())
                distance = Levenshtein.distance(got, truth.text)
                errors += distance
                chars += len(truth.text)
                exact += distance == 0
    n_digital = len(seconds["digital"])
    print(f"\nrun: {len(outcomes)} files, {len(pages)} pages in {wall:.1f} s wall with {workers} workers")
    print(
        f"decisions: digital pages taken as text {taken['digital']['file']}/{n_digital}, read by OCR "
        f"{taken['digital']['ocr']}; scanned pages read by OCR {taken['scanned']['ocr']}/"
        f"{len(seconds['scanned'])}, taken as text {taken['scanned']['file']}"
    )
    print(
        f"digital text against the file's own text: character error rate {errors / max(chars, 1):.4f} "
        f"({errors} of {chars} characters), pages exact {exact}/{n_digital}  (target 0)"
    )

    ratios, original, archived = [], 0, 0
    for outcome in outcomes:
        if outcome.path.name in pure_digital:
            size = outcome.path.stat().st_size
            pdf = sum(archive.pdf_path(d.id).stat().st_size for d in outcome.documents)
            original += size
            archived += pdf
            ratios.append(pdf / size)
    print(
        f"archive PDF of pure-digital files: {archived / 1024:.0f} kB against {original / 1024:.0f} kB "
        f"original, {archived / original:.2f}x overall; per file median {statistics.median(ratios):.2f}x, "
        f"max {max(ratios):.2f}x  (target within 2x)"
    )

    rate = {kind: len(s) / sum(s) for kind, s in seconds.items()}
    print("worker time per page (stage laps, the same run):")
    for kind, s in seconds.items():
        print(
            f"  {kind:8} {len(s):4d} pages  mean {1000 * statistics.mean(s):7.1f} ms  "
            f"median {1000 * statistics.median(s):7.1f} ms  -> {rate[kind]:7.1f} pages/s per worker"
        )
    print(f"  digital / scanned: {rate['digital'] / rate['scanned']:.0f}x  (target >= 20x)")

    whole: dict[str, list[float]] = {"digital": [], "scanned": []}
    for outcome in outcomes:
        kind = "digital" if outcome.path.name.startswith("digital") else "scanned"
        if outcome.path.name.startswith("mixed"):
            continue
        whole[kind].append(sum(t for _, t in outcome.times) / outcome.pages)
    print("with each document's own work (store original, classify, PDF join, database), pure files:")
    for kind, per_page in whole.items():
        print(f"  {kind:8} mean {1000 * statistics.mean(per_page):7.1f} ms a page")
    print(
        f"  digital / scanned: {statistics.mean(whole['scanned']) / statistics.mean(whole['digital']):.0f}x"
        "  (target >= 20x)"
    )


if __name__ == "__main__":
    sys.exit(main())
